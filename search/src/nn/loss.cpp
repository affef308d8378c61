#include "nce/nn/loss.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

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

}  // namespace nce::nn
