// A campaign across machines on MPI (OpenMPI from Debian; compiled in when CMake finds it:
// NCE_HAVE_MPI). `mpirun -np N nce campaign --plan P --db D`: rank 0 checks the plan's job
// states, then hands the pending jobs out one at a time to every rank, itself included (a
// coordinator thread on rank 0 answers the others' requests, so rank 0 works too); each job writes
// its own database and checkpoints in the shared work directory (campaign.h), so no two ranks
// write one SQLite file; when every rank is done, rank 0 merges all job databases into D. A rank
// that dies loses only its current job, which the next run resumes from its checkpoint.
// The work directory must be visible to every rank (one machine, or a shared file system).
#pragma once

#include "nce/campaign/campaign.h"

namespace nce::campaign {

// MPI_Init on construction (only when `launched` -- the executable knows whether mpirun started
// it), MPI_Finalize on destruction. Without MPI or not launched: rank 0 of 1. Launched by mpirun
// into an nce built without MPI: throws std::runtime_error saying how to get MPI (or to use
// --shard i/N instead).
class MpiSession {
 public:
  explicit MpiSession(bool launched);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  int rank() const { return rank_; }
  int size() const { return size_; }
  static bool compiled_in();  // built with NCE_HAVE_MPI
  // Ends every rank now with exit code `code` (MPI_Abort): for an error or a signal on one rank,
  // after it was reported. No-op when MPI is not initialized.
  void abort(int code);

 private:
  bool initialized_ = false;
  int rank_ = 0;
  int size_ = 1;
};

// The campaign on every rank of `mpi` (call it on all ranks). Rank 0's summary covers every
// rank's jobs (ran/skipped/failed summed) and the merge; the others return their own counts.
// An exception (a signal: nce::Interrupted) leaves the ranks out of step: report it, then
// mpi.abort().
CampaignSummary run_campaign_mpi(const Plan& plan, const CampaignOptions& options,
                                 MpiSession& mpi);

}  // namespace nce::campaign
