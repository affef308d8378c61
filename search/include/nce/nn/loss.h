// Softmax cross-entropy, averaged over the batch.
#pragma once

#include "nce/nn/tensor.h"

namespace nce::nn {

// logits: N x K (H = W = 1); labels: N integers in [0, K) (std::invalid_argument naming the index
// and value otherwise). Returns mean_n(-log softmax(logits_n)[label_n]). If grad is not null it
// receives dL/dlogits = (softmax - onehot)/N (N x K). If probs is not null it receives the softmax.
float softmax_cross_entropy(const Tensor& logits, const int* labels, Tensor* grad,
                            Tensor* probs = nullptr);

}  // namespace nce::nn
