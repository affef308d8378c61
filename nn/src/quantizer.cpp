#include "nce/nn/quantizer.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "nce/common/name_table.h"
#include "parallel.h"

namespace nce::nn {

namespace {

const common::NamedValue<QuantizerKind> kQuantizerNames[] = {{QuantizerKind::kSawb, "sawb"},
                                                     {QuantizerKind::kDorefa, "dorefa"},
                                                     {QuantizerKind::kLsq, "lsq"}};

}  // namespace

namespace {

// bits >= 32 is full precision: the forward passes the weights as they are, the backward passes
// the gradient straight through (added into dw). Each returns whether it applied.
bool full_precision_forward(int bits, const float* w, std::size_t n, float* wq) {
  if (bits < 32) return false;
  std::copy(w, w + n, wq);
  return true;
}

bool full_precision_backward(int bits, const float* dwq, std::size_t n, float* dw) {
  if (bits < 32) return false;
  for (std::size_t i = 0; i < n; ++i) dw[i] += dwq[i];
  return true;
}

}  // namespace

const char* to_string(QuantizerKind kind) {
  return common::name_of(kQuantizerNames, kind);
}

QuantizerKind parse_quantizer(const std::string& name) {
  if (const auto kind = common::value_named(kQuantizerNames, name)) return *kind;
  throw std::invalid_argument("unknown weight quantizer '" + name + "' (expected " +
                              common::names_list(kQuantizerNames) + ")");
}

bool is_supported_bits(int bits) {
  return bits == 2 || bits == 3 || bits == 4 || bits == 8 || bits == 32;
}

void sawb_coefficients(int bits, double* c1, double* c2) {
  switch (bits) {
    case 2:
      *c1 = 3.12, *c2 = -2.064;  // SAWB paper
      return;
    case 3:
      *c1 = 7.341, *c2 = -6.672;  // bench/nn_sawb_fit.py
      return;
    case 4:
      *c1 = 11.876, *c2 = -11.764;
      return;
    case 8:
      *c1 = 31.554, *c2 = -34.367;
      return;
    default:
      throw std::invalid_argument("SAWB: unsupported bit width " + std::to_string(bits) +
                                  " (expected 2, 3, 4 or 8)");
  }
}

float sawb_quantize(const float* w, std::size_t n, int bits, float* wq) {
  if (full_precision_forward(bits, w, n, wq)) return 0.0f;
  double c1, c2;
  sawb_coefficients(bits, &c1, &c2);
  double sq = 0.0, ab = 0.0;
  for (std::size_t i = 0; i < n; ++i) sq += static_cast<double>(w[i]) * w[i], ab += std::fabs(w[i]);
  const double m = n > 0 ? static_cast<double>(n) : 1.0;
  const float clip = static_cast<float>(std::max(0.0, c1 * std::sqrt(sq / m) + c2 * ab / m));
  const float levels = static_cast<float>((1 << bits) - 1);
  if (clip <= 0.0f) {
    std::fill(wq, wq + n, 0.0f);
    return 0.0f;
  }
  const float step = 2.0f * clip / levels, inv_step = levels / (2.0f * clip);
  for (std::size_t i = 0; i < n; ++i) {
    const float c = std::fmin(std::fmax(w[i], -clip), clip);
    wq[i] = -clip + std::nearbyint((c + clip) * inv_step) * step;
  }
  return clip;
}

void sawb_backward(const float* w, std::size_t n, int bits, float clip, const float* dwq,
                   float* dw) {
  if (full_precision_backward(bits, dwq, n, dw)) return;
  for (std::size_t i = 0; i < n; ++i)
    if (std::fabs(w[i]) <= clip) dw[i] += dwq[i];
}

float dorefa_quantize(const float* w, std::size_t n, int bits, float* wq) {
  if (full_precision_forward(bits, w, n, wq)) return 0.0f;
  float m = 0.0f;
  for (std::size_t i = 0; i < n; ++i) m = std::max(m, std::fabs(std::tanh(w[i])));
  const float levels = static_cast<float>((1 << bits) - 1);
  if (m <= 0.0f) {
    // All weights zero: v = 1/2 everywhere.
    for (std::size_t i = 0; i < n; ++i)
      wq[i] = 2.0f * std::nearbyint(0.5f * levels) / levels - 1.0f;
    return 0.0f;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const float v = std::tanh(w[i]) / (2.0f * m) + 0.5f;
    wq[i] = 2.0f * std::nearbyint(v * levels) / levels - 1.0f;
  }
  return m;
}

void dorefa_backward(const float* w, std::size_t n, int bits, float max_tanh, const float* dwq,
                     float* dw) {
  if (full_precision_backward(bits, dwq, n, dw)) return;
  if (max_tanh <= 0.0f) return;
  // wq ~ tanh(w)/M (STE through round; 2*(t/(2M) + 1/2) - 1 = t/M).
  double sum_gt = 0.0;
  std::size_t arg = 0;
  float best = -1.0f;
  for (std::size_t i = 0; i < n; ++i) {
    const float t = std::tanh(w[i]);
    sum_gt += static_cast<double>(dwq[i]) * t;
    if (std::fabs(t) > best) best = std::fabs(t), arg = i;
    dw[i] += dwq[i] * (1.0f - t * t) / max_tanh;
  }
  const float ta = std::tanh(w[arg]);
  const float sign = ta >= 0.0f ? 1.0f : -1.0f;
  dw[arg] -= static_cast<float>(sign * (1.0 - static_cast<double>(ta) * ta) /
                                (static_cast<double>(max_tanh) * max_tanh) * sum_gt);
}

namespace {
void lsq_range(int bits, float* qn, float* qp) {
  *qn = static_cast<float>(1 << (bits - 1));
  *qp = static_cast<float>((1 << (bits - 1)) - 1);
}
}  // namespace

float lsq_init_step(const float* w, std::size_t n, int bits) {
  if (bits >= 32) return 1.0f;
  float qn, qp;
  lsq_range(bits, &qn, &qp);
  double ab = 0.0;
  for (std::size_t i = 0; i < n; ++i) ab += std::fabs(w[i]);
  const double mean_abs = n > 0 ? ab / static_cast<double>(n) : 0.0;
  const double s = 2.0 * mean_abs / std::sqrt(static_cast<double>(qp));
  return static_cast<float>(s > 0.0 ? s : 1e-8);
}

void lsq_quantize(const float* w, std::size_t n, int bits, float step, float* wq) {
  if (full_precision_forward(bits, w, n, wq)) return;
  float qn, qp;
  lsq_range(bits, &qn, &qp);
  const float inv = 1.0f / step;
  for (std::size_t i = 0; i < n; ++i) {
    const float v = std::fmin(std::fmax(w[i] * inv, -qn), qp);
    wq[i] = std::nearbyint(v) * step;
  }
}

void lsq_backward(const float* w, std::size_t n, int bits, float step, const float* dwq, float* dw,
                  float* dstep) {
  if (full_precision_backward(bits, dwq, n, dw)) return;
  float qn, qp;
  lsq_range(bits, &qn, &qp);
  const float inv = 1.0f / step;
  double ds = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const float v = w[i] * inv;
    if (v <= -qn) {
      ds += static_cast<double>(dwq[i]) * -qn;
    } else if (v >= qp) {
      ds += static_cast<double>(dwq[i]) * qp;
    } else {
      dw[i] += dwq[i];
      ds += static_cast<double>(dwq[i]) * (std::nearbyint(v) - v);
    }
  }
  const double g = 1.0 / std::sqrt(static_cast<double>(n > 0 ? n : 1) * qp);
  *dstep += static_cast<float>(ds * g);
}

float quantize_weights(QuantizerKind kind, int bits, const float* w, std::size_t n, float lsq_step,
                       float* wq) {
  switch (kind) {
    case QuantizerKind::kSawb:
      return sawb_quantize(w, n, bits, wq);
    case QuantizerKind::kDorefa:
      return dorefa_quantize(w, n, bits, wq);
    case QuantizerKind::kLsq:
      lsq_quantize(w, n, bits, lsq_step, wq);
      return 0.0f;
  }
  return 0.0f;
}

void quantize_weights_backward(QuantizerKind kind, int bits, const float* w, std::size_t n,
                               float aux, float lsq_step, const float* dwq, float* dw,
                               float* dstep) {
  switch (kind) {
    case QuantizerKind::kSawb:
      sawb_backward(w, n, bits, aux, dwq, dw);
      break;
    case QuantizerKind::kDorefa:
      dorefa_backward(w, n, bits, aux, dwq, dw);
      break;
    case QuantizerKind::kLsq:
      lsq_backward(w, n, bits, lsq_step, dwq, dw, dstep);
      break;
  }
}

}  // namespace nce::nn
