# Helper functions shared by every area.

# nce_set_warnings(target): the project's warning set.
function(nce_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                           -Wno-unused-parameter)
endfunction()

# nce_add_library(name SOURCES ... [LIBS ...]): a static library with its public headers in
# <area>/include and the project's warnings.
function(nce_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;PRIVATE_LIBS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
  target_link_libraries(${name} PUBLIC ${ARG_LIBS} PRIVATE ${ARG_PRIVATE_LIBS})
  nce_set_warnings(${name})
  set_property(GLOBAL APPEND PROPERTY NCE_LIBRARY_TARGETS ${name})
endfunction()

# nce_add_test(name SOURCES ... LIBS ... [NO_MAIN]): one GoogleTest binary; one ctest entry per TEST
# through gtest_discover_tests. NO_MAIN: the sources bring their own main (SystemC kernel tests
# have an sc_main that calls RUN_ALL_TESTS).
function(nce_add_test name)
  cmake_parse_arguments(ARG "NO_MAIN" "TIMEOUT" "SOURCES;LIBS;ENV" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  if(ARG_NO_MAIN)
    target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest)
  else()
    target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main)
  endif()
  target_compile_definitions(${name} PRIVATE NCE_TEST_DATA_DIR="${PROJECT_SOURCE_DIR}/tests/data"
                                             NCE_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  nce_set_warnings(${name})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  gtest_discover_tests(${name}
    DISCOVERY_TIMEOUT 60
    PROPERTIES TIMEOUT ${ARG_TIMEOUT}
               ENVIRONMENT "SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1;OMP_NUM_THREADS=2;OMP_WAIT_POLICY=passive;${ARG_ENV}")
endfunction()

# nce_check_layering(): the data flow of docs/design.md §2 as a configure-time check. Each nce_*
# library may link only libraries before it in this order (so no cycle, and nothing upstream knows
# anything downstream: record/ never links campaign/ or sweep/, no library links the executable).
# A library missing from the list, or a link against a later one, fails the configure.
function(nce_check_layering)
  set(order nce_common nce_models nce_hw nce_sim nce_nn nce_search nce_deploy nce_results
            nce_record nce_sweep nce_campaign)
  get_property(dirs GLOBAL PROPERTY NCE_LIBRARY_TARGETS)
  foreach(lib IN LISTS dirs)
    list(FIND order ${lib} rank)
    if(rank EQUAL -1)
      message(FATAL_ERROR "nce_check_layering: library ${lib} has no place in the layer order "
                          "(cmake/NceHelpers.cmake, docs/design.md §2)")
    endif()
    get_target_property(links ${lib} LINK_LIBRARIES)
    foreach(dep IN LISTS links)
      if(NOT dep MATCHES "^nce")
        continue()
      endif()
      list(FIND order ${dep} dep_rank)
      if(dep_rank EQUAL -1 OR NOT dep_rank LESS rank)
        message(FATAL_ERROR "nce_check_layering: ${lib} links ${dep}, which is not below it "
                            "(docs/design.md §2: data flows one way)")
      endif()
    endforeach()
  endforeach()
endfunction()
