// Energy from event counts (Accelergy style): every event count times its per-event energy from the
// hw config; nothing is hard-coded. Units: pJ.
//
//   mac  = macs * energy.mac_pj
//   idle = idle_pe_cycles * energy.idle_pe_pj                 (PE-cycles without a MAC, stalls
//   incl.) sram = (ifmap reads + writes) * bits * ifmap_sram_pj_per_bit
//        + (filter reads + writes) * bits * filter_sram_pj_per_bit
//        + (ofmap reads + writes) * acc_bits * ofmap_sram_pj_per_bit   (psums are acc_bits wide)
//   dram = (all DRAM bits read and written) * dram_pj_per_bit
#pragma once

#include <cstdint>

#include "nce/sim/hw_config.h"

namespace nce::sim {

// What happened while a layer ran. SRAM counts are in words (ifmap/filter words are `bits` wide,
// ofmap words are acc_bits-wide psums); DRAM counts are in bits.
struct EventCounts {
  std::int64_t macs = 0;            // PE-cycles with a valid multiply-accumulate
  std::int64_t idle_pe_cycles = 0;  // rows*cols*cycles - macs
  std::int64_t ifmap_sram_reads = 0;
  std::int64_t ifmap_sram_writes = 0;  // fills from DRAM
  std::int64_t filter_sram_reads = 0;
  std::int64_t filter_sram_writes = 0;  // fills from DRAM
  std::int64_t ofmap_sram_reads = 0;    // psum read-backs + outputs read for the DRAM write-back
  std::int64_t ofmap_sram_writes = 0;   // psums written by the array
  std::int64_t dram_ifmap_read_bits = 0;
  std::int64_t dram_filter_read_bits = 0;
  std::int64_t dram_ofmap_write_bits = 0;

  std::int64_t dram_bits() const {
    return dram_ifmap_read_bits + dram_filter_read_bits + dram_ofmap_write_bits;
  }
  double dram_bytes() const { return static_cast<double>(dram_bits()) / 8.0; }
  EventCounts& operator+=(const EventCounts& o);
  bool operator==(const EventCounts& o) const;
  bool operator!=(const EventCounts& o) const { return !(*this == o); }
};

struct EnergyBreakdown {
  double mac_pj = 0;
  double sram_pj = 0;
  double dram_pj = 0;
  double idle_pj = 0;
  double total_pj() const { return mac_pj + sram_pj + dram_pj + idle_pj; }
};

EnergyBreakdown energy_of(const HwConfig& hw, const EventCounts& events);

}  // namespace nce::sim
