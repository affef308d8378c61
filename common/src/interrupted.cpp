#include "nce/common/interrupted.h"

#include <csignal>
#include <string>

namespace nce {

Interrupted::Interrupted(int signal)
    : std::runtime_error(std::string("interrupted by ") + (signal == SIGINT    ? "SIGINT"
                                                           : signal == SIGTERM ? "SIGTERM"
                                                                               : "a signal")),
      signal_(signal) {}

}  // namespace nce
