// Knowledge distillation (loss and trainer) and the activation probe behind the Fig. 1 analysis.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <stdexcept>

#include "nce/nn/batch_norm.h"
#include "nce/nn/conv.h"
#include "nce/nn/dataset.h"
#include "nce/nn/loss.h"
#include "nce/nn/network.h"
#include "nce/nn/trainer.h"
#include "nn_test_util.h"
#include "quadrant_data.h"

namespace nce::nn {
namespace {

using testing::expect_gradient;
using testing::FdTolerance;
using testing::fill_uniform;

Tensor logits(int n, int k, std::mt19937& rng, float scale) {
  Tensor t;
  t.resize(n, k);
  fill_uniform(t, rng, -scale, scale);
  return t;
}

TEST(Distillation, GradientMatchesFiniteDifferences) {
  std::mt19937 rng(3);
  Tensor s = logits(6, 5, rng, 3.0f), t = logits(6, 5, rng, 3.0f);
  const int labels[] = {0, 4, 2, 2, 1, 3};
  for (float temperature : {1.0f, 4.0f}) {
    for (float weight : {0.0f, 0.5f, 0.9f, 1.0f}) {
      Tensor grad;
      distillation_loss(s, t, labels, temperature, weight, &grad);
      expect_gradient("distillation T=" + std::to_string(temperature), s.data(), s.size(),
                      grad.data(),
                      [&] { return distillation_loss(s, t, labels, temperature, weight, nullptr); },
                      FdTolerance{1e-2f, 1e-4, 1e-2});
    }
  }
}

TEST(Distillation, KnownValues) {
  std::mt19937 rng(4);
  Tensor s = logits(4, 3, rng, 2.0f), t = logits(4, 3, rng, 2.0f);
  const int labels[] = {0, 1, 2, 0};
  // weight 0: the plain cross-entropy.
  float ce = -1;
  EXPECT_FLOAT_EQ(distillation_loss(s, t, labels, 4.0f, 0.0f, nullptr, &ce),
                  softmax_cross_entropy(s, labels, nullptr));
  EXPECT_FLOAT_EQ(ce, softmax_cross_entropy(s, labels, nullptr));
  // A student equal to its teacher: no KL, so weight 1 gives 0 and weight w gives (1-w) CE.
  EXPECT_NEAR(distillation_loss(t, t, labels, 4.0f, 1.0f, nullptr), 0.0, 1e-6);
  EXPECT_NEAR(distillation_loss(t, t, labels, 4.0f, 0.9f, nullptr),
              0.1 * softmax_cross_entropy(t, labels, nullptr), 1e-6);
  // Two classes by hand: teacher (0, ln 3) -> p = (1/4, 3/4) at T = 1; student (0, 0) -> q = 1/2.
  Tensor s2, t2;
  s2.resize(1, 2);
  t2.resize(1, 2);
  s2[0] = s2[1] = 0.0f;
  t2[0] = 0.0f;
  t2[1] = std::log(3.0f);
  const int label[] = {1};
  const double kl = 0.25 * std::log(0.25 / 0.5) + 0.75 * std::log(0.75 / 0.5);
  EXPECT_NEAR(distillation_loss(s2, t2, label, 1.0f, 1.0f, nullptr), kl, 1e-6);
  // Bad input.
  Tensor wrong;
  wrong.resize(4, 2);
  EXPECT_THROW(distillation_loss(s, wrong, labels, 4.0f, 0.9f, nullptr), std::invalid_argument);
  EXPECT_THROW(distillation_loss(s, t, labels, 0.0f, 0.9f, nullptr), std::invalid_argument);
  EXPECT_THROW(distillation_loss(s, t, labels, 4.0f, 1.5f, nullptr), std::invalid_argument);
}

TEST(ActivationProbe, PactSqnrOfUniformInputsMatchesTheory) {
  // x uniform on (0, 1), 2-bit PACT with clip 1: levels 0, 1/3, 2/3, 1; the rounding noise is
  // uniform of width 1/3 (power 1/108) and the signal power is 1/3: SQNR = 10 log10(36) dB.
  std::vector<float> x(200000);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = (i + 0.5f) / x.size();
  const ActivationStats pact =
      measure_activation(x.data(), x.size(), ActParams{ActParams::Kind::kPact, 1.0f, 2}, 2);
  EXPECT_NEAR(pact.sqnr_db, 10.0 * std::log10(36.0), 0.05);
  EXPECT_FALSE(pact.reference);
  EXPECT_EQ(pact.bits, 2);
  EXPECT_NEAR(pact.mean, 0.5, 1e-4);
  EXPECT_NEAR(pact.stdev, std::sqrt(1.0 / 12.0), 1e-4);
  // A clip of 1/2 also clips: (1/2) of the values lose (x - 1/2) -> more noise, lower SQNR.
  const ActivationStats clipped =
      measure_activation(x.data(), x.size(), ActParams{ActParams::Kind::kPact, 0.5f, 2}, 2);
  EXPECT_LT(clipped.sqnr_db, pact.sqnr_db - 3.0);
  // A ReLU: the reference quantizer searches the clip. With the zero level fixed, the best 2-bit
  // clip of U(0, 1) is below 1 (brute force over 501 clips with numpy: 0.857, 16.902 dB; 4 bits:
  // 0.968, 29.827 dB).
  const ActivationStats relu =
      measure_activation(x.data(), x.size(), ActParams{ActParams::Kind::kRelu, 0.0f, 32}, 2);
  EXPECT_TRUE(relu.reference);
  EXPECT_EQ(relu.bits, 32);
  EXPECT_NEAR(relu.clip, 0.857, 0.01);
  EXPECT_NEAR(relu.sqnr_db, 16.902, 0.05);
  const ActivationStats relu4 =
      measure_activation(x.data(), x.size(), ActParams{ActParams::Kind::kRelu, 0.0f, 32}, 4);
  EXPECT_NEAR(relu4.clip, 0.968, 0.01);
  EXPECT_NEAR(relu4.sqnr_db, 29.827, 0.05);
  // Nothing to lose: all inputs negative.
  std::vector<float> neg(100, -1.0f);
  const ActivationStats dead =
      measure_activation(neg.data(), neg.size(), ActParams{ActParams::Kind::kPact, 1.0f, 2}, 2);
  EXPECT_TRUE(std::isinf(dead.sqnr_db));
  EXPECT_DOUBLE_EQ(dead.out_stdev, 0.0);
}

TEST(ActivationProbe, NetworkProbeMeasuresEveryActivation) {
  const models::Network desc =
      models::build("resnet8", {3, 8, 8, 8, 16, 16, 16, 16}, models::InputShape{3, 8, 8, 4});
  NetworkOptions o;
  o.weight_bits = o.activation_bits = 2;
  o.pact_init_clip = 2.0f;
  Network net(desc, o, 11);
  Tensor images;
  images.resize(6, 3, 8, 8);
  std::mt19937 rng(5);
  fill_uniform(images, rng);
  const Tensor before = net.forward(images, Mode::kEval);
  const std::vector<ActivationStats> probe = net.probe_activations(images, 2);
  // The probe's forward is the eval forward.
  const Tensor& after = net.forward(images, Mode::kEval);
  for (std::size_t i = 0; i < before.size(); ++i) ASSERT_EQ(before[i], after[i]);
  // stem, then per block conv_a and the block's output: 1 + 3 * 2.
  ASSERT_EQ(probe.size(), 7u);
  EXPECT_EQ(probe[0].name, "stem");
  EXPECT_EQ(probe[1].name, "s1b1.conv_a");
  EXPECT_EQ(probe[2].name, "s1b1.out");
  EXPECT_EQ(probe[6].name, "s3b1.out");
  EXPECT_EQ(probe[5].channels, 16);
  for (std::size_t i = 0; i + 1 < probe.size(); ++i) {
    EXPECT_EQ(probe[i].bits, 2) << probe[i].name;  // PACT: feeds a quantized conv
    EXPECT_FALSE(probe[i].reference);
    EXPECT_FLOAT_EQ(static_cast<float>(probe[i].clip), 2.0f);
    EXPECT_TRUE(std::isfinite(probe[i].sqnr_db)) << probe[i].name;
  }
  EXPECT_EQ(probe.back().bits, 32);  // the last block's ReLU feeds the full-precision FC
  EXPECT_TRUE(probe.back().reference);
  // The stem's pre-activation by hand: conv (full precision) then eval-mode BN from the state.
  Tensor w, gamma, beta, mean, var;
  for (const auto& t : net.state()) {
    if (t.name == "stem.weight") w = *t.tensor;
    if (t.name == "stem.bn.gamma") gamma = *t.tensor;
    if (t.name == "stem.bn.beta") beta = *t.tensor;
    if (t.name == "stem.bn.running_mean") mean = *t.tensor;
    if (t.name == "stem.bn.running_var") var = *t.tensor;
  }
  ASSERT_EQ(w.size(), 8u * 3 * 3 * 3);
  Tensor z;
  ConvWorkspace ws;
  conv2d_forward(ConvParams{3, 8, 3, 1, 1, 0}, images, w.data(), z, ws);
  Tensor x;
  batch_norm_forward_eval(BatchNormParams{0.1f, o.bn_eps}, z, gamma.data(), beta.data(),
                          mean.data(), var.data(), x);
  const ActivationStats stem =
      measure_activation(x.data(), x.size(), ActParams{ActParams::Kind::kPact, 2.0f, 2}, 2);
  EXPECT_NEAR(probe[0].stdev, stem.stdev, 1e-5 * std::max(1.0, stem.stdev));
  EXPECT_NEAR(probe[0].mean, stem.mean, 1e-5);
  EXPECT_NEAR(probe[0].sqnr_db, stem.sqnr_db, 1e-3);
  EXPECT_THROW(net.probe_activations(images, 1), std::invalid_argument);
}

TrainConfig small_train() {
  TrainConfig c;
  c.model = "resnet8";
  c.widths = {1, 8, 8, 8, 8, 8, 8, 8};
  c.dataset = "quadrants";
  c.network.weight_bits = c.network.activation_bits = 2;
  c.network.pact_init_clip = 3.0f;
  c.epochs = 6;
  c.batch_size = 16;
  c.lr = 0.05;
  c.seed = 3;
  return c;
}

TEST(Distillation, TrainerLearnsFromATeacher) {
  const Dataset data = testing::quadrant_images(1, 24, 1);
  TrainConfig tc = small_train();
  tc.widths = {1, 16, 16, 16, 16, 16, 16, 16};
  const TrainResult teacher = train(tc, data, data);
  ASSERT_TRUE(teacher.network);

  const TrainResult plain = train(small_train(), data, data);
  // Weight 0: the teacher is consulted but does not change a single step.
  TrainConfig zero = small_train();
  zero.teacher = teacher.network.get();
  zero.teacher_label = "teacher";
  zero.distill_weight = 0.0f;
  const TrainResult same = train(zero, data, data);
  ASSERT_EQ(same.history.size(), plain.history.size());
  for (std::size_t e = 0; e < plain.history.size(); ++e) {
    EXPECT_EQ(same.history[e].loss, plain.history[e].loss);
  }
  EXPECT_EQ(same.test.top1, plain.test.top1);
  // Weight 0.9: another trajectory that still learns (4 classes: chance is 25%).
  TrainConfig kd = zero;
  kd.distill_weight = 0.9f;
  const TrainResult distilled = train(kd, data, data);
  EXPECT_NE(distilled.history.back().loss, plain.history.back().loss);
  EXPECT_GT(distilled.test.top1, 50.0) << "teacher " << teacher.test.top1 << ", plain "
                                        << plain.test.top1;
  // A teacher for other images is refused.
  const models::Network other =
      models::build("resnet8", {3, 4, 4, 4, 4, 4, 4, 4}, models::InputShape{3, 8, 8, 4});
  Network wrong(other, NetworkOptions{}, 1);
  kd.teacher = &wrong;
  EXPECT_THROW(train(kd, data, data), std::invalid_argument);
  kd.teacher = teacher.network.get();
  kd.distill_weight = 2.0f;
  EXPECT_THROW(train(kd, data, data), std::invalid_argument);
}

}  // namespace
}  // namespace nce::nn
