// The nceim file: a round trip keeps every field; a corrupt, truncated, foreign or missing file is
// refused with a message that names it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>

#include "nce/deploy/infer.h"
#include "nce/deploy/int_engine.h"
#include "nce/deploy/int_model.h"
#include "support/errors.h"

namespace nce::deploy {
namespace {

using nce::testing::expect_mentions;
using nce::testing::what_must_throw;

// pixels 1x6x6 -> 3x3 conv (8 ch, 2-bit codes) -> head (10 classes).
IntModel tiny_model() {
  IntModel m;
  m.model = "tiny";
  m.widths = {1, 8};
  m.dataset = "fashion-mnist";
  m.quantizer = "sawb";
  m.norm_mean = {0.5f};
  m.norm_stddev = {0.25f};
  m.values.push_back(ValueInfo{ValueKind::kCodes, 1, 6, 6, 255, 0.0});
  m.values.push_back(ValueInfo{ValueKind::kCodes, 8, 6, 6, 3, 0.5});
  Op conv;
  conv.kind = OpKind::kConv;
  ConvOp& c = conv.conv;
  c.name = "stem";
  c.input = 0, c.output = 1;  // value indices
  c.c_in = 1, c.c_out = 8, c.k = 3, c.stride = 1, c.pad = 1;
  c.h_in = c.w_in = c.h_out = c.w_out = 6;
  c.rule = WeightRule::kFull8;
  c.weight_bits = 8;
  c.weight_scale.assign(8, 0.01f);
  for (int i = 0; i < 8 * 9; ++i) c.weights.push_back(static_cast<std::int8_t>(i % 11 - 5));
  c.requant.multiplier.assign(8, 1 << 20);
  c.requant.offset.assign(8, 1 << 27);
  c.requant.shift.assign(8, 28);
  c.requant.lo = 0;
  c.requant.hi = 3;
  m.ops.push_back(conv);
  Op head;
  head.kind = OpKind::kHead;
  HeadOp& h = head.head;
  h.name = "fc";
  h.input = 1;
  h.c_in = 8, h.classes = 10;
  for (int i = 0; i < 80; ++i) h.weights.push_back(static_cast<std::int8_t>(i % 7 - 3));
  h.multiplier.assign(10, 3);
  for (int j = 0; j < 10; ++j) h.bias.push_back(j * 5);
  h.logit_frac_bits = 4;
  m.ops.push_back(head);
  return m;
}

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "deploy_" + name;
}

void write_bytes(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void expect_refused(const std::string& path, const std::string& what) {
  expect_mentions(
      what_must_throw<std::runtime_error>("accepted " + what, [&] { read_int_model(path); }),
      {path, what});
}

TEST(IntModel, RoundTripKeepsEveryFieldAndTheEngineAgrees) {
  const IntModel m = tiny_model();
  const std::string path = temp_path("tiny.nceim");
  write_int_model(path, m);
  const IntModel r = read_int_model(path);
  EXPECT_EQ(serialize(r), serialize(m));
  EXPECT_EQ(r.classes(), 10);
  std::vector<std::uint8_t> img(36);
  for (int i = 0; i < 36; ++i) img[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(i * 7);
  IntEngine a(m, KernelKind::kPortable), b(r, best_kernel());
  IntLogits la, lb;
  a.run(img.data(), 1, la);
  b.run(img.data(), 1, lb);
  EXPECT_EQ(la.values, lb.values);
  EXPECT_EQ(la.exponent, lb.exponent);
  std::remove(path.c_str());
}

TEST(IntModel, CorruptTruncatedForeignAndMissingFilesAreRefusedByName) {
  const std::vector<char> good = serialize(tiny_model());
  const std::string path = temp_path("bad.nceim");
  std::vector<char> bytes = good;
  bytes[bytes.size() / 2] ^= 0x5a;
  write_bytes(path, bytes);
  expect_refused(path, "checksum mismatch");
  bytes.assign(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(good.size() - 9));
  write_bytes(path, bytes);
  expect_refused(path, "truncated");
  bytes.assign(good.begin(), good.begin() + 14);
  write_bytes(path, bytes);
  expect_refused(path, "truncated");
  const std::string foreign = "NCECKPT\0 this is a training checkpoint, not an integer model";
  write_bytes(path, std::vector<char>(foreign.begin(), foreign.end()));
  expect_refused(path, "not an nce integer model");
  bytes = good;
  bytes[8] = 9;  // version
  write_bytes(path, bytes);
  expect_refused(path, "version 9");
  std::remove(path.c_str());
  expect_refused(path, "cannot open");
}

TEST(IntModel, ValidationNamesTheOp) {
  IntModel m = tiny_model();
  m.ops[0].conv.requant.hi = 7;  // beyond the 2-bit codes
  try {
    validate(m, "x.nceim");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("'stem'"), std::string::npos) << e.what();
  }
}

// A model with a valid checksum but hostile contents: every field is checked at load, and every
// product the engine forms is bounded, so the file is refused naming itself, the op, the field and
// the value (never run into an overflow).
TEST(IntModel, HostileFieldsBehindAValidChecksumAreRefusedByFileOpFieldAndValue) {
  struct Case {
    const char* what;
    void (*mutate)(IntModel&);
    std::vector<std::string> expect;
  };
  const std::vector<Case> cases = {
      {"negative c_out",
       [](IntModel& m) { m.ops[0].conv.c_out = -8; },
       {"op 0 ('stem')", "c_out -8"}},
      {"huge h_out",
       [](IntModel& m) { m.ops[0].conv.h_out = 1 << 30; },
       {"op 0 ('stem')", "h_out 1073741824"}},
      {"requant shift 70",
       [](IntModel& m) { m.ops[0].conv.requant.shift[3] = 70; },
       {"op 0 ('stem')", "requantization shift [3] 70"}},
      {"input shift 40",
       [](IntModel& m) { m.ops[0].conv.input_shift = 40; },
       {"input_shift 40 (want 0..16)"}},
      {"window past the map",
       [](IntModel& m) {
         // 3x3 stride 2 without padding on a 2x2 map: (2 - 3) / 2 + 1 truncates to 1.
         m.values[0].height = m.values[0].width = 2;
         ConvOp& c = m.ops[0].conv;
         c.pad = 0;
         c.stride = 2;
         c.h_in = c.w_in = 2;
         c.h_out = c.w_out = 1;
         m.values[1].height = m.values[1].width = 1;
       },
       {"op 0 ('stem')", "h_out 1 (want 0..0)"}},
      {"requant offset that overflows",
       [](IntModel& m) { m.ops[0].conv.requant.offset[5] = INT64_MAX - 10; },
       {"op 0 ('stem')", "output channel 5", "offset 9223372036854775797", "overflow"}},
      {"requant multiplier times the accumulator",
       [](IntModel& m) {
         // |t| <= 255 x 9 x 128 x 2^16 + 2^31 > 2^34, times 2^31.
         ConvOp& c = m.ops[0].conv;
         c.requant.multiplier[2] = INT32_MIN;
         std::fill(c.weights.begin() + 18, c.weights.begin() + 27, std::int8_t{-128});
         c.acc_bias.assign(8 * 36, INT32_MAX);
         c.bias_frac_bits = 16;
       },
       {"op 0 ('stem')", "output channel 2", "multiplier -2147483648", "overflow"}},
      {"head channels that do not chain",
       [](IntModel& m) { m.ops[1].head.c_in = 9; },
       {"op 1 ('fc')", "c_in 9 (want 8..8)"}},
      {"head multiplier that overflows",
       [](IntModel& m) { m.ops[1].head.multiplier[4] = INT64_MAX / 2; },
       {"op 1 ('fc')", "class 4", "overflow"}},
      {"head bias INT64_MIN",
       [](IntModel& m) { m.ops[1].head.bias[1] = INT64_MIN; },
       {"op 1 ('fc')", "class 1", "bias -9223372036854775808"}},
      {"negative classes",
       [](IntModel& m) { m.ops[1].head.classes = -3; },
       {"op 1 ('fc')", "classes -3"}},
      {"value of 2^27 elements",
       [](IntModel& m) { m.values[1].height = m.values[1].width = 4096; },
       {"value 1 has 134217728 elements"}},
      {"an 8-bit SAWB weight past a byte",
       [](IntModel& m) {
         ConvOp& c = m.ops[0].conv;
         c.rule = WeightRule::kQuantized;
         c.weight_bits = 8;
         c.alpha = 2;
         c.beta = 1;
         c.weights[7] = -128;
       },
       {"op 0 ('stem')", "effective weight 2 x -128 + 1 = -255"}},
  };
  const std::string path = temp_path("hostile.nceim");
  for (const Case& c : cases) {
    IntModel m = tiny_model();
    c.mutate(m);
    write_bytes(path, serialize(m));
    try {
      read_int_model(path);
      ADD_FAILURE() << "accepted " << c.what;
    } catch (const std::runtime_error& e) {
      const std::string msg = e.what();
      EXPECT_EQ(msg.rfind(path, 0), 0u) << c.what << ": " << msg;
      for (const std::string& x : c.expect)
        EXPECT_NE(msg.find(x), std::string::npos) << c.what << ": want '" << x << "' in " << msg;
    }
  }
  std::remove(path.c_str());
}

// With b-bit codes and K inputs per output the int32 accumulator is bounded by max operand x
// sum |weights|: a conv over 8192 channels of 8-bit codes with 3x3 weights of -128 could reach
// 255 x 73728 x 128 > 2^31 and is refused; with one fewer input channel group it fits and runs.
TEST(IntModel, AccumulatorsThatCanOverflowInt32AreRefused) {
  auto wide = [](int channels) {
    IntModel m;
    m.model = "wide";
    m.values.push_back(ValueInfo{ValueKind::kCodes, 1, 1, 1, 255, 0.0});
    m.values.push_back(ValueInfo{ValueKind::kCodes, channels, 1, 1, 255, 1.0});
    m.values.push_back(ValueInfo{ValueKind::kFixed, 1, 1, 1, 0, 1.0});
    Op a;
    ConvOp& c = a.conv;
    c.name = "fan_out";
    c.output = 1;
    c.c_in = 1, c.c_out = channels;
    c.h_in = c.w_in = c.h_out = c.w_out = 1;
    c.rule = WeightRule::kFull8;
    c.weight_bits = 8;
    c.weight_scale.assign(static_cast<std::size_t>(channels), 1.0f);
    c.weights.assign(static_cast<std::size_t>(channels), 1);
    c.requant.multiplier.assign(static_cast<std::size_t>(channels), 1);
    c.requant.offset.assign(static_cast<std::size_t>(channels), 0);
    c.requant.shift.assign(static_cast<std::size_t>(channels), 0);
    c.requant.hi = 255;
    m.ops.push_back(a);
    Op b;
    ConvOp& d = b.conv;
    d.name = "fan_in";
    d.input = 1, d.output = 2;  // value indices
    d.c_in = channels, d.c_out = 1, d.k = 3, d.pad = 1;
    d.h_in = d.w_in = d.h_out = d.w_out = 1;
    d.rule = WeightRule::kFull8;
    d.weight_bits = 8;
    d.weight_scale = {1.0f};
    d.weights.assign(static_cast<std::size_t>(channels) * 9, -128);
    d.requant.multiplier = {-1};  // the head sees -acc (its ReLU keeps positive features)
    d.requant.offset = {0};
    d.requant.shift = {0};
    d.requant.lo = INT32_MIN;
    d.requant.hi = INT32_MAX;
    m.ops.push_back(b);
    Op h;
    h.kind = OpKind::kHead;
    h.head.name = "fc";
    h.head.input = 2;
    h.head.c_in = 1;
    h.head.classes = 2;
    h.head.weights = {1, -1};
    h.head.multiplier = {1, 1};
    h.head.bias = {0, 0};
    m.ops.push_back(h);
    return m;
  };
  const std::string path = temp_path("wide.nceim");
  write_bytes(path, serialize(wide(8192)));
  expect_refused(path, "op 1 ('fan_in'): output channel 0: the int32 accumulator can reach " +
                           std::to_string(std::int64_t{255} * 8192 * 9 * 128));
  // 7296 channels: 255 x 65664 x 128 = 2,143,272,960 <= 2^31 - 1. Pixel 255 -> codes 255 ->
  // the only in-image tap (the centre) gives -128 x 255 x 7296, which the engine computes exactly.
  write_int_model(path, wide(7296));
  IntEngine engine(read_int_model(path), KernelKind::kPortable);
  const std::uint8_t pixel = 255;
  IntLogits out;
  engine.run(&pixel, 1, out);
  ASSERT_EQ(out.values.size(), 2u);
  const std::int64_t acc = std::int64_t{128} * 255 * 7296;  // -acc, negated by the requant
  EXPECT_EQ(out.exponent[0], 21);                           // 2^27 < acc < 2^28: 21 bits off
  EXPECT_EQ(out.values[0], (acc + (1 << 20)) >> 21);
  EXPECT_EQ(out.values[1], -((acc + (1 << 20)) >> 21));
  std::remove(path.c_str());
}

// Scoring cannot flatter: a tie for the top logit is no hit, so a head whose logits are all equal
// scores 0% (it scored 100% when the rank counted only strictly larger logits).
TEST(IntModel, TiesAreNoHitsAndAllZeroHeadScoresZero) {
  const std::int64_t tied[] = {5, 5, 1};
  EXPECT_EQ(label_rank(tied, 3, 0), 1);
  EXPECT_EQ(label_rank(tied, 3, 1), 1);
  EXPECT_EQ(label_rank(tied, 3, 2), 2);
  const std::int64_t clear[] = {5, 4, 6};
  EXPECT_EQ(label_rank(clear, 3, 2), 0);
  EXPECT_EQ(label_rank(clear, 3, 0), 1);

  IntModel m = tiny_model();
  std::fill(m.ops[1].head.weights.begin(), m.ops[1].head.weights.end(), std::int8_t{0});
  std::fill(m.ops[1].head.bias.begin(), m.ops[1].head.bias.end(), 0);
  nn::Dataset data;
  data.source = "synthetic-6x6";
  data.channels = 1;
  data.height = data.width = 6;
  data.num_classes = 10;
  for (int i = 0; i < 20; ++i) {
    data.labels.push_back(static_cast<std::uint8_t>(i % 10));
    for (int p = 0; p < 36; ++p) data.pixels.push_back(static_cast<std::uint8_t>(i * 13 + p));
  }
  IntEngine engine(m, KernelKind::kPortable);
  const InferResult r = infer_dataset(engine, data, 8, "zero-head.nceim");
  EXPECT_EQ(r.images, 20);
  EXPECT_EQ(r.top1, 0.0);
  EXPECT_EQ(r.top5, 0.0);  // nine other classes tie with every label

  // A data set with another number of classes is refused, naming the model's file and both counts.
  for (int classes : {8, 12}) {
    data.num_classes = classes;
    try {
      infer_dataset(engine, data, 8, "zero-head.nceim");
      ADD_FAILURE() << "accepted " << classes << " classes";
    } catch (const std::invalid_argument& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("zero-head.nceim"), std::string::npos) << msg;
      EXPECT_NE(msg.find("has 10 classes"), std::string::npos) << msg;
      EXPECT_NE(msg.find("synthetic-6x6 has " + std::to_string(classes)), std::string::npos) << msg;
    }
  }
}

}  // namespace
}  // namespace nce::deploy
