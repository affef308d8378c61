// Batch normalization over N, H, W per channel (NCHW tensors, see tensor.h), with forward in train
// and eval mode and backward for train mode. Per-channel arrays (gamma, beta, running stats, saved
// statistics) hold x.c() floats. A supernet keeps one set of arrays per candidate width and calls
// these functions on the candidate's channel prefix (a tensor with that many channels).
//
// Train: mean/var are the batch statistics (biased variance for normalization); running stats are
// updated as running = (1 - momentum)*running + momentum*batch, with the unbiased variance
// (PyTorch's convention). Eval: running statistics.
#pragma once

#include <vector>

#include "nce/nn/activation.h"
#include "nce/nn/tensor.h"

namespace nce::nn {

// One BatchNorm's learnable parameters (1 x C tensors), their gradients, its running statistics
// and the batch statistics its last train-mode forward saved for the backward.
struct BatchNormState {
  Tensor gamma, beta, dgamma, dbeta, running_mean, running_var;
  std::vector<float> save_mean, save_inv_std;
  // C channels: gamma 1, beta 0, running mean 0, running variance 1, gradients 0.
  void init(int channels);
};

struct BatchNormParams {
  float momentum = 0.1f;
  float eps = 1e-5f;
};

// Batch statistics of channel ch of x over N, H, W, exactly as the train-mode forwards compute
// them (a shifted one-pass sum, float per plane, double across planes): the mean, 1/sqrt(var + eps)
// of the biased variance, and the unbiased variance the running statistics take.
struct ChannelStatistics {
  float mean = 0.0f;
  float inv_std = 0.0f;
  float unbiased_var = 0.0f;
};
ChannelStatistics batch_norm_channel_statistics(const BatchNormParams& p, const Tensor& x, int ch);
// running = (1 - momentum) * running + momentum * batch, for the mean and the unbiased variance.
void batch_norm_update_running(const BatchNormParams& p, const ChannelStatistics& batch,
                               float* running_mean, float* running_var);

// y = gamma*(x - mean)*inv_std + beta. Writes save_mean/save_inv_std (per channel) for backward
// and updates running_mean/running_var. y may alias x.
void batch_norm_forward_train(const BatchNormParams& p, const Tensor& x, const float* gamma,
                              const float* beta, float* running_mean, float* running_var,
                              float* save_mean, float* save_inv_std, Tensor& y);

// y = gamma*(x - running_mean)/sqrt(running_var + eps) + beta. y may alias x.
void batch_norm_forward_eval(const BatchNormParams& p, const Tensor& x, const float* gamma,
                             const float* beta, const float* running_mean, const float* running_var,
                             Tensor& y);

// Backward of the train-mode forward: x is the forward input, dy the gradient of y.
// dx = dL/dx (dx resized; may alias dy); dgamma/dbeta accumulate (+=).
void batch_norm_backward(const Tensor& x, const Tensor& dy, const float* gamma,
                         const float* save_mean, const float* save_inv_std, Tensor& dx,
                         float* dgamma, float* dbeta);

// Fused BN + activation (ReLU/PACT, see activation.h): y = act(gamma*xhat + beta) in one pass
// after the statistics pass; the pre-activation is not stored (the backward recomputes it from x).
// Same statistics and running-stat updates as batch_norm_forward_train. y must not alias x.
void batch_norm_act_forward_train(const BatchNormParams& p, const ActParams& act, const Tensor& x,
                                  const float* gamma, const float* beta, float* running_mean,
                                  float* running_var, float* save_mean, float* save_inv_std,
                                  Tensor& y);
void batch_norm_act_forward_eval(const BatchNormParams& p, const ActParams& act, const Tensor& x,
                                 const float* gamma, const float* beta, const float* running_mean,
                                 const float* running_var, Tensor& y);
// Backward of batch_norm_act_forward_train: g holds dL/dy on entry and dL/dx on return.
// dgamma, dbeta and (PACT) *dclip accumulate.
void batch_norm_act_backward(const ActParams& act, const Tensor& x, const float* gamma,
                             const float* beta, const float* save_mean, const float* save_inv_std,
                             Tensor& g, float* dgamma, float* dbeta, float* dclip);

}  // namespace nce::nn
