#include "nce/deploy/int_engine.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <climits>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include "int_conv.h"

namespace nce::deploy {

using detail::conv_range;
using detail::FusedAdd;
using detail::kChunk;
using detail::pad_interior;
using detail::prepare;
using detail::PreparedConv;
using detail::preprocess_input;
using detail::Scratch;

namespace {

// The threads of one parallel region working on one image meet at barriers of their own: a spin
// of up to 1 ms, then a futex sleep. One image then pays for one OpenMP wake-up, not one
// per conv, whatever OMP_WAIT_POLICY says (`passive` made each conv's parallel region wait for
// sleeping threads; `active` threads spin through a loaded machine's time slices).
class TeamBarrier {
 public:
  explicit TeamBarrier(int n) : n_(n) {}
  void wait() {
    const unsigned gen = gen_.load(std::memory_order_seq_cst);
    if (count_.fetch_add(1, std::memory_order_seq_cst) + 1 == n_) {
      count_.store(0, std::memory_order_relaxed);
      gen_.fetch_add(1, std::memory_order_seq_cst);
      if (sleepers_.load(std::memory_order_seq_cst) > 0)
        syscall(SYS_futex, reinterpret_cast<unsigned*>(&gen_), FUTEX_WAKE_PRIVATE, INT_MAX,
                nullptr, nullptr, 0);
      return;
    }
    // Spin for a while measured in time, not pauses: a pause lasts ~25 ns on some x86 cores and
    // ~140 ns on others. The clock is read once every 64 pauses.
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
      for (int i = 0; i < 64; ++i) {
        if (gen_.load(std::memory_order_acquire) != gen) return;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
      }
      if (std::chrono::steady_clock::now() - start > std::chrono::nanoseconds(kSpinNs)) break;
    }
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    while (gen_.load(std::memory_order_seq_cst) == gen)
      syscall(SYS_futex, reinterpret_cast<unsigned*>(&gen_), FUTEX_WAIT_PRIVATE, gen, nullptr,
              nullptr, 0);
    sleepers_.fetch_sub(1, std::memory_order_seq_cst);
  }

 private:
  // Measured on a quiet 2-core AMD EPYC, ResNet-20 W2A2, one image on 2 threads under
  // OMP_WAIT_POLICY=passive: a 6 us spin 0.87-1.14 ms per image, 50 us 0.50-0.59, 1 ms 0.37-0.38
  // (1 thread: 0.43-0.48). The team's serial steps between convs are shorter than 1 ms, so the
  // waiting thread rarely sleeps within an image; a descheduled lead costs at most 1 ms of spin.
  static constexpr long kSpinNs = 1000000;
  const int n_;
  std::atomic<int> count_{0};
  std::atomic<unsigned> gen_{0};
  std::atomic<int> sleepers_{0};
};

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

// The fused form (FusedAdd) of residual add `a`, one of whose inputs conv output `v` is; the
// buffers are set per image (set_buffers).
FusedAdd fused_add(const AddOp& a, int v) {
  FusedAdd f;
  const bool conv_is_a = a.a == v;
  f.mv = conv_is_a ? a.a_multiplier : a.b_multiplier;
  f.ov = conv_is_a ? a.a_offset : a.b_offset;
  f.sv = conv_is_a ? a.a_shift : a.b_shift;
  f.mx = conv_is_a ? a.b_multiplier : a.a_multiplier;
  f.ox = conv_is_a ? a.b_offset : a.a_offset;
  f.sx = conv_is_a ? a.b_shift : a.a_shift;
  f.pact = a.pact;
  f.half = std::int64_t{1} << (a.frac_bits - 1);
  f.frac_bits = a.frac_bits;
  f.max_code = a.max_code;
  return f;
}

int other_input(const AddOp& a, int v) {
  return a.a == v ? a.b : a.a;
}

void set_buffers(FusedAdd& f, const AddOp& a, int v, const std::vector<ValueInfo>& values,
                 std::vector<std::vector<std::uint8_t>>& codes,
                 std::vector<std::vector<std::int32_t>>& fixed) {
  const auto x = static_cast<std::size_t>(other_input(a, v));
  if (values[x].kind == ValueKind::kCodes) {
    f.x_codes = codes[x].data();
  } else {
    f.x_fixed = fixed[x].data();
  }
  if (a.pact) {
    f.codes = codes[static_cast<std::size_t>(a.output)].data();
  } else {
    f.fixed = fixed[static_cast<std::size_t>(a.output)].data();
  }
}

}  // namespace

struct IntEngine::Impl {
  IntModel model;
  KernelKind kernel;
  std::vector<PreparedConv> convs;  // per op (unused entries for adds / the head)
  // Per op: a conv whose output only the next op, a residual add, reads runs that add in its
  // epilogue (FusedAdd), and the add is skipped.
  std::vector<char> fuses_next;
  // Per op: a conv whose codes only one implicit conv j reads writes them straight into j's
  // zero-padded operand (ImageBuffers::padded[j]), and j copies nothing: padded_into = j (else -1),
  // prepadded[j] = 1.
  std::vector<int> padded_into;
  std::vector<char> prepadded;

  // Buffers of one image: every value, plus the pre-pool and preprocessed maps.
  struct ImageBuffers {
    std::vector<std::vector<std::uint8_t>> codes;
    std::vector<std::vector<std::int32_t>> fixed;
    std::vector<std::uint8_t> src, prepool;
    // Per op, an implicit conv's zero-padded operand: zeroed once, only its interior rewritten.
    std::vector<std::vector<std::uint8_t>> padded;
    std::vector<std::int32_t> prepool_fixed;
    std::vector<std::int64_t> feat;
    std::vector<std::int32_t> feat8;
  };
  std::vector<ImageBuffers> per_thread;
  std::vector<Scratch> scratch;

  void size_buffers(ImageBuffers& b) const {
    b.padded.resize(model.ops.size());
    for (std::size_t i = 0; i < model.ops.size(); ++i) {
      if (model.ops[i].kind != OpKind::kConv || !convs[i].implicit) continue;
      const ConvOp& c = model.ops[i].conv;
      b.padded[i].assign(
          static_cast<std::size_t>(c.h_in + 2 * c.pad) * (c.w_in + 2 * c.pad) * convs[i].cp, 0);
    }
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

  // A team of threads on one image (inside a parallel region): each conv's pixel chunks are split
  // across them, everything else runs on thread 0, and they meet at `barrier`.
  struct Team {
    int tid = 0, size = 1;
    TeamBarrier* barrier = nullptr;
  };
  // Runs image `img` (C x H x W bytes) into logits row `out` (written by team thread 0). team:
  // null for one thread alone.
  void run_image(const std::uint8_t* img, ImageBuffers& b, const Team* team, std::int64_t* logits,
                 int* exponent);
  void run_conv(std::size_t i, ImageBuffers& b, const Team* team, Scratch& own,
                const AddOp* fused);
  bool can_fuse(std::size_t i) const;
  int readers(int v) const;  // reads of value v by the ops
  int padded_reader(std::size_t i) const;
  void run_add(const AddOp& a, ImageBuffers& b);
  void run_head(const HeadOp& h, ImageBuffers& b, std::int64_t* logits, int* exponent);
};

IntEngine::IntEngine(const IntModel& model, KernelKind kernel, IntEngineOptions options)
    : impl_(std::make_unique<Impl>()) {
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
  m.fuses_next.assign(m.model.ops.size(), 0);
  for (std::size_t i = 0; i < m.model.ops.size(); ++i) {
    m.fuses_next[i] = options.fuse_adds && m.can_fuse(i);
    if (!m.fuses_next[i]) continue;
    const AddOp& a = m.model.ops[i + 1].add;
    const int v = m.model.ops[i].conv.output;
    const ValueInfo& x = m.model.values[static_cast<std::size_t>(other_input(a, v))];
    if (x.kind == ValueKind::kCodes)
      detail::prepare_fused_thresholds(m.convs[i], fused_add(a, v), x.max_code);
  }
  m.padded_into.assign(m.model.ops.size(), -1);
  m.prepadded.assign(m.model.ops.size(), 0);
  for (std::size_t i = 0; options.write_padded && i < m.model.ops.size(); ++i) {
    m.padded_into[i] = m.padded_reader(i);
    if (m.padded_into[i] >= 0) m.prepadded[static_cast<std::size_t>(m.padded_into[i])] = 1;
  }
}

// Conv op i can run the next op, a residual add, in its epilogue: its output is int32 (not
// codes, which trace() keeps), not pooled, one of the add's inputs and read by no other op.
bool IntEngine::Impl::can_fuse(std::size_t i) const {
  if (i + 1 >= model.ops.size()) return false;
  const Op &op = model.ops[i], &next = model.ops[i + 1];
  if (op.kind != OpKind::kConv || next.kind != OpKind::kAdd) return false;
  const ConvOp& c = op.conv;
  const AddOp& a = next.add;
  if ((a.a == c.output) == (a.b == c.output)) return false;  // not an input, or both
  if (model.values[c.output].kind != ValueKind::kFixed) return false;
  if (c.out_pool.kind != PoolKind::kNone) return false;
  return readers(c.output) == 1;
}

int IntEngine::Impl::readers(int v) const {
  int n = 0;
  for (const Op& o : model.ops) {
    if (o.kind == OpKind::kConv) n += o.conv.input == v;
    if (o.kind == OpKind::kAdd) n += (o.add.a == v) + (o.add.b == v);
    if (o.kind == OpKind::kHead) n += o.head.input == v;
  }
  return n;
}

// The implicit conv j that alone reads the codes of conv op i (implicit too: its chunks lie in one
// output row) without preprocessing or padded channels, so that i can write them into j's padded
// operand; -1 if none.
int IntEngine::Impl::padded_reader(std::size_t i) const {
  const Op& op = model.ops[i];
  if (op.kind != OpKind::kConv || fuses_next[i] || !convs[i].implicit) return -1;
  const ConvOp& c = op.conv;
  if (c.out_pool.kind != PoolKind::kNone || model.values[c.output].kind != ValueKind::kCodes ||
      readers(c.output) != 1)
    return -1;
  for (std::size_t j = i + 1; j < model.ops.size(); ++j) {
    const Op& r = model.ops[j];
    if (r.kind != OpKind::kConv || r.conv.input != c.output) continue;
    const PreparedConv& pj = convs[j];
    return pj.implicit && !pj.preprocess && pj.cp == r.conv.c_in ? static_cast<int>(j) : -1;
  }
  return -1;
}

IntEngine::~IntEngine() = default;

const IntModel& IntEngine::model() const {
  return impl_->model;
}
KernelKind IntEngine::kernel() const {
  return impl_->kernel;
}
int IntEngine::fused_adds() const {
  int n = 0;
  for (char f : impl_->fuses_next) n += f != 0;
  return n;
}
int IntEngine::padded_writes() const {
  int n = 0;
  for (int j : impl_->padded_into) n += j >= 0;
  return n;
}

void IntEngine::Impl::run_image(const std::uint8_t* img, ImageBuffers& b, const Team* team,
                                std::int64_t* logits, int* exponent) {
  const bool lead = !team || team->tid == 0;
  Scratch& own = scratch[static_cast<std::size_t>(team ? team->tid : omp_get_thread_num())];
  // The input: C x H x W -> H x W x C.
  const ValueInfo& in = model.values[0];
  std::uint8_t* x0 = b.codes[0].data();
  if (lead)
    for (int c = 0; c < in.channels; ++c)
      for (int p = 0; p < in.height * in.width; ++p)
        x0[static_cast<std::size_t>(p) * in.channels + c] =
            img[static_cast<std::size_t>(c) * in.height * in.width + p];
  for (std::size_t i = 0; i < model.ops.size(); ++i) {
    const Op& op = model.ops[i];
    if (op.kind == OpKind::kConv) {
      const bool fuse = fuses_next[i] != 0;
      run_conv(i, b, team, own, fuse ? &model.ops[i + 1].add : nullptr);
      i += fuse;  // the add ran in the conv's epilogue
    } else if (!lead) {
      continue;  // adds and the head run on thread 0
    } else if (op.kind == OpKind::kAdd) {
      run_add(op.add, b);
    } else {
      run_head(op.head, b, logits, exponent);
    }
  }
}

// Conv op i on the team (or alone): thread 0 prepares the operand, every thread runs its pixel
// chunks, thread 0 pools. fused: the next op, a residual add run in the conv's epilogue.
void IntEngine::Impl::run_conv(std::size_t i, ImageBuffers& b, const Team* team, Scratch& own,
                               const AddOp* fused) {
  const int tid = team ? team->tid : 0, size = team ? team->size : 1;
  const ConvOp& c = model.ops[i].conv;
  const PreparedConv& pc = convs[i];
  const bool lead = !team || team->tid == 0;
  const ValueInfo& vi = model.values[c.input];
  const ValueInfo& vo = model.values[c.output];
  const bool pool = c.out_pool.kind != PoolKind::kNone;
  const int plane = c.h_out * c.w_out;
  if (lead) {  // the operand and the output buffers, before the team reads and writes them
    const std::uint8_t* from = b.codes[c.input].data();
    if (pc.preprocess) {
      b.src.resize(static_cast<std::size_t>(c.h_in) * c.w_in * c.c_in);
      preprocess_input(c, from, vi.height, vi.width, b.src.data());
      from = b.src.data();
    }
    if (pc.implicit && !prepadded[i])
      pad_interior(from, c.h_in, c.w_in, c.c_in, pc.cp, c.pad, b.padded[i].data());
    if (pool && vo.kind == ValueKind::kCodes)
      b.prepool.resize(static_cast<std::size_t>(plane) * c.c_out);
    if (pool && vo.kind == ValueKind::kFixed)
      b.prepool_fixed.resize(static_cast<std::size_t>(plane) * c.c_out);
  }
  if (team) team->barrier->wait();
  const std::uint8_t* src = pc.implicit     ? b.padded[i].data()
                            : pc.preprocess ? b.src.data()
                                            : b.codes[c.input].data();
  FusedAdd fa;
  if (fused != nullptr) {
    fa = fused_add(*fused, c.output);
    set_buffers(fa, *fused, c.output, model.values, b.codes, b.fixed);
    if (pc.add_thresholds.xs > 0) fa.thresholds = &pc.add_thresholds;
  }
  auto run_range = [&](int p0, int p1, Scratch& s) {
    if (fused != nullptr) {
      conv_range(pc, src, p0, p1, kernel, s, b.fixed[c.output].data(), &fa);
    } else if (padded_into[i] >= 0) {
      const auto j = static_cast<std::size_t>(padded_into[i]);
      conv_range(pc, src, p0, p1, kernel, s, b.padded[j].data(), nullptr, model.ops[j].conv.pad);
    } else if (vo.kind == ValueKind::kCodes) {
      std::uint8_t* o = pool ? b.prepool.data() : b.codes[c.output].data();
      conv_range(pc, src, p0, p1, kernel, s, o);
    } else {
      std::int32_t* o = pool ? b.prepool_fixed.data() : b.fixed[c.output].data();
      conv_range(pc, src, p0, p1, kernel, s, o);
    }
  };
  if (team) {
    const int chunks = (plane + kChunk - 1) / kChunk;
    const int per = (chunks + size - 1) / size;  // contiguous chunks per thread
    const int p0 = std::min(plane, tid * per * kChunk);
    const int p1 = std::min(plane, (tid + 1) * per * kChunk);
    if (p0 < p1) run_range(p0, p1, own);
    team->barrier->wait();
    if (!lead) return;
  } else {
    run_range(0, plane, own);
  }
  if (pool && vo.kind == ValueKind::kCodes)
    max_pool(c.out_pool, b.prepool.data(), c.h_out, c.w_out, c.c_out, vo.height, vo.width,
             b.codes[c.output].data());
  if (pool && vo.kind == ValueKind::kFixed)
    max_pool(c.out_pool, b.prepool_fixed.data(), c.h_out, c.w_out, c.c_out, vo.height, vo.width,
             b.fixed[c.output].data());
}

void IntEngine::Impl::run_add(const AddOp& a, ImageBuffers& b) {
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
}

void IntEngine::Impl::run_head(const HeadOp& h, ImageBuffers& b, std::int64_t* logits,
                               int* exponent) {
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
                  m.per_thread[static_cast<std::size_t>(omp_get_thread_num())], nullptr,
                  out.values.data() + static_cast<std::size_t>(i) * classes,
                  &out.exponent[static_cast<std::size_t>(i)]);
    }
  } else {
    // Fewer images than threads: one team per image, in one parallel region.
    TeamBarrier barrier(threads);
#pragma omp parallel num_threads(threads)
    {
      Impl::Team team{omp_get_thread_num(), omp_get_num_threads(), &barrier};
      const bool whole = team.size == threads;  // else thread 0 alone, without barriers
      if (whole || team.tid == 0)
        for (int i = 0; i < n; ++i)
          m.run_image(images + image_bytes * i, m.per_thread[0], whole ? &team : nullptr,
                      out.values.data() + static_cast<std::size_t>(i) * classes,
                      &out.exponent[static_cast<std::size_t>(i)]);
    }
  }
}

void IntEngine::trace(const std::uint8_t* image, std::vector<std::vector<std::uint8_t>>& codes) {
  Impl& m = *impl_;
  Impl::ImageBuffers b;
  m.size_buffers(b);
  m.scratch.resize(std::max<std::size_t>(m.scratch.size(), 1));
  std::vector<std::int64_t> logits(static_cast<std::size_t>(m.model.classes()));
  int exponent = 0;
  m.run_image(image, b, nullptr, logits.data(), &exponent);
  for (std::size_t i = 0; i < m.model.ops.size(); ++i) {  // codes written into a padded operand
    if (m.padded_into[i] < 0) continue;
    const ConvOp& c = m.model.ops[i].conv;
    const int pad = m.model.ops[static_cast<std::size_t>(m.padded_into[i])].conv.pad;
    const std::size_t row = static_cast<std::size_t>(c.w_out) * c.c_out;
    for (int y = 0; y < c.h_out; ++y)
      std::memcpy(b.codes[static_cast<std::size_t>(c.output)].data() + y * row,
                  b.padded[static_cast<std::size_t>(m.padded_into[i])].data() +
                      (static_cast<std::size_t>(y + pad) * (c.w_out + 2 * pad) + pad) * c.c_out,
                  row);
  }
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
