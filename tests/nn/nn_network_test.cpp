// The trainable network built from models:: descriptions: whole-network gradient checks in float,
// quantization wiring, state round trip, and a tiny network that overfits a tiny batch.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <map>
#include <set>

#include "nce/models/network.h"
#include "nce/nn/loss.h"
#include "nce/nn/network.h"
#include "nn_test_util.h"

namespace nce::nn {
namespace {

using testing::expect_gradient;
using testing::fill_uniform;

// Whole networks in float32 through BN and ReLU: a small step (the loss is ~2.3, so float
// resolution limits the numeric derivative to ~1e-3) and a few kink crossings allowed.
constexpr testing::FdTolerance kNetworkTol{3e-4f, 3e-3, 5e-2, 0.1};
constexpr std::size_t kChecksPerTensor = 10;

std::vector<int> random_labels(int n, int classes, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<int> labels(n);
  for (int& l : labels) l = static_cast<int>(rng() % classes);
  return labels;
}

// Checks every parameter tensor of `net` (a sample of its entries) and the CE loss.
void check_network_gradients(Network& net, const Tensor& images, const std::vector<int>& labels,
                             std::size_t checks_per_tensor = kChecksPerTensor) {
  const Tensor& logits = net.forward(images, Mode::kTrain);
  Tensor grad;
  softmax_cross_entropy(logits, labels.data(), &grad);
  net.zero_grad();
  net.backward(grad);
  auto loss = [&] {
    const Tensor& z = net.forward(images, Mode::kTrain);
    return static_cast<double>(softmax_cross_entropy(z, labels.data(), nullptr));
  };
  for (Parameter& p : net.parameters()) {
    Tensor analytic = *p.grad;
    expect_gradient(p.name, *p.value, analytic, loss, kNetworkTol, checks_per_tensor);
  }
}

// A float network of `desc` (initialized from init_seed) on a batch of 4 uniform images of
// `input` (image_seed) with random labels (label_seed): check_network_gradients.
void check_batch_gradients(const models::Network& desc, const models::InputShape& input,
                           unsigned init_seed, unsigned image_seed, unsigned label_seed,
                           std::size_t checks_per_tensor = kChecksPerTensor) {
  Network net(desc, NetworkOptions{}, init_seed);
  Tensor images(4, input.channels, input.height, input.width);
  std::mt19937 rng(image_seed);
  fill_uniform(images, rng);
  check_network_gradients(net, images, random_labels(4, input.num_classes, label_seed),
                          checks_per_tensor);
}

TEST(NnNetwork, ResNet8GradientCheckFloat) {
  // Mixed widths: s1b1 gets a 1x1 conv + BN shortcut (4 -> 6 channels), s2b1/s3b1 the TAS
  // avg-pool + 1x1 conv shortcut.
  const models::InputShape input{3, 8, 8, 10};
  const auto desc = models::build("resnet8", {3, 4, 5, 6, 6, 8, 8, 7}, input);
  ASSERT_EQ(desc.blocks.size(), 3u);
  ASSERT_GE(desc.blocks[0].shortcut, 0);
  check_batch_gradients(desc, input, 1, 2, 3);
}

TEST(NnNetwork, ResNet8IdentityShortcutGradientCheck) {
  const models::InputShape input{3, 8, 8, 10};
  const auto desc = models::build("resnet8", {3, 4, 4, 4, 6, 6, 8, 8}, input);
  ASSERT_LT(desc.blocks[0].shortcut, 0);
  check_batch_gradients(desc, input, 4, 5, 6);
}

TEST(NnNetwork, ImageNetResNet18StemMaxPoolGradientCheck) {
  // 7x7/s2 stem, 3x3/s2 max pool, 1x1 stride-2 conv + BN shortcuts; tiny widths. A 64x64 input
  // keeps the last stage at 2x2 (BN over 1x1 maps of a tiny batch has dead channels whose BN
  // output is exactly 0, the ReLU kink, where a central difference reads half a slope).
  std::vector<int> widths = models::default_widths("resnet18", 3);
  for (std::size_t i = 1; i < widths.size(); ++i) widths[i] = 2 + static_cast<int>(i % 3);
  const models::InputShape input{3, 64, 64, 5};
  check_batch_gradients(models::build("resnet18", widths, input), input, 7, 8, 9, 4);
}

TEST(NnNetwork, Vgg16AndResNet50RunForwardBackward) {
  for (const std::string model : {"vgg16", "resnet50"}) {
    std::vector<int> widths = models::default_widths(model, 3);
    for (std::size_t i = 1; i < widths.size(); ++i) widths[i] = 4;
    const auto desc = models::build(model, widths, models::InputShape{3, 32, 32, 10});
    NetworkOptions opt;
    opt.weight_bits = opt.activation_bits = 2;
    Network net(desc, opt, 1);
    Tensor images(2, 3, 32, 32);
    std::mt19937 rng(1);
    fill_uniform(images, rng);
    const Tensor& z = net.forward(images, Mode::kTrain);
    ASSERT_EQ(z.n(), 2);
    ASSERT_EQ(z.c(), 10);
    Tensor g;
    const std::vector<int> labels{1, 2};
    const float l = softmax_cross_entropy(z, labels.data(), &g);
    EXPECT_TRUE(std::isfinite(l)) << model;
    net.zero_grad();
    net.backward(g);
    double norm = 0;
    for (Parameter& p : net.parameters())
      for (std::size_t i = 0; i < p.grad->size(); ++i) norm += (*p.grad)[i] * (*p.grad)[i];
    EXPECT_TRUE(std::isfinite(norm) && norm > 0) << model;
  }
}

TEST(NnNetwork, QuantizationWiringOfResNet20) {
  const auto desc = models::build_canonical("resnet20");
  NetworkOptions opt;
  opt.weight_bits = opt.activation_bits = 2;
  Network net(desc, opt, 1);
  std::map<std::string, Parameter> by_name;
  for (Parameter& p : net.parameters()) by_name[p.name] = p;
  EXPECT_EQ(net.num_parameters(), desc.params() + 18);  // + PACT clips
  // PACT before every quantized conv: stem output, each conv_a output, each block output but the
  // last (which feeds the full-precision FC through the global pool).
  int clips = 0;
  for (auto& [name, p] : by_name) {
    if (name.find("clip") == std::string::npos) continue;
    ++clips;
    EXPECT_FALSE(p.weight_decay) << name;
    EXPECT_FLOAT_EQ(p.clip_l2, 0.001f) << name;
    EXPECT_FLOAT_EQ((*p.value)[0], 10.0f) << name;
  }
  EXPECT_EQ(clips, 18);
  EXPECT_TRUE(by_name.count("stem.act_clip"));
  EXPECT_TRUE(by_name.count("s1b1.conv_a.act_clip"));
  EXPECT_TRUE(by_name.count("s3b2.out_clip"));
  EXPECT_FALSE(by_name.count("s3b3.out_clip"));
  EXPECT_FALSE(by_name.at("stem.bn.gamma").weight_decay);
  EXPECT_TRUE(by_name.at("fc.weight").weight_decay);
  // W32A32 has no clips.
  Network fp(desc, NetworkOptions{}, 1);
  EXPECT_EQ(fp.num_parameters(), desc.params());
  // LSQ adds one step per quantized conv (18 in ResNet-20).
  opt.quantizer = QuantizerKind::kLsq;
  Network lsq(desc, opt, 1);
  EXPECT_EQ(lsq.num_parameters(), desc.params() + 18 + 18);
}

TEST(NnNetwork, QuantizedForwardUsesQuantizedWeightsAndActivations) {
  // Same seed, same init: W2A2 output differs from W32A32; quantize_all_layers differs again.
  const auto desc =
      models::build("resnet8", {3, 8, 8, 8, 8, 8, 8, 8}, models::InputShape{3, 8, 8, 10});
  Tensor images(2, 3, 8, 8);
  std::mt19937 rng(3);
  fill_uniform(images, rng);
  NetworkOptions q;
  q.weight_bits = q.activation_bits = 2;
  q.pact_init_clip = 1.0f;
  NetworkOptions qall = q;
  qall.quantize_all_layers = true;
  Network a(desc, NetworkOptions{}, 5), b(desc, q, 5), c(desc, qall, 5);
  const Tensor za = a.forward(images, Mode::kTrain);
  const Tensor zb = b.forward(images, Mode::kTrain);
  const Tensor zc = c.forward(images, Mode::kTrain);
  double dab = 0, dbc = 0;
  for (std::size_t i = 0; i < za.size(); ++i) {
    dab += std::fabs(za[i] - zb[i]);
    dbc += std::fabs(zb[i] - zc[i]);
  }
  EXPECT_GT(dab, 1e-3);
  EXPECT_GT(dbc, 1e-3);
  // The clip gradient flows in W2A2.
  Tensor g;
  const std::vector<int> labels{3, 7};
  softmax_cross_entropy(zb, labels.data(), &g);
  b.zero_grad();
  b.backward(g);
  double clip_grad = 0;
  for (Parameter& p : b.parameters())
    if (p.name.find("clip") != std::string::npos) clip_grad += std::fabs((*p.grad)[0]);
  EXPECT_GT(clip_grad, 0.0);
}

TEST(NnNetwork, StateRoundTripReproducesOutputs) {
  const auto desc =
      models::build("resnet8", {3, 4, 5, 6, 6, 8, 8, 7}, models::InputShape{3, 8, 8, 10});
  NetworkOptions opt;
  opt.weight_bits = opt.activation_bits = 4;
  Network a(desc, opt, 1), b(desc, opt, 2);
  Tensor images(3, 3, 8, 8);
  std::mt19937 rng(4);
  fill_uniform(images, rng);
  a.forward(images, Mode::kTrain);  // moves the running statistics away from their init
  auto sa = a.state(), sb = b.state();
  ASSERT_EQ(sa.size(), sb.size());
  std::set<std::string> names;
  bool has_running = false;
  for (std::size_t i = 0; i < sa.size(); ++i) {
    ASSERT_EQ(sa[i].name, sb[i].name);
    EXPECT_TRUE(names.insert(sa[i].name).second) << "duplicate " << sa[i].name;
    has_running |= sa[i].name.find("running_var") != std::string::npos;
    ASSERT_TRUE(sa[i].tensor->same_shape(*sb[i].tensor));
    std::copy(sa[i].tensor->data(), sa[i].tensor->data() + sa[i].tensor->size(),
              sb[i].tensor->data());
  }
  EXPECT_TRUE(has_running);
  const Tensor za = a.forward(images, Mode::kEval);
  const Tensor zb = b.forward(images, Mode::kEval);
  for (std::size_t i = 0; i < za.size(); ++i) ASSERT_EQ(za[i], zb[i]);
}

TEST(NnNetwork, GradientsDoNotDependOnThreadCount) {
  // Large enough for the parallel paths (convs over image chunks, BN over channels): one thread
  // and two threads give bit-identical gradients (resume and reproducibility rely on it).
  const auto desc =
      models::build("resnet8", {3, 16, 16, 16, 16, 16, 16, 16}, models::InputShape{3, 16, 16, 10});
  NetworkOptions opt;
  opt.weight_bits = opt.activation_bits = 2;
  Tensor images(24, 3, 16, 16);
  std::mt19937 rng(21);
  fill_uniform(images, rng);
  const auto labels = random_labels(24, 10, 22);
  std::vector<std::vector<float>> grads[2];
  const int saved = omp_get_max_threads();
  for (int run = 0; run < 2; ++run) {
    omp_set_num_threads(run + 1);
    Network net(desc, opt, 23);
    Tensor g;
    softmax_cross_entropy(net.forward(images, Mode::kTrain), labels.data(), &g);
    net.zero_grad();
    net.backward(g);
    for (Parameter& p : net.parameters())
      grads[run].emplace_back(p.grad->data(), p.grad->data() + p.grad->size());
  }
  omp_set_num_threads(saved);
  ASSERT_EQ(grads[0].size(), grads[1].size());
  for (std::size_t i = 0; i < grads[0].size(); ++i) EXPECT_EQ(grads[0][i], grads[1][i]) << i;
}

TEST(NnNetwork, ABatchOfAnotherSizeGetsTheGradientsOfAFreshNetwork) {
  // Training ends each epoch on a partial batch (CIFAR-10: 78 x 128 + 16) and evaluates with
  // another batch size: nothing cached for one batch size (panels, offset tables, packed weights,
  // BN sums) may leak into a step at another. ResNet-20 at 32x32 takes the real conv kernels.
  const auto desc = models::build("resnet20", models::default_widths("resnet20", 3),
                                  models::InputShape{3, 32, 32, 10});
  for (const int bits : {32, 2}) {
    NetworkOptions opt;
    opt.weight_bits = opt.activation_bits = bits;
    std::mt19937 rng(31);
    Tensor big(20, 3, 32, 32), small(3, 3, 32, 32);
    fill_uniform(big, rng);
    fill_uniform(small, rng);
    const auto big_labels = random_labels(20, 10, 32), small_labels = random_labels(3, 10, 33);
    auto step = [](Network& net, const Tensor& x, const std::vector<int>& y) {
      Tensor g;
      softmax_cross_entropy(net.forward(x, Mode::kTrain), y.data(), &g);
      net.zero_grad();
      net.backward(g);
      std::vector<std::vector<float>> grads;
      for (Parameter& p : net.parameters())
        grads.emplace_back(p.grad->data(), p.grad->data() + p.grad->size());
      return grads;
    };
    Network used(desc, opt, 34), fresh(desc, opt, 34);
    step(used, big, big_labels);
    used.forward(small, Mode::kEval);
    const auto after_big = step(used, small, small_labels);
    const auto alone = step(fresh, small, small_labels);
    ASSERT_EQ(after_big.size(), alone.size());
    for (std::size_t i = 0; i < alone.size(); ++i)
      EXPECT_EQ(after_big[i], alone[i]) << "bits " << bits << ", parameter " << i;
    // And back to the larger batch.
    Network fresh_big(desc, opt, 34);
    EXPECT_EQ(step(used, big, big_labels), step(fresh_big, big, big_labels)) << "bits " << bits;
  }
}

TEST(NnNetwork, RejectsBadInput) {
  const auto desc = models::build("resnet8", {}, models::InputShape{3, 8, 8, 10});
  NetworkOptions bad;
  bad.weight_bits = 5;
  EXPECT_THROW(Network(desc, bad, 1), std::invalid_argument);
  Network net(desc, NetworkOptions{}, 1);
  Tensor wrong(2, 1, 8, 8);
  EXPECT_THROW(net.forward(wrong, Mode::kTrain), std::invalid_argument);
  Tensor g(2, 10);
  EXPECT_THROW(net.backward(g), std::logic_error);  // no train forward yet
}

// Plain SGD with momentum, enough for the overfitting tests.
float train_steps(Network& net, const Tensor& images, const std::vector<int>& labels, int steps,
                  float lr, float* first_loss, int* correct) {
  std::vector<Tensor> velocity;
  auto params = net.parameters();
  for (Parameter& p : params) {
    velocity.emplace_back();
    velocity.back().resize_like(*p.value);
    velocity.back().set_zero();
  }
  float loss = 0.0f;
  Tensor g;
  for (int s = 0; s < steps; ++s) {
    const Tensor& z = net.forward(images, Mode::kTrain);
    loss = softmax_cross_entropy(z, labels.data(), &g);
    if (s == 0) *first_loss = loss;
    net.zero_grad();
    net.backward(g);
    for (std::size_t i = 0; i < params.size(); ++i) {
      Tensor& v = velocity[i];
      Tensor& w = *params[i].value;
      const Tensor& d = *params[i].grad;
      for (std::size_t j = 0; j < w.size(); ++j) {
        v[j] = 0.9f * v[j] + d[j] + params[i].clip_l2 * w[j];
        w[j] -= lr * v[j];
      }
    }
  }
  const Tensor& z = net.forward(images, Mode::kTrain);
  *correct = 0;
  for (int i = 0; i < z.n(); ++i) {
    int best = 0;
    for (int j = 1; j < z.c(); ++j)
      if (z.at(i, j, 0, 0) > z.at(i, best, 0, 0)) best = j;
    *correct += best == labels[i];
  }
  return loss;
}

// A ResNet-8 of widths 3..16 with `options` trained `steps` steps (lr 0.05) on one batch of 16
// random 8x8 images and labels: train_steps's last loss; *first and *correct as there.
float train_tiny_resnet(const NetworkOptions& options, int steps, float* first, int* correct) {
  const auto desc =
      models::build("resnet8", {3, 8, 8, 8, 16, 16, 16, 16}, models::InputShape{3, 8, 8, 10});
  Network net(desc, options, 11);
  Tensor images(16, 3, 8, 8);
  std::mt19937 rng(12);
  fill_uniform(images, rng);
  const auto labels = random_labels(16, 10, 13);
  return train_steps(net, images, labels, steps, 0.05f, first, correct);
}

TEST(NnNetwork, TinyResNetOverfitsTinyBatch) {
  float first = 0;
  int correct = 0;
  const float last = train_tiny_resnet(NetworkOptions{}, 60, &first, &correct);
  EXPECT_LT(last, 0.1f * first) << "first " << first << " last " << last;
  EXPECT_EQ(correct, 16);
}

// W2A2 with each weight quantizer: the straight-through gradients still train.
class NnQuantizedTraining : public ::testing::TestWithParam<QuantizerKind> {};

TEST_P(NnQuantizedTraining, TinyW2A2ResNetLossDecreases) {
  NetworkOptions opt;
  opt.weight_bits = opt.activation_bits = 2;
  opt.pact_init_clip = 2.0f;
  opt.quantizer = GetParam();
  float first = 0;
  int correct = 0;
  const float last = train_tiny_resnet(opt, 80, &first, &correct);
  EXPECT_LT(last, 0.5f * first) << "first " << first << " last " << last;
  EXPECT_GE(correct, 12);
}

INSTANTIATE_TEST_SUITE_P(Quantizers, NnQuantizedTraining,
                         ::testing::Values(QuantizerKind::kSawb, QuantizerKind::kDorefa,
                                           QuantizerKind::kLsq),
                         [](const ::testing::TestParamInfo<QuantizerKind>& p) {
                           return std::string(to_string(p.param));
                         });

}  // namespace
}  // namespace nce::nn
