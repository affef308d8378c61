// Portable random draws from a std::mt19937_64: the same numbers with every C++ standard library
// (std::normal_distribution and std::uniform_real_distribution are implementation-defined).
// Initializations of nn::Network and of the search's supernet use these.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>

namespace nce::nn {

// Uniform in (0, 1) with 53 random bits.
inline double uniform_open01(std::mt19937_64& gen) {
  return (static_cast<double>(gen() >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

// Standard normal (Box-Muller, one value from two uniforms).
inline double standard_normal(std::mt19937_64& gen) {
  const double u1 = uniform_open01(gen), u2 = uniform_open01(gen);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

}  // namespace nce::nn
