// Training checkpoints: everything `nce train --resume` needs to continue a run exactly (network
// parameters and BN running statistics, optimizer buffers, epochs done, the data generator's
// state, per-epoch history), plus what identifies the run (model, widths, options) so that a
// checkpoint of another model or configuration is refused.
//
// File format (little-endian, version 2; version 1 is still read):
//   bytes 0-7   magic "NCECKPT\0"
//   u32         format version (2)
//   u64         stored length in bytes
//   u32         zlib crc32 of the stored bytes
//   stored      v2: u64 payload length + the payload deflated (zlib format); v1: the payload
//   payload     string model; i32 array widths; u32 count + (string key, string value) options;
//               i32 epochs_done; string rng_state; string history;
//               u32 count + (string name, u64 count + f32 values) network state;
//               string optimizer kind; i64 optimizer steps; u32 count + buffers as above
// where a string is u32 length + bytes, and in v2 a tensor's n f32 values are stored as four
// planes of n bytes (byte 0 of every value, then byte 1, ...: deflate then finds the repeated
// sign/exponent bytes; a trained ResNet-20's weights and momenta shrink to about 80%). The file
// is written through write_file_atomic (nce/common/output_file.h: an exclusive temporary beside
// it, fsync, rename), so a crash never leaves a half-written checkpoint under the real name.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "nce/nn/optimizer.h"

namespace nce::nn {

struct Checkpoint {
  std::string model;                                         // e.g. "resnet20"
  std::vector<int> widths;                                   // the full width vector
  std::vector<std::pair<std::string, std::string>> options;  // run settings that must match
  int epochs_done = 0;                                       // completed epochs
  std::string rng_state;             // the trainer's std::mt19937_64, as written by operator<<
  std::string history;               // per-epoch statistics so far (the trainer's text form)
  std::vector<StateBuffer> network;  // parameters and running statistics, network order
  OptimizerState optimizer;
};

inline constexpr std::uint32_t kCheckpointVersion = 2;

// Writes atomically (write_file_atomic). Throws std::runtime_error naming the path on failure.
void write_checkpoint(const std::string& path, const Checkpoint& checkpoint);

// Reads and verifies magic, version, length and crc32. Throws std::runtime_error naming the path
// and what is wrong (missing, truncated, bad magic, unsupported version, checksum mismatch,
// malformed payload).
Checkpoint read_checkpoint(const std::string& path);

// Throws std::runtime_error naming `path` and the first difference when `checkpoint` was not
// written by a run of this model, width vector and options (same keys, same values).
void check_checkpoint_matches(const Checkpoint& checkpoint, const std::string& path,
                              const std::string& model, const std::vector<int>& widths,
                              const std::vector<std::pair<std::string, std::string>>& options);

}  // namespace nce::nn
