// Binary records in the host's byte order (little-endian on every machine nce builds for): the
// writer and the bounds-checked reader behind nce's binary files (nn checkpoints, .nceim integer
// models). The reader never reads past its buffer and never allocates more than the bytes left
// can hold: a short or inconsistent record throws std::runtime_error
// "<context> (reading <what> at byte <offset>)", the context naming the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace nce::common {

class ByteWriter {
 public:
  template <typename T>
  void pod(T v) {
    static_assert(std::is_arithmetic_v<T>);
    const auto* p = reinterpret_cast<const char*>(&v);
    bytes_.insert(bytes_.end(), p, p + sizeof(T));
  }
  // A u32 length, then the characters.
  void str(const std::string& s) {
    pod(static_cast<std::uint32_t>(s.size()));
    bytes_.insert(bytes_.end(), s.begin(), s.end());
  }
  // A count of type Count, then the elements.
  template <typename Count, typename T>
  void array(const std::vector<T>& v) {
    static_assert(std::is_arithmetic_v<T>);
    pod(static_cast<Count>(v.size()));
    raw(v.data(), v.size() * sizeof(T));
  }
  void raw(const void* data, std::size_t n) {
    const auto* p = static_cast<const char*>(data);
    bytes_.insert(bytes_.end(), p, p + n);
  }
  const std::vector<char>& bytes() const { return bytes_; }

 private:
  std::vector<char> bytes_;
};

class ByteReader {
 public:
  // `context` starts every error message, e.g. "model.ckpt: malformed checkpoint payload".
  ByteReader(const char* data, std::size_t size, std::string context)
      : data_(data), size_(size), context_(std::move(context)) {}

  template <typename T>
  T pod(const char* what) {
    static_assert(std::is_arithmetic_v<T>);
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + at_, sizeof(T));
    at_ += sizeof(T);
    return v;
  }
  std::string str(const char* what) {
    const auto n = pod<std::uint32_t>(what);
    need(n, what);
    std::string s(data_ + at_, n);
    at_ += n;
    return s;
  }
  // A count of type Count (at most max_count), then the elements.
  template <typename Count, typename T>
  std::vector<T> array(const char* what,
                       std::uint64_t max_count = std::numeric_limits<std::uint64_t>::max()) {
    static_assert(std::is_arithmetic_v<T>);
    const std::uint64_t n = pod<Count>(what);
    if (n > max_count || n > (size_ - at_) / sizeof(T)) malformed(what);
    std::vector<T> v(static_cast<std::size_t>(n));
    // An empty vector has no storage: memcpy to its null data() is undefined even for 0 bytes.
    if (n > 0) std::memcpy(v.data(), data_ + at_, v.size() * sizeof(T));
    at_ += v.size() * sizeof(T);
    return v;
  }
  // The next n bytes, in place (valid while the buffer is).
  const char* raw(std::size_t n, const char* what) {
    need(n, what);
    const char* p = data_ + at_;
    at_ += n;
    return p;
  }
  bool at_end() const { return at_ == size_; }
  std::size_t offset() const { return at_; }
  [[noreturn]] void malformed(const char* what) const {
    throw std::runtime_error(context_ + " (reading " + what + " at byte " + std::to_string(at_) +
                             ")");
  }

 private:
  void need(std::size_t n, const char* what) const {
    if (n > size_ - at_) malformed(what);
  }
  const char* data_;
  std::size_t size_;
  std::size_t at_ = 0;
  std::string context_;
};

}  // namespace nce::common
