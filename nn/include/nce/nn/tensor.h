// Tensors of the trainer. Layout: NCHW (batch, channel, row, column), float32, contiguous and
// row-major, so element (n, c, y, x) is at ((n*C + c)*H + y)*W + x. A 2-D matrix is N x C with
// H = W = 1. Storage is 64-byte aligned (our own allocator, independent of Eigen's compile-time
// alignment) so vectorized maps may assume it. Not thread safe to mutate.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

namespace nce::nn {

using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixMap = Eigen::Map<Matrix, Eigen::Unaligned>;
using ConstMatrixMap = Eigen::Map<const Matrix, Eigen::Unaligned>;
using ArrayMap = Eigen::Map<Eigen::ArrayXf, Eigen::Unaligned>;
using ConstArrayMap = Eigen::Map<const Eigen::ArrayXf, Eigen::Unaligned>;

// std::allocator replacement that returns 64-byte aligned blocks.
template <class T>
struct Aligned64Allocator {
  using value_type = T;
  Aligned64Allocator() = default;
  template <class U>
  Aligned64Allocator(const Aligned64Allocator<U>&) {}
  T* allocate(std::size_t n) {
    std::size_t bytes = ((n * sizeof(T) + 63) / 64) * 64;
    void* p = std::aligned_alloc(64, bytes == 0 ? 64 : bytes);
    if (!p) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t) { std::free(p); }
  template <class U>
  bool operator==(const Aligned64Allocator<U>&) const {
    return true;
  }
  template <class U>
  bool operator!=(const Aligned64Allocator<U>&) const {
    return false;
  }
};

class Tensor {
 public:
  Tensor() = default;
  Tensor(int n, int c, int h = 1, int w = 1) { resize(n, c, h, w); }

  // Reshapes, keeping the allocation when it is large enough. Contents are unspecified afterwards.
  void resize(int n, int c, int h = 1, int w = 1) {
    assert(n >= 0 && c >= 0 && h >= 0 && w >= 0);
    n_ = n, c_ = c, h_ = h, w_ = w;
    size_ = static_cast<std::size_t>(n) * c * h * w;
    if (storage_.size() < size_) storage_.resize(size_);
  }
  // Makes room for n elements, so that later resizes up to n never allocate.
  void reserve(std::size_t n) {
    if (storage_.size() < n) storage_.resize(n);
  }
  // Same shape as `other`.
  void resize_like(const Tensor& other) { resize(other.n_, other.c_, other.h_, other.w_); }
  void set_zero() { std::fill(storage_.begin(), storage_.begin() + size_, 0.0f); }
  void fill(float v) { std::fill(storage_.begin(), storage_.begin() + size_, v); }
  bool same_shape(const Tensor& o) const {
    return n_ == o.n_ && c_ == o.c_ && h_ == o.h_ && w_ == o.w_;
  }

  int n() const { return n_; }
  int c() const { return c_; }
  int h() const { return h_; }
  int w() const { return w_; }
  std::size_t size() const { return size_; }
  std::size_t plane() const { return static_cast<std::size_t>(h_) * w_; }
  // Bytes held by the allocation (may exceed size() after a shrinking resize).
  std::size_t capacity_bytes() const { return storage_.capacity() * sizeof(float); }

  float* data() { return storage_.data(); }
  const float* data() const { return storage_.data(); }
  float& at(int n, int c, int y, int x) { return storage_[index(n, c, y, x)]; }
  float at(int n, int c, int y, int x) const { return storage_[index(n, c, y, x)]; }
  float& operator[](std::size_t i) { return storage_[i]; }
  float operator[](std::size_t i) const { return storage_[i]; }

  ArrayMap array() { return ArrayMap(storage_.data(), static_cast<Eigen::Index>(size_)); }
  ConstArrayMap array() const {
    return ConstArrayMap(storage_.data(), static_cast<Eigen::Index>(size_));
  }

 private:
  std::size_t index(int n, int c, int y, int x) const {
    assert(n < n_ && c < c_ && y < h_ && x < w_);
    return ((static_cast<std::size_t>(n) * c_ + c) * h_ + y) * w_ + x;
  }
  int n_ = 0, c_ = 0, h_ = 0, w_ = 0;
  std::size_t size_ = 0;
  std::vector<float, Aligned64Allocator<float>> storage_;
};

// A learnable tensor and its gradient, as the optimizers see it. The layer that owns the tensors
// outlives the Parameter. weight_decay: false for BN gamma/beta, PACT clips and LSQ steps.
// clip_l2: the coefficient of an extra L2 term the optimizer adds to the gradient
// (grad += clip_l2 * value) independently of weight decay: 0.001 for PACT clips
// (docs/algorithm.md §1), 0 elsewhere.
struct Parameter {
  std::string name;
  Tensor* value = nullptr;
  Tensor* grad = nullptr;
  bool weight_decay = true;
  float clip_l2 = 0.0f;
};

// A named piece of state (parameters and buffers such as BN running statistics) for checkpoints.
// The tensor belongs to the network; loading writes into it (the shape must not change).
struct NamedTensor {
  std::string name;
  Tensor* tensor = nullptr;
};

}  // namespace nce::nn
