// Checkpoint size and write/read time (issue 29: a job's checkpoint write stays under 1 s, the
// file as compact as exact resume allows). Reads each checkpoint given (any version), writes it
// back in the current format ROUNDS times to a temporary beside it, and prints the raw size (the
// tensors' floats), the file's size before and after, and the median write and read times.
//   build/bench/nce_bench_checkpoint [--rounds N] FILE.ckpt...
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "nce/nn/checkpoint.h"

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 5;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--rounds" && i + 1 < argc) {
      rounds = std::max(1, std::atoi(argv[++i]));
    } else {
      files.push_back(a);
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: nce_bench_checkpoint [--rounds N] FILE.ckpt...\n");
    return 2;
  }
  std::printf("%-48s %12s %12s %12s %9s %9s\n", "checkpoint", "floats (MB)", "file (MB)",
              "v2 (MB)", "write s", "read s");
  for (const std::string& path : files) {
    const nce::nn::Checkpoint ck = nce::nn::read_checkpoint(path);
    std::size_t floats = 0;
    for (const auto& b : ck.network) floats += b.values.size();
    for (const auto& b : ck.optimizer.buffers) floats += b.values.size();
    const std::string out = path + ".bench";
    std::vector<double> writes, reads;
    for (int r = 0; r < rounds; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      nce::nn::write_checkpoint(out, ck);
      writes.push_back(seconds_since(t0));
      t0 = std::chrono::steady_clock::now();
      nce::nn::read_checkpoint(out);
      reads.push_back(seconds_since(t0));
    }
    std::printf("%-48s %12.2f %12.2f %12.2f %9.3f %9.3f\n",
                std::filesystem::path(path).filename().string().c_str(), floats * 4 / 1e6,
                std::filesystem::file_size(path) / 1e6, std::filesystem::file_size(out) / 1e6,
                median(writes), median(reads));
    std::filesystem::remove(out);
  }
  return 0;
}
