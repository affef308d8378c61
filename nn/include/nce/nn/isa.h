// Instruction-set levels of the nn kernels, chosen at run time. The library is compiled for the
// compiler's default x86-64 target (SSE2: every x86-64 CPU runs it); the hot kernels (the
// convolutions' GEMMs, batch norm's plane loops) are compiled once per level with that level's
// flags, and every call goes to the kernels of the active level. The active level is the best one
// this CPU runs (CPUID), unless the environment variable NCE_ISA names one.
//
//   portable  plain loops (no vector instructions beyond the baseline)
//   avx2      AVX2 + FMA kernels, compiled for x86-64-v3 (Haswell, Zen and later)
//   avx512    AVX-512 kernels, compiled for x86-64-v4 (AVX-512 F/BW/CD/DQ/VL: Skylake-SP, Zen 4
//             and later), and the AVX2 ones where no AVX-512 kernel exists
//
// Levels agree up to float summation order (each sums a dot product in its own order; see
// tests/nn/isa_test.cpp for the tolerance). Thread safety: active_isa() may be called from any
// thread; select_isa() must not run while another thread is in an nn kernel.
#pragma once

#include <string>
#include <vector>

namespace nce::nn {

enum class Isa { kPortable, kAvx2, kAvx512 };

// The environment variable that forces a level: portable, avx2, avx512 or auto (= unset).
inline constexpr const char* kIsaEnvVar = "NCE_ISA";

const char* to_string(Isa isa);  // "portable", "avx2", "avx512"

// This build has the level's kernels (the x86-64 levels exist on x86-64 builds only).
bool isa_compiled(Isa isa);
// isa_compiled and this CPU (and its operating system) run the level's instructions.
bool isa_supported(Isa isa);
// The supported levels, best first (portable is always last).
std::vector<Isa> supported_isas();

// A level name as NCE_ISA takes it: "auto" or "" = the best supported level. Throws
// std::invalid_argument for an unknown name and std::runtime_error for a level this build or CPU
// lacks; both messages name NCE_ISA and the value.
Isa parse_isa(const std::string& value);

// The level every kernel call uses. The first call selects it from NCE_ISA
// (select_isa_from_environment), so it may throw as parse_isa does.
Isa active_isa();
// Makes `value` (a name as NCE_ISA takes it, parsed by parse_isa) the active level and returns it.
Isa select_isa(const std::string& value);
// select_isa(getenv(NCE_ISA)), "auto" where it is unset. Programs call it at start-up to report a
// bad value before any work; tests call it after setenv to force a level the way users do.
Isa select_isa_from_environment();

// One line for --version and benchmarks: "avx512 (CPU: avx512, avx2, portable)", with
// ", forced by NCE_ISA" when the variable chose it.
std::string isa_description();

}  // namespace nce::nn
