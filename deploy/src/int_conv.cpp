// The integer engine's conv: weights packed for the kernels, the requantization (multiplier +
// shift, or thresholds), im2col / implicit / direct operands, and the GEMM + requantization of a
// range of output pixels (int_conv.h).
#include "int_conv.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <type_traits>

namespace nce::deploy {
namespace detail {
namespace {

std::int64_t requant(std::int64_t t, std::int32_t mult, std::int64_t off, int sh, std::int64_t lo,
                     std::int64_t hi) {
  std::int64_t v = (t * mult + off) >> sh;
  return v < lo ? lo : (v > hi ? hi : v);
}

// Effective weights of `op`, M x (k*k*c_in) in (ky, kx, c) order.
// cp: the channel stride of the operand (c_in, or c_in rounded up to 4 for the implicit GEMM).
std::vector<std::int8_t> lowered_weights(const ConvOp& op, int cp) {
  const int K = op.k * op.k * cp;
  std::vector<std::int8_t> w(static_cast<std::size_t>(op.c_out) * K);
  for (int m = 0; m < op.c_out; ++m)
    for (int c = 0; c < op.c_in; ++c)
      for (int ky = 0; ky < op.k; ++ky)
        for (int kx = 0; kx < op.k; ++kx) {
          int v = op.weights[((static_cast<std::size_t>(m) * op.c_in + c) * op.k + ky) * op.k + kx];
          if (op.rule == WeightRule::kQuantized) v = op.alpha * v + op.beta;
          if (v < -128 || v > 127)
            throw std::runtime_error("layer '" + op.name + "': effective weight " +
                                     std::to_string(v) +
                                     " does not fit a signed byte (8-bit SAWB/DoReFa weights are "
                                     "not supported by the integer engine)");
          w[static_cast<std::size_t>(m) * K + (ky * op.k + kx) * cp + c] =
              static_cast<std::int8_t>(v);
        }
  return w;
}

}  // namespace

PreparedConv prepare(const ConvOp& op, int in_max) {
  PreparedConv p;
  p.op = &op;
  p.direct = op.k == 1 && op.stride == 1 && op.pad == 0 && op.c_in % 4 == 0;
  // k x k convs read the padded map in place; channels padded to 4 when k*c_in is not a multiple
  // of 4 (the stem's 1 or 3 channels).
  p.implicit = !p.direct && op.k > 1;
  p.cp = p.implicit && (op.k * op.c_in) % 4 != 0 ? (op.c_in + 3) / 4 * 4 : op.c_in;
  p.K = op.k * op.k * p.cp;
  const std::vector<std::int8_t> w = lowered_weights(op, p.cp);
  p.weights = pack_weights(w.data(), op.c_out, p.K);
  p.preprocess = op.in_pool.kind != PoolKind::kNone || op.input_shift > 0;
  p.src_max = conv_operand_max(op, in_max);
  p.shift64.assign(static_cast<std::size_t>(p.weights.Mp), 0);
  p.mult.assign(static_cast<std::size_t>(p.weights.Mp), 0);
  p.off.assign(static_cast<std::size_t>(p.weights.Mp), 0);
  for (int ch = 0; ch < op.c_out; ++ch) {
    const auto m = static_cast<std::size_t>(ch);
    p.shift64[m] = op.requant.shift[m];
    p.mult[m] = op.requant.multiplier[m];
    p.off[m] = op.requant.offset[m];
  }
  if (!op.acc_bias.empty()) {
    const int plane = op.h_out * op.w_out, Mp = p.weights.Mp;
    p.bias_t.assign(static_cast<std::size_t>(plane) * Mp, 0);
    for (int m = 0; m < op.c_out; ++m)
      for (int q = 0; q < plane; ++q)
        p.bias_t[static_cast<std::size_t>(q) * Mp + m] =
            op.acc_bias[static_cast<std::size_t>(m) * plane + q];
  }
  const Requant& r = op.requant;
  // |acc[ch]| <= bound[ch] (validate() proved that it fits int32 and that the requantization of
  // every t in [-bound, bound] fits int64): thresholds beyond it are as good as bound + 1.
  const std::vector<std::int64_t> bound = conv_accumulator_bounds(op, p.src_max);
  const std::int64_t top = bound.empty() ? 0 : *std::max_element(bound.begin(), bound.end());
  if (op.acc_bias.empty() && r.lo == 0 && r.hi >= 1 && r.hi <= 15 &&
      top < (std::int64_t{1} << 30)) {
    p.thresholds = true;
    p.levels = static_cast<int>(r.hi);
    const int Mp = p.weights.Mp;
    p.sign.assign(static_cast<std::size_t>(Mp), 1);
    p.threshold.assign(static_cast<std::size_t>(p.levels) * Mp, static_cast<std::int32_t>(top + 1));
    for (int ch = 0; ch < op.c_out; ++ch) {
      const auto m = static_cast<std::size_t>(ch);
      const int sg = r.multiplier[m] < 0 ? -1 : 1;
      const std::int64_t b = bound[m];
      p.sign[m] = sg;
      auto f = [&](std::int64_t u) {
        return requant(sg * u, r.multiplier[m], r.offset[m], r.shift[m], r.lo, r.hi);
      };
      for (int j = 1; j <= p.levels; ++j) {
        // Smallest u in [-b, b] with f(u) >= j (f is nondecreasing in u); b + 1 if none.
        std::int64_t lo_u = -b, hi_u = b;
        if (f(hi_u) < j) {
          lo_u = b + 1;
        } else {
          while (lo_u < hi_u) {
            const std::int64_t mid = lo_u + (hi_u - lo_u) / 2;
            if (f(mid) >= j) {
              hi_u = mid;
            } else {
              lo_u = mid + 1;
            }
          }
        }
        p.threshold[static_cast<std::size_t>(j - 1) * Mp + m] = static_cast<std::int32_t>(lo_u);
      }
    }
  }
  return p;
}

// in: H x W x C bytes -> out: the pooled / shifted byte map the conv reads (h_in x w_in x c_in).
void preprocess_input(const ConvOp& op, const std::uint8_t* in, int h, int w, std::uint8_t* out) {
  const int C = op.c_in;
  const PoolSpec& p = op.in_pool;
  const int s = op.input_shift;
  const std::int32_t half = s > 0 ? (1 << (s - 1)) : 0;
  if (p.kind == PoolKind::kNone) {  // the shift alone (the stem's pixels): one pass per row
    const std::size_t row = static_cast<std::size_t>(op.w_in) * C;
    for (int y = 0; y < op.h_in; ++y) {
      const std::uint8_t* x = in + static_cast<std::size_t>(y) * w * C;
      std::uint8_t* o = out + static_cast<std::size_t>(y) * row;
      for (std::size_t j = 0; j < row; ++j) {
        const std::int32_t r = (static_cast<std::int32_t>(x[j]) + half) >> s;
        o[j] = static_cast<std::uint8_t>(r > 255 ? 255 : r);
      }
    }
    return;
  }
  // (restrict: the byte pointers could otherwise alias the sums, and the loops would not
  // vectorize; the shortcuts' 2x2 sum pool took 3.6% of the batch engine's time, perf.)
  std::vector<std::int32_t> sums(static_cast<std::size_t>(C));
  std::int32_t* __restrict v = sums.data();
  for (int oy = 0; oy < op.h_in; ++oy)
    for (int ox = 0; ox < op.w_in; ++ox) {
      std::fill(sums.begin(), sums.end(), 0);
      for (int ky = 0; ky < p.k; ++ky)
        for (int kx = 0; kx < p.k; ++kx) {
          const int iy = oy * p.stride - p.pad + ky, ix = ox * p.stride - p.pad + kx;
          if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
          const std::uint8_t* __restrict x = in + (static_cast<std::size_t>(iy) * w + ix) * C;
          if (p.kind == PoolKind::kMax) {
            for (int c = 0; c < C; ++c) v[c] = std::max<std::int32_t>(v[c], x[c]);
          } else {
            int c = 0;
            for (; c + 16 <= C; c += 16)  // fixed trip count: C = 16 vectorizes too
              for (int t = 0; t < 16; ++t) v[c + t] += x[c + t];
            for (; c < C; ++c) v[c] += x[c];
          }
        }
      std::uint8_t* __restrict o = out + (static_cast<std::size_t>(oy) * op.w_in + ox) * C;
      auto put = [&](int c) {
        const std::int32_t r = (v[c] + half) >> s;
        o[c] = static_cast<std::uint8_t>(r > 255 ? 255 : r);
      };
      int c = 0;
      for (; c + 16 <= C; c += 16)
        for (int t = 0; t < 16; ++t) put(c + t);
      for (; c < C; ++c) put(c);
    }
}

namespace {

// Copies n bytes (small, a few cache lines at most) without a libc call.
inline void copy_bytes(std::uint8_t* dst, const std::uint8_t* src, std::size_t n) {
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) std::memcpy(dst + i, src + i, 16);
  for (; i < n; ++i) dst[i] = src[i];
}

// im2col rows for output pixels [p0, p0 + n) from the byte map src (h_in x w_in x c_in).
void im2col(const ConvOp& op, const std::uint8_t* src, int p0, int n, int Kp, std::uint8_t* A) {
  const int C = op.c_in, k = op.k;
  for (int i = 0; i < n; ++i) {
    const int p = p0 + i, oy = p / op.w_out, ox = p % op.w_out;
    std::uint8_t* row = A + static_cast<std::size_t>(i) * Kp;
    int col = 0;
    const int iy0 = oy * op.stride - op.pad, ix0 = ox * op.stride - op.pad;
    if (iy0 >= 0 && ix0 >= 0 && iy0 + k <= op.h_in && ix0 + k <= op.w_in) {
      // Inside the map: each kernel row is k*C contiguous bytes.
      const std::size_t run = static_cast<std::size_t>(k) * C;
      for (int ky = 0; ky < k; ++ky, col += static_cast<int>(run))
        copy_bytes(row + col, src + (static_cast<std::size_t>(iy0 + ky) * op.w_in + ix0) * C, run);
      for (; col < Kp; ++col) row[col] = 0;
      continue;
    }
    for (int ky = 0; ky < k; ++ky) {
      const int iy = oy * op.stride - op.pad + ky;
      for (int kx = 0; kx < k; ++kx, col += C) {
        const int ix = ox * op.stride - op.pad + kx;
        if (iy < 0 || iy >= op.h_in || ix < 0 || ix >= op.w_in) {
          std::memset(row + col, 0, static_cast<std::size_t>(C));
        } else {
          std::memcpy(row + col, src + (static_cast<std::size_t>(iy) * op.w_in + ix) * C,
                      static_cast<std::size_t>(C));
        }
      }
    }
    std::memset(row + col, 0, static_cast<std::size_t>(Kp - col));
  }
}


// Stores the first `left` (< 16) of a partial last block's outputs. Whole blocks are not staged
// on the stack at all: a 64-byte vector stored to the stack and read back for the copy stalled
// the requantization on that load (25% of conv_range<int32>'s perf samples, AMD EPYC).
template <typename Out>
inline void store_block(const Out (&b)[16], int left, Out* o) {
  std::memcpy(o, b, sizeof(Out) * static_cast<std::size_t>(left));
}

// Codes by thresholds for 16 channels: d[t] = number of j < nl with sign[t] * acc[t] >= th[j][t]
// (th's rows Mp apart). Fixed trip counts and restrict pointers vectorize (AVX-512: one compare
// per level); d is written straight, not staged on the stack.
inline void threshold_block(const std::int32_t* __restrict acc, const std::int32_t* __restrict sign,
                            const std::int32_t* __restrict th, int nl, int Mp,
                            std::uint8_t* __restrict d) {
  std::int32_t u[16], q[16];
  for (int t = 0; t < 16; ++t) {
    u[t] = acc[t] * sign[t];
    q[t] = 0;
  }
  for (int j = 0; j < nl; ++j) {
    const std::int32_t* tj = th + static_cast<std::size_t>(j) * Mp;
    for (int t = 0; t < 16; ++t) q[t] += u[t] >= tj[t] ? 1 : 0;
  }
  for (int t = 0; t < 16; ++t) d[t] = static_cast<std::uint8_t>(q[t]);
}

// Codes by thresholds for one pixel, in blocks of 16 channels (Mp is a multiple of 16).
template <int L>
void threshold_row(const std::int32_t* acc, const std::int32_t* sign, const std::int32_t* th,
                   int levels, int Mp, int M, std::uint8_t* o) {
  const int nl = L > 0 ? L : levels;
  int m0 = 0;
  for (; m0 + 16 <= M; m0 += 16) threshold_block(acc + m0, sign + m0, th + m0, nl, Mp, o + m0);
  if (m0 < M) {
    std::uint8_t b[16];
    threshold_block(acc + m0, sign + m0, th + m0, nl, Mp, b);
    store_block(b, M - m0, o + m0);
  }
}

// out = clamp((t * mult + off) >> shift, lo, hi) for 16 channels, t = acc (or (acc << fb) + bias),
// written straight to d.
template <typename Out>
inline void requant_block(const std::int32_t* __restrict acc, const std::int64_t* __restrict bias,
                          int fb, const std::int32_t* __restrict mult,
                          const std::int64_t* __restrict off, const std::int64_t* __restrict shift,
                          std::int64_t lo, std::int64_t hi, Out* __restrict d) {
  for (int t = 0; t < 16; ++t) {
    std::int64_t v = static_cast<std::int64_t>(acc[t]);
    if (bias != nullptr) v = v * (std::int64_t{1} << fb) + bias[t];
    v = (v * mult[t] + off[t]) >> shift[t];
    v = v < lo ? lo : v;
    v = v > hi ? hi : v;
    d[t] = static_cast<Out>(v);
  }
}

// requant_block over one pixel's channels.
template <typename Out>
void requant_row(const std::int32_t* acc, const std::int64_t* bias, int fb,
                 const std::int32_t* mult, const std::int64_t* off, const std::int64_t* shift,
                 std::int64_t lo, std::int64_t hi, int M, Out* o) {
  int m0 = 0;
  for (; m0 + 16 <= M; m0 += 16)
    requant_block(acc + m0, bias ? bias + m0 : nullptr, fb, mult + m0, off + m0, shift + m0, lo,
                  hi, o + m0);
  if (m0 < M) {
    Out b[16];
    requant_block(acc + m0, bias ? bias + m0 : nullptr, fb, mult + m0, off + m0, shift + m0, lo,
                  hi, b);
    store_block(b, M - m0, o + m0);
  }
}

}  // namespace

// GEMM + requantization of output pixels [p0, p1) of one image. src: the byte map (for the
// implicit path: the zero-padded map, (h_in + 2 pad) x (w_in + 2 pad) x c_in); out: the output
// value (bytes or int32, H_out x W_out x C_out, before any out_pool).
template <typename Out>
void conv_range(const PreparedConv& pc, const std::uint8_t* src, int p0, int p1, KernelKind kernel,
                Scratch& s, Out* out, const FusedAdd* fused, int out_pad) {
  if (fused != nullptr && !std::is_same_v<Out, std::int32_t>)
    throw std::logic_error("conv_range: a fused add needs the conv's int32 output");
  if (out_pad > 0 && (fused != nullptr || !pc.implicit))
    throw std::logic_error("conv_range: a padded output needs the implicit path, no fused add");
  const ConvOp& op = *pc.op;
  const int Kp = pc.weights.Kp, Mp = pc.weights.Mp, M = op.c_out;
  s.c.resize(static_cast<std::size_t>(kChunk) * Mp);
  s.q.resize(static_cast<std::size_t>(Mp));
  if (!pc.direct && !pc.implicit) s.a.resize(static_cast<std::size_t>(kChunk) * Kp);
  const Requant& r = op.requant;
  const bool bias = !op.acc_bias.empty();
  const std::int64_t* shift64 = pc.shift64.data();
  // AVX-512 epilogues with the VNNI kernel (its CPUs have AVX-512 DQ and VL too).
  const bool wide = kernel == KernelKind::kVnni && fused_add_wide_supported();
  const bool wide_thresholds = wide && M % 16 == 0;
  const std::ptrdiff_t padded_row = static_cast<std::ptrdiff_t>(op.w_in + 2 * op.pad) * pc.cp;
  for (int q0 = p0; q0 < p1;) {
    int n = std::min(kChunk, p1 - q0);
    Operand A;
    A.max_value = pc.src_max;
    if (pc.implicit) {
      // One output row at a time: its pixels are stride * C apart in the padded map.
      const int oy = q0 / op.w_out, ox = q0 % op.w_out;
      n = std::min(n, op.w_out - ox);
      A.base = src + (static_cast<std::ptrdiff_t>(oy) * op.stride) * padded_row +
               static_cast<std::ptrdiff_t>(ox) * op.stride * pc.cp;
      A.pixel_stride = static_cast<std::ptrdiff_t>(op.stride) * pc.cp;
      A.segments = op.k;
      A.segment_stride = padded_row;
      A.segment_bytes = op.k * pc.cp;
    } else if (pc.direct) {
      A.base = src + static_cast<std::size_t>(q0) * op.c_in;
      A.pixel_stride = Kp;
      A.segment_bytes = Kp;
    } else {
      im2col(op, src, q0, n, Kp, s.a.data());
      A.base = s.a.data();
      A.pixel_stride = Kp;
      A.segment_bytes = Kp;
    }
    gemm_u8s8(kernel, A, n, pc.weights, s.c.data(), Mp);
    const std::int64_t* bias_rows = bias ? pc.bias_t.data() : nullptr;
    // The chunk's first output, dense or in the interior of a zero-padded map (out_pad; the
    // implicit path's chunks lie in one output row).
    Out* oc = out + static_cast<std::size_t>(q0) * M;
    if (out_pad > 0)
      oc = out + (static_cast<std::size_t>(q0 / op.w_out + out_pad) * (op.w_out + 2 * out_pad) +
                  q0 % op.w_out + out_pad) *
                     M;
    if (fused != nullptr) {
      fused_add_rows(pc, s.c.data(), bias ? bias_rows + static_cast<std::size_t>(q0) * Mp : nullptr,
                     n, *fused, static_cast<std::size_t>(q0), wide);
      q0 += n;
      continue;
    }
    if constexpr (!std::is_same_v<Out, std::int64_t>) {
      Out* o = oc;
      if constexpr (std::is_same_v<Out, std::uint8_t>) {
        if (pc.thresholds && wide_thresholds) {
          threshold_rows_wide(pc.sign.data(), pc.threshold.data(), 1, pc.levels, M, Mp,
                              s.c.data(), n, nullptr, o);
          q0 += n;
          continue;
        }
      }
      if (!pc.thresholds && wide && M % 8 == 0) {
        requant_rows_wide(pc, s.c.data(),
                          bias ? bias_rows + static_cast<std::size_t>(q0) * Mp : nullptr, n, o);
        q0 += n;
        continue;
      }
    }
    for (int i = 0; i < n; ++i) {
      const std::int32_t* acc = s.c.data() + static_cast<std::size_t>(i) * Mp;
      Out* o = oc + static_cast<std::size_t>(i) * M;
      if constexpr (std::is_same_v<Out, std::uint8_t>) {
        if (pc.thresholds) {
          if (pc.levels == 3) {
            threshold_row<3>(acc, pc.sign.data(), pc.threshold.data(), 3, Mp, M, o);
          } else {
            threshold_row<0>(acc, pc.sign.data(), pc.threshold.data(), pc.levels, Mp, M, o);
          }
          continue;
        }
      }
      requant_row(acc, bias ? bias_rows + static_cast<std::size_t>(q0 + i) * Mp : nullptr,
                  op.bias_frac_bits, pc.mult.data(), pc.off.data(), shift64, r.lo, r.hi, M, o);
    }
    q0 += n;
  }
}

template void conv_range<std::uint8_t>(const PreparedConv&, const std::uint8_t*, int, int,
                                       KernelKind, Scratch&, std::uint8_t*,
                                       const FusedAdd*, int);
template void conv_range<std::int32_t>(const PreparedConv&, const std::uint8_t*, int, int,
                                       KernelKind, Scratch&, std::int32_t*,
                                       const FusedAdd*, int);
template void conv_range<std::int64_t>(const PreparedConv&, const std::uint8_t*, int, int,
                                       KernelKind, Scratch&, std::int64_t*,
                                       const FusedAdd*, int);

// The zero-padded copy of a channels-last map (the implicit GEMM's operand).
void pad_map(const std::uint8_t* in, int h, int w, int C, int cp, int pad,
             std::vector<std::uint8_t>& out) {
  out.assign(static_cast<std::size_t>(h + 2 * pad) * (w + 2 * pad) * cp, 0);
  pad_interior(in, h, w, C, cp, pad, out.data());
}

void pad_interior(const std::uint8_t* in, int h, int w, int C, int cp, int pad,
                  std::uint8_t* out) {
  const int wp = w + 2 * pad;
  for (int y = 0; y < h; ++y) {
    std::uint8_t* row = out + (static_cast<std::size_t>(y + pad) * wp + pad) * cp;
    const std::uint8_t* src = in + static_cast<std::size_t>(y) * w * C;
    if (cp == C) {
      std::memcpy(row, src, static_cast<std::size_t>(w) * C);
    } else {
      for (int x = 0; x < w; ++x)
        for (int c = 0; c < C; ++c)
          row[static_cast<std::size_t>(x) * cp + c] = src[static_cast<std::size_t>(x) * C + c];
    }
  }
}

}  // namespace detail

using namespace detail;

std::vector<std::int64_t> conv_pre_requant(const ConvOp& op0, const std::uint8_t* input_chw,
                                           int in_height, int in_width, int max_code,
                                           KernelKind kernel) {
  // The op with an identity requantization into int64.
  ConvOp op = op0;
  const int M = op.c_out, plane = op.h_out * op.w_out;
  op.requant.multiplier.assign(static_cast<std::size_t>(M), 1);
  op.requant.offset.assign(static_cast<std::size_t>(M), 0);
  op.requant.shift.assign(static_cast<std::size_t>(M), 0);
  op.requant.lo = INT64_MIN;
  op.requant.hi = INT64_MAX;
  const PreparedConv pc = prepare(op, max_code);
  const int C = op.c_in;
  std::vector<std::uint8_t> hwc(static_cast<std::size_t>(C) * in_height * in_width);
  for (int c = 0; c < C; ++c)
    for (int p = 0; p < in_height * in_width; ++p)
      hwc[static_cast<std::size_t>(p) * C + c] =
          input_chw[static_cast<std::size_t>(c) * in_height * in_width + p];
  std::vector<std::uint8_t> src = hwc;
  if (pc.preprocess) {
    src.resize(static_cast<std::size_t>(op.h_in) * op.w_in * C);
    preprocess_input(op, hwc.data(), in_height, in_width, src.data());
  }
  if (pc.implicit) {
    std::vector<std::uint8_t> padded;
    pad_map(src.data(), op.h_in, op.w_in, C, pc.cp, op.pad, padded);
    src = std::move(padded);
  }
  std::vector<std::int64_t> hw_out(static_cast<std::size_t>(plane) * M);
  Scratch s;
  conv_range(pc, src.data(), 0, plane, kernel, s, hw_out.data());
  std::vector<std::int64_t> chw(hw_out.size());
  for (int p = 0; p < plane; ++p)
    for (int m = 0; m < M; ++m)
      chw[static_cast<std::size_t>(m) * plane + p] = hw_out[static_cast<std::size_t>(p) * M + m];
  return chw;
}

}  // namespace nce::deploy
