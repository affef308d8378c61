#include "nce/sim/systemc_engine.h"

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <systemc>

#include "nce/sim/fold_plan.h"
#include "nce/sim/pe_array.h"

namespace nce::sim {

namespace {

bool g_systemc_used = false;

using sc_core::sc_event;
using sc_core::sc_time;
using sc_core::wait;

// The accelerator: controller + PE array, DRAM read channel, DRAM write channel.
class ArrayTop : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(ArrayTop);
  ArrayTop(sc_core::sc_module_name name, const std::vector<SimJob>& jobs,
           std::vector<SimJobResult>& results)
      : sc_core::sc_module(name), jobs_(jobs), results_(results), cycle_(1, sc_core::SC_NS) {
    SC_THREAD(compute);
    SC_THREAD(dram_read);
    SC_THREAD(dram_write);
  }

 private:
  std::int64_t cycles_since(const sc_time& t0) const {
    return static_cast<std::int64_t>((sc_core::sc_time_stamp() - t0).value() / cycle_.value());
  }
  std::int64_t load_bits(const Fold& f) const {
    return (f.ifmap_load_words + f.filter_load_words) * hw_->bits;
  }

  void compute() {
    for (std::size_t j = 0; j < jobs_.size(); ++j) {
      const SimJob& job = jobs_[j];
      hw_ = &job.hw;
      const auto& geo = job.data.geo;
      plan_ = make_fold_plan(job.hw, geo);
      const int passes = passes_for(job.hw, job.data.quantized);
      if (auto shortfall = check_sram_fit(job.hw, plan_)) {
        results_[j].cost =
            infeasible_cost(describe_shortfall(job.hw, job.name, *shortfall), passes);
        continue;  // nothing simulated
      }
      folds_ = plan_folds(plan_);
      group_words_.assign(static_cast<std::size_t>(plan_.num_groups()), 0);
      for (const auto& f : folds_) {
        if (f.last_of_group) group_words_[static_cast<std::size_t>(f.group)] = f.group_output_words;
      }
      array_ = std::make_unique<PeArray>(job.hw.rows, job.hw.cols);

      const std::vector<std::int32_t> a_full = im2col(job.data);
      const std::vector<std::int32_t> w_full = lower_weights(job.data);
      const int slices = job.data.quantized ? 1 : full_precision_slices(job.hw.bits);
      std::vector<std::int64_t> output(static_cast<std::size_t>(geo.M() * geo.N()), 0);
      std::vector<PassResult> pass_results;
      for (int si = 0; si < slices; ++si) {
        const auto a = slices == 1 ? a_full : slice_operand(a_full, job.hw.bits, si);
        for (int sj = 0; sj < slices; ++sj) {
          const auto w = slices == 1 ? w_full : slice_operand(w_full, job.hw.bits, sj);
          std::vector<std::int64_t> psums(static_cast<std::size_t>(geo.N() * geo.M()), 0);
          pass_results.push_back(run_pass(a, w, psums));
          // Output unit: wrap the pass's psums to acc_bits, shift by the slice weights, add.
          const int shift = job.hw.bits * (si + sj);
          for (std::int64_t n = 0; n < geo.N(); ++n) {
            for (std::int64_t m = 0; m < geo.M(); ++m) {
              const std::int64_t v = wrap_to_bits(psums[n * geo.M() + m], job.hw.acc_bits);
              output[m * geo.N() + n] +=
                  static_cast<std::int64_t>(static_cast<std::uint64_t>(v) << shift);
            }
          }
        }
      }
      assert(static_cast<int>(pass_results.size()) == passes);
      results_[j].cost = finalize_cost(job.hw, pass_results, plan_.num_folds());
      results_[j].output = std::move(output);
    }
  }

  // Adds a fold's rows x cols output tile (row-major) into psums: element (i, j) at
  // psums[base + i * step_i + j * step_j].
  static void add_tile(const std::vector<std::int64_t>& tile, std::int64_t rows, std::int64_t cols,
                       std::int64_t base, std::int64_t step_i, std::int64_t step_j,
                       std::vector<std::int64_t>& psums) {
    for (std::int64_t i = 0; i < rows; ++i) {
      for (std::int64_t j = 0; j < cols; ++j) {
        psums[static_cast<std::size_t>(base + i * step_i + j * step_j)] += tile[i * cols + j];
      }
    }
  }

  // Runs fold f on the array (its output tile in `tile`), adds the tile into psums (N x M) and
  // counts the fold's operand SRAM reads into e.
  FoldActivity run_fold(const Fold& f, const std::vector<std::int32_t>& A,
                        const std::vector<std::int32_t>& W, std::vector<std::int64_t>& psums,
                        std::vector<std::int64_t>& tile, EventCounts& e) {
    const std::int64_t K = plan_.K, M = plan_.M;
    const int r_used = static_cast<int>(f.r_used), c_used = static_cast<int>(f.c_used);
    const std::int64_t base = f.n0 * M + f.m0;  // psums index of the tile's corner
    FoldActivity act;
    switch (plan_.dataflow) {
      case Dataflow::kOS: {
        // Rows <- pixels [n0, n1), cols <- filters [m0, m1), time <- reduction [k0, k1).
        OperandView a{A.data() + f.n0 * K + f.k0, K, 1};
        OperandView b{W.data() + f.k0 * M + f.m0, M, 1};
        act = array_->run_os_fold(a, r_used, b, c_used, f.t_used, tile);
        add_tile(tile, r_used, c_used, base, M, 1, psums);
        e.ifmap_sram_reads += act.left_edge_reads;
        e.filter_sram_reads += act.top_edge_reads;
        break;
      }
      case Dataflow::kWS: {
        // Stationary W[k0.., m0..]; time <- pixels [n0, n1).
        OperandView s{W.data() + f.k0 * M + f.m0, M, 1};
        OperandView v{A.data() + f.n0 * K + f.k0, K, 1};
        act = array_->run_stationary_fold(s, r_used, c_used, v, f.t_used, tile);
        add_tile(tile, f.t_used, c_used, base, M, 1, psums);
        e.filter_sram_reads += act.stationary_reads;
        e.ifmap_sram_reads += act.left_edge_reads;
        break;
      }
      case Dataflow::kIS: {
        // Stationary A^T[k0.., n0..]; time <- filters [m0, m1).
        OperandView s{A.data() + f.n0 * K + f.k0, 1, K};
        OperandView v{W.data() + f.k0 * M + f.m0, 1, M};
        act = array_->run_stationary_fold(s, r_used, c_used, v, f.t_used, tile);
        add_tile(tile, f.t_used, c_used, base, 1, M, psums);
        e.ifmap_sram_reads += act.stationary_reads;
        e.filter_sram_reads += act.left_edge_reads;
        break;
      }
    }
    return act;
  }

  // One pass over the GEMM: A (N x K) and W (K x M) operands, psums (N x M) out.
  PassResult run_pass(const std::vector<std::int32_t>& A, const std::vector<std::int32_t>& W,
                      std::vector<std::int64_t>& psums) {
    const std::int64_t F = plan_.num_folds(), G = plan_.num_groups();
    loaded_.assign(static_cast<std::size_t>(F), 0);
    ended_.assign(static_cast<std::size_t>(F), 0);
    group_done_.assign(static_cast<std::size_t>(G), 0);
    written_.assign(static_cast<std::size_t>(G), 0);
    result_ = PassResult{};
    pass_t0_ = sc_core::sc_time_stamp();
    pass_start_.notify(sc_core::SC_ZERO_TIME);
    // Fold 0's tiles were prefetched while the previous layer ran: traffic, no time.
    count_load(folds_[0]);

    const std::int64_t lag = hw_->double_buffered ? 2 : 1;
    sc_time prev_end = pass_t0_;
    std::vector<std::int64_t> tile;
    for (std::int64_t i = 0; i < F; ++i) {
      const Fold& f = folds_[static_cast<std::size_t>(i)];
      while (i > 0 && load_bits(f) > 0 && !loaded_[static_cast<std::size_t>(i)]) {
        wait(load_done_);
      }
      while (f.group >= lag && !written_[static_cast<std::size_t>(f.group - lag)]) {
        wait(write_done_);
      }
      result_.stall_cycles += cycles_since(prev_end);

      auto& e = result_.events;
      const FoldActivity act = run_fold(f, A, W, psums, tile, e);
      e.macs += act.macs;
      e.ofmap_sram_writes += act.outputs;
      if (!f.first_of_group) e.ofmap_sram_reads += act.outputs;  // psums read back to add

      wait(static_cast<double>(act.cycles) * cycle_);
      result_.compute_cycles += act.cycles;
      prev_end = sc_core::sc_time_stamp();
      ended_[static_cast<std::size_t>(i)] = 1;
      if (f.last_of_group) group_done_[static_cast<std::size_t>(f.group)] = 1;
      fold_done_.notify();
    }
    // The last write-back overlaps the next layer: not counted, but let it finish before the
    // channels are reused.
    while (!written_[static_cast<std::size_t>(G - 1)]) wait(write_done_);
    return result_;
  }

  void count_load(const Fold& f) {
    auto& e = result_.events;
    e.ifmap_sram_writes += f.ifmap_load_words;
    e.filter_sram_writes += f.filter_load_words;
    e.dram_ifmap_read_bits += f.ifmap_load_words * hw_->bits;
    e.dram_filter_read_bits += f.filter_load_words * hw_->bits;
  }

  void dram_read() {
    for (;;) {
      wait(pass_start_);
      for (std::size_t i = 1; i < folds_.size(); ++i) {
        const Fold& f = folds_[i];
        const std::int64_t bits = load_bits(f);
        if (bits == 0) continue;
        // The buffer half this fold fills is free once the fold that last used it has ended.
        const std::size_t lag = hw_->double_buffered ? 2 : 1;
        if (i >= lag) {
          while (!ended_[i - lag]) wait(fold_done_);
        }
        wait(static_cast<double>(dram_transfer_cycles(*hw_, bits)) * cycle_);
        count_load(f);
        loaded_[i] = 1;
        load_done_.notify();
      }
    }
  }

  void dram_write() {
    for (;;) {
      wait(pass_start_);
      for (std::size_t g = 0; g < group_done_.size(); ++g) {
        while (!group_done_[g]) wait(fold_done_);
        const std::int64_t words = group_words_[g];
        const std::int64_t bits = words * hw_->bits;
        wait(static_cast<double>(dram_transfer_cycles(*hw_, bits)) * cycle_);
        result_.events.ofmap_sram_reads += words;
        result_.events.dram_ofmap_write_bits += bits;
        written_[g] = 1;
        write_done_.notify();
      }
    }
  }

  const std::vector<SimJob>& jobs_;
  std::vector<SimJobResult>& results_;
  const sc_time cycle_;

  // The pass being run (shared by the three threads; SystemC threads never run concurrently).
  const HwConfig* hw_ = nullptr;
  FoldPlan plan_;
  std::vector<Fold> folds_;
  std::vector<std::int64_t> group_words_;  // outputs each group writes back
  std::unique_ptr<PeArray> array_;
  std::vector<char> loaded_, ended_, group_done_, written_;
  PassResult result_;
  sc_time pass_t0_;
  sc_event pass_start_, load_done_, fold_done_, write_done_;
};

}  // namespace

double systemc_layer_bytes(const ConvGeometry& g) {
  const double K = static_cast<double>(g.k) * g.k * g.c_in,
               N = static_cast<double>(g.h_out) * g.w_out, M = g.c_out;
  const double input = static_cast<double>(g.c_in) * g.h_in * g.w_in;
  return 4.0 * (input + K * M)    // ConvLayerData: input map and weights
         + 4.0 * (K * N + K * M)  // im2col and lowered weights
         + 8.0 * 2.0 * N * M;     // output and partial sums
}

void check_systemc_memory(const models::Network& net) {
  // Every job's data is held for the whole run; the working buffers of one layer at a time.
  double held = 0.0, peak = 0.0;
  for (const auto& l : net.layers) {
    const ConvGeometry g = geometry_of(l);
    const double data =
        4.0 * (static_cast<double>(g.c_in) * g.h_in * g.w_in + static_cast<double>(g.K()) * g.M());
    held += data;
    peak = std::max(peak, systemc_layer_bytes(g) - data);
    if (held + peak > kSystemcMemoryLimitBytes) {
      char size[64];
      std::snprintf(size, sizeof size, "%.1f GiB", (held + peak) / (1024.0 * 1024 * 1024));
      throw std::invalid_argument("model '" + net.model + "' " + models::format_widths(net.widths) +
                                  ": the SystemC engine would need " + size +
                                  " for the real operands up to layer " + l.name +
                                  " (limit 4 GiB); use --engine fast, which gives the same cycles");
    }
  }
}

bool systemc_used() {
  return g_systemc_used;
}

std::vector<SimJobResult> run_systemc(const std::vector<SimJob>& jobs) {
  if (g_systemc_used) {
    throw std::logic_error(
        "run_systemc: the SystemC kernel allows one elaboration per process and it was used");
  }
  g_systemc_used = true;
  for (const auto& job : jobs) {
    const auto& g = job.data.geo;
    if (g.K() <= 0 || g.N() <= 0 || g.M() <= 0) {
      throw std::invalid_argument("run_systemc: layer " + job.name + " has an empty GEMM");
    }
  }
  std::vector<SimJobResult> results(jobs.size());
  sc_core::sc_report_handler::set_actions("/IEEE_Std_1666/deprecated", sc_core::SC_DO_NOTHING);
  ArrayTop top("nce_array", jobs, results);
  sc_core::sc_start();
  return results;
}

NetworkReport systemc_network_report(const HwConfig& hw, const models::Network& net,
                                     std::uint64_t seed,
                                     std::vector<std::vector<std::int64_t>>* outputs) {
  check_systemc_memory(net);
  std::vector<SimJob> jobs;
  jobs.reserve(net.layers.size());
  for (std::size_t i = 0; i < net.layers.size(); ++i) {
    const auto& l = net.layers[i];
    SimJob job;
    job.hw = hw;
    job.name = l.name;
    job.data = random_layer_data(geometry_of(l), l.quantized, hw.bits, seed + 7919 * i);
    jobs.push_back(std::move(job));
  }
  const auto results = run_systemc(jobs);
  NetworkReport report;
  report.hw = hw.name;
  report.engine = "systemc";
  report.clock_mhz = hw.clock_mhz;
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (!results[i].cost.ok()) throw std::invalid_argument(results[i].cost.status_detail);
    report.add(to_gemm_layer(net.layers[i]), results[i].cost);
    if (outputs) outputs->push_back(results[i].output);
  }
  return report;
}

}  // namespace nce::sim

// libsystemc references sc_main; programs that run the kernel from their own main() (the nce
// executable) get this stand-in. A real sc_main (the SystemC test binary) overrides it.
__attribute__((weak)) int sc_main(int, char**) {
  return 0;
}
