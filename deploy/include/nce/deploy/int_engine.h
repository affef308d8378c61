// The integer engine: runs an IntModel (int_model.h) on raw 8-bit images with integer arithmetic
// only (no float anywhere between the pixels and the int64 logits).
//
// Per conv: the input codes (after an optional integer pool and rounding shift) are lowered to an
// im2col operand of unsigned bytes, 64 output pixels at a time, multiplied with the layer's packed
// signed 8-bit weights by gemm_u8s8 (int_kernels.h: portable, AVX2 or AVX-512 VNNI), and each int32
// accumulator is requantized (int64 multiply, add, arithmetic shift, clamp) straight into the next
// value. Feature maps are channels-last (H x W x C) bytes (codes) or int32 (fixed point).
// Weights of a quantized layer run as their effective integers alpha*c + beta (SAWB/DoReFa: 2c+1,
// LSQ: c), which fit a signed byte for b <= 7; an 8-bit SAWB/DoReFa layer is refused.
//
// Threads (OpenMP): a batch of at least as many images as threads is split by image; a smaller one
// (a single image) splits every conv's output pixels across the threads. Results do not depend on
// the thread count or the kernel. One engine may run one batch at a time (it owns the scratch).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "nce/deploy/int_kernels.h"
#include "nce/deploy/int_model.h"

namespace nce::deploy {

struct IntLogits {
  int images = 0, classes = 0;
  std::vector<std::int64_t> values;  // images x classes
  std::vector<int> exponent;         // per image: real logit = value * 2^exponent
};

struct IntEngineOptions {
  // Run each residual add in the requantization of the conv that produces one of its inputs (when
  // that conv's int32 output is read by nothing else): one pass over the map instead of two, and
  // the add is split across a team's threads with the conv. Off: every add is an op of its own
  // (the same results bit for bit; for tests).
  bool fuse_adds = true;
  // A conv whose codes only the next 3x3 (implicit) conv reads writes them straight into that
  // conv's zero-padded operand (borders zeroed once), which then copies nothing. Off: every
  // implicit conv copies its input into its padded operand (the same results; for tests).
  bool write_padded = true;
};

class IntEngine {
 public:
  // Throws std::runtime_error naming the layer when the model cannot run (an 8-bit SAWB layer).
  IntEngine(const IntModel& model, KernelKind kernel, IntEngineOptions options = {});
  ~IntEngine();
  IntEngine(const IntEngine&) = delete;
  IntEngine& operator=(const IntEngine&) = delete;

  // images: n images of C x H x W bytes (nn::Dataset's layout), the model's input shape.
  void run(const std::uint8_t* images, int n, IntLogits& out);

  // One image, keeping every value: codes[v] holds value v's codes (H x W x C) when it is a kCodes
  // value, and is empty otherwise. For comparing layer by layer with the float network.
  void trace(const std::uint8_t* image, std::vector<std::vector<std::uint8_t>>& codes);

  const IntModel& model() const;
  KernelKind kernel() const;
  int fused_adds() const;     // residual adds run in a conv's requantization (IntEngineOptions)
  int padded_writes() const;  // convs writing into the next conv's padded operand (the same)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One conv op on one image, up to the requantization: t (the value the requantization reads:
// accumulator, plus acc_bias when present) as C_out x H_out x W_out (int64), for tests that compare
// it with the SystemC array. input: the op's input codes as C x H x W (before in_pool), values up
// to max_code.
std::vector<std::int64_t> conv_pre_requant(const ConvOp& op, const std::uint8_t* input_chw,
                                           int in_height, int in_width, int max_code,
                                           KernelKind kernel);

// Top-1 / top-5 hits like nn::evaluate: the label's rank is the number of other classes whose
// logit is at least the label's (a tie is no hit: an all-zero head scores 0%).
int label_rank(const std::int64_t* logits, int classes, int label);
int argmax(const std::int64_t* logits, int classes);  // first maximum

}  // namespace nce::deploy
