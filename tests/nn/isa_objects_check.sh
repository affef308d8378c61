#!/bin/sh
# The kernel objects of the instruction-set levels (search/CMakeLists.txt: nce_nn_avx2,
# nce_nn_avx512) are compiled with flags other CPUs lack, so they must define nothing the linker
# could pick for code that runs everywhere: no weak or unique symbols (inline functions and
# template instances shared with other files, e.g. std::vector<float>::resize), no static or
# thread-local initializers (they would run at start-up on every CPU).
#   isa_objects_check.sh NM OBJECT...
set -eu
nm=$1
shift
[ $# -gt 0 ] || { echo "isa_objects_check.sh: no objects given" >&2; exit 2; }
status=0
for obj in "$@"; do
  # nm --defined-only: "address type name"; W/w/V/v weak, u unique global, i indirect function.
  # DW.ref.__gxx_personality_v0 is a pointer to the C++ personality routine that unwind tables
  # refer to (instrumented builds such as ASan emit it): data every object shares, no code.
  bad=$("$nm" --defined-only "$obj" |
    awk '($2 ~ /^[WwVvui]$/ || $3 ~ /^(_GLOBAL__sub_I|_ZTH|_ZTW)/) && $3 != "DW.ref.__gxx_personality_v0"')
  if [ -n "$bad" ]; then
    echo "$obj defines symbols the linker may share with other files:" >&2
    echo "$bad" >&2
    status=1
  fi
  # A symbol of the level's own must exist (the file was compiled, not emptied by an #if).
  if ! "$nm" --defined-only "$obj" | grep -q ' [TtDdRr] '; then
    echo "$obj defines no code or data" >&2
    status=1
  fi
done
[ $status -eq 0 ] && echo "isa_objects_check: $# objects, no shared symbols"
exit $status
