#include "nce/nn/isa.h"

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <mutex>
#include <stdexcept>

#include "small_gemm_kernels.h"  // NCE_NN_X86_LEVELS

namespace nce::nn {
namespace {

constexpr Isa kLevels[] = {Isa::kAvx512, Isa::kAvx2, Isa::kPortable};  // best first

// The active level (an Isa) and whether NCE_ISA chose it; -1 until the first selection.
std::atomic<int> g_active{-1};
std::atomic<bool> g_forced{false};
std::once_flag g_from_environment;

// The levels' kernels are compiled for x86-64-v3 and x86-64-v4 (search/CMakeLists.txt). Their
// defining features are checked here (F16C, LZCNT and MOVBE come with every AVX2 + BMI2 CPU, and
// not every compiler can ask for them). libgcc's and compiler-rt's checks include the operating
// system's support for the vector registers (XCR0).
bool cpu_runs(Isa isa) {
#if NCE_NN_X86_LEVELS
  __builtin_cpu_init();
  const bool v3 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                  __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2");
  switch (isa) {
    case Isa::kPortable:
      return true;
    case Isa::kAvx2:
      return v3;
    case Isa::kAvx512:  // the AVX-512 level also calls AVX2 kernels (transpose, batch norm)
      return v3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512vl");
  }
  return false;
#else
  return isa == Isa::kPortable;
#endif
}

std::string level_list() {
  std::string s;
  for (Isa isa : supported_isas()) s += std::string(s.empty() ? "" : ", ") + to_string(isa);
  return s;
}

}  // namespace

const char* to_string(Isa isa) {
  constexpr const char* kNames[] = {"portable", "avx2", "avx512"};  // in Isa's order
  const auto i = static_cast<std::size_t>(isa);
  return i < sizeof kNames / sizeof kNames[0] ? kNames[i] : "?";
}

bool isa_compiled(Isa isa) {
  return isa == Isa::kPortable || NCE_NN_X86_LEVELS;
}

bool isa_supported(Isa isa) {
  return isa_compiled(isa) && cpu_runs(isa);
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> levels;
  for (Isa isa : kLevels)
    if (isa_supported(isa)) levels.push_back(isa);
  return levels;
}

Isa parse_isa(const std::string& value) {
  if (value.empty() || value == "auto") return supported_isas().front();
  for (Isa isa : kLevels) {
    if (value != to_string(isa)) continue;
    if (!isa_compiled(isa))
      throw std::runtime_error(std::string(kIsaEnvVar) + "=" + value +
                               ": this build has no such kernels (it has: " + level_list() + ")");
    if (!cpu_runs(isa))
      throw std::runtime_error(
          std::string(kIsaEnvVar) + "=" + value +
          ": this CPU lacks the level's instructions (it runs: " + level_list() + ")");
    return isa;
  }
  throw std::invalid_argument(std::string(kIsaEnvVar) + "=" + value +
                              ": unknown instruction-set level (want portable, avx2, avx512 or "
                              "auto)");
}

Isa select_isa(const std::string& value) {
  const Isa isa = parse_isa(value);
  g_forced.store(!value.empty() && value != "auto", std::memory_order_relaxed);
  g_active.store(static_cast<int>(isa), std::memory_order_release);
  return isa;
}

Isa select_isa_from_environment() {
  const char* value = std::getenv(kIsaEnvVar);
  return select_isa(value ? value : "");
}

Isa active_isa() {
  int level = g_active.load(std::memory_order_acquire);
  if (level < 0) {
    // The first use selects from the environment, once (a bad value throws on every call).
    std::call_once(g_from_environment, [] {
      if (g_active.load(std::memory_order_acquire) < 0) select_isa_from_environment();
    });
    level = g_active.load(std::memory_order_acquire);
  }
  return static_cast<Isa>(level);
}

std::string isa_description() {
  const Isa isa = active_isa();
  std::string s = std::string(to_string(isa)) + " (CPU: " + level_list() + ")";
  if (g_forced.load(std::memory_order_relaxed)) s += ", forced by " + std::string(kIsaEnvVar);
  return s;
}

}  // namespace nce::nn
