#include "nce/deploy/int_engine.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include "int_conv.h"

namespace nce::deploy {

using detail::conv_range;
using detail::kChunk;
using detail::pad_map;
using detail::prepare;
using detail::PreparedConv;
using detail::preprocess_input;
using detail::Scratch;

namespace {

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
