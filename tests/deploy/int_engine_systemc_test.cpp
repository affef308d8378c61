// The integer engine's accumulators against the SystemC array for the same operands, bit for bit:
// every quantized layer kind (3x3 stride 1 and 2, the 1x1 shortcut, the FC as a 1x1 conv on a 1x1
// map) at b = 2, 3, 4, 8 (activations unsigned b-bit, weights signed b-bit), and the 8-bit
// full-precision rule (both operands signed 8-bit; the engine feeds x + 128 and adds
// -128 * sum of the weights inside the image, the stem's form), under every kernel.
// SystemC allows one elaboration per process: one run_systemc() call, in its own binary.
#include <gtest/gtest.h>

#include <systemc>

#include "nce/deploy/int_engine.h"
#include "nce/sim/hw_config.h"
#include "nce/sim/layer_data.h"
#include "nce/sim/systemc_engine.h"

namespace nce::deploy {
namespace {

sim::HwConfig make_hw(int bits) {
  const std::string text =
      "[array]\nrows = 4\ncols = 4\nbits = " + std::to_string(bits) +
      "\nacc_bits = 32\ndataflow = ws\n[memory]\nifmap_sram_kb = 1024\nfilter_sram_kb = 1024\n"
      "ofmap_sram_kb = 1024\ndouble_buffered = true\ndram_bytes_per_cycle = 1000000\n"
      "[clock]\nmhz = 100\n[energy]\nmac_pj = 0.06\nidle_pe_pj = 0.006\n"
      "ifmap_sram_pj_per_bit = 0.3\nfilter_sram_pj_per_bit = 0.2\nofmap_sram_pj_per_bit = 0.5\n"
      "dram_pj_per_bit = 8\n";
  return sim::parse_hw_config(text, "deploy_test.cfg");
}

sim::ConvGeometry geometry(int c_in, int c_out, int k, int stride, int pad, int h, int w) {
  sim::ConvGeometry g;
  g.c_in = c_in, g.c_out = c_out, g.k = k, g.stride = stride, g.pad = pad, g.h_in = h, g.w_in = w;
  g.h_out = (h + 2 * pad - k) / stride + 1;
  g.w_out = (w + 2 * pad - k) / stride + 1;
  return g;
}

// The engine's conv op for the same operands.
ConvOp engine_op(const sim::ConvLayerData& d) {
  const sim::ConvGeometry& g = d.geo;
  ConvOp op;
  op.name = "layer";
  op.c_in = g.c_in, op.c_out = g.c_out, op.k = g.k, op.stride = g.stride, op.pad = g.pad;
  op.h_in = g.h_in, op.w_in = g.w_in, op.h_out = g.h_out, op.w_out = g.w_out;
  op.rule = d.quantized ? WeightRule::kQuantized : WeightRule::kFull8;
  op.weight_bits = d.quantized ? d.operand_bits : 8;
  op.alpha = 1;
  op.beta = 0;
  op.weight_scale.assign(static_cast<std::size_t>(g.c_out), 1.0f);
  for (std::int32_t w : d.weights) op.weights.push_back(static_cast<std::int8_t>(w));
  if (!d.quantized) {
    // Signed 8-bit inputs enter as x + 128; t = acc - 128 * (weights on in-image taps).
    op.acc_bias.resize(static_cast<std::size_t>(g.c_out) * g.h_out * g.w_out);
    for (int m = 0; m < g.c_out; ++m)
      for (int oy = 0; oy < g.h_out; ++oy)
        for (int ox = 0; ox < g.w_out; ++ox) {
          std::int64_t s = 0;
          for (int c = 0; c < g.c_in; ++c)
            for (int ky = 0; ky < g.k; ++ky)
              for (int kx = 0; kx < g.k; ++kx) {
                const int iy = oy * g.stride - g.pad + ky, ix = ox * g.stride - g.pad + kx;
                if (iy < 0 || iy >= g.h_in || ix < 0 || ix >= g.w_in) continue;
                s += d.weights[((static_cast<std::size_t>(m) * g.c_in + c) * g.k + ky) * g.k + kx];
              }
          op.acc_bias[(static_cast<std::size_t>(m) * g.h_out + oy) * g.w_out + ox] =
              static_cast<std::int32_t>(-128 * s);
        }
  }
  return op;
}

TEST(IntEngineVsSystemC, AccumulatorsEqualTheArraysOutputsForTheSameOperands) {
  if (sim::systemc_used()) GTEST_SKIP() << "SystemC kernel already elaborated in this process";
  std::vector<sim::SimJob> jobs;
  std::uint64_t seed = 700;
  for (int bits : {2, 3, 4, 8}) {
    const sim::HwConfig hw = make_hw(bits);
    for (const sim::ConvGeometry& g :
         {geometry(16, 16, 3, 1, 1, 8, 8), geometry(16, 32, 3, 2, 1, 9, 9),
          geometry(32, 20, 1, 1, 0, 4, 4), geometry(64, 10, 1, 1, 0, 1, 1)}) {
      sim::SimJob j;
      j.hw = hw;
      j.name = "q" + std::to_string(seed);
      j.data = sim::random_layer_data(g, true, bits, ++seed);
      jobs.push_back(j);
    }
    // Full precision: the stem (3x3 on 3 channels) and a 1x1 shortcut.
    for (const sim::ConvGeometry& g :
         {geometry(3, 16, 3, 1, 1, 7, 7), geometry(16, 32, 1, 2, 0, 8, 8)}) {
      sim::SimJob j;
      j.hw = hw;
      j.name = "fp" + std::to_string(seed);
      j.data = sim::random_layer_data(g, false, bits, ++seed);
      jobs.push_back(j);
    }
  }
  const auto results = sim::run_systemc(jobs);
  ASSERT_EQ(results.size(), jobs.size());
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const sim::ConvLayerData& d = jobs[i].data;
    const ConvOp op = engine_op(d);
    std::vector<std::uint8_t> input;
    for (std::int32_t x : d.input)
      input.push_back(static_cast<std::uint8_t>(d.quantized ? x : x + 128));
    const int max_code = d.quantized ? (1 << d.operand_bits) - 1 : 255;
    for (KernelKind kind : {KernelKind::kPortable, KernelKind::kAvx2, KernelKind::kVnni}) {
      if (!kernel_supported(kind)) continue;
      const auto t = conv_pre_requant(op, input.data(), d.geo.h_in, d.geo.w_in, max_code, kind);
      EXPECT_EQ(t, results[i].output)
          << "job " << i << " (" << jobs[i].name << ", b=" << jobs[i].hw.bits << ") kernel "
          << to_string(kind);
    }
  }
}

}  // namespace
}  // namespace nce::deploy

int sc_main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
