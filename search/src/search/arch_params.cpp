#include "nce/search/arch_params.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <set>
#include <stdexcept>

namespace nce::search {

std::vector<int> channel_candidates(int channels) {
  if (channels < 1) {
    throw std::invalid_argument("channel_candidates: channels must be >= 1, got " +
                                std::to_string(channels));
  }
  std::set<int> unique;
  for (int tenth = 3; tenth <= 10; ++tenth) {
    // int(C * r) with r = tenth / 10, computed exactly in integers.
    const int c = channels * tenth / 10;
    if (c >= 1) unique.insert(c);
  }
  return std::vector<int>(unique.begin(), unique.end());
}

int expansion_width(int channels, int k) {
  assert(k >= 1);
  const int width = channels * (10 + k) / 10;
  const int previous = k == 1 ? channels : expansion_width(channels, k - 1);
  return std::max(width, previous + 1);
}

std::vector<double> softmax(const std::vector<double>& logits) {
  std::vector<double> p(logits.size());
  if (logits.empty()) return p;
  const double m = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (size_t i = 0; i < logits.size(); ++i) sum += (p[i] = std::exp(logits[i] - m));
  for (double& v : p) v /= sum;
  return p;
}

ArchParams::ArchParams(const std::vector<int>& base_widths, std::mt19937_64& rng, double init_std) {
  std::normal_distribution<double> normal(0.0, init_std);
  for (size_t w = 1; w < base_widths.size(); ++w) {
    LayerChoice choice;
    choice.base_channels = base_widths[w];
    choice.candidates = channel_candidates(base_widths[w]);
    for (size_t i = 0; i < choice.candidates.size(); ++i) choice.alpha.push_back(normal(rng));
    layers_.push_back(std::move(choice));
  }
}

std::vector<double> ArchParams::probabilities(int width_index) const {
  return softmax(layer(width_index).alpha);
}

std::vector<int> ArchParams::derive(int input_channels) const {
  std::vector<int> widths = {input_channels};
  for (const auto& l : layers_) {
    const auto best = std::max_element(l.alpha.begin(), l.alpha.end()) - l.alpha.begin();
    widths.push_back(l.candidates[best]);
  }
  return widths;
}

std::vector<int> ArchParams::max_widths(int input_channels) const {
  std::vector<int> widths = {input_channels};
  for (const auto& l : layers_) widths.push_back(l.candidates.back());
  return widths;
}

bool ArchParams::maybe_expand(int width_index, double threshold, int max_candidates) {
  LayerChoice& l = layer(width_index);
  if (static_cast<int>(l.candidates.size()) >= max_candidates) return false;
  const std::vector<double> p = softmax(l.alpha);
  if (p.back() < threshold) return false;
  l.expansions += 1;
  l.candidates.push_back(
      std::max(expansion_width(l.base_channels, l.expansions), l.candidates.back() + 1));
  l.alpha.push_back(l.alpha.back());
  return true;
}

namespace {

double standard_gumbel(std::mt19937_64& rng) {
  // -log(E), E ~ Exp(1); open interval avoids infinities.
  std::uniform_real_distribution<double> u(std::nextafter(0.0, 1.0), 1.0);
  return -std::log(-std::log(u(rng)));
}

// Draws one index from `p` (which sums to about 1), skipping `exclude`.
int draw_index(const std::vector<double>& p, int exclude, std::mt19937_64& rng) {
  double total = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (static_cast<int>(i) != exclude) total += p[i];
  }
  std::uniform_real_distribution<double> u(0.0, total);
  double r = u(rng);
  int last = -1;
  for (size_t i = 0; i < p.size(); ++i) {
    if (static_cast<int>(i) == exclude) continue;
    last = static_cast<int>(i);
    if (r < p[i]) return last;
    r -= p[i];
  }
  return last;
}

void finish_draw(GumbelDraw& d, std::mt19937_64& rng) {
  const int n = static_cast<int>(d.z.size());
  const std::vector<double> q = softmax(d.z);
  d.index[0] = draw_index(q, -1, rng);
  d.index[1] = n > 1 ? draw_index(q, d.index[0], rng) : d.index[0];
  const std::vector<double> w = softmax({d.z[d.index[0]], d.z[d.index[1]]});
  d.weight[0] = n > 1 ? w[0] : 1.0;
  d.weight[1] = n > 1 ? w[1] : 0.0;
}

}  // namespace

GumbelDraw gumbel_draw(const std::vector<double>& alpha, double tau, std::mt19937_64& rng) {
  assert(!alpha.empty() && tau > 0);
  GumbelDraw d;
  d.tau = tau;
  const std::vector<double> p = softmax(alpha);
  d.z.resize(alpha.size());
  for (size_t i = 0; i < alpha.size(); ++i) {
    d.z[i] = (std::log(std::max(p[i], 1e-300)) + standard_gumbel(rng)) / tau;
  }
  finish_draw(d, rng);
  return d;
}

GumbelDraw uniform_draw(int num_candidates, double tau, std::mt19937_64& rng) {
  return gumbel_draw(std::vector<double>(num_candidates, 0.0), tau, rng);
}

void gumbel_backward(const GumbelDraw& d, const double grad_weight[2],
                     std::vector<double>& grad_alpha) {
  if (d.index[0] == d.index[1]) return;  // a single candidate: weight 1, no gradient
  // w = softmax(z_a, z_b): dL/dz_a = w_a (g_a - (w_a g_a + w_b g_b)), same for b.
  const double mean = d.weight[0] * grad_weight[0] + d.weight[1] * grad_weight[1];
  double grad_z[2];
  for (int k = 0; k < 2; ++k) grad_z[k] = d.weight[k] * (grad_weight[k] - mean);
  // z_i = (log_softmax(alpha)_i + g_i) / tau, so dz_i/dalpha_m = (delta_im - p_m) / tau. The -p_m
  // term is multiplied by sum_i dL/dz_i = grad_z[0] + grad_z[1], which is 0 for a softmax over two
  // entries, so only the drawn entries receive gradient.
  assert(grad_alpha.size() == d.z.size());
  grad_alpha[d.index[0]] += grad_z[0] / d.tau;
  grad_alpha[d.index[1]] += grad_z[1] / d.tau;
}

double tau_schedule(int epoch, int epochs, double tau_max, double tau_min) {
  if (epochs <= 1) return tau_min;
  const double progress = static_cast<double>(epoch) / (epochs - 1);
  return tau_min + (tau_max - tau_min) * (1 + std::cos(M_PI * progress)) / 2;
}

}  // namespace nce::search
