// Weight quantizers with straight-through gradients (docs/algorithm.md §1). All work on a flat
// array of n weights (one layer's active weights) and one scale per layer. bits = 32 means no
// quantization (wq = w, gradient passes unchanged). Supported bits: 2, 3, 4, 8, 32.
//
// SAWB (default): clip a = c1*sqrt(E[w^2]) + c2*E[|w|]; 2^b uniform levels on [-a, a]
//   (-a + i*2a/(2^b - 1); 2 bits: {-a, -a/3, a/3, a}). STE: dw = dwq where |w| <= a, else 0
//   (a is treated as a constant). c1, c2: 2 bits (3.12, -2.064) from the SAWB paper; 3, 4, 8 bits:
//   our own fit by the paper's procedure (MSE-optimal clips of unit-variance Gaussian, Laplace,
//   uniform and logistic weights regressed on sqrt(E[w^2]) and E|w|; bench/nn_sawb_fit.py, which
//   gives (3.17, -2.13) at 2 bits, within 2% of the paper's).
// DoReFa: t = tanh(w), M = max|t|, v = t/(2M) + 1/2, wq = 2*round(v*(2^b-1))/(2^b-1) - 1
//   (2 bits: {-1, -1/3, 1/3, 1}). STE for round; the gradient flows through tanh and M as autograd
//   would: dL/dw_j = g_j(1-t_j^2)/M - [j = argmax|t|] sign(t_j)(1-t_j^2)/M^2 * sum_i g_i t_i.
// LSQ: v = clamp(w/s, -Qn, Qp), wq = round(v)*s with Qn = 2^(b-1), Qp = 2^(b-1) - 1; learned step s
//   (init 2*E|w|/sqrt(Qp)); dw = dwq where -Qn < w/s < Qp; ds = g * sum dwq*(round(v) - v inside,
//   -Qn / Qp outside) with the gradient scale g = 1/sqrt(n*Qp).
#pragma once

#include <cstddef>
#include <string>

namespace nce::nn {

enum class QuantizerKind { kSawb, kDorefa, kLsq };

const char* to_string(QuantizerKind kind);
// "sawb", "dorefa", "lsq"; throws std::invalid_argument naming the value.
QuantizerKind parse_quantizer(const std::string& name);
bool is_supported_bits(int bits);  // 2, 3, 4, 8, 32

// SAWB coefficients (c1, c2) for the bit width; throws std::invalid_argument for others.
void sawb_coefficients(int bits, double* c1, double* c2);
// Writes wq and returns the clip a.
float sawb_quantize(const float* w, std::size_t n, int bits, float* wq);
// dw += dwq * [|w| <= clip].
void sawb_backward(const float* w, std::size_t n, int bits, float clip, const float* dwq,
                   float* dw);

// Writes wq and returns M = max|tanh w| (needed by the backward).
float dorefa_quantize(const float* w, std::size_t n, int bits, float* wq);
// dw += dL/dw as documented above.
void dorefa_backward(const float* w, std::size_t n, int bits, float max_tanh, const float* dwq,
                     float* dw);

float lsq_init_step(const float* w, std::size_t n, int bits);
void lsq_quantize(const float* w, std::size_t n, int bits, float step, float* wq);
// dw += ..., *dstep += ... as documented above.
void lsq_backward(const float* w, std::size_t n, int bits, float step, const float* dwq, float* dw,
                  float* dstep);

// A layer's weight quantizer, as nn::Network and the search's supernet apply it: writes wq (n
// weights) and returns what the backward needs besides the weights (SAWB's clip, DoReFa's
// max|tanh w|; LSQ: 0, its step is lsq_step).
float quantize_weights(QuantizerKind kind, int bits, const float* w, std::size_t n, float lsq_step,
                       float* wq);
// dw += the straight-through gradient of dwq (dL/dwq); LSQ also *dstep += dL/dstep. `aux` is what
// quantize_weights returned.
void quantize_weights_backward(QuantizerKind kind, int bits, const float* w, std::size_t n,
                               float aux, float lsq_step, const float* dwq, float* dw,
                               float* dstep);

}  // namespace nce::nn
