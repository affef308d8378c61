// The two-candidate step of a supernet layer (TAS; docs/algorithm.md §3-4), fused: the conv ran
// once at the wider drawn width C = y.c(); candidate j (width w_j <= C) normalizes the first w_j
// channels with its own BatchNorm, channel-wise interpolation (CWI, cwi.h) brings it to C
// channels, and the two are mixed with the draw's weights m_j, then activated:
//
//   out = act( m_0 * CWI_C(BN_0(y[:, :w_0])) + m_1 * CWI_C(BN_1(y[:, :w_1])) )
//
// Both BNs see the same conv output, so in train mode channel c has one batch mean and variance
// whichever candidate normalizes it; each candidate's running statistics are updated on its own
// prefix. Since BN and CWI are affine per channel, each output channel o is an affine mix of at
// most three channels of y (o itself for the wider candidate, one or two neighbours for the
// narrower one); the forward is one statistics pass and one output pass over y, and the backward
// two passes, as for a single fused BN + activation (nn::batch_norm_act_*), instead of a slice,
// BN, CWI and mix pass per candidate. The pre-activation is not stored (the backward recomputes
// it from y).
//
// Tensors NCHW float32; per-channel arrays hold at least w_j floats. OpenMP over channels; the
// result does not depend on the thread count.
#pragma once

#include <array>
#include <vector>

#include "nce/nn/activation.h"
#include "nce/nn/batch_norm.h"
#include "nce/nn/tensor.h"

namespace nce::search {

// One drawn candidate: its width, mixing weight and BatchNorm arrays. gamma == nullptr (for both
// candidates): the layer has no BatchNorm, the raw conv output is interpolated and mixed.
struct MixedCandidate {
  int width = 0;
  double weight = 0;
  const float* gamma = nullptr;
  const float* beta = nullptr;
  float* running_mean = nullptr;  // train forward: updated on [0, width); eval: read
  float* running_var = nullptr;
  float* dgamma = nullptr;  // backward: accumulated (+=) on [0, width)
  float* dbeta = nullptr;
};

class MixedBatchNormAct {
 public:
  // Train mode: batch statistics over N, H, W; out = act(mix) (resized to y's shape; must not
  // alias y). The statistics and the mixing pattern are kept for backward().
  void forward_train(const nn::BatchNormParams& p, const nn::ActParams& act, const nn::Tensor& y,
                     const std::array<MixedCandidate, 2>& cands, nn::Tensor& out);
  // Eval mode: each candidate's running statistics.
  void forward_eval(const nn::BatchNormParams& p, const nn::ActParams& act, const nn::Tensor& y,
                    const std::array<MixedCandidate, 2>& cands, nn::Tensor& out);
  // Backward of the last forward_train with the same y and candidates: g holds dL/dout on entry
  // and is overwritten (dL/dmix on return); dy = dL/dy (resized); dmix[j] = dL/dm_j; dgamma and
  // dbeta of the candidates (where not null) and (PACT) *dclip accumulate.
  void backward(const nn::ActParams& act, const nn::Tensor& y,
                const std::array<MixedCandidate, 2>& cands, nn::Tensor& g, nn::Tensor& dy,
                double dmix[2], float* dclip);

 private:
  // One (output channel, candidate, input channel) term: mix[o] += u * BN_j(y[c]).
  struct Term {
    int o, j, c;
    float u;  // m_j / |CWI range of o|
    float r;  // 1 / |CWI range of o|
  };
  // Most terms one row or one column can have (a narrow candidate spread over a wide one).
  static constexpr int kMaxTermsPerLine = 32;
  void build_terms(const std::array<MixedCandidate, 2>& cands, int channels);
  void identity_scales(const std::array<MixedCandidate, 2>& cands, int channels,
                       std::vector<float>& scale, std::vector<float>& shift);
  // buf[0, len) = the mix of image i, channel o, pixels [p0, p0 + len), before the activation.
  void preactivation(const nn::Tensor& y, int i, int o, std::size_t p0, std::size_t len,
                     float* buf) const;
  void apply(const nn::ActParams& act, const nn::Tensor& y, const std::vector<float>& scale,
             const std::vector<float>& shift, nn::Tensor& out);

  std::vector<Term> terms_;     // grouped by o (rows), in increasing o
  std::vector<int> row_begin_;  // terms_[row_begin_[o] .. row_begin_[o+1]) have output o
  std::vector<int> col_begin_;  // by_col_[col_begin_[c] .. col_begin_[c+1]) read channel c
  std::vector<int> by_col_;     // term indices grouped by c
  std::vector<float> mean_, inv_std_;
  std::vector<float> coef_, shift_;  // per term: u * BN scale; per row: sum of u * BN shift
  std::vector<double> sum_g_;        // backward: per row
  std::vector<double> sum_gx_;       // backward: per term, sum g[o] * (y[c] - mean[c])
  // Scratch kept between calls so that a step does not allocate: per (candidate, channel) BN
  // scale/shift, the column fill cursor, per-row clip sums, BN backward sums and BN gradients.
  std::vector<int> fill_;
  std::vector<float> bn_scale_, bn_shift_;
  std::vector<double> clip_part_, k1_, k2_, dgamma_, dbeta_;
};

}  // namespace nce::search
