#include "nce/common/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace nce::common {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error(path + ": " + what);
}

std::string errno_text(int err) {
  return std::strerror(err);
}

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// The directory part of `path` ("." for a bare name) and the name in it.
void split(const std::string& path, std::string& dir, std::string& base) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) {
    dir = ".";
    base = path;
  } else {
    dir = slash == 0 ? "/" : path.substr(0, slash);
    base = path.substr(slash + 1);
  }
}

}  // namespace

void check_output_path(const std::string& path) {
  if (path.empty()) throw std::runtime_error("an empty output file name");
  std::string dir, base;
  split(path, dir, base);
  if (base.empty() || base == "." || base == "..")
    fail(path, "names a directory, not an output file");
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode))
      fail(path, std::string("exists and is ") + kind_of(st.st_mode) +
                     "; refusing to replace it (name a regular file)");
  } else if (errno != ENOENT) {
    fail(path, "cannot write it: " + errno_text(errno));
  }
}

void write_file_atomic(const std::string& path, const void* data, std::size_t size) {
  check_output_path(path);
  std::string dir, base;
  split(path, dir, base);
  static std::atomic<unsigned> counter{0};
  std::string tmp;
  int fd = -1;
  for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    tmp =
        dir + "/." + base + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST)
      fail(path, "cannot create a temporary file in '" + dir + "': " + errno_text(errno));
  }
  if (fd < 0) fail(path, "cannot create a temporary file in '" + dir + "': " + errno_text(EEXIST));
  auto give_up = [&](const std::string& what, int err) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    fail(path, what + ": " + errno_text(err));
  };
  const char* p = static_cast<const char*>(data);
  std::size_t left = size;
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      give_up("write failed", errno);
    }
    if (n == 0) give_up("write failed", EIO);
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) give_up("write failed (fsync)", errno);
  const int closed = ::close(fd);
  fd = -1;
  if (closed != 0) give_up("write failed (close)", errno);
  // The target may have been replaced while we wrote (a FIFO, a symlink): check it again.
  try {
    check_output_path(path);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) give_up("cannot rename '" + tmp + "' to it", errno);
  // Make the rename durable; a directory that cannot be opened or synced does not undo it.
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace nce::common
