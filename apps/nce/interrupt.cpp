#include "interrupt.h"

#include <atomic>
#include <csignal>
#include <cstring>

namespace nce::app {
namespace {

struct sigaction g_previous_int, g_previous_term;

extern "C" void record_signal(int signal) {
  common::record_interrupt(signal);  // nce/common/interrupted.h: a lock-free atomic store
}

}  // namespace

InterruptHandler::InterruptHandler() {
  common::record_interrupt(0);
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
  return common::pending_interrupt();
}

void throw_if_interrupted() {
  if (const int s = interrupt_signal()) throw common::Interrupted(s);
}

}  // namespace nce::app
