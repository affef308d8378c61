#include "nce/campaign/mpi.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>

#if NCE_HAVE_MPI
#include <mpi.h>
#endif

namespace nce::campaign {

bool MpiSession::compiled_in() {
  return NCE_HAVE_MPI != 0;
}

#if NCE_HAVE_MPI

namespace {

constexpr int kRequestTag = 1;
constexpr int kJobTag = 2;

void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) throw std::runtime_error(std::string("MPI: ") + what + " failed");
}

}  // namespace

MpiSession::MpiSession(bool launched) {
  if (!launched) return;
  int provided = 0;
  // SERIALIZED: on rank 0 the coordinator thread makes the MPI calls while jobs run; the main
  // thread calls MPI only before it starts and after it joined it.
  check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
  initialized_ = true;
  if (provided < MPI_THREAD_SERIALIZED) {
    throw std::runtime_error("MPI: the library does not support MPI_THREAD_SERIALIZED");
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

MpiSession::~MpiSession() {
  if (initialized_) MPI_Finalize();
}

void MpiSession::abort(int code) {
  if (initialized_) MPI_Abort(MPI_COMM_WORLD, code);
}

CampaignSummary run_campaign_mpi(const Plan& plan, const CampaignOptions& options,
                                 MpiSession& mpi) {
  const auto start = std::chrono::steady_clock::now();
  // Rank 0 decides what is to run (or why nothing may: stale jobs) and tells everyone.
  std::vector<JobStatus> states;
  std::vector<int> to_run;
  std::string error;
  if (mpi.rank() == 0) {
    try {
      states = job_states(plan, options);
      check_not_stale(plan, states, options);
      check_database_owner(plan, options);
      for (std::size_t i : pending_jobs(plan, states, common::Shard{}))
        to_run.push_back(static_cast<int>(i));
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  int error_size = static_cast<int>(error.size());
  MPI_Bcast(&error_size, 1, MPI_INT, 0, MPI_COMM_WORLD);
  error.resize(error_size);
  MPI_Bcast(error.data(), error_size, MPI_CHAR, 0, MPI_COMM_WORLD);
  if (!error.empty()) throw std::invalid_argument(error);
  int count = static_cast<int>(to_run.size());
  MPI_Bcast(&count, 1, MPI_INT, 0, MPI_COMM_WORLD);

  // Rank 0: next job index under a mutex, served to the others by a coordinator thread.
  std::mutex mutex;
  int next = 0;
  auto take = [&]() -> int {
    std::lock_guard<std::mutex> lock(mutex);
    return next < count ? next++ : -1;
  };
  std::thread coordinator;
  if (mpi.rank() == 0) {
    to_run.resize(count);
    coordinator = std::thread([&] {
      int active = mpi.size() - 1;
      while (active > 0) {
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, kRequestTag, MPI_COMM_WORLD, &flag, &st);
        if (!flag) {  // a blocking receive would spin a core; poll gently instead
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
          continue;
        }
        int dummy = 0;
        MPI_Recv(&dummy, 1, MPI_INT, st.MPI_SOURCE, kRequestTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        const int k = take();
        const int job = k < 0 ? -1 : to_run[k];
        MPI_Send(&job, 1, MPI_INT, st.MPI_SOURCE, kJobTag, MPI_COMM_WORLD);
        if (job < 0) --active;
      }
    });
  }
  CampaignSummary summary;
  std::unique_ptr<nn::DatasetPair> data;
  int done = 0;
  std::exception_ptr failure;
  try {
    for (;;) {
      int job = -1;
      if (mpi.rank() == 0) {
        const int k = take();
        job = k < 0 ? -1 : to_run[k];
      } else {
        int dummy = 0;
        MPI_Send(&dummy, 1, MPI_INT, 0, kRequestTag, MPI_COMM_WORLD);
        MPI_Recv(&job, 1, MPI_INT, 0, kJobTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      }
      if (job < 0) break;
      if (!data) data = std::make_unique<nn::DatasetPair>(load_plan_data(plan, options));
      if (options.observer) {
        // total 0: this rank's share is decided as jobs are handed out (its own count is done).
        options.observer->on_job_start(plan.jobs[job], job_state(plan, job, options), done, 0);
      }
      const auto t0 = std::chrono::steady_clock::now();
      const JobStatus s = run_job(plan, job, *data, options);
      ++done;
      if (s.ran) {
        ++summary.ran;
      } else {
        ++summary.skipped;
      }
      if (s.state == JobState::kFailed) ++summary.failed;
      if (options.observer) {
        options.observer->on_job_end(
            plan.jobs[job], s,
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), done, 0);
      }
    }
  } catch (...) {
    failure = std::current_exception();  // Interrupted: this rank ends; mpirun ends the rest
  }
  if (failure) {
    // The caller reports it and ends every rank (MpiSession::abort): the coordinator is left to
    // that (it may be waiting for a rank that will never ask again).
    if (coordinator.joinable()) coordinator.detach();
    std::rethrow_exception(failure);
  }
  if (coordinator.joinable()) coordinator.join();
  int counts[3] = {summary.ran, summary.skipped, summary.failed};
  int totals[3] = {0, 0, 0};
  MPI_Reduce(counts, totals, 3, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
  if (mpi.rank() == 0) {
    summary.ran = totals[0];
    summary.failed = totals[2];
    summary.skipped = totals[1] + static_cast<int>(plan.jobs.size()) - count;
    std::vector<std::size_t> all(plan.jobs.size());
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
    summary.merged = merge_jobs(plan, all, options);
    summary.states = job_states(plan, options);
  }
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

#else  // no MPI

MpiSession::MpiSession(bool launched) {
  if (launched) {
    throw std::runtime_error(
        "this nce was built without MPI, so it cannot take part in an mpirun (install OpenMPI: "
        "apt-get install openmpi-bin libopenmpi-dev, and rebuild); or run the ranks as separate "
        "processes with --shard i/N");
  }
}

MpiSession::~MpiSession() = default;

void MpiSession::abort(int) {}

CampaignSummary run_campaign_mpi(const Plan& plan, const CampaignOptions& options, MpiSession&) {
  return run_campaign(plan, options);
}

#endif

}  // namespace nce::campaign
