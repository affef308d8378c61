#include "nce/campaign/campaign.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include "nce/common/interrupted.h"
#include "nce/common/name_table.h"
#include "nce/nn/trainer.h"
#include "nce/record/recorded_search.h"
#include "nce/results/campaign_records.h"
#include "nce/results/database.h"
#include "nce/results/merge.h"

namespace nce::campaign {
namespace {

std::string job_path(const CampaignOptions& options, const Job& job, const char* ext) {
  return (std::filesystem::path(work_dir(options)) / (job.id + ext)).string();
}

// An exclusive, non-blocking flock on <work>/<id>.lock, released on destruction.
class JobLock {
 public:
  explicit JobLock(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw std::runtime_error(path + ": cannot create the job's lock file");
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~JobLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the lock
  }
  JobLock(const JobLock&) = delete;
  JobLock& operator=(const JobLock&) = delete;
  bool held() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

bool locked_elsewhere(const std::string& lock_path) {
  if (!std::filesystem::exists(lock_path)) return false;
  const int fd = ::open(lock_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool busy = ::flock(fd, LOCK_SH | LOCK_NB) != 0;
  ::close(fd);
  return busy;
}

// The job's state from its database (without the lock). Throws results::DatabaseError when the
// database cannot be read.
JobStatus read_state_or_throw(const Plan& plan, std::size_t index, const CampaignOptions& options) {
  const Job& job = plan.jobs[index];
  JobStatus s;
  s.index = index;
  const std::string db_path = job_path(options, job, ".db");
  if (!std::filesystem::exists(db_path) || std::filesystem::file_size(db_path) == 0) {
    // No database yet, or one another process has just created (it is empty until it migrates).
    const std::string ckpt = job_path(options, job, ".ckpt");
    search::SearchConfig c = job.config;
    c.checkpoint_path = ckpt;
    if (search::has_resume_state(c)) s.state = JobState::kResumable;
    return s;
  }
  results::OpenOptions ro;
  ro.mode = results::OpenMode::kReadOnly;
  results::Database db(db_path, ro);
  const results::LastRun run = results::last_run(db);
  if (!run.migrated) return s;  // created by another process, not yet migrated
  if (!run.any) return s;       // created, nothing recorded yet
  const std::string& status = run.status;
  if (run.final_top1) s.top1 = *run.final_top1;
  if (run.wall_seconds) s.seconds = *run.wall_seconds;
  if (run.campaign != plan.name || run.arm != job.arm) {
    s.state = JobState::kStale;
    s.detail = db_path + " holds a run of campaign '" + run.campaign + "' arm '" + run.arm +
               "', not of this plan";
  } else if (run.config != job.config_json) {
    s.state = JobState::kStale;
    s.detail = db_path + " holds a run of other settings (the plan changed since)";
  } else if (status == "finished") {
    s.state = JobState::kFinished;
  } else if (status == "diverged") {
    s.state = JobState::kDiverged;
  } else if (status == "failed") {
    s.state = JobState::kFailed;
  } else {
    s.state = JobState::kResumable;  // running (killed) or interrupted
  }
  return s;
}

// read_state_or_throw, with an unreadable database as the job's state (kCorrupt, the error in
// detail) so that one bad file is reported without stopping the others.
JobStatus read_state(const Plan& plan, std::size_t index, const CampaignOptions& options) {
  try {
    return read_state_or_throw(plan, index, options);
  } catch (const std::exception& e) {
    JobStatus s;
    s.index = index;
    s.state = JobState::kCorrupt;
    s.detail = e.what();
    return s;
  }
}

// The job's checkpoints: the search's and its retrains' (<id>.ckpt.retrain-<tag>), with any
// temporary file of an interrupted write.
std::vector<std::filesystem::path> checkpoint_files(const CampaignOptions& options,
                                                    const Job& job) {
  std::vector<std::filesystem::path> files;
  const std::string stem = job.id + ".ckpt";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(work_dir(options), ec)) {
    const std::string name = entry.path().filename().string();
    if (name == stem || name.rfind(stem + ".", 0) == 0) files.push_back(entry.path());
  }
  return files;
}

}  // namespace

const char* to_string(JobState state) {
  static const common::NamedValue<JobState> kNames[] = {
      {JobState::kPending, "pending"},   {JobState::kResumable, "resumable"},
      {JobState::kFailed, "failed"},     {JobState::kBusy, "running elsewhere"},
      {JobState::kFinished, "finished"}, {JobState::kDiverged, "diverged"},
      {JobState::kStale, "stale"},       {JobState::kCorrupt, "corrupt"}};
  return common::name_of(kNames, state);
}

bool needs_run(JobState state) {
  return state == JobState::kPending || state == JobState::kResumable || state == JobState::kFailed;
}

std::string work_dir(const CampaignOptions& options) {
  return options.work_dir.empty() ? options.db_path + ".jobs" : options.work_dir;
}

JobStatus job_state(const Plan& plan, std::size_t index, const CampaignOptions& options) {
  JobStatus s = read_state(plan, index, options);
  const bool unsettled = needs_run(s.state) || s.state == JobState::kCorrupt;
  if (unsettled && locked_elsewhere(job_path(options, plan.jobs.at(index), ".lock"))) {
    s.state = JobState::kBusy;  // another process runs it (its database may be half-created)
    s.detail.clear();
  }
  return s;
}

std::vector<JobStatus> job_states(const Plan& plan, const CampaignOptions& options) {
  std::vector<JobStatus> states;
  for (std::size_t i = 0; i < plan.jobs.size(); ++i) states.push_back(job_state(plan, i, options));
  return states;
}

void check_not_stale(const Plan& plan, const std::vector<JobStatus>& states,
                     const CampaignOptions& options) {
  std::string stale;
  for (const JobStatus& s : states) {
    if (s.state != JobState::kStale) continue;
    const Job& job = plan.jobs[s.index];
    stale += "\n  " + job.id + ": " + s.detail + "; to run it again under this plan delete " +
             job_path(options, job, ".*");
  }
  if (!stale.empty()) {
    throw std::invalid_argument(plan.source + ": jobs ran with other settings:" + stale);
  }
}

namespace {

// Why `db` cannot take `plan`'s runs ("" if it can): it records another plan, or holds runs of
// another campaign.
std::string foreign_owner(const results::Database& db, const Plan& plan) {
  for (const results::CampaignRecord& r : results::campaign_records(db)) {
    if (r.name != plan.name) {
      return "belongs to campaign '" + r.name + "' of plan " + r.plan + " (fingerprint " +
             r.fingerprint + ")";
    }
    if (r.fingerprint != plan.fingerprint) {
      return "belongs to another version of campaign '" + r.name + "' (plan " + r.plan +
             ", fingerprint " + r.fingerprint +
             "): its settings, arms or seeds changed since, or another plan has its name";
    }
  }
  if (const auto other = results::other_campaigns_run(db, plan.name))
    return "holds runs of campaign '" + *other + "'";
  return "";
}

std::string not_ours(const CampaignOptions& options, const Plan& plan, const std::string& why) {
  return options.db_path + ": " + why + "; this is campaign '" + plan.name + "' of plan " +
         plan.source + " (fingerprint " + plan.fingerprint +
         "): give it a database of its own (--db), or delete this one to start over";
}

// Records `plan` as the owner of `db` (written by the first merge), or throws if another plan
// got there first.
void claim_database(results::Database& db, const Plan& plan, const CampaignOptions& options) {
  db.write_transaction([&] {
    const std::string why = foreign_owner(db, plan);
    if (!why.empty()) throw std::invalid_argument(not_ours(options, plan, why));
    results::record_campaign(db, {plan.name, plan.fingerprint, plan.source});
  });
}

}  // namespace

void check_database_owner(const Plan& plan, const CampaignOptions& options) {
  const std::string& path = options.db_path;
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) return;  // created by the first merge
  if (!std::filesystem::is_regular_file(status)) {
    throw std::invalid_argument(
        path + ": --db is not a regular file (" +
        (std::filesystem::is_directory(status) ? "a directory" : "a special file") +
        "); name a database file");
  }
  results::OpenOptions ro;
  ro.mode = results::OpenMode::kReadOnly;
  std::string why;
  try {
    const results::Database db(path, ro);
    why = foreign_owner(db, plan);
  } catch (const results::DatabaseError& e) {
    throw std::invalid_argument(std::string(e.what()) + " (--db of campaign '" + plan.name + "')");
  }
  if (!why.empty()) throw std::invalid_argument(not_ours(options, plan, why));
}

nn::DatasetPair load_plan_data(const Plan& plan, const CampaignOptions& options) {
  nn::DatasetPair data =
      nn::load_dataset(plan.dataset, options.data_dir.empty() ? plan.data_dir : options.data_dir);
  if (plan.subset > 0) data.train = nn::subset_per_class(data.train, plan.subset);
  if (plan.test_subset > 0) data.test = nn::subset_per_class(data.test, plan.test_subset);
  return data;
}

namespace {

// Polls the interrupt function at every batch and phase; forwards to `next`.
class InterruptPoll : public search::SearchObserver {
 public:
  InterruptPoll(const std::function<int()>& signal, search::SearchObserver* next)
      : signal_(signal), next_(next) {}
  void on_phase(const std::string& what) override {
    poll();
    if (next_) next_->on_phase(what);
  }
  void on_batch(int epoch, int batch, int num_batches) override {
    poll();
    if (next_) next_->on_batch(epoch, batch, num_batches);
  }
  void on_retrain_batch(int epoch, int batch, int num_batches) override {
    poll();
    if (next_) next_->on_retrain_batch(epoch, batch, num_batches);
  }
  void on_epoch(const search::SearchEpoch& e, int epochs) override {
    if (next_) next_->on_epoch(e, epochs);
  }
  void on_candidate(const search::Candidate& c) override {
    if (next_) next_->on_candidate(c);
  }
  void on_retrain_epoch(const std::string& tag, const std::vector<int>& w, const nn::EpochStats& s,
                        int epochs) override {
    if (next_) next_->on_retrain_epoch(tag, w, s, epochs);
  }

 private:
  void poll() {
    if (!signal_) return;
    if (const int sig = signal_()) throw common::Interrupted(sig);
  }
  const std::function<int()>& signal_;
  search::SearchObserver* next_;
};

}  // namespace

JobStatus run_job(const Plan& plan, std::size_t index, const nn::DatasetPair& data,
                  const CampaignOptions& options) {
  const Job& job = plan.jobs.at(index);
  std::filesystem::create_directories(work_dir(options));
  JobLock lock(job_path(options, job, ".lock"));
  JobStatus status = read_state(plan, index, options);
  if (!lock.held()) {
    status.state = JobState::kBusy;
    return status;
  }
  if (!needs_run(status.state)) return status;  // another process finished it meanwhile

  search::SearchConfig c = job.config;
  c.checkpoint_path = job_path(options, job, ".ckpt");
  c.resume = search::has_resume_state(c);
  record::SearchBackend backend =
      record::open_search_backend(job_path(options, job, ".db"), job.hw_path);
  c.hw_fingerprint = backend.hw_fingerprint;
  results::RunInfo info = record::run_info(c, backend.hw.name, job.config_json, options.git_commit);
  info.campaign = plan.name;
  info.arm = job.arm;
  // Found by the job's id, not by where the work directory lies: a job's directory may be moved
  // or committed and the job resumed elsewhere (its database holds this job's run only).
  info.resume_key = "campaign job " + job.id;
  search::SearchObserver* printer =
      options.observer ? options.observer->job_observer(job) : nullptr;
  InterruptPoll poll(options.interrupt_signal, printer);
  try {
    if (c.resume) search::check_resume(c, data.train);
    // The job's run is continued whenever its database has one (a retry after a failure too),
    // so a job is one run however often it was started.
    record::run_recorded_search(c, data, backend.hw, backend.sink.get(), info, c.hw_fingerprint,
                                &poll, /*continue_run=*/true);
    backend.flush();
    backend.sink.reset();
  } catch (const common::Interrupted&) {
    throw;
  } catch (const nn::DivergedError& e) {
    JobStatus s = read_state(plan, index, options);
    s.detail = e.what();
    s.ran = true;
    return s;
  } catch (const std::exception& e) {
    JobStatus s = read_state(plan, index, options);
    s.state = JobState::kFailed;
    s.detail = e.what();
    s.ran = true;
    return s;
  }
  JobStatus after = read_state(plan, index, options);
  after.ran = true;
  if (after.state == JobState::kFinished) {
    // A finished job is its database: the checkpoints that resumed it are no longer needed.
    for (const std::filesystem::path& f : checkpoint_files(options, job)) {
      std::error_code ec;
      std::filesystem::remove(f, ec);
    }
  }
  return after;
}

MergeSummary merge_jobs(const Plan& plan, const std::vector<std::size_t>& jobs,
                        const CampaignOptions& options) {
  MergeSummary summary;
  std::unique_ptr<results::Database> out;
  for (std::size_t i : jobs) {
    const std::string path = job_path(options, plan.jobs.at(i), ".db");
    if (!std::filesystem::exists(path)) continue;
    // A job another process runs now is merged by that process when it ends (its database may
    // not even have its tables yet); an unreadable one is reported by the states, not merged.
    const JobState state = job_state(plan, i, options).state;
    if (state == JobState::kBusy || state == JobState::kCorrupt || state == JobState::kStale) {
      continue;
    }
    if (!out) {
      out = std::make_unique<results::Database>(options.db_path);
      claim_database(*out, plan, options);
    }
    const results::MergeStats m = results::merge_database(*out, path);
    summary.runs_added += m.runs_added;
    summary.runs_updated += m.runs_updated;
    summary.runs_unchanged += m.runs_skipped;
  }
  return summary;
}

std::vector<std::size_t> pending_jobs(const Plan& plan, const std::vector<JobStatus>& states,
                                      const common::Shard& shard) {
  std::vector<std::size_t> jobs;
  for (std::size_t i = 0; i < plan.jobs.size(); ++i) {
    if (!shard.owns(i)) continue;
    if (needs_run(states[i].state)) jobs.push_back(i);
  }
  return jobs;
}

CampaignSummary run_campaign(const Plan& plan, const CampaignOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  CampaignSummary summary;
  // Both read only: the stale jobs first (they name the files), then the database's owner.
  std::vector<JobStatus> states = job_states(plan, options);
  check_not_stale(plan, states, options);
  check_database_owner(plan, options);
  const std::vector<std::size_t> to_run = pending_jobs(plan, states, options.shard);
  std::vector<std::size_t> mine;
  for (std::size_t i = 0; i < plan.jobs.size(); ++i) {
    if (options.shard.owns(i)) mine.push_back(i);
  }
  summary.skipped = static_cast<int>(mine.size() - to_run.size());
  std::vector<std::size_t> merged;
  if (!to_run.empty()) {
    const nn::DatasetPair data = load_plan_data(plan, options);
    int done = 0;
    for (std::size_t i : to_run) {
      if (options.observer) {
        options.observer->on_job_start(plan.jobs[i], states[i], done,
                                       static_cast<int>(to_run.size()));
      }
      const auto t0 = std::chrono::steady_clock::now();
      states[i] = run_job(plan, i, data, options);
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (states[i].ran) {
        ++summary.ran;
      } else {
        ++summary.skipped;  // another process holds it, or finished it meanwhile
      }
      if (states[i].state == JobState::kFailed) ++summary.failed;
      // Merged as soon as it ends, so an interruption later in the campaign loses nothing of it
      // in --db (merging again at the end changes nothing).
      if (states[i].state != JobState::kBusy) {
        const MergeSummary m = merge_jobs(plan, {i}, options);
        summary.merged.runs_added += m.runs_added;
        summary.merged.runs_updated += m.runs_updated;
        summary.merged.runs_unchanged += m.runs_unchanged;
        merged.push_back(i);
      }
      ++done;
      if (options.observer) {
        options.observer->on_job_end(plan.jobs[i], states[i], seconds, done,
                                     static_cast<int>(to_run.size()));
      }
    }
  }
  std::vector<std::size_t> rest;  // mine, less the jobs merged as they ended
  for (std::size_t i : mine) {
    if (std::find(merged.begin(), merged.end(), i) == merged.end()) rest.push_back(i);
  }
  const MergeSummary m = merge_jobs(plan, rest, options);
  summary.merged.runs_added += m.runs_added;
  summary.merged.runs_updated += m.runs_updated;
  summary.merged.runs_unchanged += m.runs_unchanged;
  summary.states = job_states(plan, options);
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace nce::campaign
