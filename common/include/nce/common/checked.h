// Checked integer arithmetic: the result, or std::nullopt when it does not fit the type (never a
// wrapped or undefined value). For the products a hostile file can make arbitrarily large: array
// sizes x cycles, bytes x passes, accumulator ranges of a model.
#pragma once

#include <optional>
#include <type_traits>

namespace nce {

template <typename T>
std::optional<T> checked_mul(T a, T b) {
  static_assert(std::is_integral_v<T>);
  T r;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

template <typename T>
std::optional<T> checked_add(T a, T b) {
  static_assert(std::is_integral_v<T>);
  T r;
  if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
  return r;
}

template <typename T>
std::optional<T> checked_sub(T a, T b) {
  static_assert(std::is_integral_v<T>);
  T r;
  if (__builtin_sub_overflow(a, b, &r)) return std::nullopt;
  return r;
}

// |a| (nullopt for the most negative value of a signed type).
template <typename T>
std::optional<T> checked_abs(T a) {
  static_assert(std::is_integral_v<T>);
  if (a >= 0) return a;
  return checked_sub(T{0}, a);
}

}  // namespace nce
