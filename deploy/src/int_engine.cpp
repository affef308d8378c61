#include "nce/deploy/int_engine.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <type_traits>

namespace nce::deploy {

namespace {

constexpr int kChunk = 64;  // output pixels per im2col + GEMM + requantization step

// A conv op prepared for the kernels.
struct PreparedConv {
  const ConvOp* op = nullptr;
  PackedWeights weights;
  int K = 0;
  int src_max = 0;          // the largest value of the im2col operand
  bool direct = false;      // 1x1, stride 1, no pad, c_in % 4 == 0: the map is the operand
  int cp = 0;               // channel stride of the implicit operand
  bool implicit = false;    // k > 1, k * c_in % 4 == 0: reads the zero-padded map in place
  bool preprocess = false;  // in_pool or input_shift: build a byte map first
  std::vector<std::int64_t> shift64;  // the requantization, padded to Mp, shifts widened
  std::vector<std::int32_t> mult;
  std::vector<std::int64_t> off;
  std::vector<std::int64_t> bias_t;  // acc_bias as plane x Mp (contiguous per pixel)
  // Codes of at most 4 bits without accumulator offsets: the requantization as thresholds, the
  // same function of the accumulator (derived from it by bisection): code = number of j with
  // sign[m] * acc >= threshold[j][m].
  bool thresholds = false;
  int levels = 0;
  std::vector<std::int32_t> sign, threshold;  // M; levels x Mp
};

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

struct Scratch {
  std::vector<std::uint8_t> a;
  std::vector<std::int32_t> c, q;
};

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
    std::memcpy(o + m0, b, static_cast<std::size_t>(std::min(16, M - m0)));
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
    std::memcpy(o + m0, b, sizeof(Out) * static_cast<std::size_t>(std::min(16, M - m0)));
  }
}

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

// Max pool of a channels-last map (codes or int32); taps outside the map are skipped.
template <typename T>
void max_pool(const PoolSpec& p, const T* in, int h, int w, int C, int ho, int wo, T* out) {
  for (int oy = 0; oy < ho; ++oy)
    for (int ox = 0; ox < wo; ++ox)
      for (int c = 0; c < C; ++c) {
        T v = std::numeric_limits<T>::lowest();
        for (int ky = 0; ky < p.k; ++ky)
          for (int kx = 0; kx < p.k; ++kx) {
            const int iy = oy * p.stride - p.pad + ky, ix = ox * p.stride - p.pad + kx;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
            v = std::max(v, in[(static_cast<std::size_t>(iy) * w + ix) * C + c]);
          }
        out[(static_cast<std::size_t>(oy) * wo + ox) * C + c] = v;
      }
}

// One pass of a residual add: each input mapped into the add's domain ((x * mult + off) >> shift),
// summed, then PACT codes ((sum + half) >> frac_bits clamped to 0..max_code) or ReLU (int32).
struct AddParams {
  std::int64_t ma, oa, mb, ob;
  int sa, sb;
  std::int64_t half;
  int frac_bits;
  std::int64_t max_code;
};

template <typename TA, typename TB, bool Pact, typename TO>
void add_pass(const TA* a, const TB* b, std::size_t n, const AddParams& p, TO* o) {
  for (std::size_t j = 0; j < n; ++j) {
    const std::int64_t sum = ((a[j] * p.ma + p.oa) >> p.sa) + ((b[j] * p.mb + p.ob) >> p.sb);
    if constexpr (Pact) {
      std::int64_t q = (sum + p.half) >> p.frac_bits;
      q = q < 0 ? 0 : q;
      q = q > p.max_code ? p.max_code : q;
      o[j] = static_cast<TO>(q);
    } else {
      std::int64_t v = sum < 0 ? 0 : sum;
      v = v > INT32_MAX ? INT32_MAX : v;
      o[j] = static_cast<TO>(v);
    }
  }
}

template <typename TA, typename TB>
void add_dispatch(const TA* a, const TB* b, std::size_t n, const AddParams& p, bool pact,
                  std::uint8_t* codes_out, std::int32_t* fixed_out) {
  if (pact) {
    add_pass<TA, TB, true>(a, b, n, p, codes_out);
  } else {
    add_pass<TA, TB, false>(a, b, n, p, fixed_out);
  }
}

}  // namespace

struct IntEngine::Impl {
  IntModel model;
  KernelKind kernel;
  std::vector<PreparedConv> convs;  // per op (unused entries for adds / the head)

  // Buffers of one image: every value, plus the pre-pool and preprocessed maps.
  struct ImageBuffers {
    std::vector<std::vector<std::uint8_t>> codes;
    std::vector<std::vector<std::int32_t>> fixed;
    std::vector<std::uint8_t> src, prepool, padded;
    std::vector<std::int32_t> prepool_fixed;
    std::vector<std::int64_t> feat;
    std::vector<std::int32_t> feat8;
  };
  std::vector<ImageBuffers> per_thread;
  std::vector<Scratch> scratch;

  void size_buffers(ImageBuffers& b) const {
    b.codes.resize(model.values.size());
    b.fixed.resize(model.values.size());
    for (std::size_t v = 0; v < model.values.size(); ++v) {
      const ValueInfo& vi = model.values[v];
      const std::size_t n = static_cast<std::size_t>(vi.channels) * vi.height * vi.width;
      if (vi.kind == ValueKind::kCodes) {
        b.codes[v].resize(n);
      } else {
        b.fixed[v].resize(n);
      }
    }
  }

  // Runs image `img` (C x H x W bytes) into logits row `out`. inner: split the convs' pixels
  // across the threads (call from outside a parallel region).
  void run_image(const std::uint8_t* img, ImageBuffers& b, bool inner, std::int64_t* logits,
                 int* exponent);
};

IntEngine::IntEngine(const IntModel& model, KernelKind kernel) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  validate(model, "integer model '" + model.model + "'");
  m.model = model;
  m.kernel = kernel;
  if (!kernel_supported(kernel))
    throw std::runtime_error(std::string("engine '") + to_string(kernel) +
                             "': this CPU does not have its instructions");
  m.convs.resize(m.model.ops.size());
  for (std::size_t i = 0; i < m.model.ops.size(); ++i) {
    const Op& op = m.model.ops[i];
    if (op.kind != OpKind::kConv) continue;
    m.convs[i] = prepare(op.conv, m.model.values[op.conv.input].max_code);
  }
}

IntEngine::~IntEngine() = default;

const IntModel& IntEngine::model() const {
  return impl_->model;
}
KernelKind IntEngine::kernel() const {
  return impl_->kernel;
}

void IntEngine::Impl::run_image(const std::uint8_t* img, ImageBuffers& b, bool inner,
                                std::int64_t* logits, int* exponent) {
  // The input: C x H x W -> H x W x C.
  const ValueInfo& in = model.values[0];
  std::uint8_t* x0 = b.codes[0].data();
  for (int c = 0; c < in.channels; ++c)
    for (int p = 0; p < in.height * in.width; ++p)
      x0[static_cast<std::size_t>(p) * in.channels + c] =
          img[static_cast<std::size_t>(c) * in.height * in.width + p];
  for (std::size_t i = 0; i < model.ops.size(); ++i) {
    const Op& op = model.ops[i];
    if (op.kind == OpKind::kConv) {
      const ConvOp& c = op.conv;
      const PreparedConv& pc = convs[i];
      const ValueInfo& vi = model.values[c.input];
      const std::uint8_t* src = b.codes[c.input].data();
      if (pc.preprocess) {
        b.src.resize(static_cast<std::size_t>(c.h_in) * c.w_in * c.c_in);
        preprocess_input(c, src, vi.height, vi.width, b.src.data());
        src = b.src.data();
      }
      if (pc.implicit) {
        pad_map(src, c.h_in, c.w_in, c.c_in, pc.cp, c.pad, b.padded);
        src = b.padded.data();
      }
      const ValueInfo& vo = model.values[c.output];
      const bool pool = c.out_pool.kind != PoolKind::kNone;
      const int plane = c.h_out * c.w_out;
      auto run_range = [&](int p0, int p1, Scratch& s) {
        if (vo.kind == ValueKind::kCodes) {
          std::uint8_t* o = pool ? b.prepool.data() : b.codes[c.output].data();
          conv_range(pc, src, p0, p1, kernel, s, o);
        } else {
          std::int32_t* o = pool ? b.prepool_fixed.data() : b.fixed[c.output].data();
          conv_range(pc, src, p0, p1, kernel, s, o);
        }
      };
      if (pool) {
        if (vo.kind == ValueKind::kCodes) {
          b.prepool.resize(static_cast<std::size_t>(plane) * c.c_out);
        } else {
          b.prepool_fixed.resize(static_cast<std::size_t>(plane) * c.c_out);
        }
      }
      if (inner) {
        const int chunks = (plane + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static)
        for (int ch = 0; ch < chunks; ++ch)
          run_range(ch * kChunk, std::min(plane, (ch + 1) * kChunk),
                    scratch[static_cast<std::size_t>(omp_get_thread_num())]);
      } else {
        run_range(0, plane, scratch[static_cast<std::size_t>(omp_get_thread_num())]);
      }
      if (pool && vo.kind == ValueKind::kCodes)
        max_pool(c.out_pool, b.prepool.data(), c.h_out, c.w_out, c.c_out, vo.height, vo.width,
                 b.codes[c.output].data());
      if (pool && vo.kind == ValueKind::kFixed)
        max_pool(c.out_pool, b.prepool_fixed.data(), c.h_out, c.w_out, c.c_out, vo.height, vo.width,
                 b.fixed[c.output].data());
    } else if (op.kind == OpKind::kAdd) {
      const AddOp& a = op.add;
      const ValueInfo& va = model.values[a.a];
      const ValueInfo& vb = model.values[a.b];
      const ValueInfo& vo = model.values[a.output];
      const std::size_t n = static_cast<std::size_t>(vo.channels) * vo.height * vo.width;
      const AddParams ap{a.a_multiplier,
                         a.a_offset,
                         a.b_multiplier,
                         a.b_offset,
                         a.a_shift,
                         a.b_shift,
                         std::int64_t{1} << (a.frac_bits - 1),
                         a.frac_bits,
                         a.max_code};
      std::uint8_t* oc = a.pact ? b.codes[a.output].data() : nullptr;
      std::int32_t* of = a.pact ? nullptr : b.fixed[a.output].data();
      const bool ca = va.kind == ValueKind::kCodes, cb = vb.kind == ValueKind::kCodes;
      if (ca && cb) {
        add_dispatch(b.codes[a.a].data(), b.codes[a.b].data(), n, ap, a.pact, oc, of);
      } else if (ca) {
        add_dispatch(b.codes[a.a].data(), b.fixed[a.b].data(), n, ap, a.pact, oc, of);
      } else if (cb) {
        add_dispatch(b.fixed[a.a].data(), b.codes[a.b].data(), n, ap, a.pact, oc, of);
      } else {
        add_dispatch(b.fixed[a.a].data(), b.fixed[a.b].data(), n, ap, a.pact, oc, of);
      }
    } else {
      const HeadOp& h = op.head;
      const ValueInfo& vi = model.values[h.input];
      const int plane = vi.height * vi.width, C = h.c_in;
      b.feat.assign(static_cast<std::size_t>(C), 0);
      std::int64_t* feat = b.feat.data();
      if (vi.kind == ValueKind::kCodes) {
        const std::uint8_t* x = b.codes[h.input].data();
        for (int p = 0; p < plane; ++p, x += C)
          for (int c = 0; c < C; ++c) feat[c] += x[c];
      } else {
        const std::int32_t* x = b.fixed[h.input].data();
        for (int p = 0; p < plane; ++p, x += C)
          for (int c = 0; c < C; ++c) feat[c] += x[c] > 0 ? x[c] : 0;
      }
      const std::int64_t mx = *std::max_element(b.feat.begin(), b.feat.end());
      int e = 0;
      auto shifted = [](std::int64_t v, int s) {
        return s == 0 ? v : (v + (std::int64_t{1} << (s - 1))) >> s;
      };
      while (shifted(mx, e) > 127) ++e;
      b.feat8.resize(static_cast<std::size_t>(C));
      for (int c = 0; c < C; ++c)
        b.feat8[static_cast<std::size_t>(c)] =
            static_cast<std::int32_t>(shifted(b.feat[static_cast<std::size_t>(c)], e));
      for (int j = 0; j < h.classes; ++j) {
        std::int64_t acc = 0;
        const std::int8_t* w = h.weights.data() + static_cast<std::size_t>(j) * C;
        for (int c = 0; c < C; ++c) acc += b.feat8[static_cast<std::size_t>(c)] * w[c];
        logits[j] = acc * h.multiplier[static_cast<std::size_t>(j)] +
                    shifted(h.bias[static_cast<std::size_t>(j)], e);
      }
      *exponent = e - h.logit_frac_bits;
    }
  }
}

void IntEngine::run(const std::uint8_t* images, int n, IntLogits& out) {
  Impl& m = *impl_;
  const int classes = m.model.classes();
  out.images = n;
  out.classes = classes;
  out.values.assign(static_cast<std::size_t>(n) * classes, 0);
  out.exponent.assign(static_cast<std::size_t>(n), 0);
  const int threads = omp_get_max_threads();
  if (static_cast<int>(m.per_thread.size()) < threads) {
    m.per_thread.resize(static_cast<std::size_t>(threads));
    for (auto& b : m.per_thread) m.size_buffers(b);
  }
  m.scratch.resize(std::max<std::size_t>(m.scratch.size(), static_cast<std::size_t>(threads)));
  const std::size_t image_bytes = static_cast<std::size_t>(m.model.input_channels()) *
                                  m.model.input_height() * m.model.input_width();
  if (n >= threads) {
#pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < n; ++i) {
      m.run_image(images + image_bytes * i,
                  m.per_thread[static_cast<std::size_t>(omp_get_thread_num())], false,
                  out.values.data() + static_cast<std::size_t>(i) * classes,
                  &out.exponent[static_cast<std::size_t>(i)]);
    }
  } else {
    for (int i = 0; i < n; ++i)
      m.run_image(images + image_bytes * i, m.per_thread[0], true,
                  out.values.data() + static_cast<std::size_t>(i) * classes,
                  &out.exponent[static_cast<std::size_t>(i)]);
  }
}

void IntEngine::trace(const std::uint8_t* image, std::vector<std::vector<std::uint8_t>>& codes) {
  Impl& m = *impl_;
  Impl::ImageBuffers b;
  m.size_buffers(b);
  m.scratch.resize(std::max<std::size_t>(m.scratch.size(), 1));
  std::vector<std::int64_t> logits(static_cast<std::size_t>(m.model.classes()));
  int exponent = 0;
  m.run_image(image, b, false, logits.data(), &exponent);
  codes = std::move(b.codes);
  for (std::size_t v = 0; v < codes.size(); ++v)
    if (m.model.values[v].kind != ValueKind::kCodes) codes[v].clear();
}

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

int label_rank(const std::int64_t* logits, int classes, int label) {
  int rank = 0;
  for (int j = 0; j < classes; ++j)
    if (j != label && logits[j] >= logits[label]) ++rank;
  return rank;
}

int argmax(const std::int64_t* logits, int classes) {
  int best = 0;
  for (int j = 1; j < classes; ++j)
    if (logits[j] > logits[best]) best = j;
  return best;
}

}  // namespace nce::deploy
