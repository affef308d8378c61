#include "nce/nn/loss.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace nce::nn {

float softmax_cross_entropy(const Tensor& logits, const int* labels, Tensor* grad, Tensor* probs) {
  const int n = logits.n();
  const int k = static_cast<int>(logits.size() / (n > 0 ? n : 1));
  for (int i = 0; i < n; ++i) {
    if (labels[i] < 0 || labels[i] >= k) {
      std::ostringstream msg;
      msg << "softmax_cross_entropy: label " << i << " is " << labels[i] << ", expected 0.."
          << k - 1;
      throw std::invalid_argument(msg.str());
    }
  }
  if (grad) grad->resize(n, k);
  if (probs) probs->resize(n, k);
  double total = 0.0;
  std::vector<double> p(static_cast<std::size_t>(k));
  for (int i = 0; i < n; ++i) {
    const float* z = logits.data() + static_cast<std::size_t>(i) * k;
    double m = z[0];
    for (int j = 1; j < k; ++j) m = std::max(m, static_cast<double>(z[j]));
    double s = 0.0;
    for (int j = 0; j < k; ++j) s += (p[j] = std::exp(z[j] - m));
    total += -(z[labels[i]] - m - std::log(s));
    for (int j = 0; j < k; ++j) {
      const double pj = p[j] / s;
      if (probs) (*probs)[static_cast<std::size_t>(i) * k + j] = static_cast<float>(pj);
      if (grad)
        (*grad)[static_cast<std::size_t>(i) * k + j] =
            static_cast<float>((pj - (j == labels[i] ? 1.0 : 0.0)) / n);
    }
  }
  return n > 0 ? static_cast<float>(total / n) : 0.0f;
}

namespace {

// Row-wise softmax of z / t into p (double).
void softmax_row(const float* z, int k, double t, double* p) {
  double m = z[0];
  for (int j = 1; j < k; ++j) m = std::max(m, static_cast<double>(z[j]));
  double s = 0.0;
  for (int j = 0; j < k; ++j) s += (p[j] = std::exp((z[j] - m) / t));
  for (int j = 0; j < k; ++j) p[j] /= s;
}

}  // namespace

float distillation_loss(const Tensor& student, const Tensor& teacher, const int* labels,
                        float temperature, float weight, Tensor* grad, float* ce) {
  if (student.n() != teacher.n() || student.size() != teacher.size()) {
    std::ostringstream msg;
    msg << "distillation_loss: student logits " << student.n() << "x"
        << student.size() / std::max(student.n(), 1) << " but teacher logits " << teacher.n()
        << "x" << teacher.size() / std::max(teacher.n(), 1);
    throw std::invalid_argument(msg.str());
  }
  if (!(temperature > 0.0f)) {
    throw std::invalid_argument("distillation_loss: temperature " + std::to_string(temperature) +
                                " must be > 0");
  }
  if (!(weight >= 0.0f && weight <= 1.0f)) {
    throw std::invalid_argument("distillation_loss: weight " + std::to_string(weight) +
                                " must be in [0, 1]");
  }
  const float plain = softmax_cross_entropy(student, labels, grad);
  if (ce) *ce = plain;
  const int n = student.n();
  const int k = static_cast<int>(student.size() / (n > 0 ? n : 1));
  const double t = temperature, w = weight;
  std::vector<double> p(static_cast<std::size_t>(k)), q(static_cast<std::size_t>(k));
  double kl = 0.0;
  for (int i = 0; i < n; ++i) {
    const std::size_t row = static_cast<std::size_t>(i) * k;
    softmax_row(teacher.data() + row, k, t, p.data());
    softmax_row(student.data() + row, k, t, q.data());
    for (int j = 0; j < k; ++j) {
      if (p[j] > 0.0) kl += p[j] * (std::log(p[j]) - std::log(std::max(q[j], 1e-300)));
      if (grad) {
        const double g_ce = (*grad)[row + j];  // (softmax - onehot) / N
        (*grad)[row + j] = static_cast<float>((1.0 - w) * g_ce + w * t * (q[j] - p[j]) / n);
      }
    }
  }
  const double mean_kl = n > 0 ? kl / n : 0.0;
  return static_cast<float>((1.0 - w) * plain + w * t * t * mean_kl);
}

}  // namespace nce::nn
