// Softmax cross-entropy, averaged over the batch.
#pragma once

#include "nce/nn/tensor.h"

namespace nce::nn {

// logits: N x K (H = W = 1); labels: N integers in [0, K) (std::invalid_argument naming the index
// and value otherwise). Returns mean_n(-log softmax(logits_n)[label_n]). If grad is not null it
// receives dL/dlogits = (softmax - onehot)/N (N x K). If probs is not null it receives the softmax.
float softmax_cross_entropy(const Tensor& logits, const int* labels, Tensor* grad,
                            Tensor* probs = nullptr);

// Knowledge distillation (Hinton et al.; TAS's retrain): with p_T = softmax(teacher / T) and
// q_T = softmax(student / T),
//   L = (1 - weight) * CE(student, labels) + weight * T^2 * KL(p_T || q_T),  averaged over the batch.
// teacher: N x K like student. If grad is not null it receives dL/dstudent =
//   ((1 - weight) * (softmax(student) - onehot) + weight * T * (q_T - p_T)) / N.
// If ce is not null it receives the plain cross-entropy part (for progress output).
// Throws std::invalid_argument for a shape mismatch, T <= 0 or weight outside [0, 1].
float distillation_loss(const Tensor& student, const Tensor& teacher, const int* labels,
                        float temperature, float weight, Tensor* grad, float* ce = nullptr);

}  // namespace nce::nn
