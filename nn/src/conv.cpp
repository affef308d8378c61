#include "nce/nn/conv.h"

#include "parallel.h"
#include "small_gemm.h"

#include <omp.h>

#include <algorithm>
#include <cstring>

namespace nce::nn {
namespace {


bool is_pointwise(const ConvParams& p) {
  return p.k == 1 && p.stride == 1 && p.pad == 0;
}

// Stride-1 odd kernel with "same" padding: the implicit-im2col GEMM applies.
bool is_same(const ConvParams& p) {
  return p.k > 1 && p.k % 2 == 1 && p.k <= 7 && p.stride == 1 && p.pad == (p.k - 1) / 2 &&
         detail::conv_same_gemm_supported();
}

// col (K x ho*wo, row-major), K index = (c*k + ky)*k + kx.
void im2col(const ConvParams& p, const float* x, int h, int w, int ho, int wo, float* col) {
  const int k = p.k, s = p.stride, pad = p.pad;
  const std::size_t hwo = static_cast<std::size_t>(ho) * wo;
  for (int c = 0; c < p.c_in; ++c) {
    const float* src = x + static_cast<std::size_t>(c) * h * w;
    for (int ky = 0; ky < k; ++ky) {
      for (int kx = 0; kx < k; ++kx) {
        float* dst = col + static_cast<std::size_t>((c * k + ky) * k + kx) * hwo;
        // Output columns whose input column is inside the map: ox in [x0, x1).
        const int x0 = std::max(0, (pad - kx + s - 1) / s);
        const int x1 = std::min(wo, (w + pad - kx + s - 1) / s);
        if (s == 1 && wo == w) {
          // The plane is one shifted copy of the input: rows [y0, y1) valid, then zero the
          // columns outside [x0, x1) and the rows outside [y0, y1).
          const int y0 = std::max(0, pad - ky), y1 = std::min(ho, h + pad - ky);
          if (y1 <= y0 || x1 <= x0) {
            std::memset(dst, 0, sizeof(float) * hwo);
            continue;
          }
          const std::ptrdiff_t plane = static_cast<std::ptrdiff_t>(h) * w;
          const std::ptrdiff_t shift = static_cast<std::ptrdiff_t>(ky - pad) * w + (kx - pad);
          std::ptrdiff_t a = static_cast<std::ptrdiff_t>(y0) * wo;
          std::ptrdiff_t b = static_cast<std::ptrdiff_t>(y1) * wo;
          a = std::max(a, -shift);
          b = std::min(b, plane - shift);
          std::memset(dst, 0, sizeof(float) * a);
          std::memcpy(dst + a, src + a + shift, sizeof(float) * (b - a));
          std::memset(dst + b, 0, sizeof(float) * (hwo - b));
          for (int oy = y0; oy < y1; ++oy) {
            float* d = dst + static_cast<std::size_t>(oy) * wo;
            for (int ox = 0; ox < x0; ++ox) d[ox] = 0.0f;
            for (int ox = x1; ox < wo; ++ox) d[ox] = 0.0f;
          }
          continue;
        }
        for (int oy = 0; oy < ho; ++oy) {
          float* d = dst + static_cast<std::size_t>(oy) * wo;
          const int iy = oy * s - pad + ky;
          if (iy < 0 || iy >= h || x1 <= x0) {
            std::memset(d, 0, sizeof(float) * wo);
            continue;
          }
          const float* srow = src + static_cast<std::size_t>(iy) * w;
          for (int ox = 0; ox < x0; ++ox) d[ox] = 0.0f;
          for (int ox = x0; ox < x1; ++ox) d[ox] = srow[ox * s - pad + kx];
          for (int ox = x1; ox < wo; ++ox) d[ox] = 0.0f;
        }
      }
    }
  }
}

// dx += col2im(dcol).
void col2im_add(const ConvParams& p, const float* dcol, int h, int w, int ho, int wo, float* dx) {
  const int k = p.k, s = p.stride, pad = p.pad;
  const std::size_t hwo = static_cast<std::size_t>(ho) * wo;
  for (int c = 0; c < p.c_in; ++c) {
    float* dst = dx + static_cast<std::size_t>(c) * h * w;
    for (int ky = 0; ky < k; ++ky) {
      for (int kx = 0; kx < k; ++kx) {
        const float* src = dcol + static_cast<std::size_t>((c * k + ky) * k + kx) * hwo;
        const int x0 = std::max(0, (pad - kx + s - 1) / s);
        const int x1 = std::min(wo, (w + pad - kx + s - 1) / s);
        if (x1 <= x0) continue;
        for (int oy = 0; oy < ho; ++oy) {
          const int iy = oy * s - pad + ky;
          if (iy < 0 || iy >= h) continue;
          const float* srow = src + static_cast<std::size_t>(oy) * wo;
          float* drow = dst + static_cast<std::size_t>(iy) * w;
          if (s == 1) {
            float* d = drow + x0 - pad + kx;
            for (int ox = x0; ox < x1; ++ox) d[ox - x0] += srow[ox];
          } else {
            for (int ox = x0; ox < x1; ++ox) drow[ox * s - pad + kx] += srow[ox];
          }
        }
      }
    }
  }
}

// Work unit of the backward's parallel loop over images (one weight-gradient partial sum each).
constexpr int kImagesPerChunk = 8;
// The forward has no partial sums: smaller units leave less idle time at the end of the loop.
constexpr int kForwardImagesPerChunk = 2;

// The implicit-im2col masks depend on the map, the kernel and the active level's block only:
// cached in the workspace.
void same_masks(int h, int w, int k, ConvWorkspace& ws) {
  const int key[4] = {h, w, k, detail::conv_same_block()};
  if (std::equal(key, key + 4, ws.masks_key)) return;
  detail::conv_same_masks(h, w, k, ws.masks);
  std::copy(key, key + 4, ws.masks_key);
}

// Strided (and other non-"same", non-pointwise) convs gather their im2col panels (AVX2).
bool is_gathered(const ConvParams& p) {
  return !is_pointwise(p) && !is_same(p) && detail::conv_gather_supported();
}

void gather_offsets(const ConvParams& p, int h, int w, ConvWorkspace& ws) {
  const int key[5] = {h, w, p.k, p.stride, p.pad};
  if (std::equal(key, key + 5, ws.gather_key)) return;
  detail::conv_gather_offsets(h, w, p.k, p.stride, p.pad, p.out_size(h), p.out_size(w), ws.gather);
  std::copy(key, key + 5, ws.gather_key);
}

template <class V>
float* ensure(V& v, std::size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

}  // namespace

void conv2d_forward(const ConvParams& p, const Tensor& x, const float* weight, Tensor& y,
                    ConvWorkspace& ws) {
  assert(x.c() == p.c_in);
  const int n = x.n(), h = x.h(), w = x.w();
  const int ho = p.out_size(h), wo = p.out_size(w);
  y.resize(n, p.c_out, ho, wo);
  const int kdim = p.c_in * p.k * p.k;
  const int hwo = ho * wo;
  const bool pointwise = is_pointwise(p);
  const bool same = is_same(p);
  const int threads = omp_get_max_threads();
  if (static_cast<int>(ws.per_thread.size()) < threads) ws.per_thread.resize(threads);
  // At = W^T (kdim x c_out), compact.
  ws.scratch.resize(static_cast<std::size_t>(kdim) * p.c_out);
  for (int o = 0; o < p.c_out; ++o)
    for (int j = 0; j < kdim; ++j)
      ws.scratch[static_cast<std::size_t>(j) * p.c_out + o] =
          weight[static_cast<std::size_t>(o) * p.ld() + j];
  ws.wt.resize(ws.scratch.size());
  detail::pack_at(p.c_out, kdim, ws.scratch.data(), ws.wt.data());
  if (same) same_masks(h, w, p.k, ws);
  const bool gathered = is_gathered(p);
  if (gathered) gather_offsets(p, h, w, ws);
  const bool parallel =
      n > 1 && static_cast<double>(n) * kdim * hwo * p.c_out >= detail::kMinParallelMacs;
#pragma omp parallel num_threads(threads) if (parallel)
  {
    auto& buf = ws.per_thread[omp_get_thread_num()];
    float* col = pointwise || same || gathered
                     ? nullptr
                     : ensure(buf, static_cast<std::size_t>(kdim) * hwo);
#pragma omp for schedule(dynamic, kForwardImagesPerChunk)
    for (int i = 0; i < n; ++i) {
      const float* xi = x.data() + static_cast<std::size_t>(i) * p.c_in * h * w;
      if (same) {
        detail::conv_same_gemm(p.c_out, p.c_in, h, w, p.k, ws.wt.data(), xi,
                               y.data() + static_cast<std::size_t>(i) * p.c_out * hwo, false,
                               ws.masks.data());
        continue;
      }
      if (gathered) {
        detail::conv_gather_gemm(p.c_out, p.c_in, h, w, p.k, ho, wo, ws.wt.data(), xi,
                                 y.data() + static_cast<std::size_t>(i) * p.c_out * hwo,
                                 ws.gather.data());
        continue;
      }
      if (!pointwise) im2col(p, xi, h, w, ho, wo, col);
      detail::gemm_at_b(p.c_out, hwo, kdim, ws.wt.data(), pointwise ? xi : col, hwo,
                        y.data() + static_cast<std::size_t>(i) * p.c_out * hwo, hwo, false);
    }
  }
}

namespace {

// The packed left operand of dx's GEMM, in ws.flipped: the flipped filters of the dx conv
// (stride 1), else W itself (dcol = W^T dy; pointwise: dx = W^T dy).
void pack_dx_operand(const ConvParams& p, const float* weight, bool pointwise, bool dx_as_conv,
                     ConvWorkspace& ws) {
  const int kdim = p.c_in * p.k * p.k;
  const int kdim_b = p.c_out * p.k * p.k;
  const int kk = p.k * p.k;
  if (dx_as_conv) {
    // The dx conv's At (kdim_b x c_in): At[(o*kk + t)*c_in + c] = w[o][c][flipped tap t].
    ws.scratch.resize(static_cast<std::size_t>(kdim_b) * p.c_in);
    for (int o = 0; o < p.c_out; ++o)
      for (int c = 0; c < p.c_in; ++c)
        for (int t = 0; t < kk; ++t)
          ws.scratch[static_cast<std::size_t>(o * kk + t) * p.c_in + c] =
              weight[static_cast<std::size_t>(o) * p.ld() + c * kk + (kk - 1 - t)];
    ws.flipped.resize(ws.scratch.size());
    detail::pack_at(p.c_in, kdim_b, ws.scratch.data(), ws.flipped.data());
  } else {
    // dcol = W^T dy: At = W (c_out x kdim), compact.
    ws.scratch.resize(static_cast<std::size_t>(p.c_out) * kdim);
    for (int o = 0; o < p.c_out; ++o)
      for (int j = 0; j < kdim; ++j)
        ws.scratch[static_cast<std::size_t>(o) * kdim + j] =
            weight[static_cast<std::size_t>(o) * p.ld() + j];
    ws.flipped.resize(ws.scratch.size());
    // Pointwise: A = W^T dy's At is W (c_out x c_in); strided: dcol = W^T dy, At = W (c_out x kdim).
    if (pointwise)
      detail::pack_at(p.c_in, p.c_out, ws.scratch.data(), ws.flipped.data());
    else
      detail::pack_at(kdim, p.c_out, ws.scratch.data(), ws.flipped.data());
  }
}

}  // namespace

void conv2d_backward(const ConvParams& p, const Tensor& x, const float* weight, const Tensor& dy,
                     float* dweight, Tensor* dx, bool accumulate_dx, ConvWorkspace& ws) {
  assert(x.c() == p.c_in && dy.c() == p.c_out);
  const int n = x.n(), h = x.h(), w = x.w();
  const int ho = dy.h(), wo = dy.w();
  const int kdim = p.c_in * p.k * p.k;
  const int hwo = ho * wo, hw = h * w;
  const bool pointwise = is_pointwise(p);
  // Stride 1: dx is the full correlation of dy with the flipped filters, i.e. a forward conv
  // (im2col of dy + GEMM) instead of a GEMM + col2im scatter.
  const bool dx_as_conv = !pointwise && p.stride == 1 && p.pad <= p.k - 1;
  const ConvParams pb{p.c_out, p.c_in, p.k, 1, p.k - 1 - p.pad, 0};
  const int kdim_b = p.c_out * p.k * p.k;
  if (dx && !accumulate_dx) {
    dx->resize_like(x);
    if (!pointwise && !dx_as_conv) dx->set_zero();
  }
  if (dx) pack_dx_operand(p, weight, pointwise, dx_as_conv, ws);
  const bool same = is_same(p);  // then is_same(pb) too, with the same masks
  if (same) same_masks(h, w, p.k, ws);
  const bool gathered = is_gathered(p);
  if (gathered && dweight) gather_offsets(p, h, w, ws);
  const int threads = omp_get_max_threads();
  if (static_cast<int>(ws.per_thread.size()) < threads) ws.per_thread.resize(threads);
  const std::size_t gsize = static_cast<std::size_t>(p.c_out) * kdim;
  const std::size_t col_size =
      pointwise || same || gathered ? 0 : static_cast<std::size_t>(kdim) * hwo;
  const std::size_t dcol_size = !dx || pointwise || same ? 0
                                : dx_as_conv             ? static_cast<std::size_t>(kdim_b) * hw
                                                         : static_cast<std::size_t>(kdim) * hwo;
  const std::size_t dyt_size = static_cast<std::size_t>(hwo) * p.c_out;
  const bool parallel =
      n > 1 && static_cast<double>(n) * kdim * hwo * p.c_out >= detail::kMinParallelMacs;
  // Images go in fixed chunks handed out dynamically (a core slowed by another process does
  // less); each chunk sums its weight gradient on its own, and the chunks are added in order, so
  // the result does not depend on which thread ran what.
  const int chunks = (n + kImagesPerChunk - 1) / kImagesPerChunk;
  if (static_cast<int>(ws.per_thread_grad.size()) < chunks) ws.per_thread_grad.resize(chunks);
#pragma omp parallel num_threads(threads) if (parallel)
  {
    const int t = omp_get_thread_num();
    float* col = ensure(ws.per_thread[t], col_size + dcol_size + dyt_size);
    float* dcol = col + col_size;
    float* dyt = dcol + dcol_size;
#pragma omp for schedule(dynamic, 1)
    for (int chunk = 0; chunk < chunks; ++chunk) {
      float* gw = nullptr;  // dW^T: kdim x c_out
      if (dweight) {
        gw = ensure(ws.per_thread_grad[chunk], gsize);
        std::fill(gw, gw + gsize, 0.0f);
      }
      const int i_end = std::min(n, (chunk + 1) * kImagesPerChunk);
      for (int i = chunk * kImagesPerChunk; i < i_end; ++i) {
        const float* xi = x.data() + static_cast<std::size_t>(i) * p.c_in * hw;
        const float* dyi = dy.data() + static_cast<std::size_t>(i) * p.c_out * hwo;
        if (dweight) {
          detail::transpose(p.c_out, hwo, dyi, dyt);  // dY^T: pixels x filters
          if (same) {
            detail::weight_grad_same(p.c_out, p.c_in, h, w, p.k, dyt, xi, gw, ws.masks.data());
          } else if (pointwise) {
            detail::weight_grad_explicit(p.c_out, kdim, hwo, dyt, xi, hwo, gw);
          } else if (gathered) {
            detail::weight_grad_gather(p.c_out, p.c_in, h, w, p.k, ho, wo, dyt, xi, gw,
                                       ws.gather.data());
          } else {
            im2col(p, xi, h, w, ho, wo, col);
            detail::weight_grad_explicit(p.c_out, kdim, hwo, dyt, col, hwo, gw);
          }
        }
        if (!dx) continue;
        float* dxi = dx->data() + static_cast<std::size_t>(i) * p.c_in * hw;
        if (pointwise) {
          detail::gemm_at_b(p.c_in, hw, p.c_out, ws.flipped.data(), dyi, hwo, dxi, hw,
                            accumulate_dx);
        } else if (same) {
          detail::conv_same_gemm(p.c_in, p.c_out, h, w, p.k, ws.flipped.data(), dyi, dxi,
                                 accumulate_dx, ws.masks.data());
        } else if (dx_as_conv) {
          im2col(pb, dyi, ho, wo, h, w, dcol);
          detail::gemm_at_b(p.c_in, hw, kdim_b, ws.flipped.data(), dcol, hw, dxi, hw,
                            accumulate_dx);
        } else {
          detail::gemm_at_b(kdim, hwo, p.c_out, ws.flipped.data(), dyi, hwo, dcol, hwo, false);
          col2im_add(p, dcol, h, w, ho, wo, dxi);
        }
      }
    }
    if (dweight) {
      // Reduction of the per-chunk partial sums (stored transposed), split over the threads by
      // rows of dW^T; every element adds the chunks in chunk order, so the result does not
      // depend on the thread count.
      // One row at a time in a contiguous buffer: dW's column j is read and written once.
      thread_local std::vector<float> acc;
      if (acc.size() < static_cast<std::size_t>(p.c_out)) acc.resize(p.c_out);
      float* a = acc.data();
#pragma omp for schedule(static)
      for (int j = 0; j < kdim; ++j) {
        for (int o = 0; o < p.c_out; ++o) a[o] = dweight[static_cast<std::size_t>(o) * p.ld() + j];
        for (int c = 0; c < chunks; ++c) {
          const float* src = ws.per_thread_grad[c].data() + static_cast<std::size_t>(j) * p.c_out;
          for (int o = 0; o < p.c_out; ++o) a[o] += src[o];
        }
        for (int o = 0; o < p.c_out; ++o) dweight[static_cast<std::size_t>(o) * p.ld() + j] = a[o];
      }
    }
  }
}

void conv2d_forward_reference(const ConvParams& p, const Tensor& x, const float* weight,
                              Tensor& y) {
  const int n = x.n(), h = x.h(), w = x.w();
  const int ho = p.out_size(h), wo = p.out_size(w);
  y.resize(n, p.c_out, ho, wo);
  for (int i = 0; i < n; ++i)
    for (int o = 0; o < p.c_out; ++o)
      for (int oy = 0; oy < ho; ++oy)
        for (int ox = 0; ox < wo; ++ox) {
          double acc = 0.0;
          for (int c = 0; c < p.c_in; ++c)
            for (int ky = 0; ky < p.k; ++ky)
              for (int kx = 0; kx < p.k; ++kx) {
                const int iy = oy * p.stride - p.pad + ky, ix = ox * p.stride - p.pad + kx;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                acc += static_cast<double>(weight[o * p.ld() + (c * p.k + ky) * p.k + kx]) *
                       x.at(i, c, iy, ix);
              }
          y.at(i, o, oy, ox) = static_cast<float>(acc);
        }
}

}  // namespace nce::nn
