// Finite-difference checks of batch norm, activations, pooling, FC, cross-entropy and the
// residual add of mixed widths.
#include <gtest/gtest.h>

#include <cmath>

#include "nce/nn/activation.h"
#include "nce/nn/batch_norm.h"
#include "nce/nn/linear.h"
#include "nce/nn/loss.h"
#include "nce/nn/pooling.h"
#include "nce/nn/residual.h"
#include "nn_test_util.h"

namespace nce::nn {
namespace {

using testing::dot;
using testing::expect_gradient;
using testing::fill_away_from;
using testing::fill_uniform;
using testing::probe_loss;

// Smooth ops (BN, CE): float forward, step 1e-2 -> O(1e-4) truncation, O(1e-5) rounding.
constexpr testing::FdTolerance kSmoothTol{1e-2f, 2e-3, 2e-2};
// Piecewise-linear ops with inputs kept kGap away from kinks: exact up to rounding.
constexpr testing::FdTolerance kLinearTol{1e-3f, 1e-3, 1e-2};
constexpr float kGap = 5e-3f;

TEST(NnBatchNorm, TrainModeGradients) {
  std::mt19937 rng(1);
  Tensor x(4, 3, 3, 2), gamma(1, 3), beta(1, 3), r;
  fill_uniform(x, rng, -2.0f, 3.0f);
  fill_uniform(gamma, rng, 0.5f, 1.5f);
  fill_uniform(beta, rng);
  r.resize_like(x);
  fill_uniform(r, rng);
  Tensor rm(1, 3), rv(1, 3);
  BatchNormParams p;
  std::vector<float> mean(3), inv(3);
  auto loss = [&] {
    Tensor y, m2 = rm, v2 = rv;
    std::vector<float> a(3), b(3);
    batch_norm_forward_train(p, x, gamma.data(), beta.data(), m2.data(), v2.data(), a.data(),
                             b.data(), y);
    return dot(r, y);
  };
  rm.set_zero();
  rv.fill(1.0f);
  Tensor y;
  batch_norm_forward_train(p, x, gamma.data(), beta.data(), rm.data(), rv.data(), mean.data(),
                           inv.data(), y);
  Tensor dx, dgamma(1, 3), dbeta(1, 3);
  dgamma.set_zero();
  dbeta.set_zero();
  batch_norm_backward(x, r, gamma.data(), mean.data(), inv.data(), dx, dgamma.data(), dbeta.data());
  expect_gradient("bn dx", x, dx, loss, kSmoothTol);
  expect_gradient("bn dgamma", gamma, dgamma, loss, kSmoothTol);
  expect_gradient("bn dbeta", beta, dbeta, loss, kSmoothTol);
}

TEST(NnBatchNorm, StatisticsAndRunningUpdate) {
  // Channel 0 holds 1..8 over N=2, H=2, W=2: mean 4.5, biased var 5.25, unbiased 6.
  Tensor x(2, 1, 2, 2);
  for (int i = 0; i < 8; ++i) x[i] = static_cast<float>(i + 1);
  float gamma = 2.0f, beta = 0.5f, rm = 1.0f, rv = 1.0f, mean, inv;
  BatchNormParams p{0.1f, 1e-5f};
  Tensor y;
  batch_norm_forward_train(p, x, &gamma, &beta, &rm, &rv, &mean, &inv, y);
  EXPECT_FLOAT_EQ(mean, 4.5f);
  EXPECT_NEAR(inv, 1.0 / std::sqrt(5.25 + 1e-5), 1e-6);
  EXPECT_NEAR(rm, 0.9 * 1.0 + 0.1 * 4.5, 1e-6);
  EXPECT_NEAR(rv, 0.9 * 1.0 + 0.1 * 6.0, 1e-6);
  EXPECT_NEAR(y[0], 2.0 * (1 - 4.5) / std::sqrt(5.25 + 1e-5) + 0.5, 1e-5);
  // Eval mode uses the running statistics.
  batch_norm_forward_eval(p, x, &gamma, &beta, &rm, &rv, y);
  EXPECT_NEAR(y[7], 2.0 * (8 - rm) / std::sqrt(rv + 1e-5) + 0.5, 1e-5);
}

TEST(NnBatchNorm, FusedWithActivationMatchesComposition) {
  // batch_norm_act_* must equal batch_norm_* followed by relu_*/pact_* (forward and backward).
  std::mt19937 rng(11);
  Tensor x(3, 4, 3, 3), gamma(1, 4), beta(1, 4), g(3, 4, 3, 3);
  fill_uniform(x, rng, -2.0f, 2.0f);
  fill_uniform(gamma, rng, 0.5f, 1.5f);
  fill_uniform(beta, rng);
  fill_uniform(g, rng);
  for (ActParams act :
       {ActParams{ActParams::Kind::kNone, 0.0f, 32}, ActParams{ActParams::Kind::kRelu, 0.0f, 32},
        ActParams{ActParams::Kind::kPact, 0.8f, 32}, ActParams{ActParams::Kind::kPact, 0.8f, 2}}) {
    BatchNormParams p;
    std::vector<float> rm(4, 0.0f), rv(4, 1.0f), rm2 = rm, rv2 = rv, m(4), is(4), m2(4), is2(4);
    Tensor u, y_ref, y;
    batch_norm_forward_train(p, x, gamma.data(), beta.data(), rm.data(), rv.data(), m.data(),
                             is.data(), u);
    if (act.kind == ActParams::Kind::kRelu) relu_forward(u, y_ref);
    if (act.kind == ActParams::Kind::kPact) pact_forward(u, act.clip, act.bits, y_ref);
    if (act.kind == ActParams::Kind::kNone) y_ref = u;
    batch_norm_act_forward_train(p, act, x, gamma.data(), beta.data(), rm2.data(), rv2.data(),
                                 m2.data(), is2.data(), y);
    for (std::size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], y_ref[i], 1e-5f) << i;
    for (int c = 0; c < 4; ++c) {
      EXPECT_NEAR(m2[c], m[c], 1e-6f);
      EXPECT_NEAR(is2[c], is[c], 1e-4f * is[c]);
      EXPECT_NEAR(rv2[c], rv[c], 1e-5f);
    }
    // Backward: composition of pact/relu backward and BN backward.
    Tensor gu = g, dx_ref, gr(1, 4), br(1, 4);
    gr.set_zero();
    br.set_zero();
    float clip_ref = 0.0f, clip = 0.0f;
    if (act.kind == ActParams::Kind::kRelu) relu_backward(u, g, gu);
    if (act.kind == ActParams::Kind::kPact) pact_backward(u, act.clip, g, gu, &clip_ref);
    batch_norm_backward(x, gu, gamma.data(), m.data(), is.data(), dx_ref, gr.data(), br.data());
    Tensor dx = g, gf(1, 4), bf(1, 4);
    gf.set_zero();
    bf.set_zero();
    batch_norm_act_backward(act, x, gamma.data(), beta.data(), m2.data(), is2.data(), dx, gf.data(),
                            bf.data(), &clip);
    for (std::size_t i = 0; i < dx.size(); ++i) ASSERT_NEAR(dx[i], dx_ref[i], 1e-4f) << i;
    for (int c = 0; c < 4; ++c) {
      EXPECT_NEAR(gf[c], gr[c], 1e-4f);
      EXPECT_NEAR(bf[c], br[c], 1e-4f);
    }
    EXPECT_NEAR(clip, clip_ref, 1e-4f);
  }
}

TEST(NnActivation, ReluGradient) {
  std::mt19937 rng(2);
  Tensor x(2, 3, 4, 4), r;
  fill_away_from(x, rng, {0.0f}, kGap);
  r.resize_like(x);
  fill_uniform(r, rng);
  Tensor dx;
  relu_backward(x, r, dx);
  auto loss = probe_loss(r, [&](Tensor& y) { relu_forward(x, y); });
  expect_gradient("relu dx", x, dx, loss, kLinearTol);
}

TEST(NnActivation, PactGradientsUnquantized) {
  // bits = 32: y = clip(x, 0, a) exactly, so d/dx and d/da are true derivatives.
  std::mt19937 rng(3);
  Tensor x(2, 2, 5, 5), r, clip(1, 1);
  clip[0] = 0.6f;
  fill_away_from(x, rng, {0.0f, 0.6f}, kGap);
  r.resize_like(x);
  fill_uniform(r, rng);
  Tensor dx, dclip(1, 1);
  dclip.set_zero();
  pact_backward(x, clip[0], r, dx, dclip.data());
  auto loss = probe_loss(r, [&](Tensor& y) { pact_forward(x, clip[0], 32, y); });
  expect_gradient("pact dx", x, dx, loss, kLinearTol);
  expect_gradient("pact dclip", clip, dclip, loss, kLinearTol);
}

TEST(NnActivation, PactQuantizedLevelsAndStraightThrough) {
  // 2 bits, a = 1.5: levels {0, 0.5, 1, 1.5}; round half to even at the midpoints.
  Tensor x(1, 1, 1, 7), y;
  const float in[] = {-0.3f, 0.2f, 0.26f, 0.74f, 1.2f, 1.49f, 4.0f};
  const float want[] = {0.0f, 0.0f, 0.5f, 0.5f, 1.0f, 1.5f, 1.5f};
  std::copy(in, in + 7, x.data());
  pact_forward(x, 1.5f, 2, y);
  for (int i = 0; i < 7; ++i) EXPECT_FLOAT_EQ(y[i], want[i]) << i;
  // Every output is one of the 2^b levels for every bit width.
  std::mt19937 rng(4);
  for (int bits : {2, 3, 4, 8}) {
    Tensor xs(1, 1, 1, 200), ys;
    fill_uniform(xs, rng, -1.0f, 3.0f);
    pact_forward(xs, 2.0f, bits, ys);
    const float n = static_cast<float>((1 << bits) - 1);
    for (std::size_t i = 0; i < ys.size(); ++i) {
      const float level = ys[i] * n / 2.0f;
      EXPECT_NEAR(level, std::nearbyint(level), 1e-4f) << bits;
      EXPECT_GE(ys[i], 0.0f);
      EXPECT_LE(ys[i], 2.0f);
    }
  }
  // STE: the quantized op has the same gradients as the unquantized one.
  Tensor r;
  r.resize_like(x);
  for (std::size_t i = 0; i < r.size(); ++i) r[i] = static_cast<float>(i + 1);
  Tensor dx;
  float dclip = 0.0f;
  pact_backward(x, 1.5f, r, dx, &dclip);
  const float want_dx[] = {0, 2, 3, 4, 5, 6, 0};
  for (int i = 0; i < 7; ++i) EXPECT_EQ(dx[i], want_dx[i]) << i;
  EXPECT_EQ(dclip, 7.0f);
}

TEST(NnPooling, MaxPoolGradient) {
  std::mt19937 rng(5);
  // Distinct values 0.05 apart so that a small step never changes the argmax.
  Tensor x(2, 2, 5, 5);
  std::vector<int> perm(x.size());
  for (std::size_t i = 0; i < perm.size(); ++i) perm[i] = static_cast<int>(i);
  std::shuffle(perm.begin(), perm.end(), rng);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = 0.05f * perm[i] - 2.0f;
  for (PoolParams p : {PoolParams{2, 2, 0}, PoolParams{3, 2, 1}}) {
    Tensor y, r, dx;
    std::vector<std::int32_t> arg;
    max_pool_forward(p, x, y, arg);
    r.resize_like(y);
    fill_uniform(r, rng);
    max_pool_backward(p, x, r, arg, dx);
    auto loss = probe_loss(r, [&](Tensor& out) {
      std::vector<std::int32_t> a;
      max_pool_forward(p, x, out, a);
    });
    expect_gradient("maxpool dx k=" + std::to_string(p.k), x, dx, loss, kLinearTol);
  }
  // 3x3/s2/p1 on 5x5 -> 3x3; the top-left window covers rows/cols 0..1 only.
  Tensor y;
  std::vector<std::int32_t> arg;
  max_pool_forward(PoolParams{3, 2, 1}, x, y, arg);
  EXPECT_EQ(y.h(), 3);
  const float m =
      std::max({x.at(0, 0, 0, 0), x.at(0, 0, 0, 1), x.at(0, 0, 1, 0), x.at(0, 0, 1, 1)});
  EXPECT_EQ(y.at(0, 0, 0, 0), m);
}

TEST(NnPooling, AvgPoolGradient) {
  std::mt19937 rng(6);
  Tensor x(2, 3, 6, 6);
  fill_uniform(x, rng);
  for (PoolParams p : {PoolParams{2, 2, 0}, PoolParams{3, 1, 1}}) {
    Tensor y, r, dx;
    avg_pool_forward(p, x, y);
    r.resize_like(y);
    fill_uniform(r, rng);
    avg_pool_backward(p, x, r, dx);
    auto loss = probe_loss(r, [&](Tensor& out) { avg_pool_forward(p, x, out); });
    expect_gradient("avgpool dx k=" + std::to_string(p.k), x, dx, loss, kLinearTol);
  }
  Tensor y;
  avg_pool_forward(PoolParams{2, 2, 0}, x, y);
  EXPECT_NEAR(y.at(1, 2, 1, 1),
              (x.at(1, 2, 2, 2) + x.at(1, 2, 2, 3) + x.at(1, 2, 3, 2) + x.at(1, 2, 3, 3)) / 4,
              1e-6);
}

TEST(NnPooling, GlobalAvgPoolGradient) {
  std::mt19937 rng(7);
  Tensor x(3, 4, 5, 3), y, r, dx;
  fill_uniform(x, rng);
  global_avg_pool_forward(x, y);
  ASSERT_EQ(y.size(), 12u);
  double s = 0;
  for (int i = 0; i < 15; ++i) s += x[15 + i];
  EXPECT_NEAR(y[1], s / 15, 1e-6);
  r.resize_like(y);
  fill_uniform(r, rng);
  global_avg_pool_backward(r, 5, 3, dx);
  auto loss = probe_loss(r, [&](Tensor& out) { global_avg_pool_forward(x, out); });
  expect_gradient("global pool dx", x, dx, loss, kLinearTol);
}

TEST(NnLinear, Gradients) {
  std::mt19937 rng(8);
  LinearParams p{12, 5, 0};
  Tensor x(4, 3, 2, 2), w(5, 12), b(1, 5), r(4, 5);
  fill_uniform(x, rng);
  fill_uniform(w, rng);
  fill_uniform(b, rng);
  fill_uniform(r, rng);
  Tensor y;
  linear_forward(p, x, w.data(), b.data(), y);
  double want = b[2];
  for (int i = 0; i < 12; ++i) want += static_cast<double>(w[2 * 12 + i]) * x[12 + i];
  EXPECT_NEAR(y.at(1, 2, 0, 0), want, 1e-5);
  Tensor dw(5, 12), db(1, 5), dx;
  dw.set_zero();
  db.set_zero();
  linear_backward(p, x, w.data(), r, dw.data(), db.data(), &dx);
  EXPECT_TRUE(dx.same_shape(x));
  auto loss = probe_loss(r, [&](Tensor& out) { linear_forward(p, x, w.data(), b.data(), out); });
  expect_gradient("fc dx", x, dx, loss, kLinearTol);
  expect_gradient("fc dw", w, dw, loss, kLinearTol);
  expect_gradient("fc db", b, db, loss, kLinearTol);
}

TEST(NnLoss, CrossEntropyValueAndGradient) {
  std::mt19937 rng(9);
  Tensor z(4, 6), g;
  fill_uniform(z, rng, -3.0f, 3.0f);
  const int labels[] = {0, 5, 2, 2};
  const float l = softmax_cross_entropy(z, labels, &g);
  double want = 0;
  for (int i = 0; i < 4; ++i) {
    double s = 0;
    for (int j = 0; j < 6; ++j) s += std::exp(z[i * 6 + j]);
    want += std::log(s) - z[i * 6 + labels[i]];
  }
  EXPECT_NEAR(l, want / 4, 1e-5);
  auto loss = [&] { return static_cast<double>(softmax_cross_entropy(z, labels, nullptr)); };
  expect_gradient("ce dlogits", z, g, loss, kSmoothTol);
  const int bad[] = {0, 6, 1, 1};
  EXPECT_THROW(softmax_cross_entropy(z, bad, nullptr), std::invalid_argument);
}

TEST(NnResidual, MixedWidthAddAndGradients) {
  std::mt19937 rng(10);
  Tensor a(2, 5, 3, 3), b(2, 3, 3, 3), y;
  fill_uniform(a, rng);
  fill_uniform(b, rng);
  residual_add(a, b, y);
  ASSERT_EQ(y.c(), 5);
  EXPECT_FLOAT_EQ(y.at(1, 2, 1, 0), a.at(1, 2, 1, 0) + b.at(1, 2, 1, 0));
  EXPECT_FLOAT_EQ(y.at(1, 4, 1, 0), a.at(1, 4, 1, 0));
  // Order does not matter.
  Tensor y2;
  residual_add(b, a, y2);
  for (std::size_t i = 0; i < y.size(); ++i) ASSERT_EQ(y[i], y2[i]);

  Tensor r, da, db;
  r.resize_like(y);
  fill_uniform(r, rng);
  residual_add_backward(r, a.c(), da);
  residual_add_backward(r, b.c(), db);
  auto loss = [&] {
    Tensor out;
    residual_add(a, b, out);
    return dot(r, out);
  };
  expect_gradient("residual da", a, da, loss, kLinearTol);
  expect_gradient("residual db", b, db, loss, kLinearTol);
  // Fused add + PACT equals add then PACT, forward and backward.
  const ActParams act{ActParams::Kind::kPact, 0.7f, 2};
  Tensor fused, sum, ref;
  residual_add_act_forward(act, a, b, fused);
  residual_add(a, b, sum);
  pact_forward(sum, act.clip, act.bits, ref);
  for (std::size_t i = 0; i < ref.size(); ++i) ASSERT_FLOAT_EQ(fused[i], ref[i]);
  Tensor gf = r, gref;
  float cf = 0.0f, cref = 0.0f;
  residual_add_act_backward(act, a, b, gf, &cf);
  pact_backward(sum, act.clip, r, gref, &cref);
  for (std::size_t i = 0; i < gref.size(); ++i) ASSERT_FLOAT_EQ(gf[i], gref[i]);
  EXPECT_NEAR(cf, cref, 1e-5f);
  // accumulate
  Tensor db2 = db;
  residual_add_backward(r, b.c(), db2, true);
  for (std::size_t i = 0; i < db.size(); ++i) ASSERT_FLOAT_EQ(db2[i], 2 * db[i]);
}

TEST(Pooling, RefusesAMapSmallerThanTheWindow) {
  // A 1x1 map under the TAS shortcut's 2x2 stride-2 pool: the fast path read 4 values of 1.
  Tensor x(2, 3, 1, 1), y, dx;
  x.set_zero();
  const PoolParams two{2, 2, 0};
  EXPECT_THROW(avg_pool_forward(two, x, y), std::invalid_argument);
  std::vector<std::int32_t> argmax;
  EXPECT_THROW(max_pool_forward(two, x, y, argmax), std::invalid_argument);
  Tensor wide(1, 1, 1, 28);
  wide.set_zero();
  EXPECT_THROW(avg_pool_forward(two, wide, y), std::invalid_argument);
  // Odd maps are fine: the window that would run off the edge is not produced.
  Tensor odd(1, 1, 3, 3);
  for (std::size_t i = 0; i < odd.size(); ++i) odd.data()[i] = static_cast<float>(i);
  avg_pool_forward(two, odd, y);
  ASSERT_EQ(y.h(), 1);
  EXPECT_FLOAT_EQ(y.data()[0], (0 + 1 + 3 + 4) / 4.0f);
}

}  // namespace
}  // namespace nce::nn
