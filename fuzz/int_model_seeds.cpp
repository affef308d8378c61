// Writes int_model_fuzz's seed corpus with the real trainer and exporter: a ResNet-8 with widths
// [1,4,4,4,8,8,8,8] on 8x8 synthetic images, trained for one short epoch and exported
// (deploy/exporter.h) at SAWB W2A2 (default network: 8-bit stem, shortcut and FC), SAWB W2A2 with
// every layer but the FC quantized, DoReFa W4A4 and LSQ W3A3; each as a payload (flag byte 1: the
// target adds the header) and as a whole file (flag byte 0), each a few KB.
// Usage: int_model_fuzz_seeds DIR
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "fuzz_files.h"
#include "nce/deploy/exporter.h"
#include "nce/deploy/int_model.h"
#include "nce/nn/checkpoint.h"
#include "nce/nn/dataset.h"
#include "nce/nn/trainer.h"

namespace {

using namespace nce;

// 10 classes: a bright 2x2 square at a class-specific place on noise.
nn::Dataset synthetic(int n, std::uint64_t seed) {
  nn::Dataset d;
  d.source = "synthetic";
  d.channels = 1;
  d.height = d.width = 8;
  d.num_classes = 10;
  std::mt19937_64 rng(seed);
  for (int i = 0; i < n; ++i) {
    const int label = i % 10;
    d.labels.push_back(static_cast<std::uint8_t>(label));
    const int y0 = (label / 5) * 4 + 1, x0 = (label % 5) + 1;
    for (int y = 0; y < 8; ++y)
      for (int x = 0; x < 8; ++x) {
        int v = static_cast<int>(rng() % 90);
        if (y >= y0 && y < y0 + 2 && x >= x0 && x < x0 + 2) v += 120 + static_cast<int>(rng() % 40);
        d.pixels.push_back(static_cast<std::uint8_t>(v));
      }
  }
  return d;
}

void write_seeds(const std::string& dir, const std::string& name, const deploy::IntModel& m) {
  const std::vector<char> file = deploy::serialize(m);
  fuzz::write_seed_pair(dir, name, file);
  std::cout << name << ": " << file.size() << " bytes\n";
}

void seed(const std::string& dir, const std::string& name, nn::QuantizerKind q, int bits,
          bool quantize_all, const nn::Dataset& train_set, const nn::Dataset& test_set) {
  nn::TrainConfig c;
  c.model = "resnet8";
  c.widths = {1, 4, 4, 4, 8, 8, 8, 8};
  c.dataset = "synthetic";
  c.network.weight_bits = c.network.activation_bits = bits;
  c.network.quantizer = q;
  c.network.quantize_all_layers = quantize_all;
  c.network.pact_init_clip = 4.0f;
  c.epochs = 1;
  c.batch_size = 50;
  c.lr = 0.05;
  c.test_each_epoch = false;
  c.checkpoint_path = dir + "/" + name + ".ckpt";
  nn::train(c, train_set, test_set);
  const nn::Checkpoint ck = nn::read_checkpoint(c.checkpoint_path);
  std::remove(c.checkpoint_path.c_str());
  write_seeds(dir, name,
              deploy::export_int_model(ck, nn::compute_normalization(train_set), name + ".ckpt"));
}

}  // namespace

int main(int argc, char** argv) {
  const char* dir = fuzz::seed_dir_argument(argc, argv, "int_model_fuzz_seeds");
  if (dir == nullptr) return 2;
  const nn::Dataset train_set = synthetic(200, 1), test_set = synthetic(50, 2);
  seed(dir, "sawb-w2a2", nn::QuantizerKind::kSawb, 2, false, train_set, test_set);
  seed(dir, "sawb-w2a2-all", nn::QuantizerKind::kSawb, 2, true, train_set, test_set);
  seed(dir, "dorefa-w4a4", nn::QuantizerKind::kDorefa, 4, false, train_set, test_set);
  seed(dir, "lsq-w3a3-all", nn::QuantizerKind::kLsq, 3, true, train_set, test_set);
  return 0;
}
