// Output files: written through an exclusive temporary and renamed; a target that is not a regular
// file is refused; a write error leaves the target untouched and no temporary behind.
#include "nce/common/output_file.h"
#include "support/errors.h"

#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace nce::common {
namespace {

using nce::testing::what_thrown;

// A fresh directory for one test, removed with what is in it.
class ScratchDir {
 public:
  ScratchDir() {
    std::string t = ::testing::TempDir() + "nce_output_file_XXXXXX";
    if (::mkdtemp(t.data()) == nullptr) throw std::runtime_error("mkdtemp");
    path_ = t;
  }
  ~ScratchDir() {
    for (const std::string& n : entries()) std::remove((path_ + "/" + n).c_str());
    ::rmdir(path_.c_str());
  }
  const std::string& path() const { return path_; }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    DIR* d = ::opendir(path_.c_str());
    if (d == nullptr) return names;
    while (const dirent* e = ::readdir(d)) {
      const std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    ::closedir(d);
    return names;
  }

 private:
  std::string path_;
};

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string error_of(const std::string& path, const std::string& bytes) {
  return what_thrown<std::runtime_error>([&] { write_file_atomic(path, bytes); });
}

TEST(OutputFile, WritesAndReplacesARegularFileLeavingNoTemporary) {
  ScratchDir dir;
  const std::string path = dir.path() + "/out.txt";
  write_file_atomic(path, "first");
  EXPECT_EQ(read(path), "first");
  write_file_atomic(path, std::string("second\0bytes", 12));
  EXPECT_EQ(read(path), std::string("second\0bytes", 12));
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"out.txt"});
}

TEST(OutputFile, RefusesTargetsThatAreNotRegularFiles) {
  ScratchDir dir;
  const std::string fifo = dir.path() + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  EXPECT_EQ(error_of(fifo, "x"), fifo +
                                     ": exists and is a FIFO; refusing to replace it (name a "
                                     "regular file)");
  const std::string target = dir.path() + "/target";
  write_file_atomic(target, "keep");
  const std::string link = dir.path() + "/link";
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  EXPECT_NE(error_of(link, "x").find(link + ": exists and is a symbolic link"), std::string::npos);
  EXPECT_EQ(read(target), "keep");
  EXPECT_NE(error_of(dir.path(), "x").find("is a directory"), std::string::npos);
  EXPECT_NE(error_of(dir.path() + "/", "x").find("names a directory"), std::string::npos);
  if (::access("/dev/full", W_OK) == 0) {
    EXPECT_EQ(error_of("/dev/full", "x"),
              "/dev/full: exists and is a device; refusing to replace it (name a regular file)");
  }
  EXPECT_THROW(check_output_path(fifo), std::runtime_error);
  EXPECT_NO_THROW(check_output_path(dir.path() + "/new"));
  std::vector<std::string> names = dir.entries();
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"fifo", "link", "target"}));  // no temporaries
}

// A write that fails half way (a full disk; here the file-size limit, which fails the same write
// with EFBIG) is an error naming the file; the old content stays and no temporary is left.
TEST(OutputFile, AFailedWriteLeavesTheTargetAndNoTemporary) {
  ScratchDir dir;
  const std::string path = dir.path() + "/big.bin";
  write_file_atomic(path, "old");
  rlimit old_limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old_limit;
  small.rlim_cur = 4096;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  const std::string error = error_of(path, std::string(100000, 'x'));
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_EQ(error.rfind(path + ": write failed: ", 0), 0u) << error;
  EXPECT_EQ(read(path), "old");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"big.bin"});
}

TEST(OutputFile, AMissingDirectoryIsAnErrorNamingTheFile) {
  const std::string path = ::testing::TempDir() + "nce_no_such_dir_for_output/x.txt";
  const std::string error = error_of(path, "x");
  EXPECT_EQ(error.rfind(path + ": ", 0), 0u) << error;
  EXPECT_NE(error.find("No such file or directory"), std::string::npos) << error;
}

}  // namespace
}  // namespace nce::common
