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
  std::vector<std::int32_t> v(static_cast<std::size_t>(C));
  for (int oy = 0; oy < op.h_in; ++oy)
    for (int ox = 0; ox < op.w_in; ++ox) {
      std::fill(v.begin(), v.end(), 0);
      if (p.kind == PoolKind::kNone) {
        const std::uint8_t* x = in + (static_cast<std::size_t>(oy) * w + ox) * C;
        for (int c = 0; c < C; ++c) v[static_cast<std::size_t>(c)] = x[c];
      } else {
        for (int ky = 0; ky < p.k; ++ky)
          for (int kx = 0; kx < p.k; ++kx) {
            const int iy = oy * p.stride - p.pad + ky, ix = ox * p.stride - p.pad + kx;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
            const std::uint8_t* x = in + (static_cast<std::size_t>(iy) * w + ix) * C;
            if (p.kind == PoolKind::kMax) {
              for (int c = 0; c < C; ++c)
                v[static_cast<std::size_t>(c)] =
                    std::max<std::int32_t>(v[static_cast<std::size_t>(c)], x[c]);
            } else {
              for (int c = 0; c < C; ++c) v[static_cast<std::size_t>(c)] += x[c];
            }
          }
      }
      std::uint8_t* o = out + (static_cast<std::size_t>(oy) * op.w_in + ox) * C;
      for (int c = 0; c < C; ++c) {
        const std::int32_t r = (v[static_cast<std::size_t>(c)] + half) >> s;
        o[c] = static_cast<std::uint8_t>(r > 255 ? 255 : r);
      }
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


// Stores the first min(16, left) of a block's 16 outputs. A whole block is one fixed-size copy (a
// single vector store): a copy of variable length is done in pieces that read back the block from
// the stack before its store has landed, which stalled the requantization (measured: 17% of
// conv_range's time on one load, AMD EPYC).
template <typename Out>
inline void store_block(const Out (&b)[16], int left, Out* o) {
  if (left >= 16) {
    std::memcpy(o, b, sizeof(b));
  } else {
    std::memcpy(o, b, sizeof(Out) * static_cast<std::size_t>(left));
  }
}

// Codes by thresholds for one pixel: o[m] = number of j with sign[m] * acc[m] >= th[j][m], in
// blocks of 16 channels (Mp is a multiple of 16; fixed trip counts vectorize).
template <int L>
void threshold_row(const std::int32_t* acc, const std::int32_t* sign, const std::int32_t* th,
                   int levels, int Mp, int M, std::uint8_t* o) {
  for (int m0 = 0; m0 < Mp; m0 += 16) {
    std::int32_t u[16], q[16];
    for (int t = 0; t < 16; ++t) {
      u[t] = acc[m0 + t] * sign[m0 + t];
      q[t] = 0;
    }
    const int nl = L > 0 ? L : levels;
    for (int j = 0; j < nl; ++j) {
      const std::int32_t* tj = th + static_cast<std::size_t>(j) * Mp + m0;
      for (int t = 0; t < 16; ++t) q[t] += u[t] >= tj[t] ? 1 : 0;
    }
    std::uint8_t b[16];
    for (int t = 0; t < 16; ++t) b[t] = static_cast<std::uint8_t>(q[t]);
    store_block(b, M - m0, o + m0);
  }
}

// out = clamp((t * mult + off) >> shift, lo, hi) for one pixel, t = acc (or (acc << fb) + bias).
template <typename Out>
void requant_row(const std::int32_t* acc, const std::int64_t* bias, int fb,
                 const std::int32_t* mult, const std::int64_t* off, const std::int64_t* shift,
                 std::int64_t lo, std::int64_t hi, int Mp, int M, Out* o) {
  for (int m0 = 0; m0 < Mp; m0 += 16) {
    Out b[16];
    for (int t = 0; t < 16; ++t) {
      std::int64_t v = static_cast<std::int64_t>(acc[m0 + t]);
      if (bias != nullptr) v = v * (std::int64_t{1} << fb) + bias[m0 + t];
      v = (v * mult[m0 + t] + off[m0 + t]) >> shift[m0 + t];
      v = v < lo ? lo : v;
      v = v > hi ? hi : v;
      b[t] = static_cast<Out>(v);
    }
    store_block(b, M - m0, o + m0);
  }
}

}  // namespace

// GEMM + requantization of output pixels [p0, p1) of one image. src: the byte map (for the
// implicit path: the zero-padded map, (h_in + 2 pad) x (w_in + 2 pad) x c_in); out: the output
// value (bytes or int32, H_out x W_out x C_out, before any out_pool).
template <typename Out>
void conv_range(const PreparedConv& pc, const std::uint8_t* src, int p0, int p1, KernelKind kernel,
                Scratch& s, Out* out) {
  const ConvOp& op = *pc.op;
  const int Kp = pc.weights.Kp, Mp = pc.weights.Mp, M = op.c_out;
  s.c.resize(static_cast<std::size_t>(kChunk) * Mp);
  s.q.resize(static_cast<std::size_t>(Mp));
  if (!pc.direct && !pc.implicit) s.a.resize(static_cast<std::size_t>(kChunk) * Kp);
  const Requant& r = op.requant;
  const bool bias = !op.acc_bias.empty();
  const std::int64_t* shift64 = pc.shift64.data();
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
    for (int i = 0; i < n; ++i) {
      const std::int32_t* acc = s.c.data() + static_cast<std::size_t>(i) * Mp;
      Out* o = out + static_cast<std::size_t>(q0 + i) * M;
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
                  op.bias_frac_bits, pc.mult.data(), pc.off.data(), shift64, r.lo, r.hi, Mp, M, o);
    }
    q0 += n;
  }
}

template void conv_range<std::uint8_t>(const PreparedConv&, const std::uint8_t*, int, int,
                                       KernelKind, Scratch&, std::uint8_t*);
template void conv_range<std::int32_t>(const PreparedConv&, const std::uint8_t*, int, int,
                                       KernelKind, Scratch&, std::int32_t*);
template void conv_range<std::int64_t>(const PreparedConv&, const std::uint8_t*, int, int,
                                       KernelKind, Scratch&, std::int64_t*);

// The zero-padded copy of a channels-last map (the implicit GEMM's operand).
void pad_map(const std::uint8_t* in, int h, int w, int C, int cp, int pad,
             std::vector<std::uint8_t>& out) {
  const int wp = w + 2 * pad;
  out.assign(static_cast<std::size_t>(h + 2 * pad) * wp * cp, 0);
  for (int y = 0; y < h; ++y) {
    std::uint8_t* row = out.data() + (static_cast<std::size_t>(y + pad) * wp + pad) * cp;
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
