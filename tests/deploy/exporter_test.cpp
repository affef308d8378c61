// End to end: a tiny ResNet-8 trained a few steps in the test (synthetic 16x16 images), written as
// a checkpoint, exported, run by the integer engine; its predictions are compared with the float
// trainer's eval-mode forward.
//  * quantize_all_layers (every layer but the FC, which the float network never quantizes, on the
//    quantized rule) against the float network with its FC weights rounded to 8 bits as exported:
//    the integer model is exact up to float rounding (logits agree to ~1e-5), so every
//    disagreement must be a float tie: the two classes within kTieLogitGap of each other;
//  * the default network (stem, shortcuts and FC on the 8-bit full-precision rule): against the
//    float network with those weights rounded to 8 bits as exported, every disagreement is a close
//    call (the head's per-image 8-bit input is not emulated in float); against the float network
//    itself agreement >= kMinAgreementFull8 (the 8-bit stem moves a 2-bit network's logits).
// Every kernel gives the same logits; a checkpoint at 32 bits is refused naming the file.
#include <gtest/gtest.h>

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include "nce/deploy/exporter.h"
#include "nce/deploy/infer.h"
#include "nce/nn/checkpoint.h"
#include "nce/nn/trainer.h"
#include "synthetic_data.h"

namespace nce::deploy {
namespace {

constexpr double kTieLogitGap = 1e-3;     // float logits this close (x (1 + |logit|)) are a tie
constexpr double kMaxTieFraction = 0.01;  // of the test images
constexpr double kMaxCloseCallFraction = 0.03;
// Against a float network whose stem/shortcut/FC weights are rounded to 8 bits as exported, what
// is left is the head's per-image 8-bit input: a disagreement must be a close call.
constexpr double kCloseCallGap = 0.05;
// Against the float network itself: the 8-bit stem alone moves this barely trained 2-bit
// network's logits by about 20% (measured float against float), so agreement is lower.
constexpr double kMinAgreementFull8 = 0.88;

using test_data::synthetic;

struct Trained {
  nn::TrainResult result;
  nn::Checkpoint checkpoint;
  nn::Normalization norm;
};

Trained train_tiny(bool quantize_all, const nn::Dataset& train_set, const nn::Dataset& test_set,
                   const std::string& path, nn::QuantizerKind quantizer = nn::QuantizerKind::kSawb,
                   int bits = 2, int epochs = 3, bool int8_full_precision = false) {
  nn::TrainConfig c;
  c.model = "resnet8";
  c.dataset = train_set.channels == 3 ? "cifar10" : "fashion-mnist";
  c.network.int8_full_precision = int8_full_precision;
  c.network.weight_bits = c.network.activation_bits = bits;
  c.network.quantizer = quantizer;
  c.network.quantize_all_layers = quantize_all;
  c.network.pact_init_clip = 4.0f;
  c.epochs = epochs;
  c.batch_size = 50;
  c.lr = 0.05;
  c.checkpoint_path = path;
  c.test_each_epoch = false;
  Trained t;
  t.result = nn::train(c, train_set, test_set);
  t.checkpoint = nn::read_checkpoint(path);
  t.norm = nn::compute_normalization(train_set);
  std::remove(path.c_str());
  return t;
}

struct Comparison {
  int images = 0, disagree = 0, ties = 0;
  double float_top1 = 0;
  double logit_error = 0;  // mean |float - integer| / mean |float|
};

Comparison compare(Trained& t, const IntModel& model, const nn::Dataset& test_set, double tie_gap) {
  Comparison cmp;
  nn::Network& net = *t.result.network;
  nn::BatchOptions bo;
  bo.batch_size = test_set.size();
  bo.shuffle = false;
  nn::Batcher batcher(test_set, t.norm, bo);
  std::mt19937_64 rng(1);
  batcher.start_epoch(rng);
  nn::Tensor images;
  std::vector<int> labels;
  EXPECT_TRUE(batcher.next(images, labels));
  const nn::Tensor& logits = net.forward(images, nn::Mode::kEval);
  const int classes = 10;
  std::vector<IntLogits> per_kernel;
  for (KernelKind kind : {KernelKind::kPortable, KernelKind::kAvx2, KernelKind::kVnni}) {
    if (!kernel_supported(kind)) continue;
    IntEngine engine(model, kind);
    per_kernel.emplace_back();
    engine.run(test_set.pixels.data(), test_set.size(), per_kernel.back());
  }
  for (std::size_t k = 1; k < per_kernel.size(); ++k)
    EXPECT_EQ(per_kernel[k].values, per_kernel[0].values) << "kernel " << k;
  {  // One image at a time: a team of 2 threads per image (and 1 thread alone) gets the same.
    IntEngine engine(model, best_kernel());
    const std::size_t bytes = test_set.pixels.size() / static_cast<std::size_t>(test_set.size());
    for (int threads : {2, 1}) {
      omp_set_num_threads(threads);
      for (int i = 0; i < 8; ++i) {
        IntLogits one;
        engine.run(test_set.pixels.data() + bytes * i, 1, one);
        EXPECT_TRUE(std::equal(one.values.begin(), one.values.end(),
                               per_kernel[0].values.begin() + i * classes))
            << "image " << i << " alone, " << threads << " threads";
        EXPECT_EQ(one.exponent[0], per_kernel[0].exponent[static_cast<std::size_t>(i)]);
      }
    }
    omp_set_num_threads(2);
  }
  const IntLogits& il = per_kernel[0];
  cmp.images = test_set.size();
  int hits = 0;
  double diff = 0, mag = 0;
  for (int i = 0; i < test_set.size(); ++i)
    for (int j = 0; j < classes; ++j) {
      const double fv = logits.data()[static_cast<std::size_t>(i) * classes + j];
      const double iv =
          std::ldexp(static_cast<double>(il.values[static_cast<std::size_t>(i) * classes + j]),
                     il.exponent[static_cast<std::size_t>(i)]);
      diff += std::fabs(fv - iv);
      mag += std::fabs(fv);
    }
  cmp.logit_error = diff / mag;
  for (int i = 0; i < test_set.size(); ++i) {
    const float* fl = logits.data() + static_cast<std::size_t>(i) * classes;
    int fbest = 0;
    for (int j = 1; j < classes; ++j)
      if (fl[j] > fl[fbest]) fbest = j;
    hits += fbest == labels[static_cast<std::size_t>(i)];
    const int ibest = argmax(il.values.data() + static_cast<std::size_t>(i) * classes, classes);
    if (ibest != fbest) {
      ++cmp.disagree;
      const double gap = std::fabs(fl[fbest] - fl[ibest]);
      if (gap <= tie_gap * (1.0 + std::fabs(fl[fbest]))) ++cmp.ties;
      if (cmp.disagree <= 5)
        std::printf("  image %d: float class %d (%.6f), integer class %d (float %.6f)\n", i, fbest,
                    fl[fbest], ibest, fl[ibest]);
    }
  }
  cmp.float_top1 = 100.0 * hits / test_set.size();
  return cmp;
}

// Rounds the float network's full-precision conv/FC weights (stem, shortcuts, fc) to 8 bits per
// output channel as the exporter does (max-abs / 127), so that the float forward computes what the
// 8-bit rule computes.
// fc_only: just the FC (with quantize_all_layers the others are quantized by the float forward).
void round_full_precision_weights(nn::Network& net, bool fc_only = false) {
  for (auto& st : net.state()) {
    const bool fp = st.name == "fc.weight" ||
                    (!fc_only && (st.name == "stem.weight" ||
                                  st.name.find(".shortcut.weight") != std::string::npos));
    if (!fp) continue;
    nn::Tensor& w = *st.tensor;
    const int co = w.n();
    const std::size_t per = w.size() / static_cast<std::size_t>(co);
    for (int m = 0; m < co; ++m) {
      float mx = 0;
      for (std::size_t j = 0; j < per; ++j) mx = std::max(mx, std::fabs(w[m * per + j]));
      if (mx == 0) continue;
      for (std::size_t j = 0; j < per; ++j)
        w[m * per + j] = std::round(w[m * per + j] / mx * 127.0f) * (mx / 127.0f);
    }
  }
}

TEST(Exporter, QuantizeAllLayersIsExactUpToFloatTies) {
  omp_set_num_threads(2);
  const nn::Dataset train_set = synthetic(600, 1), test_set = synthetic(300, 2);
  Trained t = train_tiny(true, train_set, test_set, ::testing::TempDir() + "deploy_qall.ckpt");
  const IntModel model = export_int_model(t.checkpoint, t.norm, "qall.ckpt");
  round_full_precision_weights(*t.result.network, true);  // the FC's 8-bit weights, as exported
  const Comparison c = compare(t, model, test_set, kTieLogitGap);
  std::printf(
      "quantize_all: float top-1 %.2f%%, %d of %d disagree, %d of them ties, logit error "
      "%.4f\n",
      c.float_top1, c.disagree, c.images, c.ties, c.logit_error);
  EXPECT_GT(c.float_top1, 30.0) << "the tiny network did not learn; the comparison means little";
  EXPECT_EQ(c.ties, c.disagree);
  EXPECT_LE(c.disagree, kMaxTieFraction * c.images);
}

// DoReFa and LSQ weights (alpha/beta 2/1 and 1/0), and 3- and 4-bit codes. At 4 bits the head's
// pooled sums (16 pixels x code 15) exceed 127, so its per-image shift rounds them: the remaining
// disagreements must be close calls there, float ties otherwise.
TEST(Exporter, OtherQuantizersAndBitsAreExactUpToFloatTies) {
  omp_set_num_threads(2);
  const nn::Dataset train_set = synthetic(300, 5), test_set = synthetic(200, 6);
  struct Case {
    nn::QuantizerKind q;
    int bits;
  };
  for (const Case& k : {Case{nn::QuantizerKind::kDorefa, 2}, Case{nn::QuantizerKind::kLsq, 3},
                        Case{nn::QuantizerKind::kSawb, 4}}) {
    Trained t = train_tiny(true, train_set, test_set, ::testing::TempDir() + "deploy_q.ckpt", k.q,
                           k.bits, 1);
    const IntModel model = export_int_model(t.checkpoint, t.norm, "q.ckpt");
    round_full_precision_weights(*t.result.network, true);  // the FC's 8-bit weights
    const bool head_rounds = 16 * ((1 << k.bits) - 1) > 127;
    const Comparison c = compare(t, model, test_set, head_rounds ? kCloseCallGap : kTieLogitGap);
    std::printf("%s W%dA%d: %d of %d disagree, %d within the gap, logit error %.4f\n",
                nn::to_string(k.q), k.bits, k.bits, c.disagree, c.images, c.ties, c.logit_error);
    EXPECT_EQ(c.ties, c.disagree) << nn::to_string(k.q) << " " << k.bits;
    EXPECT_LE(c.disagree, (head_rounds ? kMaxCloseCallFraction : kMaxTieFraction) * c.images)
        << nn::to_string(k.q) << " " << k.bits;
  }
}

TEST(Exporter, DefaultNetworkAgreesWithTheFloatEval) {
  omp_set_num_threads(2);
  const nn::Dataset train_set = synthetic(600, 3), test_set = synthetic(300, 4);
  Trained t = train_tiny(false, train_set, test_set, ::testing::TempDir() + "deploy_def.ckpt");
  const IntModel model = export_int_model(t.checkpoint, t.norm, "default.ckpt");
  const Comparison c = compare(t, model, test_set, kTieLogitGap);
  round_full_precision_weights(*t.result.network);
  const Comparison r8 = compare(t, model, test_set, kCloseCallGap);
  std::printf(
      "default vs float with 8-bit full-precision weights: %d of %d disagree (%d float "
      "ties), logit error %.4f\n",
      r8.disagree, r8.images, r8.ties, r8.logit_error);
  std::printf("default: float top-1 %.2f%%, %d of %d disagree (%d float ties), logit error %.4f\n",
              c.float_top1, c.disagree, c.images, c.ties, c.logit_error);
  EXPECT_GT(c.float_top1, 30.0);
  EXPECT_EQ(r8.ties, r8.disagree);
  EXPECT_LE(r8.disagree, kMaxTieFraction * r8.images);
  EXPECT_GE(1.0 - static_cast<double>(c.disagree) / c.images, kMinAgreementFull8);
  // infer_dataset counts like nn::evaluate.
  IntEngine engine(model, best_kernel());
  const InferResult r = infer_dataset(engine, test_set, 64, "default.nceim");
  // Against the checkpoint as trained (float stem, shortcuts and FC), the disagreements are not
  // ties: compare_with_trainer says so (and names no more ties than there are).
  const std::string ck_path = ::testing::TempDir() + "deploy_def_again.ckpt";
  nn::write_checkpoint(ck_path, t.checkpoint);
  const Agreement a = compare_with_trainer(model, r.predictions, ck_path, test_set, 64);
  std::remove(ck_path.c_str());
  EXPECT_EQ(a.images - a.equal, c.disagree);
  EXPECT_GT(a.other, 0);
  EXPECT_EQ(a.equal + a.logit_ties + a.code_ties + a.other, a.images);
  EXPECT_EQ(r.images, test_set.size());
  EXPECT_NEAR(r.top1, c.float_top1, 100.0 * (1.0 - kMinAgreementFull8));
}

// Trained with --int8-full-precision, the float network runs the stem, the shortcuts and the FC
// on the exporter's 8-bit rule (the stem's weights rounded after the 3-channel normalization is
// folded in, the FC's input rounded per image), so the exported model is exact up to float
// rounding: every disagreement with the trainer's own eval is a float tie. Also at 4 bits with
// every layer quantized, where the head's per-image shift rounds the pooled sums (16 pixels x
// code 15 > 127), which the float network now does too.
TEST(Exporter, Int8FullPrecisionTrainingAgreesWithTheFloatEvalUpToTies) {
  omp_set_num_threads(2);
  const nn::Dataset train_set = synthetic(600, 7, 3), test_set = synthetic(300, 8, 3);
  Trained t = train_tiny(false, train_set, test_set, ::testing::TempDir() + "deploy_i8.ckpt",
                         nn::QuantizerKind::kSawb, 2, 3, true);
  EXPECT_TRUE(std::count(t.checkpoint.options.begin(), t.checkpoint.options.end(),
                         std::make_pair(std::string("int8_full_precision"), std::string("1"))));
  const IntModel model = export_int_model(t.checkpoint, t.norm, "int8.ckpt");
  const Comparison c = compare(t, model, test_set, kTieLogitGap);
  std::printf("int8 full precision: float top-1 %.2f%%, %d of %d disagree (%d ties), logit error "
              "%.6f\n",
              c.float_top1, c.disagree, c.images, c.ties, c.logit_error);
  EXPECT_GT(c.float_top1, 30.0);
  EXPECT_EQ(c.ties, c.disagree);
  EXPECT_LE(c.disagree, kMaxTieFraction * c.images);
  EXPECT_LT(c.logit_error, 1e-3);
  // `nce infer --checkpoint` classifies the same way: every disagreement a tie.
  const std::string ck_path = ::testing::TempDir() + "deploy_i8_again.ckpt";
  nn::write_checkpoint(ck_path, t.checkpoint);
  IntEngine engine(model, best_kernel());
  const InferResult r = infer_dataset(engine, test_set, 64, "int8.nceim");
  const Agreement a = compare_with_trainer(model, r.predictions, ck_path, test_set, 64);
  std::remove(ck_path.c_str());
  EXPECT_EQ(a.images, test_set.size());
  EXPECT_EQ(a.equal + a.logit_ties + a.code_ties, a.images);
  EXPECT_EQ(a.other, 0);
  EXPECT_NEAR(a.float_top1, c.float_top1, 1e-9);

  Trained t4 = train_tiny(true, train_set, test_set, ::testing::TempDir() + "deploy_i8q4.ckpt",
                          nn::QuantizerKind::kSawb, 4, 1, true);
  const IntModel m4 = export_int_model(t4.checkpoint, t4.norm, "int8q4.ckpt");
  const Comparison c4 = compare(t4, m4, test_set, kTieLogitGap);
  std::printf("int8 full precision, W4A4 all quantized: %d of %d disagree (%d logit ties), logit "
              "error %.6f\n",
              c4.disagree, c4.images, c4.ties, c4.logit_error);
  // Every disagreement is a tie, in the logits or in an intermediate code (a tiny run's weights
  // depend on the summation order of the kernel level that trained them, so a code tie can
  // happen at one level and not at another).
  const std::string other_path = ::testing::TempDir() + "deploy_i8q4_again.ckpt";
  nn::write_checkpoint(other_path, t4.checkpoint);
  IntEngine e4(m4, best_kernel());
  const InferResult r4 = infer_dataset(e4, test_set, 64, "int8q4.nceim");
  const Agreement a4 = compare_with_trainer(m4, r4.predictions, other_path, test_set, 64);
  EXPECT_EQ(a4.images - a4.equal, c4.disagree);
  EXPECT_EQ(a4.other, 0);
  EXPECT_LE(c4.disagree, kMaxTieFraction * c4.images);
  // Another run's checkpoint (W4A4) against the W2A2 model is refused, naming the file.
  try {
    compare_with_trainer(model, r.predictions, other_path, test_set, 64);
    ADD_FAILURE() << "a W4A4 checkpoint was compared with a W2A2 model";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(other_path), std::string::npos) << e.what();
  }
  std::remove(other_path.c_str());
}

// Export and infer agree on what is supported: 8-bit SAWB/DoReFa weights (effective integers
// 2c + 1 up to +-255, past the engine's signed byte) are refused by the exporter up front, naming
// the checkpoint and the quantizer (they used to export and then fail in nce infer); 8-bit LSQ
// (codes -128..127) exports and runs.
TEST(Exporter, EightBitSawbAndDorefaAreRefusedUpFrontAndLsqRuns) {
  omp_set_num_threads(2);
  const nn::Dataset train_set = synthetic(50, 7);
  for (nn::QuantizerKind q :
       {nn::QuantizerKind::kSawb, nn::QuantizerKind::kDorefa, nn::QuantizerKind::kLsq}) {
    nn::TrainConfig c;
    c.model = "resnet8";
    c.widths = {1, 4, 4, 4, 8, 8, 8, 8};
    c.dataset = "fashion-mnist";
    c.network.weight_bits = c.network.activation_bits = 8;
    c.network.quantizer = q;
    c.epochs = 1;
    c.max_batches = 1;
    c.batch_size = 50;
    c.test_each_epoch = false;
    c.checkpoint_path = ::testing::TempDir() + "deploy_w8a8.ckpt";
    nn::train(c, train_set, train_set);
    const nn::Checkpoint ck = nn::read_checkpoint(c.checkpoint_path);
    std::remove(c.checkpoint_path.c_str());
    const nn::Normalization norm = nn::compute_normalization(train_set);
    if (q == nn::QuantizerKind::kLsq) {
      const IntModel model = export_int_model(ck, norm, "w8a8-lsq.ckpt");
      IntEngine engine(model, best_kernel());
      const InferResult r = infer_dataset(engine, train_set, 16, "w8a8-lsq.nceim");
      EXPECT_EQ(r.images, 50);
      continue;
    }
    const std::string name = std::string("w8a8-") + nn::to_string(q) + ".ckpt";
    try {
      export_int_model(ck, norm, name);
      ADD_FAILURE() << "exported " << name;
    } catch (const std::runtime_error& e) {
      const std::string msg = e.what();
      EXPECT_EQ(msg.rfind(name + ": cannot export", 0), 0u) << msg;
      EXPECT_NE(msg.find(std::string("8-bit ") + nn::to_string(q) + " weights"), std::string::npos)
          << msg;
      EXPECT_EQ(msg.find("invalid integer model"), std::string::npos) << "not up front: " << msg;
    }
  }
}

TEST(Exporter, FullPrecisionCheckpointIsRefusedByName) {
  nn::Checkpoint ck;
  ck.model = "resnet8";
  ck.options = {{"weight_bits", "32"}, {"activation_bits", "32"},    {"quantizer", "sawb"},
                {"bn_eps", "1e-05"},   {"quantize_all_layers", "0"}, {"input", "1x16x16"}};
  nn::Normalization norm{{0.5f}, {0.25f}};
  try {
    export_int_model(ck, norm, "fp32.ckpt");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("fp32.ckpt"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace nce::deploy
