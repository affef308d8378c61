// Checked integer arithmetic: the result, or std::nullopt when it does not fit the type (never a
// wrapped or undefined value). For the products a hostile file can make arbitrarily large: array
// sizes x cycles, bytes x passes, accumulator ranges of a model.
#pragma once

#include <optional>
#include <type_traits>

namespace nce::common {

namespace detail {
// a `op` b, where `op` is one of the __builtin_*_overflow (true when the result wrapped).
template <typename T, typename Op>
std::optional<T> checked(T a, T b, Op op) {
  static_assert(std::is_integral_v<T>);
  T r;
  if (op(a, b, &r)) return std::nullopt;
  return r;
}
}  // namespace detail

template <typename T>
std::optional<T> checked_mul(T a, T b) {
  return detail::checked(a, b, [](T x, T y, T* r) { return __builtin_mul_overflow(x, y, r); });
}

template <typename T>
std::optional<T> checked_add(T a, T b) {
  return detail::checked(a, b, [](T x, T y, T* r) { return __builtin_add_overflow(x, y, r); });
}

template <typename T>
std::optional<T> checked_sub(T a, T b) {
  return detail::checked(a, b, [](T x, T y, T* r) { return __builtin_sub_overflow(x, y, r); });
}

// |a| (nullopt for the most negative value of a signed type).
template <typename T>
std::optional<T> checked_abs(T a) {
  static_assert(std::is_integral_v<T>);
  if (a >= 0) return a;
  return checked_sub(T{0}, a);
}

}  // namespace nce::common
