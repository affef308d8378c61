#include "nce/nn/optimizer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

namespace nce::nn {
namespace {

constexpr float kTolerance = 1e-6f;

// Two parameters: "conv.weight" (decayed) and "act.clip" (not decayed unless a rule says so).
struct Params {
  Tensor w{1, 2}, gw{1, 2}, a{1, 1}, ga{1, 1};
  float clip_l2 = 0.0f;
  Params() {
    w[0] = 1.0f, w[1] = -2.0f;
    a[0] = 10.0f;
  }
  std::vector<Parameter> list() {
    return {{"conv.weight", &w, &gw, true, 0.0f}, {"act.clip", &a, &ga, false, clip_l2}};
  }
  void set_grads(float g0, float g1, float g2) { gw[0] = g0, gw[1] = g1, ga[0] = g2; }
};

TEST(OptimizerTest, SgdNesterovByHand) {
  Params p;
  SgdOptions options;
  options.momentum = 0.9f;
  options.nesterov = true;
  options.weight_decay = 0.1f;
  Sgd sgd(p.list(), options);
  p.set_grads(0.5f, 1.0f, 2.0f);
  sgd.step(0.1f);
  // w0: g = 0.5 + 0.1*1 = 0.6; buf = 0.6; step = 0.6 + 0.9*0.6 = 1.14; w = 1 - 0.114
  EXPECT_NEAR(p.w[0], 0.886f, kTolerance);
  // w1: g = 1 - 0.2 = 0.8; buf = 0.8; step = 1.52; w = -2 - 0.152
  EXPECT_NEAR(p.w[1], -2.152f, kTolerance);
  // clip: no decay; g = 2; buf = 2; step = 3.8; a = 10 - 0.38
  EXPECT_NEAR(p.a[0], 9.62f, kTolerance);
  p.set_grads(0.0f, 0.0f, 0.0f);
  sgd.step(0.1f);
  // w0: g = 0.0886; buf = 0.54 + 0.0886 = 0.6286; step = 0.0886 + 0.56574 = 0.65434
  EXPECT_NEAR(p.w[0], 0.886f - 0.065434f, kTolerance);
  // clip: g = 0; buf = 1.8; step = 1.62
  EXPECT_NEAR(p.a[0], 9.62f - 0.162f, kTolerance);
  EXPECT_EQ(sgd.steps(), 2);
}

TEST(OptimizerTest, SgdPlainMomentumAndNoMomentum) {
  Params p;
  Sgd heavy(p.list(), SgdOptions{0.5f, false, 0.0f});
  p.set_grads(1.0f, 1.0f, 1.0f);
  heavy.step(1.0f);
  heavy.step(1.0f);  // buf = 1, then 1.5: w0 = 1 - 1 - 1.5
  EXPECT_NEAR(p.w[0], -1.5f, kTolerance);
  Params q;
  Sgd plain(q.list(), SgdOptions{0.0f, false, 0.5f});
  q.set_grads(1.0f, 0.0f, 1.0f);
  plain.step(0.1f);  // w0 = 1 - 0.1*(1 + 0.5) ; w1 = -2 - 0.1*(-1)
  EXPECT_NEAR(q.w[0], 0.85f, kTolerance);
  EXPECT_NEAR(q.w[1], -1.9f, kTolerance);
  EXPECT_NEAR(q.a[0], 9.9f, kTolerance);
}

TEST(OptimizerTest, ClipL2ReachesClips) {
  Params p;
  p.clip_l2 = 0.001f;
  SgdOptions options{0.0f, false, 5e-4f};
  Sgd sgd(p.list(), options);
  EXPECT_FLOAT_EQ(sgd.decay_of(0), 5e-4f);
  EXPECT_FLOAT_EQ(sgd.decay_of(1), 0.001f);
  p.set_grads(0.0f, 0.0f, 0.0f);
  sgd.step(1.0f);
  EXPECT_NEAR(p.a[0], 10.0f - 0.01f, kTolerance);
}

TEST(OptimizerTest, AdamByHand) {
  Params p;
  AdamOptions options;
  options.beta1 = 0.5f;
  options.beta2 = 0.75f;
  options.eps = 1e-8f;
  options.weight_decay = 0.0f;
  Adam adam(p.list(), options);
  p.set_grads(2.0f, -1.0f, 0.0f);
  adam.step(0.1f);
  // Step 1: m_hat = g, v_hat = g^2 -> w -= lr * sign(g).
  EXPECT_NEAR(p.w[0], 0.9f, kTolerance);
  EXPECT_NEAR(p.w[1], -1.9f, kTolerance);
  EXPECT_NEAR(p.a[0], 10.0f, kTolerance);  // zero gradient: 0 / (0 + eps)
  p.set_grads(1.0f, -1.0f, 0.0f);
  adam.step(0.1f);
  // w0: m = 0.5*1 + 0.5*1 = 1 (m was 1); v = 0.75*1 + 0.25*1 = 1 (v was 1)
  // m_hat = 1 / 0.75; v_hat = 1 / 0.4375; step = 0.1 * m_hat / sqrt(v_hat)
  const double m_hat = 1.0 / (1.0 - 0.5 * 0.5), v_hat = 1.0 / (1.0 - 0.75 * 0.75);
  EXPECT_NEAR(p.w[0], 0.9 - 0.1 * m_hat / std::sqrt(v_hat), kTolerance);
  // w1: m = 0.5*(-0.5) + 0.5*(-1) = -0.75; m_hat = -1; v = 0.75*0.25 + 0.25 = 0.4375 -> v_hat = 1
  EXPECT_NEAR(p.w[1], -1.9f + 0.1f, kTolerance);
}

TEST(OptimizerTest, AdamWeightDecayIsL2) {
  Params p;
  Adam adam(p.list(), AdamOptions{0.9f, 0.999f, 1e-8f, 1.0f});
  p.set_grads(-1.0f, 0.0f, 0.0f);  // w0: g = -1 + 1 = 0 -> no move; w1: g = -2 -> moves by +lr
  adam.step(0.01f);
  EXPECT_NEAR(p.w[0], 1.0f, kTolerance);
  EXPECT_NEAR(p.w[1], -1.99f, kTolerance);
}

TEST(OptimizerTest, StateRoundTripContinuesIdentically) {
  for (const bool use_adam : {false, true}) {
    Params a, b;
    auto make = [&](Params& p) -> std::unique_ptr<Optimizer> {
      if (use_adam) return std::make_unique<Adam>(p.list(), AdamOptions{});
      return std::make_unique<Sgd>(p.list(), SgdOptions{});
    };
    auto oa = make(a);
    for (int i = 0; i < 3; ++i) {
      a.set_grads(0.1f * i, -0.2f, 0.3f);
      oa->step(0.05f);
    }
    // b gets a's parameters and optimizer state, then both take the same steps.
    b.w = a.w, b.a = a.a;
    auto ob = make(b);
    ob->load_state(oa->state());
    EXPECT_EQ(ob->steps(), 3);
    for (int i = 0; i < 3; ++i) {
      a.set_grads(0.3f, 0.1f * i, -0.1f);
      b.set_grads(0.3f, 0.1f * i, -0.1f);
      oa->step(0.05f);
      ob->step(0.05f);
    }
    EXPECT_EQ(a.w[0], b.w[0]);
    EXPECT_EQ(a.w[1], b.w[1]);
    EXPECT_EQ(a.a[0], b.a[0]);
  }
}

TEST(OptimizerTest, LoadStateRejectsMismatch) {
  Params p;
  Sgd sgd(p.list(), SgdOptions{});
  Adam adam(p.list(), AdamOptions{});
  EXPECT_THROW(sgd.load_state(adam.state()), std::invalid_argument);
  OptimizerState s = sgd.state();
  s.buffers[1].values.push_back(0.0f);
  EXPECT_THROW(sgd.load_state(s), std::invalid_argument);
  s = sgd.state();
  s.buffers[0].name = "other.weight.momentum";
  EXPECT_THROW(sgd.load_state(s), std::invalid_argument);
}

TEST(OptimizerTest, ZeroGrad) {
  Params p;
  Sgd sgd(p.list(), SgdOptions{});
  p.set_grads(1.0f, 2.0f, 3.0f);
  sgd.zero_grad();
  EXPECT_EQ(p.gw[0], 0.0f);
  EXPECT_EQ(p.gw[1], 0.0f);
  EXPECT_EQ(p.ga[0], 0.0f);
}

}  // namespace
}  // namespace nce::nn
