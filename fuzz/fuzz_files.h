// What the fuzz targets and their seed writers share about files: a scratch directory of the
// process for the file a target hands its reader, whole-file writes that abort (a failing write is
// the machine's fault, not the input's: never a finding), the 24-byte header of nce's checksummed
// files (magic, version, length, crc32) that a target wraps around a fuzzed payload, and the pair
// of seeds (whole file, payload) a seed writer leaves for each example. Header-only: every target
// is one translation unit.
#pragma once

#include <unistd.h>
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace nce::fuzz {

namespace detail {
inline std::string& scratch_dir() {
  static std::string dir;
  return dir;
}
inline std::vector<std::string>& scratch_files() {
  static std::vector<std::string> files;
  return files;
}
}  // namespace detail

// Makes the directory /tmp/nce-<target>-fuzz-XXXXXX (once per process, from LLVMFuzzerInitialize)
// and returns its path; at exit the files `names` in it are removed, then the directory.
inline std::string make_scratch_dir(const std::string& target,
                                    const std::vector<std::string>& names) {
  std::string dir = "/tmp/nce-" + target + "-fuzz-XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) std::abort();
  detail::scratch_dir() = dir;
  for (const std::string& name : names) detail::scratch_files().push_back(dir + "/" + name);
  std::atexit([] {
    for (const std::string& path : detail::scratch_files()) std::remove(path.c_str());
    ::rmdir(detail::scratch_dir().c_str());
  });
  return dir;
}

// Writes `size` bytes to `path`, replacing it.
inline void write_file(const std::string& path, const std::uint8_t* data, std::size_t size) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
  if (std::fclose(f) != 0) std::abort();
}

// Appends `v` in the machine's byte order (little-endian: the files' order).
template <typename T>
void put(std::vector<std::uint8_t>& out, T v) {
  std::uint8_t b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.insert(out.end(), b, b + sizeof(T));
}

// Appends a valid header for `payload` (magic, version u32, payload length u64, crc32 of the
// payload u32: 24 bytes), then the payload.
inline void append_with_header(std::vector<std::uint8_t>& file, const char (&magic)[8],
                               std::uint32_t version, const std::uint8_t* payload,
                               std::size_t size) {
  file.insert(file.end(), magic, magic + 8);
  put<std::uint32_t>(file, version);
  put<std::uint64_t>(file, size);
  put<std::uint32_t>(file, static_cast<std::uint32_t>(
                               crc32(crc32(0L, Z_NULL, 0), payload, static_cast<uInt>(size))));
  file.insert(file.end(), payload, payload + size);
}

// A seed writer's DIR argument (argv[1]), or null after printing the usage of `program`.
inline const char* seed_dir_argument(int argc, char** argv, const char* program) {
  if (argc == 2) return argv[1];
  std::cerr << "usage: " << program << " DIR\n";
  return nullptr;
}

// The two seeds of one example file: <dir>/<name>-file (flag byte 0, then the whole file) and
// <dir>/<name>-payload (flag byte 1, then the file after its 24-byte header: the target adds it).
inline void write_seed_pair(const std::string& dir, const std::string& name,
                            const std::vector<char>& file) {
  std::ofstream whole(dir + "/" + name + "-file", std::ios::binary);
  whole.put('\0');
  whole.write(file.data(), static_cast<std::streamsize>(file.size()));
  std::ofstream payload(dir + "/" + name + "-payload", std::ios::binary);
  payload.put('\1');
  payload.write(file.data() + 24, static_cast<std::streamsize>(file.size() - 24));
}

}  // namespace nce::fuzz
