// The nceim file: a round trip keeps every field; a corrupt, truncated, foreign or missing file is
// refused with a message that names it.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <iterator>

#include "nce/deploy/int_engine.h"
#include "nce/deploy/int_model.h"

namespace nce::deploy {
namespace {

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
  c.input = 0;
  c.output = 1;
  c.c_in = 1;
  c.c_out = 8;
  c.k = 3;
  c.stride = 1;
  c.pad = 1;
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
  h.c_in = 8;
  h.classes = 10;
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
  try {
    read_int_model(path);
    FAIL() << "accepted " << what;
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
  }
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

}  // namespace
}  // namespace nce::deploy
