// The fused two-candidate BN + CWI + mix + activation (mixed_bn.h) against the composition of the
// reference ops it replaces: slice, batch_norm_forward_train/eval, cwi_forward, the weighted sum
// and relu/pact, and their backwards (batch_norm_backward, cwi_backward, the mixing dot products).
#include "nce/search/mixed_bn.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "nce/nn/activation.h"
#include "nce/nn/batch_norm.h"
#include "nce/search/cwi.h"

namespace nce::search {
namespace {

// Float32 sums in another order: relative to the largest magnitude of the compared tensor.
constexpr double kForwardTolerance = 2e-5;
constexpr double kGradTolerance = 5e-5;

struct Bn {
  std::vector<float> gamma, beta, rm, rv, dgamma, dbeta, save_mean, save_inv_std;
  explicit Bn(int c, std::mt19937& rng) {
    std::uniform_real_distribution<float> u(0.5f, 1.5f), s(-0.5f, 0.5f);
    for (int i = 0; i < c; ++i) {
      gamma.push_back(u(rng));
      beta.push_back(s(rng));
      rm.push_back(s(rng));
      rv.push_back(u(rng));
    }
    dgamma.assign(c, 0.0f);
    dbeta.assign(c, 0.0f);
    save_mean.assign(c, 0.0f);
    save_inv_std.assign(c, 0.0f);
  }
};

void slice(const nn::Tensor& x, int c, nn::Tensor& out) {
  out.resize(x.n(), c, x.h(), x.w());
  for (int b = 0; b < x.n(); ++b)
    for (int ch = 0; ch < c; ++ch)
      for (std::size_t i = 0; i < x.plane(); ++i)
        out.data()[(static_cast<std::size_t>(b) * c + ch) * x.plane() + i] =
            x.data()[(static_cast<std::size_t>(b) * x.c() + ch) * x.plane() + i];
}

double max_abs(const nn::Tensor& t) {
  double m = 0;
  for (std::size_t i = 0; i < t.size(); ++i) m = std::max(m, std::fabs(double(t[i])));
  return m;
}

void expect_close(const nn::Tensor& a, const nn::Tensor& b, double tol, const char* what) {
  ASSERT_TRUE(a.same_shape(b)) << what;
  const double scale = std::max(1e-6, max_abs(b));
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_NEAR(a[i], b[i], tol * scale) << what << "[" << i << "]";
  }
}

struct Case {
  int w0, w1;
  nn::ActParams::Kind act;
  bool bn;
  bool train;
  int h = 5, w = 6;  // plane size
};

void run_case(const Case& cs) {
  SCOPED_TRACE(::testing::Message() << "widths " << cs.w0 << "," << cs.w1 << " bn " << cs.bn
                                    << " train " << cs.train << " act " << int(cs.act));
  std::mt19937 rng(7);
  const int n = 3, h = cs.h, w = cs.w;
  const int cmax = std::max(cs.w0, cs.w1);
  nn::Tensor y(n, cmax, h, w), dout(n, cmax, h, w);
  std::normal_distribution<float> normal;
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = normal(rng);
  for (std::size_t i = 0; i < dout.size(); ++i) dout[i] = normal(rng);
  const double m[2] = {0.37, 0.63};
  const int widths[2] = {cs.w0, cs.w1};
  Bn ref_bn[2] = {Bn(cmax, rng), Bn(cmax, rng)};
  Bn fused_bn[2] = {ref_bn[0], ref_bn[1]};
  const nn::ActParams act{cs.act, 1.2f, 2};
  const nn::BatchNormParams bnp{0.1f, 1e-5f};

  // Reference: per candidate slice -> BN -> CWI, mix, activation.
  nn::Tensor parts[2], sl[2], normed[2];
  for (int j = 0; j < 2; ++j) {
    slice(y, widths[j], sl[j]);
    Bn& b = ref_bn[j];
    if (!cs.bn) {
      normed[j] = sl[j];
    } else if (cs.train) {
      nn::batch_norm_forward_train(bnp, sl[j], b.gamma.data(), b.beta.data(), b.rm.data(),
                                   b.rv.data(), b.save_mean.data(), b.save_inv_std.data(),
                                   normed[j]);
    } else {
      nn::batch_norm_forward_eval(bnp, sl[j], b.gamma.data(), b.beta.data(), b.rm.data(),
                                  b.rv.data(), normed[j]);
    }
    cwi_forward(normed[j], cmax, parts[j]);
  }
  nn::Tensor mixed(n, cmax, h, w), ref_out(n, cmax, h, w);
  for (std::size_t i = 0; i < mixed.size(); ++i)
    mixed[i] = float(m[0]) * parts[0][i] + float(m[1]) * parts[1][i];
  const nn::ActParams::Eval f = act.eval();
  for (std::size_t i = 0; i < mixed.size(); ++i) ref_out[i] = f(mixed[i]);

  // Fused.
  std::array<MixedCandidate, 2> cands;
  for (int j = 0; j < 2; ++j) {
    Bn& b = fused_bn[j];
    cands[j].width = widths[j];
    cands[j].weight = m[j];
    if (!cs.bn) continue;
    cands[j].gamma = b.gamma.data();
    cands[j].beta = b.beta.data();
    cands[j].running_mean = b.rm.data();
    cands[j].running_var = b.rv.data();
    cands[j].dgamma = b.dgamma.data();
    cands[j].dbeta = b.dbeta.data();
  }
  MixedBatchNormAct fused;
  nn::Tensor out;
  if (cs.train) {
    fused.forward_train(bnp, act, y, cands, out);
  } else {
    fused.forward_eval(bnp, act, y, cands, out);
  }
  expect_close(out, ref_out, kForwardTolerance, "forward");
  for (int j = 0; j < 2; ++j) {
    for (int c = 0; c < cmax; ++c) {
      EXPECT_FLOAT_EQ(fused_bn[j].rm[c], ref_bn[j].rm[c]) << "running mean " << j << "," << c;
      EXPECT_FLOAT_EQ(fused_bn[j].rv[c], ref_bn[j].rv[c]) << "running var " << j << "," << c;
    }
  }
  if (!cs.train) return;

  // Reference backward.
  nn::Tensor g = dout;
  float ref_clip = 0.0f;
  if (cs.act == nn::ActParams::Kind::kPact) {
    nn::pact_backward(mixed, act.clip, dout, g, &ref_clip);
  } else if (cs.act == nn::ActParams::Kind::kRelu) {
    nn::relu_backward(mixed, dout, g);
  }
  nn::Tensor ref_dy(n, cmax, h, w);
  ref_dy.set_zero();
  double ref_dmix[2];
  for (int j = 0; j < 2; ++j) {
    double d = 0;
    for (std::size_t i = 0; i < g.size(); ++i) d += double(g[i]) * parts[j][i];
    ref_dmix[j] = d;
    nn::Tensor gp(n, cmax, h, w), gn(n, widths[j], h, w), gs;
    for (std::size_t i = 0; i < g.size(); ++i) gp[i] = float(m[j]) * g[i];
    gn.set_zero();
    cwi_backward(gp, gn);
    if (cs.bn) {
      Bn& b = ref_bn[j];
      nn::batch_norm_backward(sl[j], gn, b.gamma.data(), b.save_mean.data(), b.save_inv_std.data(),
                              gs, b.dgamma.data(), b.dbeta.data());
    } else {
      gs = gn;
    }
    for (int bi = 0; bi < n; ++bi)
      for (int c = 0; c < widths[j]; ++c)
        for (std::size_t i = 0; i < y.plane(); ++i)
          ref_dy.data()[(static_cast<std::size_t>(bi) * cmax + c) * y.plane() + i] +=
              gs.data()[(static_cast<std::size_t>(bi) * widths[j] + c) * y.plane() + i];
  }

  nn::Tensor fg = dout, dy;
  double dmix[2];
  float clip = 0.0f;
  fused.backward(act, y, cands, fg, dy, dmix, &clip);
  expect_close(dy, ref_dy, kGradTolerance, "dy");
  for (int j = 0; j < 2; ++j) {
    EXPECT_NEAR(dmix[j], ref_dmix[j], kGradTolerance * (1 + std::fabs(ref_dmix[j])))
        << "dmix " << j;
    for (int c = 0; c < widths[j]; ++c) {
      EXPECT_NEAR(fused_bn[j].dgamma[c], ref_bn[j].dgamma[c], kGradTolerance * 50)
          << "dgamma " << j << "," << c;
      EXPECT_NEAR(fused_bn[j].dbeta[c], ref_bn[j].dbeta[c], kGradTolerance * 50)
          << "dbeta " << j << "," << c;
    }
  }
  EXPECT_NEAR(clip, ref_clip, 1e-3 * (1 + std::fabs(ref_clip)));
}

TEST(MixedBatchNormAct, MatchesSliceBnCwiMixInTrainMode) {
  for (auto act :
       {nn::ActParams::Kind::kNone, nn::ActParams::Kind::kRelu, nn::ActParams::Kind::kPact}) {
    for (auto widths : {std::pair{4, 16}, {16, 9}, {12, 14}, {3, 19}, {32, 20}}) {
      run_case({widths.first, widths.second, act, true, true});
    }
  }
}

TEST(MixedBatchNormAct, MatchesInEvalModeAndWithoutBatchNorm) {
  for (auto act : {nn::ActParams::Kind::kRelu, nn::ActParams::Kind::kPact}) {
    run_case({6, 16, act, true, false});
    run_case({16, 6, act, false, true});
    run_case({11, 7, act, false, false});
  }
}

TEST(MixedBatchNormAct, MatchesOnPlanesOfWholeBlocksAndSeveralChunks) {
  // The backward sums and pass 2 run in 16-float blocks within 256-pixel chunks: planes of
  // exactly one chunk (16x16), of two chunks with a partial block (17x19), of whole blocks only
  // (8x8), and shorter than one block (3x3).
  for (auto act :
       {nn::ActParams::Kind::kNone, nn::ActParams::Kind::kRelu, nn::ActParams::Kind::kPact}) {
    for (auto hw : {std::pair{16, 16}, {17, 19}, {8, 8}, {3, 3}}) {
      run_case({5, 13, act, true, true, hw.first, hw.second});
      run_case({24, 17, act, true, true, hw.first, hw.second});
    }
  }
}

TEST(MixedBatchNormAct, RefusesWidthsTooFarApart) {
  nn::Tensor y(1, 64, 2, 2);
  y.set_zero();
  std::array<MixedCandidate, 2> cands;
  cands[0].width = 1;
  cands[1].width = 64;
  cands[0].weight = cands[1].weight = 0.5;
  MixedBatchNormAct fused;
  nn::Tensor out;
  EXPECT_THROW(fused.forward_eval(nn::BatchNormParams{}, nn::ActParams{}, y, cands, out),
               std::logic_error);
}

}  // namespace
}  // namespace nce::search
