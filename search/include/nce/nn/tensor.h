// Tensors of the trainer. Layout: NCHW (batch, channel, row, column), float32, contiguous and
// row-major, so element (n, c, y, x) is at ((n*C + c)*H + y)*W + x. A 2-D matrix is N x C with
// H = W = 1. Storage is 64-byte aligned for Eigen's vectorized maps. Not thread safe to mutate.
#pragma once

#include <Eigen/Core>
#include <cassert>
#include <cstddef>
#include <string>
#include <vector>

namespace nce::nn {

using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixMap = Eigen::Map<Matrix, Eigen::Aligned64>;
using ArrayMap = Eigen::Map<Eigen::ArrayXf, Eigen::Aligned64>;
using ConstArrayMap = Eigen::Map<const Eigen::ArrayXf, Eigen::Aligned64>;

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
  void set_zero() { std::fill(storage_.begin(), storage_.begin() + size_, 0.0f); }

  int n() const { return n_; }
  int c() const { return c_; }
  int h() const { return h_; }
  int w() const { return w_; }
  std::size_t size() const { return size_; }
  std::size_t plane() const { return static_cast<std::size_t>(h_) * w_; }

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
  std::vector<float, Eigen::aligned_allocator<float>> storage_;
};

// A learnable tensor and its gradient, as the optimizers see it. The layer that owns the tensors
// outlives the Parameter. weight_decay: false for BN gamma/beta and PACT clips (they have their own
// regularizer, see NCE-SPEC.md §1).
struct Parameter {
  std::string name;
  Tensor* value = nullptr;
  Tensor* grad = nullptr;
  bool weight_decay = true;
};

}  // namespace nce::nn
