// Issue 13, end to end through the command line: no wrong number reaches the result database and
// no input crashes nce. Each test drives the `nce` binary the way the reports did.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "../results/test_util.h"
#include "cli_test.h"
#include "nce/common/utf8.h"
#include "nce/results/database.h"
#include "nce/results/sqlite_sink.h"
#include "support/scratch_dir.h"

namespace nce {
namespace {

namespace fs = std::filesystem;
using results::Database;
using results::testing::read_file;
using results::testing::ScratchFile;
using results::testing::write_file;
using testing::contains;
using testing::run_nce;

// A scratch directory, removed with everything in it.
struct ScratchDir : testing::ScratchDir {
  explicit ScratchDir(const std::string& tag) : testing::ScratchDir("nce_reliability_" + tag) {}
};

const std::string kSample = std::string(NCE_SOURCE_DIR) + "/tests/data/nn/fashion-mnist-sample";
const std::string kHw = std::string(NCE_SOURCE_DIR) + "/hw_configs/edge-16x16-ws-2b.cfg";

// The 100-image Fashion-MNIST sample as both the training and the test set.
std::string sample_data_dir(const ScratchDir& dir) {
  for (const char* kind : {"images-idx3", "labels-idx1"}) {
    const std::string src = kSample + "/train-" + kind + "-ubyte.gz";
    fs::create_symlink(src, dir.file(std::string("train-") + kind + "-ubyte.gz"));
    fs::create_symlink(src, dir.file(std::string("t10k-") + kind + "-ubyte.gz"));
  }
  return dir.path();
}

void put_u32(std::string& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out += static_cast<char>((v >> s) & 0xff);
}

// Fashion-MNIST-format (uncompressed IDX, which the reader also takes) files of rows x cols images.
std::string tiny_image_dir(const ScratchDir& dir, int rows, int cols) {
  const int n = 20;
  std::string images, labels;
  put_u32(images, 0x803);
  put_u32(images, n);
  put_u32(images, rows);
  put_u32(images, cols);
  for (int i = 0; i < n * rows * cols; ++i) images += static_cast<char>(i * 37);
  put_u32(labels, 0x801);
  put_u32(labels, n);
  for (int i = 0; i < n; ++i) labels += static_cast<char>(i % 10);
  for (const char* set : {"train", "t10k"}) {
    write_file(dir.file(std::string(set) + "-images-idx3-ubyte.gz"), images);
    write_file(dir.file(std::string(set) + "-labels-idx1-ubyte.gz"), labels);
  }
  return dir.path();
}

const char* kTinyTrain =
    "train --model resnet8 --dataset fashion-mnist --widths 1,4,4,4,8,8,8,8 --epochs 1 "
    "--subset 5 --test-subset 5 --batch 50 --quiet";

// Finding 1: a diverged network scored 100% and was "finished" on the Pareto front.
TEST(Reliability, DivergedTrainingIsADivergedRunOffEveryFront) {
  ScratchDir dir("diverged");
  ScratchFile db(".db");
  const std::string data = sample_data_dir(dir);
  const auto r =
      run_nce(std::string(kTinyTrain) + " --data " + data + " --lr 1e6 --db " + db.path());
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "diverged")) << r.output;
  EXPECT_FALSE(contains(r.output, "100.00%")) << r.output;
  Database check(db.path());
  EXPECT_EQ(check.query_int("SELECT count(*) FROM v_runs WHERE status = 'diverged'"), 1);
  EXPECT_EQ(check.query_int("SELECT count(*) FROM v_runs WHERE final_top1 IS NOT NULL"), 0);
  EXPECT_EQ(check.query_int("SELECT count(*) FROM v_candidates"), 0);
  const auto pareto = run_nce("db pareto --db " + db.path() + " --x macs --format csv");
  EXPECT_FALSE(contains(pareto.output, "train,resnet8")) << pareto.output;
}

// Finding 1: non-finite or absurd numeric options, one validator for every command.
TEST(Reliability, NonFiniteAndAbsurdNumericOptionsAreRefusedNamingThem) {
  struct Case {
    std::string args, option, value;
  } cases[] = {
      {"train --model resnet8 --dataset fashion-mnist --momentum nan", "--momentum", "nan"},
      {"train --model resnet8 --dataset fashion-mnist --weight-decay nan", "--weight-decay", "nan"},
      {"train --model resnet8 --dataset fashion-mnist --lr 1e300", "--lr", "1e+300"},
      {"train --model resnet8 --dataset fashion-mnist --pact-init inf", "--pact-init", "inf"},
      {"search --model resnet8 --dataset fashion-mnist --arch-lr inf", "--arch-lr", "inf"},
      {"search --model resnet8 --dataset fashion-mnist --base-multiplier inf", "--base-multiplier",
       "inf"},
      {"search --model resnet8 --dataset fashion-mnist --lambda-flops nan", "--lambda-flops",
       "nan"},
      {"models show --model resnet8 --wrpn nan", "--wrpn", "nan"},
      {"search --model resnet8 --dataset fashion-mnist --base-multiplier 100", "--base-multiplier",
       "(0, 64]"},
      {"train --model resnet8 --dataset fashion-mnist --threads 100000", "--threads", "100000"},
      {"train --model resnet8 --dataset fashion-mnist --seed -1", "--seed", ""},
      {"search --model resnet8 --dataset fashion-mnist --seed=-1", "--seed", "-1"},
      {"sim --hw " + kHw + " --model resnet8 --seed=-5", "--seed", "-5"},
  };
  for (const Case& c : cases) {
    const auto r = run_nce(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, c.option)) << c.args << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, c.value)) << c.args << "\n" << r.output;
    EXPECT_FALSE(contains(r.output, "epoch")) << "refused before any work: " << c.args;
  }
}

// Finding 9: option prefixes were guessed (`--mod` = `--model`).
TEST(Reliability, AbbreviatedOptionNamesAreUnknownOptions) {
  for (const std::string& args :
       std::vector<std::string>{"models show --mod resnet8", "models show --model resnet8 --wid 3",
                                "sim --hw " + kHw + " --mod resnet8 --engine fast"}) {
    const auto r = run_nce(args);
    EXPECT_NE(r.exit_code, 0) << args << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, "unrecognised option") ||
                contains(r.output, "unrecognized option"))
        << args << "\n"
        << r.output;
  }
  EXPECT_EQ(run_nce("models show --model resnet8").exit_code, 0);
}

// Finding 2: 2x2, 1x1 and 1x28 images overflowed the heap in avg_pool_forward.
TEST(Reliability, ImagesTooSmallForTheModelAreRefusedAtBuildTime) {
  for (auto [rows, cols] : {std::pair<int, int>{2, 2}, {1, 1}, {1, 28}}) {
    ScratchDir dir("tiny" + std::to_string(rows) + "x" + std::to_string(cols));
    const std::string data = tiny_image_dir(dir, rows, cols);
    const auto r =
        run_nce("train --model resnet8 --dataset fashion-mnist --epochs 1 --quiet --data " + data);
    EXPECT_EQ(r.exit_code, 2) << rows << "x" << cols << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, "too small")) << r.output;
    EXPECT_TRUE(contains(r.output, "resnet8")) << r.output;
  }
}

std::string hw_with(const ScratchDir& dir, const std::string& from, const std::string& to) {
  std::string text = read_file(kHw);
  const auto pos = text.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  text.replace(pos, from.size(), to);
  const std::string path = dir.file("hw.cfg");
  write_file(path, text);
  return path;
}

// A line of the hw config replaced (from -> to) and the key the error must name.
struct HwEdit {
  std::string from, to, key;
};

// Finding 3: an absurd DRAM bandwidth gave negative cycles and energy (and a sweep stored them).
TEST(Reliability, AbsurdHwValuesAreRefusedByBothEngines) {
  ScratchDir dir("hw");
  const HwEdit cases[] = {
      {"dram_bytes_per_cycle = 4", "dram_bytes_per_cycle = 1e-15", "memory.dram_bytes_per_cycle"},
      {"dram_bytes_per_cycle = 4", "dram_bytes_per_cycle = 1e-20", "memory.dram_bytes_per_cycle"},
      {"ifmap_sram_kb = 32", "ifmap_sram_kb = 1e16", "memory.ifmap_sram_kb"},
      {"mac_pj = 0.06", "mac_pj = 1e308", "energy.mac_pj"},
  };
  for (const HwEdit& c : cases) {
    const std::string hw = hw_with(dir, c.from, c.to);
    for (const char* engine : {"fast", "systemc"}) {
      const auto r = run_nce("sim --hw " + hw + " --model resnet20 --engine " + engine);
      EXPECT_EQ(r.exit_code, 2) << c.to << "\n" << r.output;
      EXPECT_TRUE(contains(r.output, c.key)) << r.output;
      EXPECT_FALSE(contains(r.output, "total")) << r.output;
      EXPECT_FALSE(contains(r.output, "nan")) << r.output;
    }
  }
}

// Finding 4: width overflow and multiplier lists with junk.
TEST(Reliability, WidthsAndMultipliersAreBounded) {
  for (const std::string& args : std::vector<std::string>{
           "models show --model resnet8 --wrpn 1e9", "models show --model resnet8 --wrpn inf",
           "models show --model resnet8 --wrpn 1e300",
           "models show --model resnet8 --widths 3,16,100000,16,32,32,64,64"}) {
    const auto r = run_nce(args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.output;
    EXPECT_FALSE(contains(r.output, "1935228928")) << r.output;
  }
  for (const std::string& list : std::vector<std::string>{"1,2abc", "inf", "1,1e9", "nan"}) {
    const auto r = run_nce(
        "search --method wrpn --model resnet8 --dataset fashion-mnist "
        "--wrpn-multipliers " +
        list);
    EXPECT_EQ(r.exit_code, 2) << list << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, "--wrpn-multipliers")) << r.output;
  }
}

TEST(Reliability, ASweepWithAnOverflowingWrpnFailsBeforeItStartsARun) {
  ScratchFile db(".db"), sweep(".cfg");
  write_file(sweep.path(), "[sweep]\nbase = " + kHw +
                               "\ndataset = cifar10\n[grid]\narray.rows = 16\n[networks]\n"
                               "wrpn = resnet8: 1e9\n");
  const auto r = run_nce("sweep --sweep " + sweep.path() + " --db " + db.path() + " --quiet");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "1e9")) << r.output;
  if (fs::exists(db.path())) {
    Database check(db.path());
    EXPECT_EQ(check.query_int("SELECT count(*) FROM runs WHERE status = 'running'"), 0);
  }
}

TEST(Reliability, TheSystemCEngineRefusesOperandsItCannotHoldBeforeAllocating) {
  const auto r = run_nce("sim --hw " + kHw +
                         " --model resnet20 --engine systemc --widths "
                         "3,16,16000,16000,16,16,16,16,32,32,32,32,32,32,64,64,64,64,64,64");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "SystemC engine would need")) << r.output;
  EXPECT_TRUE(contains(r.output, "--engine fast")) << r.output;
}

// Records a finished run of `method` on `model` with one candidate (widths 3,16, 100 MACs, 50%).
void record_one_run(const std::string& db_path, const std::string& method,
                    const std::string& model = "") {
  results::SqliteSink sink(db_path);
  const results::RunId run = sink.begin_run(results::testing::run_info(method, model));
  results::CandidateRecord c;
  c.widths = {3, 16};
  c.macs = 100;
  c.top1 = 50;
  sink.record_candidate(run, c);
  sink.finish_run(run, results::RunStatus::kFinished, 50.0);
}

std::string existing_db(const ScratchFile& file) {
  record_one_run(file.path(), "nce");
  return read_file(file.path());
}

// Finding 8: an output naming the --db file overwrote the database with exit 0.
TEST(Reliability, AnOutputPathThatIsTheDatabaseIsRefusedBeforeAnyWork) {
  ScratchDir dir("collide");
  ScratchFile db(".db");
  const std::string before = existing_db(db);
  const std::string data = sample_data_dir(dir);
  const std::string train = std::string(kTinyTrain) + " --data " + data + " --db " + db.path();
  // The same file under another name, too (compared by inode).
  const std::string alias = dir.file("alias.db");
  fs::create_symlink(db.path(), alias);
  for (const std::string& args : std::vector<std::string>{
           train + " --json " + db.path(), train + " --checkpoint " + db.path(),
           train + " --checkpoint " + alias, "db export --db " + db.path() + " --out " + db.path(),
           "db export --db " + db.path() + " --out " + alias,
           "compare --db " + db.path() + " --out " + db.path(),
           "compare --db " + db.path() + " --md " + db.path()}) {
    const auto r = run_nce(args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, "same file")) << args << "\n" << r.output;
    EXPECT_FALSE(contains(r.output, "epoch")) << args;
    EXPECT_EQ(read_file(db.path()), before) << args;
  }
}

TEST(Reliability, OutputsAreCheckedUpFrontAndLeaveNoTemporaryFiles) {
  ScratchDir dir("outputs");
  ScratchFile db(".db");
  existing_db(db);
  const std::string data = sample_data_dir(dir);
  const std::string train = std::string(kTinyTrain) + " --data " + data;
  // --out naming a directory left DIR.tmp behind.
  const std::string out_dir = dir.file("chart");
  fs::create_directories(out_dir);
  auto r = run_nce("compare --db " + db.path() + " --out " + out_dir);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "is a directory")) << r.output;
  EXPECT_FALSE(fs::exists(out_dir + ".tmp"));
  r = run_nce("db export --db " + db.path() + " --out " + out_dir);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_FALSE(fs::exists(out_dir + ".tmp"));
  // A checkpoint or a JSON summary in a missing directory failed only after training.
  for (const std::string& args :
       std::vector<std::string>{train + " --checkpoint " + dir.file("missing/run.ckpt"),
                                train + " --json " + dir.file("missing/summary.json")}) {
    r = run_nce(args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, "does not exist")) << r.output;
    EXPECT_FALSE(contains(r.output, "test:")) << "no training before the error: " << r.output;
  }
  // Outputs that are fine still work.
  r = run_nce("db export --db " + db.path() + " --out " + dir.file("export.csv"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(fs::exists(dir.file("export.csv.tmp")));
}

// Finding 9: a directory as --hw said "missing key array.rows".
TEST(Reliability, ADirectoryGivenAsHwSaysItIsADirectory) {
  const auto r = run_nce("sim --hw " + std::string(NCE_SOURCE_DIR) +
                         "/hw_configs --model resnet8 --engine fast");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "is a directory")) << r.output;
  EXPECT_FALSE(contains(r.output, "missing key")) << r.output;
}

// Issue 26, resource bounds: a recursive CTE stops at --timeout (and --max-memory) with a message
// naming the database; a plan or model that is /dev/zero is refused at the input limit.
TEST(Reliability, AnEndlessQueryOrAnEndlessInputFileIsStopped) {
  ScratchFile db(".db");
  existing_db(db);
  const std::string endless =
      "\"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c\"";
  auto r = run_nce("db query --timeout 0.5 --db " + db.path() + " " + endless);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, db.path() + ": the query ran longer than its limit of 0.5 s"))
      << r.output;
  r = run_nce("db query --timeout 0 --max-memory 4 --db " + db.path() +
              " \"WITH RECURSIVE c(x, s) AS (SELECT 1, '' UNION ALL SELECT x + 1, s || "
              "hex(zeroblob(1000)) FROM c WHERE x < 1000000) SELECT max(length(s)) FROM c\"");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "needed more than 4 MiB")) << r.output;
  r = run_nce("campaign --plan /dev/zero --db " + db.path() + " --list");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "/dev/zero: campaign plan is larger than 16 MiB")) << r.output;
  ::setenv("NCE_MAX_INPUT_MB", "8", 1);  // the model limit is 1 GiB: not read that far here
  r = run_nce("infer --model /dev/zero --dataset fashion-mnist");
  ::unsetenv("NCE_MAX_INPUT_MB");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "/dev/zero: integer model is larger than 8 MiB")) << r.output;
}

// Finding 9: SQL statements and read-only files.
TEST(Reliability, DbQueryShowsOneResultPerCallAndReadsPragmas) {
  ScratchFile db(".db");
  existing_db(db);
  auto r = run_nce("db query --db " + db.path() + " \"SELECT 1; SELECT 2\"");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "more than one statement returns rows")) << r.output;
  r = run_nce("db query --db " + db.path() + " \"PRAGMA journal_mode\"");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "wal")) << r.output;
}

TEST(Reliability, AReadOnlyDatabaseInAReadOnlyDirectoryCanBeRead) {
  if (::geteuid() == 0) GTEST_SKIP() << "root writes to any directory: cannot make one read-only";
  ScratchDir dir("rodir");
  ScratchFile db(".db");
  existing_db(db);
  const std::string path = dir.file("results.db");
  fs::copy_file(db.path(), path);
  ::chmod(path.c_str(), 0444);
  ::chmod(dir.path().c_str(), 0555);
  const auto r = run_nce("db query --db " + path + " \"SELECT count(*) FROM v_candidates\"");
  ::chmod(dir.path().c_str(), 0755);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "1")) << r.output;
}

// Finding 9: invalid UTF-8 from names and titles went into JSON and SVG as it was.
TEST(Reliability, JsonAndSvgOutputsAreValidUtf8) {
  ScratchDir dir("utf8");
  ScratchFile db(".db");
  record_one_run(db.path(), "nce\xff\xfe", "resnet\xc3");
  const std::string svg = dir.file("chart.svg"), json = dir.file("runs.json");
  auto r = run_nce("compare --db " + db.path() + " --out " + svg + " --title $'t\\xff\\xc0'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(common::is_valid_utf8(read_file(svg)));
  r = run_nce("db export --db " + db.path() + " --format json --table v_runs --out " + json);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(common::is_valid_utf8(read_file(json)));
  EXPECT_TRUE(contains(read_file(json), "\xEF\xBF\xBD"));
}

// Runs `nce args` in a child process with its output in `log`, sends `signal` once the output
// holds `marker`, and returns the child's exit code (-1: it did not exit normally, -2: the marker
// never came within 120 s).
int run_nce_and_signal(const std::string& args, const std::string& log, const std::string& marker,
                       int signal) {
  const pid_t child = ::fork();
  if (child == 0) {
    const std::string command =
        "exec " + std::string(NCE_BINARY) + " " + args + " > " + log + " 2>&1";
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  bool seen = false;
  for (int i = 0; i < 12000 && !seen; ++i) {
    seen = contains(read_file(log), marker);
    if (!seen) ::usleep(10000);
  }
  if (!seen) ::kill(child, SIGKILL);
  if (seen) ::kill(child, signal);
  int status = 0;
  ::waitpid(child, &status, 0);
  if (!seen) return -2;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string query_one(const std::string& db, const std::string& sql) {
  const auto r = run_nce("db query --db " + db + " --csv \"" + sql + "\"");
  const std::string& out = r.output;
  const size_t header_end = out.find('\n');
  if (header_end == std::string::npos) return out;
  std::string value = out.substr(header_end + 1);
  while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
  return value;
}

// A search slow enough to be interrupted after its second epoch (41 short epochs).
std::string tiny_search(const std::string& data, const std::string& hw, const std::string& ckpt,
                        const std::string& db) {
  return "search --method nce --model resnet8 --widths 1,4,4,4,8,8,8,8 --data " + data +
         " --batch 10 --warmup-epochs 1 --search-epochs 40 --retrain-epochs 1 --max-batches 3 "
         "--pact-init 3 --lambda-latency 1 --hw " +
         hw + " --checkpoint " + ckpt + " --db " + db;
}

// Each query's value (query_one) in the database at `db` is the text given with it.
void expect_values(const std::string& db,
                   const std::vector<std::pair<std::string, std::string>>& queries) {
  for (const auto& [sql, want] : queries) EXPECT_EQ(query_one(db, sql), want) << sql;
}

// Findings 6 and 10: SIGINT ends a search as an "interrupted" run (exit 130) with a valid
// checkpoint; --resume continues the same run id, so the database holds one run, its whole
// history and its final design once (compare --phase final counts it once); the run records the
// hw config it was costed on (a hw_configs row, every candidate's hw_fingerprint).
TEST(Reliability, AnInterruptedSearchResumesAsTheSameRun) {
  ScratchDir dir("sigint");
  const std::string data = sample_data_dir(dir);
  const std::string db = dir.file("r.db"), ckpt = dir.file("s.ckpt");
  const std::string args = tiny_search(data, kHw, ckpt, db);
  ASSERT_EQ(run_nce_and_signal(args, dir.file("log"), "epoch   2/41", SIGINT), 130)
      << read_file(dir.file("log"));
  EXPECT_TRUE(contains(read_file(dir.file("log")), "interrupted by SIGINT"));
  EXPECT_EQ(query_one(db, "SELECT group_concat(status) FROM runs"), "interrupted");
  EXPECT_EQ(query_one(db, "SELECT finished_at IS NOT NULL FROM runs"), "1");
  const int epochs_before = std::stoi(query_one(db, "SELECT count(*) FROM epochs"));
  EXPECT_GE(epochs_before, 2);
  EXPECT_LT(epochs_before, 41);

  const auto r = run_nce(args + " --resume --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_values(db, {{"SELECT count(*) || ' ' || group_concat(status) FROM runs", "1 finished"},
                     {"SELECT count(*) FROM epochs WHERE phase IN ('warmup', 'search')", "41"},
                     {"SELECT count(*) FROM epochs WHERE phase = 'retrain:final'", "1"},
                     {"SELECT count(*) FROM v_candidates WHERE phase = 'final'", "1"},
                     {"SELECT count(*) FROM v_candidates WHERE phase = 'search'", "40"}});
  const auto md = run_nce("compare --db " + db + " --x macs --phase final --md " +
                          dir.file("final.md") + " --out " + dir.file("final.svg"));
  ASSERT_EQ(md.exit_code, 0) << md.output;
  EXPECT_TRUE(contains(read_file(dir.file("final.md")), "1 candidates with both macs and top1"))
      << read_file(dir.file("final.md"));
  EXPECT_EQ(query_one(db, "SELECT count(*) FROM hw_configs WHERE name = 'edge-16x16-ws-2b'"), "1");
  EXPECT_EQ(query_one(db,
                      "SELECT count(*) FROM candidates c JOIN hw_configs h ON "
                      "h.fingerprint = c.hw_fingerprint"),
            "41");
}

// Finding 7: a resume against another array, or from a checkpoint that is not there, is refused
// with an error naming the checkpoint (and the key), and the run it would continue is untouched.
TEST(Reliability, AResumeOfAnotherProblemOrOfNothingIsRefused) {
  ScratchDir dir("resume");
  const std::string data = sample_data_dir(dir);
  const std::string db = dir.file("r.db"), ckpt = dir.file("s.ckpt");
  auto r = run_nce(tiny_search(data, kHw, ckpt, db) + " --resume --quiet");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.output, ckpt + ": no checkpoint to resume from")) << r.output;
  r = run_nce(std::string(kTinyTrain) + " --data " + data + " --checkpoint " + ckpt + " --resume");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.output, ckpt)) << r.output;

  ASSERT_EQ(run_nce_and_signal(tiny_search(data, kHw, ckpt, db), dir.file("log"), "epoch   2/41",
                               SIGTERM),
            143)
      << read_file(dir.file("log"));
  std::string other = read_file(kHw);
  const size_t rows = other.find("rows = 16");
  ASSERT_NE(rows, std::string::npos);
  other.replace(rows, 9, "rows = 8");
  write_file(dir.file("other.cfg"), other);
  r = run_nce(tiny_search(data, dir.file("other.cfg"), ckpt, db) + " --resume --quiet");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.output, ckpt + ": checkpoint has hw=")) << r.output;
  EXPECT_TRUE(contains(r.output, "array.rows=8")) << r.output;
  EXPECT_EQ(query_one(db, "SELECT count(*) || ' ' || group_concat(status) FROM runs"),
            "1 interrupted");
}

// Finding 6: SIGTERM ends a training as "interrupted" (exit 143); --resume continues that run.
TEST(Reliability, AnInterruptedTrainingResumesAsTheSameRun) {
  ScratchDir dir("sigterm");
  const std::string data = sample_data_dir(dir);
  const std::string db = dir.file("r.db"), ckpt = dir.file("t.ckpt");
  const std::string args =
      "train --model resnet8 --dataset fashion-mnist --widths 1,4,4,4,8,8,8,8 --epochs 60 "
      "--max-batches 3 --batch 10 --no-epoch-test --data " +
      data + " --checkpoint " + ckpt + " --db " + db;
  ASSERT_EQ(run_nce_and_signal(args, dir.file("log"), "epoch   2/60", SIGTERM), 143)
      << read_file(dir.file("log"));
  EXPECT_EQ(query_one(db, "SELECT group_concat(status) FROM runs"), "interrupted");
  const auto r = run_nce(args + " --resume --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_values(db, {{"SELECT count(*) || ' ' || group_concat(status) FROM runs", "1 finished"},
                     {"SELECT count(*) FROM epochs", "60"},
                     {"SELECT count(*) FROM v_candidates WHERE phase = 'final'", "1"}});
}

}  // namespace
}  // namespace nce
