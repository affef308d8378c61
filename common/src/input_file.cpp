#include "nce/common/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "nce/common/interrupted.h"

namespace nce::common {

namespace {

std::string mib(std::uint64_t bytes) {
  return std::to_string(bytes >> 20) + " MiB";
}

}  // namespace

std::uint64_t input_limit(InputKind kind) {
  if (const char* env = std::getenv("NCE_MAX_INPUT_MB")) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long mb = std::strtoull(env, &end, 10);
    if (*env < '0' || *env > '9' || *end != '\0' || errno == ERANGE || mb == 0 ||
        mb > (1ull << 40)) {
      throw std::invalid_argument(std::string("NCE_MAX_INPUT_MB must be a positive number of "
                                              "MiB, got '") +
                                  env + "'");
    }
    return static_cast<std::uint64_t>(mb) << 20;
  }
  switch (kind) {
    case InputKind::kText:
      return std::uint64_t{16} << 20;
    case InputKind::kModel:
      return std::uint64_t{1} << 30;
    case InputKind::kCheckpoint:
      return std::uint64_t{8} << 30;
  }
  return std::uint64_t{16} << 20;
}

std::string read_input_file(const std::string& path, InputKind kind, const std::string& what) {
  const std::uint64_t limit = input_limit(kind);
  auto too_large = [&](const std::string& size) {
    return std::runtime_error(path + ": " + what + " is larger than " + mib(limit) + " (" + size +
                              "); set NCE_MAX_INPUT_MB to read larger files");
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw std::runtime_error(path + ": cannot read the " + what + " (" + std::strerror(errno) +
                             ")");
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    throw std::runtime_error(path + ": cannot read the " + what + " (" + std::strerror(errno) +
                             ")");
  }
  if (S_ISDIR(st.st_mode)) throw std::runtime_error(path + ": is a directory, not a " + what);
  if (S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_size) > limit) {
    throw too_large(std::to_string(st.st_size) + " bytes");
  }
  std::string bytes;
  if (S_ISREG(st.st_mode)) bytes.reserve(static_cast<std::size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) {
        if (const int sig = pending_interrupt()) throw Interrupted(sig);
        continue;
      }
      throw std::runtime_error(path + ": cannot read the " + what + " (" + std::strerror(errno) +
                               ")");
    }
    if (n == 0) break;
    if (const int sig = pending_interrupt()) throw Interrupted(sig);  // SIGINT/SIGTERM meanwhile
    if (bytes.size() + static_cast<std::uint64_t>(n) > limit) throw too_large("and more");
    bytes.append(buf, static_cast<std::size_t>(n));
  }
  return bytes;
}

}  // namespace nce::common
