// The exception a long run ends with when the user asked it to stop (SIGINT/SIGTERM): libraries
// throw it at a safe point (between batches and epochs, where the last checkpoint is complete)
// and mark their run "interrupted"; the executable catches it and exits 128 + the signal.
// (Installing the signal handlers is the executable's business: apps/nce/interrupt.h. Its handler
// records the signal here, so that loops in any library, e.g. reading a large input file, can
// stop at once: pending_interrupt().)
#pragma once

#include <stdexcept>

namespace nce::common {

class Interrupted : public std::runtime_error {
 public:
  explicit Interrupted(int signal);  // "interrupted by SIGINT" / "SIGTERM" / "a signal"
  int signal() const { return signal_; }
  int exit_code() const { return 128 + signal_; }

 private:
  int signal_;
};

// The signal the executable's handler recorded (0: none). record_interrupt is async-signal-safe
// (a store to a lock-free atomic): the handler calls it; record_interrupt(0) clears.
int pending_interrupt();
void record_interrupt(int signal);

}  // namespace nce::common
