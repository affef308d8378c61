// nce export / nce infer end to end through the command line: a ResNet-8 W2A2 trained a few
// batches on the 100-image Fashion-MNIST sample, exported, inferred with every engine (the same
// top-1); a corrupt, foreign or missing model is refused with a message naming the file.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "cli_test.h"

namespace nce::testing {
namespace {

std::string sample_dir() {
  return fashion_mnist_sample_dir("nce_deploy_cli_fmnist_");
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The names in `dir` that mention nce_deploy_cli (this test's files).
std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return names;
  while (const dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    if (n.find("nce_deploy_cli") != std::string::npos) names.push_back(n);
  }
  ::closedir(d);
  return names;
}

std::string top1_of(const std::string& output) {
  const auto at = output.find("top-1 ");
  return at == std::string::npos ? "" : output.substr(at, output.find('%', at) - at);
}

// One test's files: the Fashion-MNIST sample directory, TempDir()/<name>.ckpt and .nceim (removed
// at the end).
struct ExportFiles {
  explicit ExportFiles(const std::string& name)
      : dir(sample_dir()),
        ckpt(::testing::TempDir() + name + ".ckpt"),
        model(::testing::TempDir() + name + ".nceim") {}
  ~ExportFiles() {
    std::remove(ckpt.c_str());
    std::remove(model.c_str());
  }
  const std::string dir, ckpt, model;
};

// The runs whose checkpoints the tests export; the checkpoint's path and --data follow.
const char* const kTrain =
    "train --model resnet8 --dataset fashion-mnist --bits 2 --epochs 1 --batch 10 --max-batches 4 "
    "--no-epoch-test --checkpoint";
const char* const kSearch =
    "search --method nce --model resnet8 --batch 10 --warmup-epochs 1 --search-epochs 1 "
    "--retrain-epochs 1 --max-batches 2 --pact-init 3 --save-checkpoint";

// Runs `nce <writer> <ckpt> --data <dir>` (kTrain or kSearch), then `nce export` of that checkpoint
// to the model file; both must exit 0. `exported`: the export's result.
void write_and_export(const char* writer, const ExportFiles& f, CliResult& exported) {
  const CliResult r = run_nce(std::string(writer) + " " + f.ckpt + " --data " + f.dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  exported = run_nce("export --checkpoint " + f.ckpt + " --out " + f.model + " --data " + f.dir);
  ASSERT_EQ(exported.exit_code, 0) << exported.output;
}

TEST(DeployCli, TrainExportInferWithEveryEngineAndRefuseBadModels) {
  const ExportFiles f("nce_deploy_cli");
  const std::string &dir = f.dir, &ckpt = f.ckpt, &model = f.model;
  CliResult r;
  ASSERT_NO_FATAL_FAILURE(write_and_export(kTrain, f, r));
  EXPECT_TRUE(contains(r.output, "exported resnet8")) << r.output;
  std::string first;
  for (const char* engine : {"portable", "avx2", "vnni", "auto"}) {
    r = run_nce("infer --model " + model + " --dataset fashion-mnist --data " + dir + " --engine " +
                engine);
    if (r.exit_code != 0 && contains(r.output, "does not have its instructions")) continue;
    ASSERT_EQ(r.exit_code, 0) << engine << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, "100 images")) << r.output;
    if (first.empty()) first = top1_of(r.output);
    EXPECT_EQ(top1_of(r.output), first) << engine << "\n" << r.output;
  }
  // A checkpoint is not a model; a corrupt model and a missing one are named.
  r = run_nce("infer --model " + ckpt + " --dataset fashion-mnist --data " + dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.output, ckpt) && contains(r.output, "not an nce integer model"))
      << r.output;
  {
    std::ifstream in(model, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    bytes.resize(bytes.size() - 100);
    std::ofstream out(model, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  r = run_nce("infer --model " + model + " --dataset fashion-mnist --data " + dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.output, model) && contains(r.output, "truncated")) << r.output;
  r = run_nce("export --checkpoint /nonexistent.ckpt --out " + model + " --data " + dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.output, "/nonexistent.ckpt")) << r.output;
  r = run_nce("infer --model " + model + " --engine cuda");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.output, "cuda")) << r.output;
  // --out that exists and is not a regular file is refused before anything is read or written:
  // a FIFO, /dev/full, a symlink (its target untouched); nothing is left beside them.
  const std::string fifo = ::testing::TempDir() + "nce_deploy_cli_out.fifo";
  const std::string link = ::testing::TempDir() + "nce_deploy_cli_out.link";
  std::remove(fifo.c_str());
  std::remove(link.c_str());
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  ASSERT_EQ(::symlink(model.c_str(), link.c_str()), 0);
  const std::string before = read_file(model);
  for (const auto& [out, kind] : std::vector<std::pair<std::string, std::string>>{
           {fifo, "a FIFO"}, {"/dev/full", "a device"}, {link, "a symbolic link"}}) {
    r = run_nce("export --checkpoint " + ckpt + " --out " + out + " --data " + dir);
    EXPECT_EQ(r.exit_code, 2) << out << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, "--out " + out + ": exists and is " + kind)) << r.output;
  }
  EXPECT_EQ(read_file(model), before);
  for (const std::string& left : list_dir(::testing::TempDir()))
    EXPECT_EQ(left.find(".tmp"), std::string::npos) << "left behind: " << left;
  std::remove(fifo.c_str());
  std::remove(link.c_str());
}

// search -> export -> infer: nce search --save-checkpoint writes the final retrained network.
TEST(DeployCli, SearchSavesTheFinalNetworkForExport) {
  const ExportFiles f("nce_deploy_cli_search");
  CliResult r;
  ASSERT_NO_FATAL_FAILURE(write_and_export(kSearch, f, r));
  r = run_nce("infer --model " + f.model + " --data " + f.dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "100 images")) << r.output;
}

}  // namespace
}  // namespace nce::testing
