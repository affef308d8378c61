// QONNX export (qonnx_export.h): the graph is checked by onnx.checker and evaluated by the numpy
// reference evaluator tests/deploy/qonnx_reference.py (Quant per the QONNX spec, Conv, Gemm,
// BatchNormalization, ...) on kImages test images of a tiny ResNet-8 trained in the test; its
// logits are compared with the integer engine's (what nce infer runs) on the same images:
//  * quantize_all_layers (every layer but the FC on the b-bit rule; the head's pooled codes are at
//    most 16 x 3 <= 127, so the FC's 8-bit input has a constant scale);
//  * the default network (stem, shortcuts and FC on the 8-bit rule, the last block's ReLU feeding
//    the FC, whose 8-bit input scale the graph computes per image as nce infer shifts it).
// Both must give the same prediction on every image and logits within kLogitTolerance: the graph
// computes what the integer model computes (measured: about 1e-8), up to float rounding.
// Each quantizer's export (SAWB, DoReFa, LSQ; 2, 3, 4, 8 bits) passes onnx.checker, which fails a
// Quant node whose domain is not imported; unsupported cases are refused naming the checkpoint.
// Needs python3 with onnx and numpy (Debian: python3-onnx python3-numpy, installed by
// scripts/install-deps.sh); without them the tests that run Python are skipped, saying why.
#include <gtest/gtest.h>

#include <omp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <ostream>
#include <sstream>

#include "nce/common/output_file.h"
#include "nce/deploy/int_engine.h"
#include "nce/deploy/qonnx_export.h"
#include "nce/nn/checkpoint.h"
#include "nce/nn/trainer.h"
#include "support/errors.h"
#include "synthetic_data.h"

namespace nce::deploy {
namespace {

using nce::testing::what_must_throw;
using test_data::synthetic;

constexpr int kImages = 40;  // test images evaluated by the reference
// max |graph - integer| / (1 + max |integer logit| of the image): float rounding only (the float32
// weights and scales of the file, float64 evaluation; measured about 1e-8).
constexpr double kLogitTolerance = 1e-4;

const char* const kScript = NCE_SOURCE_DIR "/tests/deploy/qonnx_reference.py";

// A python3 that imports onnx and numpy: $NCE_PYTHON, Debian's /usr/bin/python3 (python3-onnx),
// python3 on the PATH; "" if none.
std::string python_with_onnx() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("NCE_PYTHON")) candidates.emplace_back(env);
  candidates.emplace_back("/usr/bin/python3");
  candidates.emplace_back("python3");
  for (const std::string& py : candidates)
    if (std::system((py + " -c 'import onnx, numpy' >/dev/null 2>&1").c_str()) == 0) return py;
  return "";
}

#define REQUIRE_PYTHON_ONNX(py)                                                                  \
  const std::string py = python_with_onnx();                                                     \
  if (py.empty())                                                                                \
  GTEST_SKIP() << "no python3 with onnx and numpy (apt-get install python3-onnx python3-numpy; " \
                  "scripts/install-deps.sh installs them): the QONNX graph is not checked"

// A temporary file of this process: ctest runs the tests of this binary in parallel, and other
// checkouts may run them at the same time.
std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "qonnx_" + std::to_string(getpid()) + "_" + name;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// Runs the reference script; returns its exit status, its output in `log`. `tag` names the
// temporary files (ctest runs the tests of this binary in parallel).
int run_script(const std::string& py, const std::string& args, const std::string& tag,
               std::string& log) {
  const std::string log_path = temp_path(tag + ".log");
  const int rc = std::system((py + " " + kScript + " " + args + " >" + log_path + " 2>&1").c_str());
  log = slurp(log_path);
  std::remove(log_path.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

struct Tiny {
  nn::Checkpoint checkpoint;
  nn::Normalization norm;
};

Tiny train_tiny(const std::string& tag, bool quantize_all, const nn::Dataset& train_set,
                nn::QuantizerKind q, int bits, int epochs, int max_batches,
                std::vector<int> widths = {}) {
  nn::TrainConfig c;
  c.model = "resnet8";
  c.widths = std::move(widths);
  c.dataset = "fashion-mnist";
  c.network.weight_bits = c.network.activation_bits = bits;
  c.network.quantizer = q;
  c.network.quantize_all_layers = quantize_all;
  c.network.pact_init_clip = 4.0f;
  c.epochs = epochs;
  c.max_batches = max_batches;
  c.batch_size = 50;
  c.lr = 0.05;
  c.test_each_epoch = false;
  c.checkpoint_path = temp_path(tag + ".ckpt");
  nn::train(c, train_set, train_set);
  Tiny t;
  t.checkpoint = nn::read_checkpoint(c.checkpoint_path);
  std::remove(c.checkpoint_path.c_str());
  t.norm = nn::compute_normalization(train_set);
  return t;
}

struct Agreement {
  int images = 0, equal = 0;  // equal: the same top-1 class
  int varied = 0;             // images whose integer logits differ from the first image's
  double max_error = 0;       // max |graph - integer| / (1 + max |integer|)
};

// Exports the graph, evaluates it on the first kImages test images with the reference and
// compares with the integer engine.
Agreement compare_with_engine(const std::string& py, const Tiny& t, const nn::Dataset& test_set,
                              const std::string& tag, bool* head_dynamic) {
  IntModel model;
  const QonnxGraph g = export_qonnx(t.checkpoint, t.norm, tag + ".ckpt", &model);
  *head_dynamic = g.head_scale_dynamic;
  const std::string onnx_path = temp_path("compare_" + tag + ".onnx"),
                    img_path = temp_path(tag + ".u8"), out_path = temp_path(tag + ".f64");
  common::write_file_atomic(onnx_path, g.bytes);
  const int n = std::min(kImages, test_set.size());
  const std::size_t image_bytes =
      static_cast<std::size_t>(test_set.channels) * test_set.height * test_set.width;
  common::write_file_atomic(img_path, test_set.pixels.data(), image_bytes * n);
  std::ostringstream args;
  args << "run " << onnx_path << " " << img_path << " " << n << " " << test_set.channels << " "
       << test_set.height << " " << test_set.width << " " << out_path;
  std::string log;
  const int rc = run_script(py, args.str(), tag, log);
  EXPECT_EQ(rc, 0) << log;
  const std::string raw = slurp(out_path);
  for (const std::string& p : {onnx_path, img_path, out_path}) std::remove(p.c_str());
  Agreement a;
  const int classes = model.classes();
  if (rc != 0 || raw.size() != sizeof(double) * n * classes) {
    ADD_FAILURE() << "reference logits: " << raw.size() << " bytes, want "
                  << sizeof(double) * n * classes << "\n"
                  << log;
    return a;
  }
  std::vector<double> ref(static_cast<std::size_t>(n) * classes);
  std::memcpy(ref.data(), raw.data(), raw.size());
  IntEngine engine(model, best_kernel());
  IntLogits il;
  engine.run(test_set.pixels.data(), n, il);
  a.images = n;
  for (int i = 0; i < n; ++i) {
    std::vector<double> iv(static_cast<std::size_t>(classes));
    double mx = 0;
    for (int j = 0; j < classes; ++j) {
      iv[static_cast<std::size_t>(j)] =
          std::ldexp(static_cast<double>(il.values[static_cast<std::size_t>(i) * classes + j]),
                     il.exponent[static_cast<std::size_t>(i)]);
      mx = std::max(mx, std::fabs(iv[static_cast<std::size_t>(j)]));
    }
    const double* rv = ref.data() + static_cast<std::size_t>(i) * classes;
    for (int j = 0; j < classes; ++j)
      a.max_error =
          std::max(a.max_error, std::fabs(rv[j] - iv[static_cast<std::size_t>(j)]) / (1.0 + mx));
    const int ib = argmax(il.values.data() + static_cast<std::size_t>(i) * classes, classes);
    const int rb = static_cast<int>(std::max_element(rv, rv + classes) - rv);
    a.equal += ib == rb;
    a.varied += !std::equal(il.values.begin() + static_cast<std::ptrdiff_t>(i) * classes,
                            il.values.begin() + static_cast<std::ptrdiff_t>(i + 1) * classes,
                            il.values.begin());
    EXPECT_EQ(rb, ib) << tag << " image " << i << ": the graph predicts " << rb
                      << ", the integer engine " << ib;
  }
  return a;
}

// A SAWB W2A2 ResNet-8 (every layer quantized, or the default network) trained 2 epochs on 300
// synthetic images, its graph against the integer engine on kImages others: every prediction
// equal, logits within kLogitTolerance and varied, and the head scale per image or constant.
struct W2A2Case {
  const char* name;  // the ctest name's last part
  const char* tag;   // its files' and messages' name
  bool quantize_all;
  std::uint64_t train_seed, test_seed;
  bool head_dynamic;  // whether the graph's head scale is per image
  const char* why;
};

// What gtest prints for a case (in the test list, so in ctest's names): its name.
void PrintTo(const W2A2Case& c, std::ostream* os) {
  *os << c.name;
}

class QonnxW2A2 : public ::testing::TestWithParam<W2A2Case> {};

TEST_P(QonnxW2A2, GraphMatchesTheIntegerEngine) {
  REQUIRE_PYTHON_ONNX(py);
  omp_set_num_threads(2);
  const W2A2Case& c = GetParam();
  const nn::Dataset train_set = synthetic(300, c.train_seed),
                    test_set = synthetic(kImages, c.test_seed);
  const Tiny t = train_tiny(c.tag, c.quantize_all, train_set, nn::QuantizerKind::kSawb, 2, 2, 0);
  bool head_dynamic = !c.head_dynamic;
  const Agreement a = compare_with_engine(py, t, test_set, c.tag, &head_dynamic);
  std::printf("%s SAWB W2A2: %d of %d predictions equal, max logit difference %.2e\n",
              c.quantize_all ? "quantize_all" : "default", a.equal, a.images, a.max_error);
  EXPECT_EQ(head_dynamic, c.head_dynamic) << c.why;
  EXPECT_EQ(a.images, kImages);
  EXPECT_EQ(a.equal, a.images);
  EXPECT_GT(a.varied, a.images / 2);
  EXPECT_LE(a.max_error, kLogitTolerance);
}

INSTANTIATE_TEST_SUITE_P(
    Qonnx, QonnxW2A2,
    ::testing::Values(W2A2Case{"QuantizeAllLayers", "qall", true, 1, 2, false,
                               "the head's pooled codes fit 8 bits: a constant scale"},
                      W2A2Case{"DefaultNetwork", "default", false, 3, 4, true,
                               "a ReLU output feeds the FC: nce infer's shift is per image"}),
    [](const ::testing::TestParamInfo<W2A2Case>& p) { return std::string(p.param.name); });

// Every quantizer and bit width: the export passes onnx.checker, and the graph (barely trained:
// one batch) still computes what the integer model computes: the DoReFa/SAWB zero point -1/2,
// LSQ's 0, 4-bit codes whose pooled sums need the per-image head scale, 8-bit activations shifted
// to the 8-bit operand of the shortcuts (HALF_UP).
TEST(Qonnx, EachQuantizerExportPassesTheCheckerAndMatches) {
  REQUIRE_PYTHON_ONNX(py);
  omp_set_num_threads(2);
  const nn::Dataset train_set = synthetic(50, 7);
  struct Case {
    nn::QuantizerKind q;
    int bits;
    bool all;
  };
  std::string files;
  std::vector<std::string> paths;
  for (const Case& k :
       {Case{nn::QuantizerKind::kSawb, 2, false}, Case{nn::QuantizerKind::kDorefa, 2, false},
        Case{nn::QuantizerKind::kLsq, 3, false}, Case{nn::QuantizerKind::kDorefa, 4, true},
        Case{nn::QuantizerKind::kLsq, 8, false}}) {
    const std::string tag =
        std::string(nn::to_string(k.q)) + "-w" + std::to_string(k.bits) + (k.all ? "-all" : "");
    const Tiny t = train_tiny(tag, k.all, train_set, k.q, k.bits, 1, 1, {1, 4, 4, 4, 8, 8, 8, 8});
    const QonnxGraph g = export_qonnx(t.checkpoint, t.norm, tag + ".ckpt");
    EXPECT_GT(g.quant_nodes, 10) << tag;
    paths.push_back(temp_path(tag + ".onnx"));
    common::write_file_atomic(paths.back(), g.bytes);
    files += " " + paths.back();
    bool head_dynamic = false;
    const Agreement a = compare_with_engine(py, t, train_set, tag, &head_dynamic);
    std::printf("%s: %d of %d predictions equal, max logit difference %.2e\n", tag.c_str(), a.equal,
                a.images, a.max_error);
    EXPECT_EQ(a.equal, a.images) << tag;
    EXPECT_LE(a.max_error, kLogitTolerance) << tag;
    EXPECT_GT(a.varied, a.images / 2) << tag << ": the logits do not depend on the image";
  }
  std::string log;
  EXPECT_EQ(run_script(py, "check" + files, "check", log), 0) << log;
  std::printf("%s", log.c_str());
  for (const std::string& p : paths) std::remove(p.c_str());
}

// The checker is not a rubber stamp: a Quant node outside the declared domain fails it.
TEST(Qonnx, CheckerRefusesAQuantWithoutItsDomain) {
  REQUIRE_PYTHON_ONNX(py);
  const nn::Dataset train_set = synthetic(50, 8);
  const Tiny t = train_tiny("domain", false, train_set, nn::QuantizerKind::kSawb, 2, 1, 1,
                            {1, 4, 4, 4, 8, 8, 8, 8});
  QonnxGraph g = export_qonnx(t.checkpoint, t.norm, "domain.ckpt");
  // Rename the declared domain (same length) so that the Quant nodes' domain has no opset import.
  const std::string from = "qonnx.custom_op.general", to = "qonnx.custom_op.xxxxxxx";
  std::string bytes = g.bytes;
  // Only the opset_import's occurrence: the one followed by its version field (tag 0x10, value 1).
  std::size_t pos = 0, replaced = 0;
  while ((pos = bytes.find(from, pos)) != std::string::npos) {
    if (pos + from.size() + 1 < bytes.size() && bytes[pos + from.size()] == 0x10 &&
        bytes[pos + from.size() + 1] == 0x01) {
      bytes.replace(pos, from.size(), to);
      ++replaced;
    }
    pos += from.size();
  }
  ASSERT_EQ(replaced, 1u);
  const std::string path = temp_path("bad_domain.onnx");
  common::write_file_atomic(path, bytes);
  std::string log;
  EXPECT_NE(run_script(py, "check " + path, "bad_domain", log), 0) << log;
  std::remove(path.c_str());
}

TEST(Qonnx, UnsupportedCheckpointsAreRefusedNamingTheFile) {
  nn::Checkpoint ck;
  ck.model = "resnet8";
  ck.options = {{"weight_bits", "32"}, {"activation_bits", "32"},    {"quantizer", "sawb"},
                {"bn_eps", "1e-05"},   {"quantize_all_layers", "0"}, {"input", "1x16x16"}};
  const nn::Normalization norm{{0.5f}, {0.25f}};
  std::string msg = what_must_throw<std::runtime_error>(
      "a 32-bit checkpoint was exported", [&] { export_qonnx(ck, norm, "fp32.ckpt"); });
  EXPECT_EQ(msg.rfind("fp32.ckpt: cannot export as QONNX", 0), 0u) << msg;
  EXPECT_NE(msg.find("32"), std::string::npos) << msg;
  // What only the graph cannot express: an average pool on a conv's output codes.
  const nn::Dataset train_set = synthetic(50, 9);
  const Tiny t = train_tiny("pooled", false, train_set, nn::QuantizerKind::kSawb, 2, 1, 1,
                            {1, 4, 4, 4, 8, 8, 8, 8});
  IntModel model;
  export_qonnx(t.checkpoint, t.norm, "ok.ckpt", &model);
  for (Op& op : model.ops)
    if (op.kind == OpKind::kConv && op.conv.name == "s1b1.conv_a")
      op.conv.out_pool = PoolSpec{PoolKind::kSum, 2, 2, 0};
  msg = what_must_throw<std::runtime_error>("an average pool on a conv's output was exported", [&] {
    export_qonnx(t.checkpoint, t.norm, model, "pooled.ckpt");
  });
  EXPECT_EQ(msg.rfind("pooled.ckpt: cannot export as QONNX", 0), 0u) << msg;
  EXPECT_NE(msg.find("s1b1.conv_a"), std::string::npos) << msg;
}

}  // namespace
}  // namespace nce::deploy
