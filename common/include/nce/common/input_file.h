// Reading an input file whole, within a bound: a file larger than the limit of its kind is
// refused before memory runs out. A regular file's size is checked before anything is read; a file
// that does not say its size (/dev/zero, a FIFO, /proc) is read in pieces and refused as soon as it
// passes the limit. A SIGINT/SIGTERM recorded meanwhile (pending_interrupt) ends the read at the
// next piece with nce::Interrupted. Every reader of a whole file uses it (campaign plans, sweeps, hw configs,
// SCALE-Sim configs, topologies, integer models, checkpoints).
//
// Limits by kind: text (configs, plans, sweeps, topologies) 16 MiB, integer models 1 GiB,
// checkpoints 8 GiB. The environment variable NCE_MAX_INPUT_MB, when set to a positive integer,
// replaces the limit of every kind.
#pragma once

#include <cstdint>
#include <string>

namespace nce::common {

enum class InputKind { kText, kModel, kCheckpoint };

// The limit in bytes for `kind` (NCE_MAX_INPUT_MB applied). Throws std::invalid_argument when
// NCE_MAX_INPUT_MB is set to something that is not a positive integer.
std::uint64_t input_limit(InputKind kind);

// The whole of `path`. Throws std::runtime_error "<path>: ..." naming `what` ("campaign plan",
// "hw config", ...) when the file is missing, a directory, unreadable, or over the limit.
std::string read_input_file(const std::string& path, InputKind kind, const std::string& what);

}  // namespace nce::common
