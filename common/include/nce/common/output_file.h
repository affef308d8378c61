// Writing an output file so that a failure leaves nothing behind and never damages what is there:
// the bytes go to a temporary created exclusively (O_CREAT | O_EXCL | O_NOFOLLOW) in the target's
// directory, are fsync'd, and the temporary is renamed over the target (then the directory is
// fsync'd). A target that exists and is not a regular file (a directory, a FIFO, a device such as
// /dev/full, a symlink, a socket) is refused, not followed or written through; a write error (a
// full disk, a file-size limit) is an error naming the file, and the temporary is removed. Every
// command that writes a file uses these (nce export --out, nce models export, nce sim
// --scalesim-out, the CSV/SVG/Markdown outputs of nce compare, search, sweep, ...).
#pragma once

#include <cstddef>
#include <string>

namespace nce::common {

// Throws std::runtime_error naming `path` if it could not be written by write_file_atomic: it
// exists and is not a regular file, or it names a directory ("dir/"). Lets a command refuse its
// output path before long work.
void check_output_path(const std::string& path);

// Writes `size` bytes to `path` as described above. Throws std::runtime_error naming `path` and
// the reason (strerror); on failure the target is untouched and no temporary is left.
void write_file_atomic(const std::string& path, const void* data, std::size_t size);
inline void write_file_atomic(const std::string& path, const std::string& bytes) {
  write_file_atomic(path, bytes.data(), bytes.size());
}

}  // namespace nce::common
