#include "nce/search/cwi.h"

#include <cassert>

namespace nce::search {

void cwi_range(int in_channels, int out_channels, int o, int& first, int& last) {
  // floor(o*iC/oC) and ceil((o+1)*iC/oC) in integers.
  first = static_cast<int>(static_cast<long long>(o) * in_channels / out_channels);
  last = static_cast<int>((static_cast<long long>(o + 1) * in_channels + out_channels - 1) /
                          out_channels);
}

void cwi_forward(const nn::Tensor& x, int out_channels, nn::Tensor& out) {
  const int n = x.n(), ic = x.c(), oc = out_channels;
  const std::size_t plane = x.plane();
  out.resize(n, oc, x.h(), x.w());
  for (int b = 0; b < n; ++b) {
    for (int o = 0; o < oc; ++o) {
      int first, last;
      cwi_range(ic, oc, o, first, last);
      float* dst = out.data() + (static_cast<std::size_t>(b) * oc + o) * plane;
      const float* src = x.data() + (static_cast<std::size_t>(b) * ic + first) * plane;
      const float scale = 1.0f / static_cast<float>(last - first);
      for (std::size_t i = 0; i < plane; ++i) dst[i] = src[i];
      for (int c = first + 1; c < last; ++c) {
        const float* more = src + static_cast<std::size_t>(c - first) * plane;
        for (std::size_t i = 0; i < plane; ++i) dst[i] += more[i];
      }
      if (last - first > 1) {
        for (std::size_t i = 0; i < plane; ++i) dst[i] *= scale;
      }
    }
  }
}

void cwi_backward(const nn::Tensor& grad_out, nn::Tensor& grad_x) {
  const int n = grad_out.n(), oc = grad_out.c(), ic = grad_x.c();
  assert(grad_x.n() == n && grad_x.plane() == grad_out.plane());
  const std::size_t plane = grad_out.plane();
  for (int b = 0; b < n; ++b) {
    for (int o = 0; o < oc; ++o) {
      int first, last;
      cwi_range(ic, oc, o, first, last);
      const float scale = 1.0f / static_cast<float>(last - first);
      const float* g = grad_out.data() + (static_cast<std::size_t>(b) * oc + o) * plane;
      for (int c = first; c < last; ++c) {
        float* dst = grad_x.data() + (static_cast<std::size_t>(b) * ic + c) * plane;
        for (std::size_t i = 0; i < plane; ++i) dst[i] += g[i] * scale;
      }
    }
  }
}

}  // namespace nce::search
