// The integer model ("nceim"): a trained quantized network as integer operands and integer
// requantization steps, in execution order. deploy/README.md documents the file format and how the
// exporter (exporter.h) derives every number; int_engine.h runs it with integer arithmetic only.
//
// Values (feature maps, one image, stored channels-last H x W x C by the engine):
//   kCodes  unsigned integers 0..max_code in one byte: PACT codes (real = code * scale), or the
//           input image's raw pixels (value 0, max_code 255; the stem folds the normalization);
//   kFixed  int32 fixed point, real = value * scale (residual sums, BN outputs before an add, the
//           ReLU outputs that feed the full-precision head).
// Ops:
//   kConv  conv (or 1x1 shortcut), optional input pool, GEMM on the array's operands, per-channel
//          requantization, optional max pool on the output codes;
//   kAdd   residual add of two values mapped into one fixed-point domain, then PACT (codes) or
//          ReLU (fixed);
//   kHead  global sum pool, per-image shift to 8 bits, FC, logits as int64 fixed point.
// Requantization of an integer t (per output channel ch):
//   out = clamp((t * multiplier[ch] + offset[ch]) >> shift[ch], lo, hi)   (int64, arithmetic >>)
// which is round(t * multiplier / 2^shift + offset / 2^shift) with halves rounded up.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nce::deploy {

enum class ValueKind : std::uint8_t { kCodes = 0, kFixed = 1 };

struct ValueInfo {
  ValueKind kind = ValueKind::kCodes;
  int channels = 0, height = 0, width = 0;
  int max_code = 0;    // kCodes: the largest code (2^bits - 1; 255 for the pixels)
  double scale = 0.0;  // real value of one unit (informational; 0 for the raw pixels)
};

struct Requant {
  std::vector<std::int32_t> multiplier;  // per channel
  std::vector<std::int64_t> offset;      // per channel (rounding included)
  std::vector<std::uint8_t> shift;       // per channel, 0..62
  std::int64_t lo = 0, hi = 0;           // clamp of the result
};

enum class PoolKind : std::uint8_t { kNone = 0, kMax = 1, kSum = 2 };  // kSum: avg pool * k*k

struct PoolSpec {
  PoolKind kind = PoolKind::kNone;
  int k = 0, stride = 0, pad = 0;
};

// The two weight rules of the array (docs/hardware.md §4).
enum class WeightRule : std::uint8_t {
  kQuantized = 0,  // b-bit signed codes c in [-2^(b-1), 2^(b-1)-1]; weight = scale*(alpha*c+beta)
  kFull8 = 1,      // 8-bit two's complement codes; weight = scale[ch] * c
};

struct ConvOp {
  std::string name;
  int input = 0, output = 0;  // value indices
  int c_in = 0, c_out = 0, k = 1, stride = 1, pad = 0;
  int h_in = 0, w_in = 0, h_out = 0, w_out = 0;  // h_in/w_in: after in_pool
  PoolSpec in_pool, out_pool;
  WeightRule rule = WeightRule::kQuantized;
  int weight_bits = 2;  // b (kQuantized) or 8
  int alpha = 1, beta = 0;
  std::vector<float> weight_scale;   // per output channel (kQuantized: all equal), informational
  std::vector<std::int8_t> weights;  // codes, c_out x c_in x k x k (OIHW)
  int input_shift = 0;  // input values (after in_pool) are rounded >> input_shift (full8 layers)
  // Optional per-output-pixel accumulator offsets (c_out x h_out x w_out), in units of
  // 2^-bias_frac_bits of the accumulator: t = (acc << bias_frac_bits) + acc_bias (the stem's
  // folded input normalization). Empty: t = acc.
  std::vector<std::int32_t> acc_bias;
  int bias_frac_bits = 0;
  Requant requant;  // t -> output value (codes or fixed)
};

struct AddOp {
  std::string name;
  int a = 0, b = 0, output = 0;
  // Each input x maps into the add's domain as (x * multiplier + offset) >> shift (one per input).
  std::int32_t a_multiplier = 1, b_multiplier = 1;
  std::int64_t a_offset = 0, b_offset = 0;
  int a_shift = 0, b_shift = 0;
  // Output: pact: codes clamp((sum + 2^(frac_bits-1)) >> frac_bits, 0, max_code); else ReLU:
  // fixed max(sum, 0) (saturated to int32).
  bool pact = true;
  int frac_bits = 16;
  int max_code = 3;
};

struct HeadOp {
  std::string name;
  int input = 0;
  int c_in = 0, classes = 0;
  // Features: x_c = sum over the plane of the input (int64, non-negative), then per image the
  // smallest e >= 0 with max_c round(x_c / 2^e) <= 127; x8 = (x + 2^(e-1)) >> e.
  WeightRule rule = WeightRule::kFull8;
  std::vector<std::int8_t> weights;      // classes x c_in, 8-bit codes
  std::vector<std::int64_t> multiplier;  // per class
  std::vector<std::int64_t> bias;        // per class, units 2^-logit_frac_bits
  int logit_frac_bits = 0;
  // logit[j] = (sum_c x8_c * w[j][c]) * multiplier[j] + round(bias[j] / 2^e), in units of
  // 2^(e - logit_frac_bits) (the same e for every class of an image, so rankings are exact).
};

enum class OpKind : std::uint8_t { kConv = 0, kAdd = 1, kHead = 2 };

struct Op {
  OpKind kind = OpKind::kConv;
  ConvOp conv;  // kConv
  AddOp add;    // kAdd
  HeadOp head;  // kHead
};

struct IntModel {
  std::string model;        // "resnet20"
  std::vector<int> widths;  // the width vector
  std::string dataset;      // what the checkpoint was trained on (informational)
  int weight_bits = 2, activation_bits = 2;
  std::string quantizer;                      // "sawb", "dorefa", "lsq"
  std::vector<float> norm_mean, norm_stddev;  // folded into the stem (informational)
  std::vector<ValueInfo> values;              // values[0] = the input pixels
  std::vector<Op> ops;                        // execution order; the last op is the head
  int input_channels() const { return values.empty() ? 0 : values[0].channels; }
  int input_height() const { return values.empty() ? 0 : values[0].height; }
  int input_width() const { return values.empty() ? 0 : values[0].width; }
  int classes() const;  // of the head (0 when there is none)
};

inline constexpr std::uint32_t kIntModelVersion = 1;

// Limits of a model validate() accepts: the elements of one value (feature map), the ops' kernel
// and pool sizes, the classes of the head.
inline constexpr std::int64_t kMaxValueElements = std::int64_t{1} << 26;
inline constexpr int kMaxKernel = 15, kMaxPool = 16, kMaxClasses = 100000;

// The largest byte a conv's GEMM reads: its input's max_code after the input pool (a sum pool
// multiplies it by k*k) and the rounding input_shift, at most 255 (the engine saturates bytes).
int conv_operand_max(const ConvOp& op, int input_max_code);
// The signed weight the array multiplies for a stored code: alpha*c + beta (b-bit rule) or c.
int effective_weight(const ConvOp& op, int code);
// Per output channel: operand_max * sum of |effective weights|, a bound on |accumulator| (every
// partial sum of the GEMM included, whatever the order). validate() refuses a model where one
// exceeds INT32_MAX, so the int32 accumulators cannot overflow.
std::vector<std::int64_t> conv_accumulator_bounds(const ConvOp& op, int operand_max);

// Checks every index, shape and range (a model read from disk or built by the exporter), and
// proves that no integer the engine computes can overflow: the int32 accumulators (per channel,
// conv_accumulator_bounds), every int64 requantization t * multiplier + offset, the residual
// adds' mappings and sums, the head's products and biases. Throws std::runtime_error starting with
// `source` (the file) and naming the op (index and name) or value, the field and its value.
void validate(const IntModel& model, const std::string& source);

// Little-endian file "NCEIM\0\0\0" + u32 version + u64 payload length + u32 crc32 + payload
// (deploy/README.md). Written with write_file_atomic (nce/common/output_file.h: an exclusive
// temporary beside it, fsync'd and renamed; a target that is not a regular file is refused).
// Throws std::runtime_error naming path.
void write_int_model(const std::string& path, const IntModel& model);
std::vector<char> serialize(const IntModel& model);  // the whole file's bytes

// Reads and verifies magic, version, length, crc32 and validate(). Throws std::runtime_error
// naming the path and what is wrong (missing, truncated, not an nceim file, unsupported version,
// checksum mismatch, malformed payload).
IntModel read_int_model(const std::string& path);
IntModel parse_int_model(const char* data, std::size_t size, const std::string& source);

}  // namespace nce::deploy
