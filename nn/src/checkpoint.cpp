#include "nce/nn/checkpoint.h"

#include <zlib.h>

#include <sys/stat.h>
#include <unistd.h>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "nce/common/byte_io.h"
#include "nce/common/input_file.h"
#include "nce/common/output_file.h"

namespace nce::nn {

namespace {

constexpr char kMagic[8] = {'N', 'C', 'E', 'C', 'K', 'P', 'T', '\0'};
constexpr std::size_t kHeaderBytes = 8 + 4 + 8 + 4;

// The checkpoint's records on nce/common/byte_io.h: tensors are a u64 count + floats; in version 2
// the floats' bytes are stored plane by plane (every value's byte 0, then every byte 1, ...), which
// lets deflate find the repeats of the sign/exponent bytes.
void to_planes(const std::vector<float>& v, char* out) {
  const std::size_t n = v.size();
  const auto* bytes = reinterpret_cast<const unsigned char*>(v.data());
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t b = 0; b < 4; ++b) out[b * n + i] = static_cast<char>(bytes[4 * i + b]);
  }
}

void from_planes(const char* in, std::vector<float>& v) {
  const std::size_t n = v.size();
  auto* bytes = reinterpret_cast<unsigned char*>(v.data());
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t b = 0; b < 4; ++b)
      bytes[4 * i + b] = static_cast<unsigned char>(in[b * n + i]);
  }
}

class CheckpointWriter : public common::ByteWriter {
 public:
  explicit CheckpointWriter(bool planar = false) : planar_(planar) {}
  void floats(const std::vector<float>& v) {
    if (!planar_) {
      array<std::uint64_t>(v);
      return;
    }
    pod(static_cast<std::uint64_t>(v.size()));
    std::vector<char> planes(v.size() * sizeof(float));
    to_planes(v, planes.data());
    raw(planes.data(), planes.size());
  }
  void buffers(const std::vector<StateBuffer>& list) {
    pod(static_cast<std::uint32_t>(list.size()));
    for (const auto& b : list) {
      str(b.name);
      floats(b.values);
    }
  }

 private:
  bool planar_;
};

class CheckpointReader : public common::ByteReader {
 public:
  CheckpointReader(const char* data, std::size_t size, const std::string& path, bool planar = false)
      : common::ByteReader(data, size, path + ": malformed checkpoint payload"), planar_(planar) {}
  std::vector<float> floats(const char* what) {
    if (!planar_) return array<std::uint64_t, float>(what);
    // The planes are read as one array of bytes (bounds-checked), then interleaved back.
    const std::uint64_t n = pod<std::uint64_t>(what);
    if (n > std::numeric_limits<std::size_t>::max() / sizeof(float)) malformed(what);
    const char* planes = raw(static_cast<std::size_t>(n) * sizeof(float), what);
    std::vector<float> v(static_cast<std::size_t>(n));
    from_planes(planes, v);
    return v;
  }
  std::vector<StateBuffer> buffers(const char* what) {
    const auto n = pod<std::uint32_t>(what);
    std::vector<StateBuffer> list;
    for (std::uint32_t i = 0; i < n; ++i) {
      StateBuffer b;
      b.name = str(what);
      b.values = floats(what);
      list.push_back(std::move(b));
    }
    return list;
  }

 private:
  bool planar_;
};

std::uint32_t crc_of(const char* data, std::size_t size) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // crc32 takes uInt lengths; feed large payloads in pieces.
  while (size > 0) {
    const auto piece = static_cast<uInt>(std::min<std::size_t>(size, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data), piece);
    data += piece;
    size -= piece;
  }
  return static_cast<std::uint32_t>(crc);
}

std::string widths_text(const std::vector<int>& widths) {
  std::string s = "[";
  for (std::size_t i = 0; i < widths.size(); ++i) s += (i ? "," : "") + std::to_string(widths[i]);
  return s + "]";
}

}  // namespace

void write_checkpoint(const std::string& path, const Checkpoint& ck) {
  CheckpointWriter payload(/*planar=*/true);
  payload.str(ck.model);
  payload.pod(static_cast<std::uint32_t>(ck.widths.size()));
  for (int w : ck.widths) payload.pod(static_cast<std::int32_t>(w));
  payload.pod(static_cast<std::uint32_t>(ck.options.size()));
  for (const auto& [key, value] : ck.options) {
    payload.str(key);
    payload.str(value);
  }
  payload.pod(static_cast<std::int32_t>(ck.epochs_done));
  payload.str(ck.rng_state);
  payload.str(ck.history);
  payload.buffers(ck.network);
  payload.str(ck.optimizer.kind);
  payload.pod(static_cast<std::int64_t>(ck.optimizer.steps));
  payload.buffers(ck.optimizer.buffers);

  // Version 2: the payload deflated (zlib), after its length.
  const std::vector<char>& raw = payload.bytes();
  uLongf packed_size = compressBound(static_cast<uLong>(raw.size()));
  common::ByteWriter stored;
  stored.pod(static_cast<std::uint64_t>(raw.size()));
  std::vector<char> packed(packed_size);
  if (compress2(reinterpret_cast<Bytef*>(packed.data()), &packed_size,
                reinterpret_cast<const Bytef*>(raw.data()), static_cast<uLong>(raw.size()),
                Z_DEFAULT_COMPRESSION) != Z_OK) {
    throw std::runtime_error(path + ": cannot write checkpoint (deflate failed)");
  }
  stored.raw(packed.data(), packed_size);

  CheckpointWriter header;
  for (char c : kMagic) header.pod(c);
  header.pod(kCheckpointVersion);
  header.pod(static_cast<std::uint64_t>(stored.bytes().size()));
  header.pod(crc_of(stored.bytes().data(), stored.bytes().size()));

  // A temporary created exclusively beside `path`, fsync'd and renamed over it (a crash never
  // leaves a half-written checkpoint; a symlink or special file at `path` is refused).
  std::string file(header.bytes().begin(), header.bytes().end());
  file.append(stored.bytes().begin(), stored.bytes().end());
  try {
    common::write_file_atomic(path, file);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(std::string(e.what()) + " (writing a checkpoint)");
  }
}

Checkpoint read_checkpoint(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    throw std::runtime_error(path + ": checkpoint file not found");
  }
  const std::string bytes = common::read_input_file(path, common::InputKind::kCheckpoint, "checkpoint");
  if (bytes.size() < kHeaderBytes) {
    throw std::runtime_error(path + ": truncated checkpoint (" + std::to_string(bytes.size()) +
                             " bytes, header alone is " + std::to_string(kHeaderBytes) + ")");
  }
  if (std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    throw std::runtime_error(path + ": not an nce checkpoint (bad magic)");
  }
  CheckpointReader header(bytes.data() + 8, kHeaderBytes - 8, path);
  const auto version = header.pod<std::uint32_t>("version");
  const auto length = header.pod<std::uint64_t>("length");
  const auto crc = header.pod<std::uint32_t>("crc32");
  if (version != 1 && version != kCheckpointVersion) {
    throw std::runtime_error(path + ": unsupported checkpoint version " + std::to_string(version) +
                             " (this nce reads versions 1 to " +
                             std::to_string(kCheckpointVersion) + ")");
  }
  std::size_t have = bytes.size() - kHeaderBytes;
  if (length != have) {
    throw std::runtime_error(path + ": " + (have < length ? "truncated" : "oversized") +
                             " checkpoint (header says " + std::to_string(length) +
                             " payload bytes, file has " + std::to_string(have) + ")");
  }
  const char* payload = bytes.data() + kHeaderBytes;
  if (crc_of(payload, have) != crc) {
    throw std::runtime_error(path + ": corrupt checkpoint (crc32 mismatch)");
  }
  std::vector<char> inflated;
  if (version == 2) {
    common::ByteReader stored(payload, have, path + ": malformed checkpoint payload");
    const auto raw_size = stored.pod<std::uint64_t>("payload length");
    const std::size_t packed = have - stored.offset();
    // Deflate shrinks by at most 1032:1; a larger claim is a damaged or hostile header.
    if (raw_size > 1032.0 * static_cast<double>(packed) + 64 || raw_size > (1ull << 36)) {
      throw std::runtime_error(path + ": malformed checkpoint payload (an inflated length of " +
                               std::to_string(raw_size) + " bytes from " + std::to_string(packed) +
                               ")");
    }
    inflated.resize(static_cast<std::size_t>(raw_size));
    uLongf out_size = static_cast<uLongf>(raw_size);
    const int z = uncompress(reinterpret_cast<Bytef*>(inflated.data()), &out_size,
                             reinterpret_cast<const Bytef*>(payload + stored.offset()),
                             static_cast<uLong>(packed));
    if (z != Z_OK || out_size != raw_size) {
      throw std::runtime_error(path +
                               ": malformed checkpoint payload (deflate stream does not "
                               "inflate to its stated " +
                               std::to_string(raw_size) + " bytes)");
    }
    payload = inflated.data();
    have = inflated.size();
  }

  CheckpointReader r(payload, have, path, /*planar=*/version == 2);
  Checkpoint ck;
  ck.model = r.str("model");
  const auto nw = r.pod<std::uint32_t>("widths");
  for (std::uint32_t i = 0; i < nw; ++i) ck.widths.push_back(r.pod<std::int32_t>("widths"));
  const auto no = r.pod<std::uint32_t>("options");
  for (std::uint32_t i = 0; i < no; ++i) {
    std::string key = r.str("options");
    std::string value = r.str("options");
    ck.options.emplace_back(std::move(key), std::move(value));
  }
  ck.epochs_done = r.pod<std::int32_t>("epochs_done");
  ck.rng_state = r.str("rng_state");
  ck.history = r.str("history");
  ck.network = r.buffers("network state");
  ck.optimizer.kind = r.str("optimizer kind");
  ck.optimizer.steps = r.pod<std::int64_t>("optimizer steps");
  ck.optimizer.buffers = r.buffers("optimizer state");
  if (!r.at_end()) r.malformed("end of payload");
  if (ck.epochs_done < 0) r.malformed("epochs_done");
  return ck;
}

void check_checkpoint_matches(const Checkpoint& ck, const std::string& path,
                              const std::string& model, const std::vector<int>& widths,
                              const std::vector<std::pair<std::string, std::string>>& options) {
  if (ck.model != model) {
    throw std::runtime_error(path + ": checkpoint is of model '" + ck.model + "', this run is '" +
                             model + "'");
  }
  if (ck.widths != widths) {
    throw std::runtime_error(path + ": checkpoint has widths " + widths_text(ck.widths) +
                             ", this run has " + widths_text(widths));
  }
  for (const auto& [key, value] : options) {
    const std::string* found = nullptr;
    for (const auto& kv : ck.options) {
      if (kv.first == key) found = &kv.second;
    }
    if (found == nullptr) {
      throw std::runtime_error(path + ": checkpoint has no option '" + key + "'");
    }
    if (*found != value) {
      throw std::runtime_error(path + ": checkpoint has " + key + "=" + *found + ", this run has " +
                               key + "=" + value);
    }
  }
  if (ck.options.size() != options.size()) {
    throw std::runtime_error(path + ": checkpoint has " + std::to_string(ck.options.size()) +
                             " options, this run has " + std::to_string(options.size()));
  }
}

}  // namespace nce::nn
