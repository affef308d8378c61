// SIGINT/SIGTERM for the long-running commands (train, search, sweep): while an InterruptHandler
// lives, either signal only records its number (an atomic store, nothing else in the handler);
// the command polls at safe points (between batches and epochs, where the last epoch's checkpoint
// is complete) and throw_if_interrupted() ends the work there with an Interrupted exception.
// run_guarded reports it and exits 128 + the signal (130 SIGINT, 143 SIGTERM); a recorded run
// marks the run "interrupted". A second signal gets the default action (ends the process at once).
#pragma once

#include "nce/common/interrupted.h"

namespace nce::app {

using nce::common::Interrupted;  // nce/common/interrupted.h

// Installs the handlers for SIGINT and SIGTERM; restores the previous ones on destruction.
// One at a time per process (not thread-safe to construct; the handler itself is).
class InterruptHandler {
 public:
  InterruptHandler();
  ~InterruptHandler();
  InterruptHandler(const InterruptHandler&) = delete;
  InterruptHandler& operator=(const InterruptHandler&) = delete;
};

// The signal received since the handler was installed; 0 = none.
int interrupt_signal();
// Throws Interrupted when a signal was received.
void throw_if_interrupted();

}  // namespace nce::app
