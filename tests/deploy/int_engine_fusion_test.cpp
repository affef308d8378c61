// The integer engine's in-place paths (IntEngineOptions) against the same engine without them:
//  * fused residual adds: the add runs in the epilogue of the conv that produces one of its
//    inputs (AVX-512: as thresholds on the accumulator for 2-bit codes);
//  * padded writes: a conv writes its codes straight into the zero-padded operand of the 3x3 conv
//    that reads them.
// Every code value of a traced image (every kernel, so the portable epilogues against the AVX-512
// ones) and every logit must be equal, on networks whose blocks have identity shortcuts (the add's
// other input: the block's input codes) and 1x1 stride-2 shortcut convs (its other input: the
// main path's int32 output), with 8-bit full-precision shortcuts or quantized ones, at 2 to 4
// bits, PACT adds and the last block's ReLU add.
#include <gtest/gtest.h>

#include <omp.h>

#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "nce/deploy/exporter.h"
#include "nce/deploy/int_engine.h"
#include "nce/models/network.h"
#include "nce/nn/checkpoint.h"
#include "nce/nn/network.h"

namespace nce::deploy {
namespace {

struct Config {
  std::string model;
  int bits = 2;
  bool quantize_all = false;
};

// A freshly initialized network with its batch-norm statistics, affine parameters and PACT clips
// drawn at random (so that every layer's codes spread over their range), exported.
IntModel random_model(const Config& cfg) {
  const models::InputShape input = models::cifar_input();
  nn::NetworkOptions options;
  options.weight_bits = options.activation_bits = cfg.bits;
  options.quantize_all_layers = cfg.quantize_all;
  const models::Network description = models::build(cfg.model, {}, input);
  nn::Network net(description, options, 3);
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<float> u(0.5f, 1.5f);
  std::normal_distribution<float> normal(0.0f, 0.3f);
  nn::Checkpoint ck;
  ck.model = cfg.model;
  ck.widths = description.widths;
  ck.options = {{"weight_bits", std::to_string(cfg.bits)},
                {"activation_bits", std::to_string(cfg.bits)},
                {"quantizer", nn::to_string(options.quantizer)},
                {"bn_eps", std::to_string(options.bn_eps)},
                {"quantize_all_layers", cfg.quantize_all ? "1" : "0"},
                {"dataset", "cifar10"},
                {"input", "3x32x32"}};
  auto ends_with = [](const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
  };
  for (const nn::NamedTensor& t : net.state()) {
    std::vector<float> v(t.tensor->data(), t.tensor->data() + t.tensor->size());
    for (float& x : v) {
      if (ends_with(t.name, "running_var") || ends_with(t.name, "bn.gamma")) x = u(rng);
      if (ends_with(t.name, "running_mean") || ends_with(t.name, "bn.beta")) x = normal(rng);
      if (ends_with(t.name, "act_clip")) x = 2.0f * u(rng);
    }
    ck.network.push_back(nn::StateBuffer{t.name, v});
  }
  const nn::Normalization norm{{0.45f, 0.45f, 0.45f}, {0.25f, 0.25f, 0.25f}};
  return export_int_model(ck, norm, "fusion test (" + cfg.model + ")");
}

void PrintTo(const Config& c, std::ostream* os) {
  *os << c.model << " W" << c.bits << "A" << c.bits << (c.quantize_all ? ", all layers" : "");
}

class InPlacePaths : public ::testing::TestWithParam<Config> {};

TEST_P(InPlacePaths, EqualThePlainEngineValueByValue) {
  const IntModel model = random_model(GetParam());
  int adds = 0;
  for (const Op& op : model.ops) adds += op.kind == OpKind::kAdd;
  ASSERT_GT(adds, 0);
  // conv_a -> conv_b in each block: conv_a's codes feed conv_b alone (the stem's feed the first
  // block's add too).
  auto reads = [&](int v) {
    int n = 0;
    for (const Op& op : model.ops)
      n += (op.kind == OpKind::kConv && op.conv.input == v) +
           (op.kind == OpKind::kAdd && (op.add.a == v || op.add.b == v));
    return n;
  };
  int convs_into_3x3 = 0;
  for (std::size_t i = 0; i + 1 < model.ops.size(); ++i)
    convs_into_3x3 += model.ops[i].kind == OpKind::kConv &&
                      model.ops[i + 1].kind == OpKind::kConv &&
                      model.ops[i + 1].conv.input == model.ops[i].conv.output &&
                      model.ops[i + 1].conv.k == 3 && reads(model.ops[i].conv.output) == 1;
  ASSERT_GT(convs_into_3x3, 0);
  IntEngine fused(model, best_kernel()),
      plain(model, best_kernel(), IntEngineOptions{/*fuse_adds=*/false, /*write_padded=*/false});
  EXPECT_EQ(plain.fused_adds(), 0);
  EXPECT_EQ(plain.padded_writes(), 0);
  EXPECT_EQ(fused.fused_adds(), adds) << "every add of these networks follows its conv";
  EXPECT_EQ(fused.padded_writes(), convs_into_3x3);

  constexpr int kImages = 5;
  const std::size_t image_bytes = 3 * 32 * 32;
  std::vector<std::uint8_t> images(image_bytes * kImages);
  std::mt19937_64 rng(5);
  for (auto& p : images) p = static_cast<std::uint8_t>(rng() % 256);

  for (KernelKind kind : {KernelKind::kPortable, KernelKind::kAvx2, KernelKind::kVnni}) {
    if (!kernel_supported(kind)) continue;  // (VNNI: the fused add's AVX-512 form)
    IntEngine fused_k(model, kind);
    for (int i = 0; i < 2; ++i) {
      std::vector<std::vector<std::uint8_t>> a, b;
      fused_k.trace(images.data() + image_bytes * i, a);
      plain.trace(images.data() + image_bytes * i, b);
      ASSERT_EQ(a.size(), b.size());
      int varied = 0;  // code values of this image that hold more than one code
      for (std::size_t v = 0; v < a.size(); ++v) {
        EXPECT_EQ(a[v], b[v]) << "value " << v << ", image " << i << ", " << to_string(kind);
        if (!a[v].empty() && a[v] != std::vector<std::uint8_t>(a[v].size(), a[v][0])) ++varied;
      }
      EXPECT_GT(varied, 2) << "image " << i;
    }
  }
  for (int threads : {2, 1}) {
    omp_set_num_threads(threads);
    for (int n : {kImages, 1}) {  // by image, and one image on a team of threads
      IntLogits la, lb;
      fused.run(images.data(), n, la);
      plain.run(images.data(), n, lb);
      EXPECT_EQ(la.values, lb.values) << n << " images, " << threads << " threads";
      EXPECT_EQ(la.exponent, lb.exponent);
    }
  }
  omp_set_num_threads(2);
}

INSTANTIATE_TEST_SUITE_P(
    Networks, InPlacePaths,
    ::testing::Values(Config{"resnet8", 2, false}, Config{"resnet8", 2, true},
                      Config{"resnet8", 4, false}, Config{"resnet8", 3, true},
                      Config{"resnet20", 2, false}, Config{"resnet20", 4, true}),
    [](const ::testing::TestParamInfo<Config>& p) {
      return p.param.model + "_w" + std::to_string(p.param.bits) +
             (p.param.quantize_all ? "_all" : "_default");
    });

}  // namespace
}  // namespace nce::deploy
