// energy_of (energy.h): each event count times its per-event energy from the config, SRAM words
// weighted by their width (bits for ifmap/filter, acc_bits for psums), DRAM by the bit.
#include "nce/sim/energy.h"

#include <gtest/gtest.h>

#include "sim_test_util.h"

namespace nce::sim {
namespace {

// Sums of a few products of exact binary fractions and small integers: exact but for rounding.
constexpr double kEnergyTolerancePj = 1e-9;

// make_hw's energies: mac 0.06, idle 0.006, SRAM 0.3 / 0.2 / 0.5 pJ per bit, DRAM 8 pJ per bit.
TEST(Energy, EachEventCostsItsConfiguredEnergy) {
  const HwConfig hw = testing::make_hw(4, 4, "os", 2, 16);
  EventCounts e;
  e.macs = 1000;
  e.idle_pe_cycles = 200;
  e.ifmap_sram_reads = 10, e.ifmap_sram_writes = 5;   // 15 words of 2 bits
  e.filter_sram_reads = 7, e.filter_sram_writes = 3;  // 10 words of 2 bits
  e.ofmap_sram_reads = 4, e.ofmap_sram_writes = 6;    // 10 psums of 16 bits
  e.dram_ifmap_read_bits = 100, e.dram_filter_read_bits = 20, e.dram_ofmap_write_bits = 30;
  const EnergyBreakdown b = energy_of(hw, e);
  EXPECT_NEAR(b.mac_pj, 1000 * 0.06, kEnergyTolerancePj);
  EXPECT_NEAR(b.idle_pj, 200 * 0.006, kEnergyTolerancePj);
  EXPECT_NEAR(b.sram_pj, 15 * 2 * 0.3 + 10 * 2 * 0.2 + 10 * 16 * 0.5, kEnergyTolerancePj);
  EXPECT_NEAR(b.dram_pj, 150 * 8.0, kEnergyTolerancePj);
  EXPECT_NEAR(b.total_pj(), b.mac_pj + b.idle_pj + b.sram_pj + b.dram_pj, kEnergyTolerancePj);
}

TEST(Energy, NoEventsCostNothing) {
  const EnergyBreakdown b = energy_of(testing::make_hw(4, 4, "ws"), EventCounts{});
  EXPECT_EQ(b.total_pj(), 0.0);
}

TEST(Energy, WiderOperandsCostMorePerSramWord) {
  EventCounts e;
  e.ifmap_sram_reads = 100;
  const double two = energy_of(testing::make_hw(4, 4, "os", 2, 16), e).sram_pj;
  const double eight = energy_of(testing::make_hw(4, 4, "os", 8, 32), e).sram_pj;
  EXPECT_NEAR(eight, 4 * two, kEnergyTolerancePj);
}

TEST(Energy, EventCountsAddFieldByField) {
  EventCounts a, b;
  a.macs = 1, a.idle_pe_cycles = 2, a.ofmap_sram_reads = 3, a.dram_ifmap_read_bits = 16;
  b.macs = 10, b.filter_sram_writes = 4, b.dram_filter_read_bits = 8, b.dram_ofmap_write_bits = 24;
  EventCounts sum = a;
  sum += b;
  EXPECT_EQ(sum.macs, 11);
  EXPECT_EQ(sum.idle_pe_cycles, 2);
  EXPECT_EQ(sum.ofmap_sram_reads, 3);
  EXPECT_EQ(sum.filter_sram_writes, 4);
  EXPECT_EQ(sum.dram_bits(), 16 + 8 + 24);
  EXPECT_DOUBLE_EQ(sum.dram_bytes(), 6.0);
  EXPECT_NE(sum, a);
  b += a;
  EXPECT_EQ(sum, b);  // order does not matter
}

}  // namespace
}  // namespace nce::sim
