#include "interrupt.h"

#include <atomic>
#include <csignal>
#include <cstring>

namespace nce::app {
namespace {

std::atomic<int> g_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "the handler needs a lock-free atomic");

struct sigaction g_previous_int, g_previous_term;

extern "C" void record_signal(int signal) {
  g_signal.store(signal, std::memory_order_relaxed);
}

}  // namespace

InterruptHandler::InterruptHandler() {
  g_signal.store(0);
  struct sigaction action;
  std::memset(&action, 0, sizeof action);
  action.sa_handler = record_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESETHAND;  // a second signal: the default action
  sigaction(SIGINT, &action, &g_previous_int);
  sigaction(SIGTERM, &action, &g_previous_term);
}

InterruptHandler::~InterruptHandler() {
  sigaction(SIGINT, &g_previous_int, nullptr);
  sigaction(SIGTERM, &g_previous_term, nullptr);
}

int interrupt_signal() {
  return g_signal.load(std::memory_order_relaxed);
}

void throw_if_interrupted() {
  if (const int s = interrupt_signal()) throw Interrupted(s);
}

}  // namespace nce::app
