// Hardware configuration of the modelled accelerator (docs/hardware.md §1): a dense R x C array of
// b-bit MAC PEs, three SRAM buffers, a DRAM interface, a clock and per-event energies.
//
// A .cfg file uses Boost.Program_options INI syntax ("key = value" lines under "[section]" headers,
// '#' or ';' comments). Every key below is required except general.name (defaults to the file
// stem):
//
//   [general] name
//   [array]   rows, cols (PEs, 1..4096), bits (operand bits b, 1..16), acc_bits (accumulator bits,
//             2*bits..64), dataflow (os | ws | is)
//   [memory]  ifmap_sram_kb, filter_sram_kb, ofmap_sram_kb (KiB, > 0; fractions allowed),
//             double_buffered (true | false), dram_bytes_per_cycle (> 0, per direction: one read
//             channel shared by ifmap and filter, one write channel for the ofmap)
//   [clock]   mhz (> 0)
//   [energy]  mac_pj (one b-bit MAC incl. accumulator add, pJ), idle_pe_pj (one PE for one cycle
//             without a MAC: clock + leakage, pJ), ifmap_sram_pj_per_bit, filter_sram_pj_per_bit,
//             ofmap_sram_pj_per_bit (per bit read or written), dram_pj_per_bit (>= 0)
//
// Validation (load/parse/with_overrides all run it): unknown, duplicate or missing keys, values
// that do not parse, sizes <= 0, an unknown dataflow, bits outside 1..16, and an SRAM whose working
// half (the whole SRAM when not double-buffered) cannot hold one fold's stationary tile (rows*cols
// words: b bits for ifmap and filter, acc_bits for ofmap psums) throw std::invalid_argument naming
// the source, the key and the value. A HwConfig that exists is valid; it never changes.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace nce::sim {

enum class Dataflow { kOS, kWS, kIS };

// Version of the cycle/energy model (part of HwConfig::fingerprint()). 2: DRAM traffic with
// operand reuse and chunked streamed dimensions (fold_plan.h).
constexpr int kCostModelVersion = 2;

const char* to_string(Dataflow dataflow);  // "os", "ws", "is"
// The dataflow to_string names `name` ("os", "ws", "is"; lower case only), or nullopt.
std::optional<Dataflow> dataflow_named(const std::string& name);

struct HwConfig {
  std::string name;    // general.name; not part of the fingerprint
  std::string source;  // file path or "<string>" the config came from (for error messages)

  // [array]
  int rows = 0;
  int cols = 0;
  int bits = 0;
  int acc_bits = 0;
  Dataflow dataflow = Dataflow::kOS;

  // [memory]
  double ifmap_sram_kb = 0;
  double filter_sram_kb = 0;
  double ofmap_sram_kb = 0;
  bool double_buffered = true;
  double dram_bytes_per_cycle = 0;

  // [clock]
  double clock_mhz = 0;

  // [energy], pJ
  double mac_pj = 0;
  double idle_pe_pj = 0;
  double ifmap_sram_pj_per_bit = 0;
  double filter_sram_pj_per_bit = 0;
  double ofmap_sram_pj_per_bit = 0;
  double dram_pj_per_bit = 0;

  // Bits one buffer offers a fold: half the SRAM when double-buffered, else all of it.
  std::int64_t ifmap_working_bits() const;
  std::int64_t filter_working_bits() const;
  std::int64_t ofmap_working_bits() const;

  // Canonical text of every field except name/source, after the cost-model version
  // ("cost_model=2;array.rows=32;...;energy.mac_pj=0.06"): the key of cost caches, so costs
  // cached by an older cost model are never served.
  std::string fingerprint() const;
  // Every key as written in a .cfg ("array.rows" -> "32"), general.name included.
  std::map<std::string, std::string> to_key_values() const;
  // The config as .cfg text (parses back to an equal config).
  std::string to_cfg_text() const;
};

// Reads and validates a .cfg file; throws std::invalid_argument (bad content) or
// std::runtime_error (unreadable file), naming the path.
HwConfig load_hw_config(const std::string& path);

// Parses .cfg text; `source_name` is used in error messages and as the default name.
HwConfig parse_hw_config(const std::string& text, const std::string& source_name);

// Builds a config from "section.key" -> value pairs (all required keys present).
HwConfig hw_config_from_key_values(const std::map<std::string, std::string>& values,
                                   const std::string& source_name);

// A copy of `base` with some keys replaced ("array.rows" -> "64"), re-validated. Unknown keys
// throw. Used by sweeps.
HwConfig with_overrides(const HwConfig& base, const std::map<std::string, std::string>& overrides);

}  // namespace nce::sim
