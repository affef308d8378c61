// nce campaign: runs a campaign plan (campaign/plan.h: model, data, protocol, arms x seeds) as
// idempotent jobs, one recorded search each, and merges their results into --db
// (campaign/campaign.h). --list shows the jobs and their state; --shard i/N takes a slice (a batch
// scheduler's job array); under `mpirun -np N` (when built with MPI) ranks take jobs dynamically.
#include <omp.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <map>

#include "cli_util.h"
#include "command.h"
#include "nce/campaign/campaign.h"
#include "nce/campaign/mpi.h"
#include "nce/campaign/plan.h"

namespace nce::app {
namespace {

const char* kUsage =
    "--plan FILE --db FILE [--list] [--shard i/N] [--work DIR] [--data DIR]\n"
    "       mpirun -np N nce campaign --plan FILE --db FILE      (when built with OpenMPI)\n\n"
    "Runs every job of a campaign plan (arms x seeds x hw configs; format: campaign/include/nce/\n"
    "campaign/plan.h) as one search each, with its own checkpoint and database under the work\n"
    "directory (default: DB.jobs), and merges each job's run into DB as it ends. Idempotent: run\n"
    "it again and finished jobs are skipped, interrupted or killed ones resume from their\n"
    "checkpoints, failed ones run again. --shard i/N runs only jobs i, i+N, ... (e.g. a Slurm\n"
    "job array: see README); under mpirun rank 0 hands jobs out one at a time to every rank\n"
    "(itself included) and merges them all when all are done. The database records the plan and\n"
    "refuses any other; DB and the work directory may be moved or committed and the campaign\n"
    "continued elsewhere (a finished job deletes its checkpoints). A job another process runs is\n"
    "skipped; an unreadable job database is reported and the others run.";

std::string state_cell(const campaign::JobStatus& s) {
  std::string text = campaign::to_string(s.state);
  if (s.top1) {
    char buf[32];
    std::snprintf(buf, sizeof buf, " %.2f%%", *s.top1);
    text += buf;
  }
  return text;
}

void print_list(std::ostream& out, const campaign::Plan& plan,
                const std::vector<campaign::JobStatus>& states, const campaign::Shard& shard) {
  out << "campaign " << plan.name << " (" << plan.source << "): " << plan.jobs.size() << " jobs\n";
  out << std::left << std::setw(5) << "#" << std::setw(28) << "job" << std::setw(8) << "method"
      << std::setw(6) << "seed" << std::setw(22) << "state"
      << "time\n";
  std::map<std::string, int> counts;
  for (const campaign::JobStatus& s : states) {
    const campaign::Job& j = plan.jobs[s.index];
    if (static_cast<int>(s.index % shard.count) != shard.index) continue;
    ++counts[campaign::to_string(s.state)];
    out << std::left << std::setw(5) << s.index << std::setw(28) << j.id << std::setw(8)
        << j.config.method << std::setw(6) << j.seed << std::setw(22) << state_cell(s)
        << (s.seconds ? format_duration(*s.seconds) : std::string("-")) << "\n";
    if (!s.detail.empty()) out << "      " << s.detail << "\n";
  }
  out << "states:";
  for (const auto& [state, n] : counts) out << "  " << state << " " << n;
  out << "\n";
}

// Job start/end lines with jobs done/left and an ETA from the mean time of the jobs run so far.
class CampaignProgress : public campaign::CampaignObserver {
 public:
  CampaignProgress(std::ostream& out, bool quiet, std::string prefix)
      : out_(out), quiet_(quiet), prefix_(std::move(prefix)) {}
  void on_job_start(const campaign::Job& job, const campaign::JobStatus& s, int done,
                    int total) override {
    if (quiet_) return;
    out_ << prefix_ << "job " << done + 1;
    if (total > 0)
      out_ << "/" << total;  // under MPI the share is known only as jobs are handed out
    out_ << ": " << job.id << " (" << job.config.method << ", seed " << job.seed
         << (s.state == campaign::JobState::kResumable ? ", resuming" : "")
         << (s.state == campaign::JobState::kFailed ? ", again after a failure" : "") << ")"
         << std::endl;
  }
  search::SearchObserver* job_observer(const campaign::Job& job) override {
    if (quiet_) return nullptr;
    epochs_.job = job.id;
    return &epochs_;
  }
  void on_job_end(const campaign::Job& job, const campaign::JobStatus& s, double seconds, int done,
                  int total) override {
    elapsed_ += seconds;
    if (quiet_ && s.state != campaign::JobState::kFailed) return;
    out_ << prefix_ << "job " << job.id << ": " << state_cell(s) << " in "
         << format_duration(seconds) << "; " << done << " done";
    if (total <= 0) {
      out_ << " by this rank";
    } else {
      out_ << ", " << total - done << " left";
      if (done < total) out_ << ", ETA " << format_duration(elapsed_ / done * (total - done));
    }
    out_ << std::endl;
    if (!s.detail.empty()) out_ << prefix_ << "  " << s.detail << std::endl;
  }

 private:
  std::ostream& out_;
  bool quiet_;
  std::string prefix_;
  double elapsed_ = 0;
  // One line per epoch of the running job (no per-batch output: campaign logs are files).
  struct EpochLines : search::SearchObserver {
    EpochLines(std::ostream& o, const std::string& p) : out(o), prefix(p) {}
    void on_epoch(const search::SearchEpoch& e, int epochs) override {
      char line[200];
      std::snprintf(line, sizeof line, "  epoch %d/%d %s loss %.4f train %.2f%% %s", e.epoch,
                    epochs, e.phase.c_str(), e.loss, e.top1, format_duration(e.seconds).c_str());
      out << prefix << job << line << std::endl;
    }
    void on_retrain_epoch(const std::string& tag, const std::vector<int>&, const nn::EpochStats& e,
                          int epochs) override {
      char line[200];
      std::snprintf(line, sizeof line, "  retrain %s %d/%d loss %.4f train %.2f%%", tag.c_str(),
                    e.epoch, epochs, e.loss, e.top1);
      out << prefix << job << line;
      if (std::isfinite(e.test_top1)) {
        std::snprintf(line, sizeof line, " test %.2f%%", e.test_top1);
        out << line;
      }
      out << " " << format_duration(e.seconds) << std::endl;
    }
    std::ostream& out;
    const std::string& prefix;
    std::string job;
  } epochs_{out_, prefix_};
};

int campaign_main(const std::vector<std::string>& args) {
  po::options_description opts("Options");
  opts.add_options()("plan", po::value<std::string>(), "campaign plan (INI)")(
      "db", po::value<std::string>(), "campaign database (SQLite) the jobs' runs merge into")(
      "work", po::value<std::string>()->default_value(""),
      "work directory for the jobs' checkpoints and databases (default: DB.jobs)")(
      "data", po::value<std::string>()->default_value(""),
      "data directory (overrides the plan's data =)")(
      "shard", po::value<std::string>()->default_value("0/1"),
      "run only the jobs whose index % N == i")("list",
                                                "show the jobs and their state; run nothing")(
      "threads", po::value<int>()->default_value(0), "OpenMP threads (0 = OpenMP's default)")(
      "quiet", "only job failures and the summary");
  po::variables_map vm;
  if (!parse_or_help(args, "campaign", kUsage, opts, vm)) return 0;
  if (!vm.count("plan")) throw std::invalid_argument("--plan FILE is required");
  if (!vm.count("db")) throw std::invalid_argument("--db FILE is required");
  const InterruptHandler interrupts;
  const campaign::Plan plan = campaign::load_plan(vm["plan"].as<std::string>());
  campaign::CampaignOptions o;
  o.db_path = vm["db"].as<std::string>();
  o.work_dir = vm["work"].as<std::string>();
  o.data_dir = vm["data"].as<std::string>();
  o.shard = campaign::parse_shard(vm["shard"].as<std::string>());
  o.git_commit = NCE_GIT_COMMIT;
  o.interrupt_signal = [] { return interrupt_signal(); };
  if (vm["threads"].as<int>() > 0) omp_set_num_threads(vm["threads"].as<int>());
  const bool quiet = vm.count("quiet") > 0;

  if (vm.count("list")) {
    print_list(std::cout, plan, campaign::job_states(plan, o), o.shard);
    return 0;
  }
  // mpirun (OpenMPI, or a PMI launcher) tells its ranks by these variables.
  const bool launched = std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr ||
                        std::getenv("PMI_SIZE") != nullptr || std::getenv("PMIX_RANK") != nullptr;
  campaign::MpiSession mpi(launched);
  if (mpi.size() > 1 && o.shard.count > 1) {
    throw std::invalid_argument(
        "--shard and mpirun do not mix: under mpirun the ranks share the "
        "jobs out themselves");
  }
  const std::string prefix = mpi.size() > 1 ? "[rank " + std::to_string(mpi.rank()) + "] " : "";
  CampaignProgress progress(std::cout, quiet, prefix);
  o.observer = &progress;
  if (!quiet && mpi.rank() == 0) {
    std::cout << "nce campaign " << plan.name << ": " << plan.jobs.size() << " jobs, work dir "
              << campaign::work_dir(o) << ", " << omp_get_max_threads() << " threads"
              << (mpi.size() > 1 ? ", " + std::to_string(mpi.size()) + " MPI ranks" : "")
              << std::endl;
  }
  campaign::CampaignSummary s;
  if (mpi.size() > 1) {
    try {
      s = campaign::run_campaign_mpi(plan, o, mpi);
    } catch (const common::Interrupted& e) {
      report_interrupted("campaign", e);
      mpi.abort(e.exit_code());  // the other ranks cannot go on without this one
      throw;
    } catch (const std::exception& e) {
      report_error("campaign", e.what());
      mpi.abort(2);
      throw;
    }
  } else {
    s = campaign::run_campaign(plan, o);
  }
  if (mpi.rank() != 0) return s.failed > 0 ? 1 : 0;
  std::map<std::string, int> counts;
  for (const campaign::JobStatus& st : s.states) ++counts[campaign::to_string(st.state)];
  std::cout << "campaign " << plan.name << ": ran " << s.ran << ", skipped " << s.skipped
            << ", failed " << s.failed << " in " << format_duration(s.seconds) << "; merged into "
            << o.db_path << ": " << s.merged.runs_added << " runs added, " << s.merged.runs_updated
            << " updated, " << s.merged.runs_unchanged << " unchanged\nstates:";
  for (const auto& [state, n] : counts) std::cout << "  " << state << " " << n;
  std::cout << std::endl;
  return s.failed > 0 ? 1 : 0;
}

}  // namespace

NCE_REGISTER_COMMAND("campaign",
                     "run a campaign plan (arms x seeds) as idempotent, resumable jobs; "
                     "shards, MPI",
                     campaign_main);

}  // namespace nce::app
