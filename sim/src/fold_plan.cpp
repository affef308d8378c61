#include "nce/sim/fold_plan.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <stdexcept>

namespace nce::sim {

namespace {
std::int64_t ceil_div(std::int64_t a, std::int64_t b) {
  return (a + b - 1) / b;
}
}  // namespace

std::int64_t FoldPlan::fold_cycles() const {
  if (dataflow == Dataflow::kOS) return T + rows + cols - 2;
  return 2 * static_cast<std::int64_t>(rows) + cols + T - 2;
}

FoldPlan make_fold_plan(const HwConfig& hw, std::int64_t K, std::int64_t N, std::int64_t M) {
  if (K <= 0 || N <= 0 || M <= 0) {
    throw std::invalid_argument("GEMM shape K=" + std::to_string(K) + " N=" + std::to_string(N) +
                                " M=" + std::to_string(M) + " must be positive");
  }
  FoldPlan p;
  p.dataflow = hw.dataflow;
  p.rows = hw.rows;
  p.cols = hw.cols;
  p.K = K;
  p.N = N;
  p.M = M;
  switch (hw.dataflow) {
    case Dataflow::kOS:
      p.Sr = N;
      p.Sc = M;
      p.T = K;
      break;
    case Dataflow::kWS:
      p.Sr = K;
      p.Sc = M;
      p.T = N;
      break;
    case Dataflow::kIS:
      p.Sr = K;
      p.Sc = N;
      p.T = M;
      break;
  }
  p.row_folds = ceil_div(p.Sr, hw.rows);
  p.col_folds = ceil_div(p.Sc, hw.cols);
  p.ifmap_resident = N * K * hw.bits <= hw.ifmap_working_bits();
  p.filter_resident = K * M * hw.bits <= hw.filter_working_bits();
  return p;
}

Fold fold_at(const FoldPlan& p, std::int64_t index) {
  assert(index >= 0 && index < p.num_folds() && "fold index out of range");
  Fold f;
  f.index = index;
  f.fc = index / p.row_folds;
  f.fr = index % p.row_folds;
  f.r_used = std::min<std::int64_t>(p.rows, p.Sr - f.fr * p.rows);
  f.c_used = std::min<std::int64_t>(p.cols, p.Sc - f.fc * p.cols);
  f.macs = f.r_used * f.c_used * p.T;

  // Load rules per tile dependency (see fold_plan.h).
  auto row_tile_load = [&](std::int64_t words, bool resident) -> std::int64_t {
    if (index == 0) return words;
    if (p.row_folds == 1) return 0;  // same tile as the previous fold
    if (resident && f.fc > 0) return 0;
    return words;
  };
  auto col_tile_load = [&](std::int64_t words) -> std::int64_t { return f.fr == 0 ? words : 0; };

  switch (p.dataflow) {
    case Dataflow::kOS:
      f.group = index;
      f.first_of_group = f.last_of_group = true;
      f.ifmap_load_words = row_tile_load(p.K * f.r_used, p.ifmap_resident);
      f.filter_load_words = col_tile_load(p.K * f.c_used);
      f.ifmap_reads = f.r_used * p.T;
      f.filter_reads = f.c_used * p.T;
      f.psum_writes = f.r_used * f.c_used;
      f.psum_reads = 0;
      f.group_output_words = f.r_used * f.c_used;
      break;
    case Dataflow::kWS:
      f.group = f.fc;
      f.first_of_group = f.fr == 0;
      f.last_of_group = f.fr == p.row_folds - 1;
      f.filter_load_words = f.r_used * f.c_used;
      f.ifmap_load_words = row_tile_load(p.N * f.r_used, p.ifmap_resident);
      f.filter_reads = f.r_used * f.c_used;
      f.ifmap_reads = f.r_used * p.T;
      f.psum_writes = p.T * f.c_used;
      f.psum_reads = f.fr > 0 ? p.T * f.c_used : 0;
      f.group_output_words = f.last_of_group ? p.N * f.c_used : 0;
      break;
    case Dataflow::kIS:
      f.group = f.fc;
      f.first_of_group = f.fr == 0;
      f.last_of_group = f.fr == p.row_folds - 1;
      f.ifmap_load_words = f.r_used * f.c_used;
      f.filter_load_words = row_tile_load(f.r_used * p.M, p.filter_resident);
      f.ifmap_reads = f.r_used * f.c_used;
      f.filter_reads = f.r_used * p.T;
      f.psum_writes = p.T * f.c_used;
      f.psum_reads = f.fr > 0 ? p.T * f.c_used : 0;
      f.group_output_words = f.last_of_group ? p.M * f.c_used : 0;
      break;
  }
  return f;
}

std::optional<SramShortfall> check_sram_fit(const HwConfig& hw, const FoldPlan& p) {
  const std::int64_t r = std::min<std::int64_t>(p.rows, p.Sr);
  const std::int64_t c = std::min<std::int64_t>(p.cols, p.Sc);
  std::int64_t ifmap_words = 0, filter_words = 0, psum_words = 0;
  switch (p.dataflow) {
    case Dataflow::kOS:
      ifmap_words = p.K * r;
      filter_words = p.K * c;
      psum_words = r * c;
      break;
    case Dataflow::kWS:
      ifmap_words = p.N * r;
      filter_words = r * c;
      psum_words = p.N * c;
      break;
    case Dataflow::kIS:
      ifmap_words = r * c;
      filter_words = r * p.M;
      psum_words = p.M * c;
      break;
  }
  auto check = [&](const char* key, std::int64_t need, std::int64_t have,
                   const char* what) -> std::optional<SramShortfall> {
    if (need <= have) return std::nullopt;
    return SramShortfall{key, std::string("one fold's ") + what + " tile needs " +
                                  std::to_string(need) + " bits, the working buffer has " +
                                  std::to_string(have)};
  };
  if (auto s =
          check("memory.ifmap_sram_kb", ifmap_words * hw.bits, hw.ifmap_working_bits(), "ifmap")) {
    return s;
  }
  if (auto s = check("memory.filter_sram_kb", filter_words * hw.bits, hw.filter_working_bits(),
                     "filter")) {
    return s;
  }
  return check("memory.ofmap_sram_kb", psum_words * hw.acc_bits, hw.ofmap_working_bits(), "psum");
}

std::string describe_shortfall(const HwConfig& hw, const std::string& layer_name,
                               const SramShortfall& shortfall) {
  const auto kv = hw.to_key_values();
  const auto it = kv.find(shortfall.key);
  return hw.source + ": layer " + layer_name + ": key '" + shortfall.key + "' = '" +
         (it == kv.end() ? std::string() : it->second) + "': " + shortfall.message;
}

std::int64_t dram_transfer_cycles(const HwConfig& hw, std::int64_t bits) {
  if (bits <= 0) return 0;
  return static_cast<std::int64_t>(
      std::ceil(static_cast<double>(bits) / (8.0 * hw.dram_bytes_per_cycle)));
}

}  // namespace nce::sim
