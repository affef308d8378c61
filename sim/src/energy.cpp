#include "nce/sim/energy.h"

namespace nce::sim {

EventCounts& EventCounts::operator+=(const EventCounts& o) {
  macs += o.macs;
  idle_pe_cycles += o.idle_pe_cycles;
  ifmap_sram_reads += o.ifmap_sram_reads;
  ifmap_sram_writes += o.ifmap_sram_writes;
  filter_sram_reads += o.filter_sram_reads;
  filter_sram_writes += o.filter_sram_writes;
  ofmap_sram_reads += o.ofmap_sram_reads;
  ofmap_sram_writes += o.ofmap_sram_writes;
  dram_ifmap_read_bits += o.dram_ifmap_read_bits;
  dram_filter_read_bits += o.dram_filter_read_bits;
  dram_ofmap_write_bits += o.dram_ofmap_write_bits;
  return *this;
}

bool EventCounts::operator==(const EventCounts& o) const {
  return macs == o.macs && idle_pe_cycles == o.idle_pe_cycles &&
         ifmap_sram_reads == o.ifmap_sram_reads && ifmap_sram_writes == o.ifmap_sram_writes &&
         filter_sram_reads == o.filter_sram_reads && filter_sram_writes == o.filter_sram_writes &&
         ofmap_sram_reads == o.ofmap_sram_reads && ofmap_sram_writes == o.ofmap_sram_writes &&
         dram_ifmap_read_bits == o.dram_ifmap_read_bits &&
         dram_filter_read_bits == o.dram_filter_read_bits &&
         dram_ofmap_write_bits == o.dram_ofmap_write_bits;
}

EnergyBreakdown energy_of(const HwConfig& hw, const EventCounts& e) {
  EnergyBreakdown b;
  b.mac_pj = static_cast<double>(e.macs) * hw.mac_pj;
  b.idle_pj = static_cast<double>(e.idle_pe_cycles) * hw.idle_pe_pj;
  b.sram_pj = static_cast<double>(e.ifmap_sram_reads + e.ifmap_sram_writes) * hw.bits *
                  hw.ifmap_sram_pj_per_bit +
              static_cast<double>(e.filter_sram_reads + e.filter_sram_writes) * hw.bits *
                  hw.filter_sram_pj_per_bit +
              static_cast<double>(e.ofmap_sram_reads + e.ofmap_sram_writes) * hw.acc_bits *
                  hw.ofmap_sram_pj_per_bit;
  b.dram_pj = static_cast<double>(e.dram_bits()) * hw.dram_pj_per_bit;
  return b;
}

}  // namespace nce::sim
