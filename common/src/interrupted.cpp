#include "nce/common/interrupted.h"

#include <atomic>
#include <csignal>
#include <string>

namespace nce::common {

namespace {
std::atomic<int> g_pending{0};
static_assert(std::atomic<int>::is_always_lock_free, "a signal handler stores it");
}  // namespace

int pending_interrupt() {
  return g_pending.load(std::memory_order_relaxed);
}

void record_interrupt(int signal) {
  g_pending.store(signal, std::memory_order_relaxed);
}

Interrupted::Interrupted(int signal)
    : std::runtime_error(std::string("interrupted by ") + (signal == SIGINT    ? "SIGINT"
                                                           : signal == SIGTERM ? "SIGTERM"
                                                                               : "a signal")),
      signal_(signal) {}

}  // namespace nce::common
