#include "nce/search/supernet.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <sstream>
#include <string>

#include "nce/nn/loss.h"
#include "nce/nn/network.h"

namespace nce::search {
namespace {

// Float32 forward passes through BN and CWI; central differences in double on the loss.
constexpr double kAlphaGradTolerance = 2e-3;
constexpr double kWeightGradTolerance = 2e-3;
constexpr int kMaxKinkOutliers = 1;  // of the > 30 weight entries checked

struct Fixture {
  models::Network base = models::build("resnet8", {}, models::InputShape{3, 8, 8, 10});
  std::mt19937_64 rng{42};
  ArchParams arch{base.widths, rng, 0.5};
  nn::Tensor images{4, 3, 8, 8};
  std::vector<int> labels{1, 7, 3, 3};

  Fixture() {
    std::normal_distribution<float> normal;
    for (std::size_t i = 0; i < images.size(); ++i) images[i] = normal(rng);
  }

  std::vector<GumbelDraw> draw(double tau) {
    std::vector<GumbelDraw> d;
    for (int w = 1; w <= arch.num_layers(); ++w)
      d.push_back(gumbel_draw(arch.layer(w).alpha, tau, rng));
    return d;
  }
};

// Float weights and activations: the gradients are true derivatives up to the ReLU kinks.
SupernetOptions float_options() {
  SupernetOptions opt;
  opt.weight_bits = 32;
  opt.activation_bits = 32;
  return opt;
}

double loss_of(Supernet& net, const nn::Tensor& images, const std::vector<int>& labels,
               nn::Tensor* grad = nullptr) {
  const nn::Tensor& logits = net.forward(images, nn::Mode::kTrain);
  return nn::softmax_cross_entropy(logits, labels.data(), grad);
}

// The draws with the same Gumbel noise after alpha moved (z recomputed, indices kept).
std::vector<GumbelDraw> redraw(const std::vector<GumbelDraw>& draws, const ArchParams& before,
                               const ArchParams& after) {
  std::vector<GumbelDraw> out = draws;
  for (int w = 1; w <= before.num_layers(); ++w) {
    GumbelDraw& d = out[w - 1];
    const std::vector<double> p0 = softmax(before.layer(w).alpha);
    const std::vector<double> p1 = softmax(after.layer(w).alpha);
    for (size_t i = 0; i < d.z.size(); ++i) {
      const double g = d.z[i] * d.tau - std::log(p0[i]);
      d.z[i] = (std::log(p1[i]) + g) / d.tau;
    }
    const std::vector<double> w2 = softmax({d.z[d.index[0]], d.z[d.index[1]]});
    if (d.index[0] != d.index[1]) {
      d.weight[0] = w2[0];
      d.weight[1] = w2[1];
    }
  }
  return out;
}

TEST(Supernet, ForwardBackwardShapesWithMixedWidths) {
  Fixture f;
  SupernetOptions opt;  // W2A2
  Supernet net(f.base, f.arch, opt, 1);
  for (int step = 0; step < 3; ++step) {
    net.set_draws(f.draw(5.0));
    nn::Tensor grad;
    const double loss = loss_of(net, f.images, f.labels, &grad);
    EXPECT_TRUE(std::isfinite(loss));
    net.zero_grad();
    net.backward(grad);
    for (const auto& g : net.alpha_grads()) {
      for (double v : g) EXPECT_TRUE(std::isfinite(v));
    }
  }
  const nn::Tensor& logits = net.forward(f.images, nn::Mode::kEval);
  EXPECT_EQ(logits.n(), 4);
  EXPECT_EQ(logits.c(), 10);
}

TEST(Supernet, AlphaGradientsMatchFiniteDifferences) {
  Fixture f;
  Supernet net(f.base, f.arch, float_options(), 2);
  const std::vector<GumbelDraw> draws = f.draw(2.0);
  net.set_draws(draws);
  nn::Tensor grad;
  loss_of(net, f.images, f.labels, &grad);
  net.zero_grad();
  net.backward(grad, false);
  const auto analytic = net.alpha_grads();
  const double h = 1e-3;
  int checked = 0;
  for (int w = 1; w <= f.arch.num_layers(); ++w) {
    const GumbelDraw& d = draws[w - 1];
    for (int k = 0; k < 2; ++k) {
      const int m = d.index[k];
      ArchParams up = f.arch, down = f.arch;
      up.layer(w).alpha[m] += h;
      down.layer(w).alpha[m] -= h;
      net.set_draws(redraw(draws, f.arch, up));
      const double lu = loss_of(net, f.images, f.labels);
      net.set_draws(redraw(draws, f.arch, down));
      const double ld = loss_of(net, f.images, f.labels);
      const double fd = (lu - ld) / (2 * h);
      EXPECT_NEAR(analytic[w - 1][m], fd, kAlphaGradTolerance)
          << "width index " << w << " candidate " << m;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 2 * f.arch.num_layers());
}

TEST(Supernet, WeightGradientsMatchFiniteDifferences) {
  Fixture f;
  Supernet net(f.base, f.arch, float_options(), 3);
  net.set_draws(f.draw(2.0));
  nn::Tensor grad;
  loss_of(net, f.images, f.labels, &grad);
  net.zero_grad();
  net.backward(grad, true);
  std::mt19937 pick(5);
  int checked = 0, outside = 0;
  std::ostringstream outliers;
  for (nn::Parameter& p : net.parameters()) {
    // A few entries of every weight tensor (some active, some not: those must have zero grad).
    for (int t = 0; t < 3; ++t) {
      const std::size_t i = pick() % p.value->size();
      const float saved = (*p.value)[i];
      const float h = 3e-3f;
      (*p.value)[i] = saved + h;
      const double lu = loss_of(net, f.images, f.labels);
      (*p.value)[i] = saved - h;
      const double ld = loss_of(net, f.images, f.labels);
      (*p.value)[i] = saved;
      const double fd = (lu - ld) / (2 * h);
      if (std::abs((*p.grad)[i] - fd) > kWeightGradTolerance + 2e-2 * std::abs(fd)) {
        ++outside;
        outliers << " " << p.name << "[" << i << "]: analytic " << (*p.grad)[i]
                 << ", finite difference " << fd << ";";
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 30);
  // A step of h may cross a ReLU/PACT kink of the whole network in a few entries; a wiring error
  // shows in most entries of a tensor.
  EXPECT_LE(outside, kMaxKinkOutliers) << "entries off:" << outliers.str();
}

TEST(Supernet, ExpandedLayersRunForwardAndBackward) {
  Fixture f;
  SupernetOptions opt;
  opt.max_candidates = 16;
  Supernet net(f.base, f.arch, opt, 4);
  EXPECT_GT(net.allocated_width(1), 16);
  // Expand every layer three times, as if the largest candidate kept winning.
  for (int round = 0; round < 3; ++round) {
    for (int w = 1; w <= f.arch.num_layers(); ++w) {
      LayerChoice& l = f.arch.layer(w);
      const int old_max = l.candidates.back();
      l.alpha.assign(l.alpha.size(), 0.0);
      l.alpha.back() = 10;
      ASSERT_TRUE(f.arch.maybe_expand(w, 0.3, 16));
      net.on_expanded(w, old_max, f.rng, nullptr);
    }
  }
  EXPECT_EQ(f.arch.layer(1).candidates.back(), 20);  // 16 -> 17, 19, then int(16 * 1.3) = 20
  for (int step = 0; step < 3; ++step) {
    // Draw the two largest candidates so the new filters are in use.
    std::vector<GumbelDraw> draws = f.draw(1.0);
    for (int w = 1; w <= f.arch.num_layers(); ++w) {
      const int n = static_cast<int>(f.arch.layer(w).candidates.size());
      draws[w - 1].index[0] = n - 1;
      draws[w - 1].index[1] = n - 2;
    }
    net.set_draws(draws);
    nn::Tensor grad;
    EXPECT_TRUE(std::isfinite(loss_of(net, f.images, f.labels, &grad)));
    net.zero_grad();
    net.backward(grad);
  }
}

// What a checkpoint keeps of the allocation: zero_unused clears the filters and input columns
// beyond each layer's widest candidate and the BN slots of candidates not yet added, and nothing
// else; after an expansion the grown part is kept.
TEST(Supernet, ZeroUnusedClearsOnlyWhatNoPassReads) {
  Fixture f;
  SupernetOptions opt;
  opt.max_candidates = 16;
  Supernet net(f.base, f.arch, opt, 5);
  auto copy = [&] {
    std::vector<nn::StateBuffer> out;
    for (const nn::NamedTensor& t : net.state())
      out.push_back(
          {t.name, std::vector<float>(t.tensor->data(), t.tensor->data() + t.tensor->size())});
    return out;
  };
  auto find = [](const std::vector<nn::StateBuffer>& list, const std::string& name) {
    for (const nn::StateBuffer& b : list) {
      if (b.name == name) return b.values;
    }
    ADD_FAILURE() << "no " << name;
    return std::vector<float>();
  };
  const int alloc = net.allocated_width(1);  // the stem's filters
  ASSERT_GT(alloc, 16);
  std::vector<nn::StateBuffer> before = copy(), after = copy();
  net.zero_unused(after);
  const std::vector<float> w0 = find(before, "stem.weight"), w1 = find(after, "stem.weight");
  ASSERT_EQ(w1.size(), static_cast<std::size_t>(alloc) * 3 * 9);
  for (int o = 0; o < alloc; ++o) {
    for (int j = 0; j < 27; ++j) {
      const std::size_t i = static_cast<std::size_t>(o) * 27 + j;
      EXPECT_EQ(w1[i], o < 16 ? w0[i] : 0.0f) << "row " << o << " col " << j;
    }
  }
  // The next conv reads the stem's 16 channels: its columns beyond them are cleared.
  const std::string next = f.base.layers[1].name + ".weight";
  const std::vector<float> n0 = find(before, next), n1 = find(after, next);
  const int ld = net.allocated_width(1) * 9;
  for (int j = 0; j < ld; ++j) EXPECT_EQ(n1[j], j < 16 * 9 ? n0[j] : 0.0f) << "col " << j;
  const int slots = static_cast<int>(f.arch.layer(1).candidates.size());
  EXPECT_EQ(find(after, "stem.bn0.gamma"), find(before, "stem.bn0.gamma"));
  const std::vector<float> unused = find(after, "stem.bn" + std::to_string(slots) + ".gamma");
  EXPECT_TRUE(std::all_of(unused.begin(), unused.end(), [](float v) { return v == 0.0f; }));
  // One expansion of the stem: its 17th filter is in use now and kept.
  LayerChoice& l = f.arch.layer(1);
  l.alpha.assign(l.alpha.size(), 0.0);
  l.alpha.back() = 10;
  ASSERT_TRUE(f.arch.maybe_expand(1, 0.3, 16));
  net.on_expanded(1, 16, f.rng, nullptr);
  std::vector<nn::StateBuffer> grown = copy();
  const std::vector<float> g0 = find(grown, "stem.weight");
  net.zero_unused(grown);
  const std::vector<float> g1 = find(grown, "stem.weight");
  const int widest = l.candidates.back();
  ASSERT_GT(widest, 16);
  for (int o = 0; o < alloc; ++o) {
    const std::size_t i = static_cast<std::size_t>(o) * 27;
    EXPECT_EQ(g1[i], o < widest ? g0[i] : 0.0f) << "row " << o;
  }
}

// The supernet with every draw fixed to the full width runs the same kernels as nn::Network on
// the same weights: logits and every gradient agree to float32 reassociation (both use the fused
// BN + activation and residual kernels; the tolerance allows another summation order).
constexpr double kFullWidthLogitTolerance = 1e-5;
constexpr double kFullWidthGradTolerance = 1e-4;

void expect_full_width_supernet_is_the_plain_network(int bits) {
  SCOPED_TRACE(::testing::Message() << "bits " << bits);
  const models::Network base = models::build("resnet8", {}, models::InputShape{3, 8, 8, 10});
  std::mt19937_64 rng(11);
  ArchParams arch(base.widths, rng, 0.5);
  SupernetOptions sopt;
  sopt.weight_bits = sopt.activation_bits = bits;
  sopt.pact_init_clip = 2.0f;  // PACT clips that the activations reach
  Supernet net(base, arch, sopt, 5);
  nn::NetworkOptions nopt;
  nopt.weight_bits = nopt.activation_bits = bits;
  nopt.pact_init_clip = sopt.pact_init_clip;
  nn::Network plain(base, nopt, 6);
  // Copy the supernet's weights into the plain network (slot 7 = the full-width candidate).
  std::map<std::string, nn::Tensor*> sn;
  for (nn::NamedTensor& t : net.state()) sn[t.name] = t.tensor;
  const std::string full_slot = ".bn" + std::to_string(arch.layer(1).candidates.size() - 1) + ".";
  auto supernet_name = [&](std::string name) {
    const auto at = name.find(".bn.");
    if (at != std::string::npos) name.replace(at, 4, full_slot);
    return name;
  };
  for (nn::NamedTensor& t : plain.state()) {
    const auto it = sn.find(supernet_name(t.name));
    ASSERT_NE(it, sn.end()) << t.name;
    ASSERT_EQ(it->second->size(), t.tensor->size()) << t.name;
    std::copy_n(it->second->data(), t.tensor->size(), t.tensor->data());
  }
  std::vector<int> largest;
  for (const auto& l : arch.layers()) largest.push_back(static_cast<int>(l.candidates.size()) - 1);
  net.set_single(largest);
  std::mt19937 data_rng(3);
  std::normal_distribution<float> normal;
  nn::Tensor images(6, 3, 8, 8);
  for (std::size_t i = 0; i < images.size(); ++i) images[i] = normal(data_rng);
  const std::vector<int> labels{1, 7, 3, 3, 0, 9};
  nn::Tensor g_plain, g_net;
  const nn::Tensor& z_plain = plain.forward(images, nn::Mode::kTrain);
  nn::softmax_cross_entropy(z_plain, labels.data(), &g_plain);
  const nn::Tensor& z_net = net.forward(images, nn::Mode::kTrain);
  nn::softmax_cross_entropy(z_net, labels.data(), &g_net);
  for (std::size_t i = 0; i < z_plain.size(); ++i) {
    EXPECT_NEAR(z_net[i], z_plain[i], kFullWidthLogitTolerance * (1 + std::fabs(z_plain[i])))
        << "logit " << i;
  }
  plain.zero_grad();
  plain.backward(g_plain);
  net.zero_grad();
  net.backward(g_net, true);
  std::map<std::string, nn::Tensor*> sn_grad;
  for (nn::Parameter& p : net.parameters()) sn_grad[p.name] = p.grad;
  int compared = 0;
  for (nn::Parameter& p : plain.parameters()) {
    const nn::Tensor& a = *sn_grad.at(supernet_name(p.name));
    double scale = 1e-3;
    for (std::size_t i = 0; i < p.grad->size(); ++i)
      scale = std::max(scale, std::fabs(double((*p.grad)[i])));
    for (std::size_t i = 0; i < p.grad->size(); ++i) {
      ASSERT_NEAR(a[i], (*p.grad)[i], kFullWidthGradTolerance * scale) << p.name << "[" << i << "]";
    }
    ++compared;
  }
  EXPECT_GT(compared, 20);
  // Eval mode too (running statistics).
  const nn::Tensor& e_plain = plain.forward(images, nn::Mode::kEval);
  std::vector<float> ep(e_plain.data(), e_plain.data() + e_plain.size());
  const nn::Tensor& e_net = net.forward(images, nn::Mode::kEval);
  for (std::size_t i = 0; i < ep.size(); ++i) {
    EXPECT_NEAR(e_net[i], ep[i], kFullWidthLogitTolerance * (1 + std::fabs(ep[i]))) << "eval " << i;
  }
}

TEST(Supernet, FullWidthDrawsGiveThePlainNetworkW32A32) {
  expect_full_width_supernet_is_the_plain_network(32);
}

TEST(Supernet, FullWidthDrawsGiveThePlainNetworkW2A2) {
  expect_full_width_supernet_is_the_plain_network(2);
}

}  // namespace
}  // namespace nce::search
