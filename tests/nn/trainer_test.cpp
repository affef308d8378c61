#include "nce/nn/trainer.h"

#include <gtest/gtest.h>

#include <unistd.h>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <stdexcept>

#include "nce/nn/checkpoint.h"

namespace nce::nn {
namespace {

namespace fs = std::filesystem;

const std::string kSampleDir = std::string(NCE_TEST_DATA_DIR) + "/nn/fashion-mnist-sample";

// 100 real Fashion-MNIST images (10 per class).
const Dataset& sample() {
  static const Dataset data = read_idx(kSampleDir + "/train-images-idx3-ubyte.gz",
                                       kSampleDir + "/train-labels-idx1-ubyte.gz");
  return data;
}

std::string temp_path(const std::string& name) {
  return (fs::temp_directory_path() /
          ("nce_trainer_test_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

// A small ResNet-8 for 1x28x28 inputs, quantized W2A2 (exercises SAWB and PACT state).
TrainConfig tiny_config() {
  TrainConfig c;
  c.model = "resnet8";
  c.widths = {1, 4, 4, 4, 8, 8, 8, 8};
  c.dataset = "fashion-mnist-sample";
  c.network.weight_bits = 2;
  c.network.activation_bits = 2;
  c.epochs = 3;
  c.batch_size = 32;
  c.lr = 0.05;
  c.warmup_epochs = 1;
  c.augment = true;  // exercises the generator through crops and flips
  c.seed = 5;
  c.eval_batch_size = 50;
  return c;
}

TEST(TrainerTest, ResumedRunEqualsUninterruptedRun) {
  const std::string full_path = temp_path("full.ckpt"), split_path = temp_path("split.ckpt");
  TrainConfig full = tiny_config();
  full.checkpoint_path = full_path;
  const TrainResult uninterrupted = train(full, sample(), sample());
  ASSERT_EQ(uninterrupted.history.size(), 3u);

  TrainConfig first = tiny_config();
  first.checkpoint_path = split_path;
  first.stop_after_epoch = 1;
  const TrainResult part = train(first, sample(), sample());
  EXPECT_TRUE(part.stopped_early);
  ASSERT_EQ(part.history.size(), 1u);
  TrainConfig second = tiny_config();
  second.checkpoint_path = split_path;
  second.resume = true;
  const TrainResult resumed = train(second, sample(), sample());
  EXPECT_EQ(resumed.resumed_from, 1);
  ASSERT_EQ(resumed.history.size(), 3u);

  for (int e = 0; e < 3; ++e) {
    EXPECT_EQ(resumed.history[e].loss, uninterrupted.history[e].loss) << "epoch " << e + 1;
    EXPECT_EQ(resumed.history[e].top1, uninterrupted.history[e].top1);
    EXPECT_EQ(resumed.history[e].test_top1, uninterrupted.history[e].test_top1);
  }
  EXPECT_EQ(resumed.test.loss, uninterrupted.test.loss);
  const Checkpoint a = read_checkpoint(full_path), b = read_checkpoint(split_path);
  EXPECT_EQ(a.epochs_done, 3);
  EXPECT_EQ(b.epochs_done, 3);
  ASSERT_EQ(a.network.size(), b.network.size());
  for (std::size_t i = 0; i < a.network.size(); ++i) {
    EXPECT_EQ(a.network[i].name, b.network[i].name);
    EXPECT_EQ(a.network[i].values, b.network[i].values) << a.network[i].name;
  }
  ASSERT_EQ(a.optimizer.buffers.size(), b.optimizer.buffers.size());
  for (std::size_t i = 0; i < a.optimizer.buffers.size(); ++i) {
    EXPECT_EQ(a.optimizer.buffers[i].values, b.optimizer.buffers[i].values);
  }
  EXPECT_EQ(a.rng_state, b.rng_state);
  fs::remove(full_path);
  fs::remove(split_path);
}

TEST(TrainerTest, ResumeRefusesAnotherConfiguration) {
  const std::string path = temp_path("other.ckpt");
  TrainConfig c = tiny_config();
  c.epochs = 1;
  c.max_batches = 1;
  c.test_each_epoch = false;
  c.checkpoint_path = path;
  train(c, sample(), sample());

  auto expect_refused = [&](TrainConfig other, const std::string& what) {
    other.resume = true;
    try {
      train(other, sample(), sample());
      FAIL() << "resumed a checkpoint of another run (" << what << ")";
    } catch (const std::runtime_error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(path), std::string::npos) << msg;
      EXPECT_NE(msg.find(what), std::string::npos) << msg;
    }
  };
  TrainConfig widths = c;
  widths.widths = {1, 8, 8, 8, 8, 8, 8, 8};
  expect_refused(widths, "widths");
  TrainConfig model = c;
  model.model = "resnet20";
  model.widths = {};
  expect_refused(model, "model 'resnet8'");
  TrainConfig bits = c;
  bits.network.weight_bits = 4;
  expect_refused(bits, "weight_bits=2");
  fs::resize_file(path, fs::file_size(path) - 3);
  expect_refused(c, "truncated");
  fs::remove(path);
  expect_refused(c, "not found");
}

TEST(TrainerTest, SmallNetworkFitsSmallRealSample) {
  TrainConfig c;
  c.model = "resnet8";
  c.widths = {1, 8, 8, 8, 16, 16, 16, 16};
  c.dataset = "fashion-mnist-sample";
  c.epochs = 40;
  c.batch_size = 20;
  c.optimizer = "adam";
  c.lr = 0.01;
  c.weight_decay = 0.0f;
  c.test_each_epoch = false;
  c.seed = 3;
  const TrainResult r = train(c, sample(), sample());
  // The "test" set is the training sample itself: eval-mode accuracy on what it trained on.
  EXPECT_GE(r.test.top1, 95.0) << "final train loss " << r.history.back().loss;
  EXPECT_LT(r.history.back().loss, 0.2 * r.history.front().loss);
  EXPECT_EQ(r.test.images, 100);
  EXPECT_GE(r.test.top5, r.test.top1);
}

TEST(TrainerTest, EvaluateCountsTopOneAndTopFive) {
  // An untrained network: top-1 <= top-5, both in [0, 100], and top-5 reaches 100 only if...
  const models::Network d =
      models::build("resnet8", {1, 4, 4, 4, 4, 4, 4, 4}, models::InputShape{1, 28, 28, 10});
  Network net(d, NetworkOptions{}, 1);
  const EvalStats s = evaluate(net, sample(), compute_normalization(sample()), 30);
  EXPECT_EQ(s.images, 100);
  EXPECT_LE(s.top1, s.top5);
  EXPECT_GE(s.top1, 0.0);
  EXPECT_LE(s.top5, 100.0);
  EXPECT_GT(s.loss, 0.0);
  // Top-k counted by hand from the logits of one batch.
  Batcher batcher(sample(), compute_normalization(sample()),
                  BatchOptions{100, false, false, 0, false});
  std::mt19937_64 rng(0);
  batcher.start_epoch(rng);
  Tensor images;
  std::vector<int> labels;
  ASSERT_TRUE(batcher.next(images, labels));
  const Tensor& logits = net.forward(images, Mode::kEval);
  int top1 = 0, top5 = 0;
  for (int i = 0; i < 100; ++i) {
    std::vector<std::pair<float, int>> row;
    for (int k = 0; k < 10; ++k) row.push_back({-logits.at(i, k, 0, 0), k});
    std::sort(row.begin(), row.end());
    top1 += row[0].second == labels[i];
    for (int k = 0; k < 5; ++k) top5 += row[k].second == labels[i];
  }
  EXPECT_DOUBLE_EQ(s.top1, top1);
  EXPECT_DOUBLE_EQ(s.top5, top5);
}

TEST(TrainerTest, NonFiniteLogitsAreNoHitsButDivergence) {
  // A network whose weights are NaN gives NaN logits: on main they all ranked first (100%).
  const models::Network d =
      models::build("resnet8", {1, 4, 4, 4, 4, 4, 4, 4}, models::InputShape{1, 28, 28, 10});
  Network net(d, NetworkOptions{}, 1);
  for (const auto& p : net.parameters()) {
    std::fill(p.value->data(), p.value->data() + p.value->size(),
              std::numeric_limits<float>::quiet_NaN());
  }
  EXPECT_THROW(evaluate(net, sample(), compute_normalization(sample()), 30), DivergedError);
}

TEST(TrainerTest, TiedLogitsAreNoHits) {
  // A network whose parameters are all zero gives equal logits for every class: a tie is no hit
  // (it scored 100% top-1 when the rank counted only strictly larger logits).
  const models::Network d =
      models::build("resnet8", {1, 4, 4, 4, 4, 4, 4, 4}, models::InputShape{1, 28, 28, 10});
  Network net(d, NetworkOptions{}, 1);
  for (const auto& p : net.parameters())
    std::fill(p.value->data(), p.value->data() + p.value->size(), 0.0f);
  const EvalStats s = evaluate(net, sample(), compute_normalization(sample()), 30);
  EXPECT_EQ(s.images, 100);
  EXPECT_EQ(s.top1, 0.0);
  EXPECT_EQ(s.top5, 0.0);
}

TEST(TrainerTest, DivergingTrainingThrowsDivergedError) {
  TrainConfig c = tiny_config();
  c.epochs = 1;
  c.warmup_epochs = 0;
  c.lr = 1e6;
  c.network = NetworkOptions{};  // full precision: nothing bounds the weights
  try {
    const TrainResult r = train(c, sample(), sample());
    FAIL() << "a run at lr 1e6 finished with top-1 " << r.test.top1;
  } catch (const DivergedError& e) {
    EXPECT_NE(std::string(e.what()).find("diverged"), std::string::npos) << e.what();
  }
}

TEST(TrainerTest, RejectsBadConfig) {
  TrainConfig c = tiny_config();
  c.epochs = 0;
  EXPECT_THROW(train(c, sample(), sample()), std::invalid_argument);
  c = tiny_config();
  c.optimizer = "rmsprop";
  EXPECT_THROW(train(c, sample(), sample()), std::invalid_argument);
  c = tiny_config();
  c.network.weight_bits = 5;
  EXPECT_THROW(train(c, sample(), sample()), std::invalid_argument);
  c = tiny_config();
  c.resume = true;  // no checkpoint path
  EXPECT_THROW(train(c, sample(), sample()), std::invalid_argument);
}

// The history a checkpoint carries numbers its epochs 1, 2, ...: an epoch token that is out of
// int's range (converting 1e300 to int was undefined behaviour; checkpoint_fuzz), a gap or a
// repeat is refused naming the file and the line.
TEST(TrainerHistory, EpochsMustCountFromOne) {
  std::vector<EpochStats> history(2);
  history[0] = {1, 2.5, 10, 0.1, 3, 100, 2.4, 11, 50};
  history[1] = {2, 2.0, 20, 0.05, 3, 100};
  const std::vector<EpochStats> back = history_from_text(history_to_text(history), "ck");
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[1].epoch, 2);
  EXPECT_EQ(back[0].test_top5, 50);
  EXPECT_TRUE(std::isnan(back[1].test_top1));
  for (const std::string bad :
       {"1e300 1 1 1 1 1 1 1 1\n", "2 1 1 1 1 1 1 1 1\n", "1 1 1 1 1 1 1 1 1\n1 1 1 1 1 1 1 1 1\n",
        "1.5 1 1 1 1 1 1 1 1\n"}) {
    try {
      history_from_text(bad, "run.ckpt");
      ADD_FAILURE() << "accepted " << bad;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("run.ckpt: history line"), std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
}  // namespace nce::nn
