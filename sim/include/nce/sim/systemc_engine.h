// The cycle-accurate SystemC model of the accelerator (library nce_sim, the only SystemC target).
//
// One SC_MODULE (ArrayTop, internal) holds three SC_THREADs that share nothing but events and the
// pass's bookkeeping:
//   * compute: the controller + PE array. For each fold it waits until the fold's operand tiles
//     have arrived and its psum buffer half is free, steps the PeArray (pe_array.h) cycle by cycle
//     on the real operands, then advances simulated time by the fold's cycles;
//   * dram_read: the read channel, filling the ifmap/filter SRAMs fold by fold (double-buffered:
//     fold f's tiles may load once fold f-2 has finished), ceil(bits / (8*B)) cycles per load;
//   * dram_write: the write channel, draining each output group after its last fold.
// Stalls are the simulated time the compute thread spends waiting. The timing rules are those of
// layer_cost.h; tests prove this model and the fast path equal in cycles and every event count.
// Full-precision layers run slices^2 real passes on bit slices and combine them (layer_cost.h).
//
// SystemC allows one elaboration and one sc_start per process, so run_systemc() takes every job
// at once and may be called once per process; a second call throws std::logic_error.
#pragma once

#include <cstdint>
#include <vector>

#include "nce/models/network.h"
#include "nce/sim/hw_config.h"
#include "nce/sim/layer_cost.h"
#include "nce/sim/layer_data.h"
#include "nce/sim/report.h"

namespace nce::sim {

struct SimJob {
  HwConfig hw;
  std::string name;
  ConvLayerData data;  // real operands (data.quantized selects the pass rule)
};

struct SimJobResult {
  LayerCost cost;                    // status kSramTooSmall: nothing was simulated
  std::vector<std::int64_t> output;  // C_out x H_out x W_out (empty when not simulated)
};

// Host memory the SystemC engine needs for one layer's real operands and results (bytes; a
// double so that it cannot overflow): the layer data (input map, weights), im2col and lowered
// weights (int32), the output and the partial sums (int64).
double systemc_layer_bytes(const ConvGeometry& geo);
// The most the engine allocates for one network before it refuses (std::invalid_argument naming
// the layer and the size; the fast engine needs no operands).
constexpr double kSystemcMemoryLimitBytes = 4.0 * 1024 * 1024 * 1024;
// Throws that std::invalid_argument when simulating `net` would need more (allocates nothing).
void check_systemc_memory(const models::Network& net);

// Whether run_systemc() has been called in this process.
bool systemc_used();

// Runs the jobs in order in one elaboration (time continues from job to job; each job's cycles
// are counted from its own start). Throws std::logic_error when called twice.
std::vector<SimJobResult> run_systemc(const std::vector<SimJob>& jobs);

// Every layer of `net` with random real operands (seeded per layer), as one run_systemc() call.
// Throws std::invalid_argument naming the config, the key and the layer when a layer does not fit,
// and before allocating anything when the operands need more than kSystemcMemoryLimitBytes.
// `outputs` (optional) receives each layer's output.
NetworkReport systemc_network_report(const HwConfig& hw, const models::Network& net,
                                     std::uint64_t seed,
                                     std::vector<std::vector<std::int64_t>>* outputs = nullptr);

}  // namespace nce::sim
