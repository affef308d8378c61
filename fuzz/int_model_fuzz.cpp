// libFuzzer target: the integer model reader (deploy/int_model.h read_int_model, validate) and one
// inference of an accepted model (deploy/int_engine.h) on a small image. Byte 0 of an input holds
// flags; with bit 0 set the rest is a payload that the target wraps in a valid header (magic,
// version, length, crc32), so mutations reach the model's fields past the checksum; without it the
// rest is the whole file. The file is written to a scratch directory of this process. Invariants
// checked on every input:
//   * a bad file is std::runtime_error naming it (never another exception, a crash, UB or an
//     allocation larger than the file holds data for);
//   * an accepted model builds an engine (validate() accepted it, so the engine must run it) and,
//     when its feature maps and MACs are small (the target's time and memory budget, not a limit
//     of the format), runs one image: the logits of every kernel this CPU has are the portable
//     kernel's, bit for bit, and no integer overflows on the way (UBSan).
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "fuzz_files.h"
#include "nce/deploy/int_engine.h"
#include "nce/deploy/int_kernels.h"
#include "nce/deploy/int_model.h"

namespace {

std::string g_path;

// Small enough to run within the fuzzer's time and memory budget.
bool small(const nce::deploy::IntModel& m) {
  std::int64_t elements = 0, macs = 0;
  for (const auto& v : m.values) elements += std::int64_t{v.channels} * v.height * v.width;
  for (const auto& op : m.ops) {
    if (op.kind != nce::deploy::OpKind::kConv) continue;
    const auto& c = op.conv;
    macs += std::int64_t{c.c_out} * c.c_in * c.k * c.k * c.h_out * c.w_out;
  }
  return elements <= (1 << 20) && macs <= (1 << 24);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_path = nce::fuzz::make_scratch_dir("int_model", {"model.nceim"}) + "/model.nceim";
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace nce::deploy;
  if (size < 1) return 0;
  std::vector<std::uint8_t> file;
  if (data[0] & 1) {
    const char magic[8] = {'N', 'C', 'E', 'I', 'M', '\0', '\0', '\0'};
    nce::fuzz::append_with_header(file, magic, kIntModelVersion, data + 1, size - 1);
  } else {
    file.assign(data + 1, data + size);
  }
  nce::fuzz::write_file(g_path, file.data(), file.size());

  IntModel model;
  try {
    model = read_int_model(g_path);
  } catch (const std::runtime_error& e) {
    if (std::string(e.what()).find(g_path) == std::string::npos) __builtin_trap();
    return 0;
  }
  if (model.classes() < 1) __builtin_trap();
  if (!small(model)) return 0;
  // The image: pixels from the input's own bytes, repeated.
  const std::size_t image =
      static_cast<std::size_t>(model.input_channels()) * model.input_height() * model.input_width();
  std::vector<std::uint8_t> pixels(image);
  for (std::size_t i = 0; i < image; ++i) pixels[i] = data[i % size];
  IntEngine portable(model, KernelKind::kPortable);
  IntLogits want;
  portable.run(pixels.data(), 1, want);
  if (want.images != 1 || want.classes != model.classes() ||
      want.values.size() != static_cast<std::size_t>(want.classes))
    __builtin_trap();
  for (KernelKind k : {KernelKind::kAvx2, KernelKind::kVnni}) {
    if (!kernel_supported(k)) continue;
    IntEngine engine(model, k);
    IntLogits got;
    engine.run(pixels.data(), 1, got);
    if (got.values != want.values || got.exponent != want.exponent) __builtin_trap();
  }
  return 0;
}
