// Running a campaign plan (plan.h): every job is one recorded search (nce/record/recorded_search.h)
// with its own checkpoint and its own small database in the work directory,
//   <work>/<job id>.ckpt (+ .retrain-* ...)   the search's checkpoints (search_checkpoint.h),
//                                              deleted when the job finishes
//   <work>/<job id>.db                         the job's run (runs.campaign, runs.arm set)
//   <work>/<job id>.lock                       held (flock) while a process runs the job
// and the results are merged (results/merge.h: by run uuid, idempotent) into the campaign's
// database, which records the plan's fingerprint (table campaigns) and so belongs to that plan.
// So a campaign is idempotent: run it again and finished jobs are skipped, interrupted or killed
// ones resume from their checkpoints (exactly: the search's resume is bit-exact), failed ones are
// run again and reported; a job whose database holds a run of other settings (the plan was
// edited) or of another plan stops the campaign before any job starts, naming the file to delete.
// Nothing in the work directory names where it lies (a job's run is found by its id), so the
// directory and the database may be moved or committed and the campaign continued elsewhere.
// Several processes may share a work directory (shards, MPI ranks, two terminals): a job locked by
// another process is skipped. A diverged job is a result ("diverged", off every front), not run
// again.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "nce/campaign/plan.h"
#include "nce/common/shard.h"
#include "nce/nn/dataset.h"
#include "nce/search/search_run.h"

namespace nce::campaign {

enum class JobState {
  kPending,    // never started
  kResumable,  // started, not finished (interrupted, killed): resumes from its checkpoint
  kFailed,     // ended with an error: run again
  kBusy,       // another process holds its lock now
  kFinished,
  kDiverged,  // the network diverged: a result, not run again
  kStale,     // its database holds a run of other settings (or of another plan)
  kCorrupt,   // its database cannot be read: reported, not run (the others go on)
};
const char* to_string(JobState state);  // "pending", "resumable", ...
bool needs_run(JobState state);         // pending, resumable, failed

struct JobStatus {
  std::size_t index = 0;  // in plan.jobs
  JobState state = JobState::kPending;
  std::optional<double> top1;     // final top-1 (finished)
  std::optional<double> seconds;  // wall time recorded for the run so far
  std::string detail;             // why failed / stale
  bool ran = false;               // run_job ran the search (not: busy, or done meanwhile)
};

// "i/N", 0 <= i < N: this process takes the jobs whose index % N == i (nce/common/shard.h).
using nce::common::parse_shard;
using nce::common::Shard;

class CampaignObserver {
 public:
  virtual ~CampaignObserver() = default;
  // A job starts (resumed: from its checkpoint). done/total: jobs of this process's share (total 0
  // under MPI, where the share is decided as jobs are handed out: done counts this rank's jobs).
  virtual void on_job_start(const Job& job, const JobStatus& status, int done, int total) {}
  virtual void on_job_end(const Job& job, const JobStatus& status, double seconds, int done,
                          int total) {}
  // Where the job's search reports its progress (may be null).
  virtual search::SearchObserver* job_observer(const Job& job) { return nullptr; }
};

struct CampaignOptions {
  std::string db_path;   // the campaign's database (merged results)
  std::string work_dir;  // "" = db_path + ".jobs"
  std::string data_dir;  // "" = the plan's
  common::Shard shard;
  std::string git_commit;
  // Polled at every batch of every job; non-zero = the signal that asks the campaign to stop
  // (the running job is marked interrupted and nce::Interrupted thrown). Empty: never.
  std::function<int()> interrupt_signal;
  CampaignObserver* observer = nullptr;
};

std::string work_dir(const CampaignOptions& options);

// The state of plan.jobs[index], and of every job of the plan (all shards), from the work
// directory.
JobStatus job_state(const Plan& plan, std::size_t index, const CampaignOptions& options);
std::vector<JobStatus> job_states(const Plan& plan, const CampaignOptions& options);

// Throws std::invalid_argument listing the stale jobs (and the files to delete) if any.
void check_not_stale(const Plan& plan, const std::vector<JobStatus>& states,
                     const CampaignOptions& options);

// A campaign database has one owner: the plan whose fingerprint it records (table campaigns,
// written with the first merge). Throws std::invalid_argument naming options.db_path when it
// belongs to another plan (another fingerprint, or runs of another campaign), is a directory or
// is not a database this nce can use. Reads only: a refused database is left byte-identical.
void check_database_owner(const Plan& plan, const CampaignOptions& options);

// The plan's data set (plan.data_dir or options.data_dir, subsets applied).
nn::DatasetPair load_plan_data(const Plan& plan, const CampaignOptions& options);

// Runs one job now (takes its lock; kBusy if another process holds it) and returns its state
// after: finished, diverged or failed (detail = the error), with `ran` set; a job another process
// finished meanwhile is returned as it is, `ran` false. nce::Interrupted propagates (the job
// is then resumable).
JobStatus run_job(const Plan& plan, std::size_t index, const nn::DatasetPair& data,
                  const CampaignOptions& options);

// Merges the databases of the given jobs (those that exist) into options.db_path.
struct MergeSummary {
  std::int64_t runs_added = 0, runs_updated = 0, runs_unchanged = 0;
};
MergeSummary merge_jobs(const Plan& plan, const std::vector<std::size_t>& jobs,
                        const CampaignOptions& options);

struct CampaignSummary {
  std::vector<JobStatus> states;  // every job of the plan after the run
  int ran = 0;                    // jobs this call ran (finished, diverged or failed)
  int skipped = 0;                // already finished/diverged, or busy elsewhere
  int failed = 0;
  MergeSummary merged;
  double seconds = 0;
};

// The jobs of this shard that need a run, in plan order.
std::vector<std::size_t> pending_jobs(const Plan& plan, const std::vector<JobStatus>& states,
                                      const common::Shard& shard);

// Serial: checks the database's owner and the plan for stale jobs, runs this shard's pending jobs
// one after another, then merges this shard's job databases into the campaign database.
CampaignSummary run_campaign(const Plan& plan, const CampaignOptions& options);

}  // namespace nce::campaign
