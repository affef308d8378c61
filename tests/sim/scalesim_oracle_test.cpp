// nce's SCALE-Sim v2 compatibility mode against SCALE-Sim v2 itself: every case under
// tests/data/sim/scalesim/ holds SCALE-Sim's inputs (scalesim.cfg, topology.csv or gemm.csv) and
// the three reports SCALE-Sim wrote for them (bench/scalesim_oracle.sh regenerates them from a
// local copy of SCALE-Sim). Every figure of every layer of every report must be equal, compared
// as the text SCALE-Sim printed (floats as Python's repr), so no tolerance is involved.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "nce/sim/scalesim_compat.h"

namespace nce::sim {
namespace {

namespace fs = std::filesystem;
const fs::path kCases = fs::path(NCE_TEST_DATA_DIR) / "sim" / "scalesim";

std::vector<std::vector<std::string>> read_csv(std::istream& in) {
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::vector<std::string> cells;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) {
      const auto b = cell.find_first_not_of(' ');
      cells.push_back(b == std::string::npos ? "" : cell.substr(b));
    }
    rows.push_back(cells);
  }
  return rows;
}

// Every case directory; one whose reports are missing fails (ScaleSimOracle.EveryCaseHasItsReports)
// rather than being skipped.
std::vector<std::string> case_names() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(kCases)) {
    if (e.is_directory()) names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<ScaleSimLayerReport> run_case(const fs::path& dir) {
  const auto cfg = load_scalesim_config((dir / "scalesim.cfg").string());
  const bool gemm = fs::exists(dir / "gemm.csv");
  const auto layers =
      gemm ? load_scalesim_topology((dir / "gemm.csv").string(), ScaleSimTopologyKind::kGemm)
           : load_scalesim_topology((dir / "topology.csv").string());
  std::vector<ScaleSimLayerReport> reports;
  for (const auto& l : layers) reports.push_back(scalesim_layer_report(cfg, l));
  return reports;
}

// Compares one report cell by cell; returns the number of unequal cells.
int compare_report(const std::string& case_name, const fs::path& expected_path,
                   const std::string& ours_text) {
  std::ifstream expected_in(expected_path);
  EXPECT_TRUE(expected_in.good()) << expected_path;
  std::istringstream ours_in(ours_text);
  const auto expected = read_csv(expected_in);
  const auto ours = read_csv(ours_in);
  EXPECT_EQ(ours.size(), expected.size()) << case_name << " " << expected_path.filename();
  int unequal = 0;
  const auto& header = expected.at(0);
  EXPECT_EQ(ours.at(0), header) << case_name << " " << expected_path.filename();
  for (std::size_t r = 1; r < std::min(ours.size(), expected.size()); ++r) {
    EXPECT_EQ(ours[r].size(), expected[r].size());
    for (std::size_t c = 0; c < std::min(ours[r].size(), expected[r].size()); ++c) {
      if (ours[r][c] != expected[r][c]) {
        ++unequal;
        ADD_FAILURE() << case_name << " " << expected_path.filename().string() << " layer " << r - 1
                      << " '" << (c < header.size() ? header[c] : "?") << "': SCALE-Sim "
                      << expected[r][c] << ", nce " << ours[r][c];
      }
    }
  }
  return unequal;
}

TEST(ScaleSimOracle, HasCoveringCases) {
  const auto names = case_names();
  // Every dataflow, square and non-square arrays, GEMM and depthwise topologies are committed.
  int os = 0, ws = 0, is = 0, gemm = 0, dp = 0;
  for (const auto& n : names) {
    const auto cfg = load_scalesim_config((kCases / n / "scalesim.cfg").string());
    os += cfg.dataflow == Dataflow::kOS;
    ws += cfg.dataflow == Dataflow::kWS;
    is += cfg.dataflow == Dataflow::kIS;
    gemm += fs::exists(kCases / n / "gemm.csv");
    dp += n.rfind("dp_", 0) == 0;
  }
  EXPECT_GE(names.size(), 14u);
  EXPECT_GE(os, 3);
  EXPECT_GE(ws, 3);
  EXPECT_GE(is, 3);
  EXPECT_GE(gemm, 3);
  EXPECT_GE(dp, 2);
}

TEST(ScaleSimOracle, EveryCaseHasItsInputsAndReports) {
  for (const auto& n : case_names()) {
    const fs::path dir = kCases / n;
    EXPECT_TRUE(fs::exists(dir / "scalesim.cfg")) << n;
    EXPECT_TRUE(fs::exists(dir / "topology.csv") || fs::exists(dir / "gemm.csv")) << n;
    for (const char* r : {"COMPUTE_REPORT.csv", "BANDWIDTH_REPORT.csv",
                          "DETAILED_ACCESS_REPORT.csv", "scalesim_version.txt"}) {
      EXPECT_TRUE(fs::exists(dir / r)) << n << ": " << r << " missing (bench/scalesim_oracle.sh)";
    }
  }
}

class ScaleSimCase : public ::testing::TestWithParam<std::string> {};

TEST_P(ScaleSimCase, EveryFigureOfEveryLayerEqualsScaleSim) {
  const fs::path dir = kCases / GetParam();
  const auto reports = run_case(dir);
  std::ostringstream compute, bandwidth, detail;
  write_scalesim_compute_report(reports, compute);
  write_scalesim_bandwidth_report(reports, bandwidth);
  write_scalesim_detailed_access_report(reports, detail);
  int unequal = compare_report(GetParam(), dir / "COMPUTE_REPORT.csv", compute.str());
  unequal += compare_report(GetParam(), dir / "BANDWIDTH_REPORT.csv", bandwidth.str());
  unequal += compare_report(GetParam(), dir / "DETAILED_ACCESS_REPORT.csv", detail.str());
  EXPECT_EQ(unequal, 0) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ScaleSimCase, ::testing::ValuesIn(case_names()),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace nce::sim
