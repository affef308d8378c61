// Architecture parameters of a width search (docs/algorithm.md §3-4): per searchable width index,
// the candidate channel counts and their logits alpha, softmax, Gumbel sampling of two candidates
// with differentiable mixing weights, argmax derivation and NCE expansion.
//
// Indices: width index w = 1..S as in models::Network::widths (0 is the fixed input); internally
// layer(w) is stored at w-1. Probabilities and logits are double. Not thread safe.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace nce::search {

// TAS candidates of a layer with C channels: sorted(set(int(C * r))) for r = 0.3, 0.4, ..., 1.0,
// dropping zeros. 16 -> 4,6,8,9,11,12,14,16.
std::vector<int> channel_candidates(int channels);

// Width of the k-th NCE expansion (k >= 1) of a layer with C channels: int(C * (1 + 0.1 k))
// (CHOICE, docs/algorithm.md §3), at least one more than the (k-1)-th.
int expansion_width(int channels, int k);

struct LayerChoice {
  int base_channels = 0;        // C of the original network
  std::vector<int> candidates;  // ascending channel counts
  std::vector<double> alpha;    // one logit per candidate
  int expansions = 0;           // NCE expansions applied so far
};

// Two candidates drawn for one layer in one step, with their mixing weights.
struct GumbelDraw {
  int index[2] = {0, 0};      // candidate indices, distinct (unless the layer has one candidate)
  double weight[2] = {1, 0};  // softmax of z over the two drawn entries
  std::vector<double> z;      // (log_softmax(alpha) + g) / tau for every candidate
  double tau = 1;
};

class ArchParams {
 public:
  ArchParams() = default;
  // One layer per searchable width index of `base_widths` (widths[0], the input, excluded);
  // alpha ~ N(0, init_std) (0.01 in TAS) from `rng`.
  ArchParams(const std::vector<int>& base_widths, std::mt19937_64& rng, double init_std = 0.01);

  int num_layers() const { return static_cast<int>(layers_.size()); }
  LayerChoice& layer(int width_index) { return layers_.at(width_index - 1); }
  const LayerChoice& layer(int width_index) const { return layers_.at(width_index - 1); }
  const std::vector<LayerChoice>& layers() const { return layers_; }
  std::vector<LayerChoice>& layers() { return layers_; }

  std::vector<double> probabilities(int width_index) const;  // softmax(alpha)

  // The argmax (winner-takes-all) width vector, input channels first.
  std::vector<int> derive(int input_channels) const;
  // The widest candidate of every layer (the supernet's allocation).
  std::vector<int> max_widths(int input_channels) const;

  // NCE expansion check for one layer: when softmax(alpha)[largest] >= threshold and fewer than
  // max_candidates exist, appends expansion_width(C, k+1) with the largest candidate's alpha and
  // returns true.
  bool maybe_expand(int width_index, double threshold, int max_candidates);

 private:
  std::vector<LayerChoice> layers_;
};

// softmax of a logit vector (numerically stable).
std::vector<double> softmax(const std::vector<double>& logits);

// Draws two distinct candidates from softmax(z), z = (log_softmax(alpha) + g) / tau with g
// standard Gumbel noise; mixing weights = softmax(z) over the two drawn entries (TAS select2withP).
GumbelDraw gumbel_draw(const std::vector<double>& alpha, double tau, std::mt19937_64& rng);

// Warm-up draw (Algorithm 1 lines 1-4): gumbel_draw with alpha = 0, so both candidates are drawn
// uniformly; the mixing weights still follow the Gumbel noise.
GumbelDraw uniform_draw(int num_candidates, double tau, std::mt19937_64& rng);

// Chain rule from dL/dweight[0..1] of a draw to dL/dalpha (accumulated into grad_alpha).
void gumbel_backward(const GumbelDraw& draw, const double grad_weight[2],
                     std::vector<double>& grad_alpha);

// tau at `epoch` of `epochs`: cosine from tau_max down to tau_min (TAS code: 5 -> 0.1).
double tau_schedule(int epoch, int epochs, double tau_max = 5.0, double tau_min = 0.1);

}  // namespace nce::search
