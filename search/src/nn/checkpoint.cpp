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

namespace nce::nn {

namespace {

constexpr char kMagic[8] = {'N', 'C', 'E', 'C', 'K', 'P', 'T', '\0'};
constexpr std::size_t kHeaderBytes = 8 + 4 + 8 + 4;

// The checkpoint's records on nce/common/byte_io.h: tensors are a u64 count + floats.
class CheckpointWriter : public ByteWriter {
 public:
  void floats(const std::vector<float>& v) { array<std::uint64_t>(v); }
  void buffers(const std::vector<StateBuffer>& list) {
    pod(static_cast<std::uint32_t>(list.size()));
    for (const auto& b : list) {
      str(b.name);
      floats(b.values);
    }
  }
};

class CheckpointReader : public ByteReader {
 public:
  CheckpointReader(const char* data, std::size_t size, const std::string& path)
      : ByteReader(data, size, path + ": malformed checkpoint payload") {}
  std::vector<float> floats(const char* what) { return array<std::uint64_t, float>(what); }
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
  CheckpointWriter payload;
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

  CheckpointWriter header;
  for (char c : kMagic) header.pod(c);
  header.pod(kCheckpointVersion);
  header.pod(static_cast<std::uint64_t>(payload.bytes().size()));
  header.pod(crc_of(payload.bytes().data(), payload.bytes().size()));

  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) throw std::runtime_error(path + ": cannot write checkpoint (open " + tmp + ")");
  bool ok =
      std::fwrite(header.bytes().data(), 1, header.bytes().size(), f) == header.bytes().size();
  ok = ok &&
       std::fwrite(payload.bytes().data(), 1, payload.bytes().size(), f) == payload.bytes().size();
  ok = ok && std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) {
    std::remove(tmp.c_str());
    throw std::runtime_error(path + ": cannot write checkpoint (write to " + tmp + " failed)");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw std::runtime_error(path + ": cannot write checkpoint (rename from " + tmp + " failed)");
  }
}

Checkpoint read_checkpoint(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    throw std::runtime_error(path + ": checkpoint file not found");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open checkpoint");
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
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
  if (version != kCheckpointVersion) {
    throw std::runtime_error(path + ": unsupported checkpoint version " + std::to_string(version) +
                             " (this nce reads version " + std::to_string(kCheckpointVersion) +
                             ")");
  }
  const std::size_t have = bytes.size() - kHeaderBytes;
  if (length != have) {
    throw std::runtime_error(path + ": " + (have < length ? "truncated" : "oversized") +
                             " checkpoint (header says " + std::to_string(length) +
                             " payload bytes, file has " + std::to_string(have) + ")");
  }
  const char* payload = bytes.data() + kHeaderBytes;
  if (crc_of(payload, have) != crc) {
    throw std::runtime_error(path + ": corrupt checkpoint (crc32 mismatch)");
  }

  CheckpointReader r(payload, have, path);
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
