#include "nce/nn/linear.h"

#include <cassert>

namespace nce::nn {
namespace {
using StridedConstMap = Eigen::Map<const Matrix, Eigen::Unaligned, Eigen::OuterStride<>>;
using StridedMap = Eigen::Map<Matrix, Eigen::Unaligned, Eigen::OuterStride<>>;
}  // namespace

void linear_forward(const LinearParams& p, const Tensor& x, const float* weight, const float* bias,
                    Tensor& y) {
  const int n = x.n();
  assert(static_cast<std::size_t>(p.in) * n == x.size());
  y.resize(n, p.out);
  ConstMatrixMap xm(x.data(), n, p.in);
  StridedConstMap wm(weight, p.out, p.in, Eigen::OuterStride<>(p.ld()));
  MatrixMap ym(y.data(), n, p.out);
  ym.noalias() = xm * wm.transpose();
  if (bias) ym.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(bias, p.out);
}

void linear_backward(const LinearParams& p, const Tensor& x, const float* weight, const Tensor& dy,
                     float* dweight, float* dbias, Tensor* dx) {
  const int n = x.n();
  ConstMatrixMap xm(x.data(), n, p.in);
  ConstMatrixMap gm(dy.data(), n, p.out);
  if (dweight) {
    StridedMap dwm(dweight, p.out, p.in, Eigen::OuterStride<>(p.ld()));
    dwm.noalias() += gm.transpose() * xm;
  }
  if (dbias) Eigen::Map<Eigen::RowVectorXf>(dbias, p.out) += gm.colwise().sum();
  if (dx) {
    dx->resize_like(x);
    StridedConstMap wm(weight, p.out, p.in, Eigen::OuterStride<>(p.ld()));
    MatrixMap(dx->data(), n, p.in).noalias() = gm * wm;
  }
}

}  // namespace nce::nn
