// Network descriptions: the layers of a CNN at a given width vector, with their shapes, the GEMM
// each conv/FC lowers to, and MACs/PARAMs counted as in docs/algorithm.md §2.
//
// Units: channels, pixels and counts are plain integers; MACs are multiply-accumulates (what papers
// call FLOPs); PARAMs count every parameter (conv/FC weights, biases, BN gamma and beta).
// A Network is a value: building one validates everything, and nothing in it changes afterwards.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nce::models {

enum class LayerKind { kConv, kFC };

const char* to_string(LayerKind kind);

// A pooling step. kNone means no pooling.
enum class PoolKind { kNone, kMax, kAvg };

struct Pool {
  PoolKind kind = PoolKind::kNone;
  int k = 0;
  int stride = 0;
  int pad = 0;
};

// The GEMM a conv/FC lowers to (docs/hardware.md §2): K = k*k*C_in (reduction), N = H_out*W_out
// (output pixels, per image), M = C_out (filters). An FC is a 1x1 conv on a 1x1 map: K = C_in,
// N = 1, M = C_out.
struct GemmShape {
  std::int64_t K = 0;
  std::int64_t N = 0;
  std::int64_t M = 0;
};

// One MAC-bearing layer (conv or FC) with everything around it that the trainer needs.
struct Layer {
  std::string name;  // "stem", "s2b1.conv_a", "s2b1.shortcut", "fc", "conv3" (VGG)...
  LayerKind kind = LayerKind::kConv;
  int c_in = 0;   // input channels (after any input pooling)
  int c_out = 0;  // output channels (filters)
  int k = 1;      // square kernel size
  int stride = 1;
  int pad = 0;   // zero padding on each side
  int h_in = 0;  // input map height/width as the conv sees it (after in_pool)
  int w_in = 0;
  int h_out = 0;
  int w_out = 0;
  bool bias = false;        // a bias per output channel (FC layers)
  bool batch_norm = false;  // followed by BatchNorm (gamma, beta per channel)
  bool relu = false;        // followed by ReLU/PACT inside this layer (block outputs: see Block)
  bool quantized = true;    // false: stays full precision (first conv, last FC, 1x1 shortcuts)
  Pool in_pool;   // pooling applied to the input before this layer (TAS shortcut: 2x2 avg pool)
  Pool out_pool;  // pooling applied after the activation (VGG max pools, ImageNet stem max pool)
  // Indices into the width vector (see Network::widths) of this layer's input and output channel
  // counts; -1 means fixed (the FC's output, a topology-CSV layer).
  int in_width_index = -1;
  int out_width_index = -1;

  // Multiply-accumulates: k*k*c_in*c_out*h_out*w_out (no bias term).
  std::int64_t macs() const;
  // Outputs of the layer (c_out*h_out*w_out): the extra "+1 per output" when biases are counted.
  std::int64_t outputs() const;
  // Weights + bias + BN gamma/beta.
  std::int64_t params() const;
  GemmShape gemm() const;
  // Input map size before in_pool (what produced this layer's input).
  int h_src() const;
  int w_src() const;
};

// Residual block of a ResNet: indices into Network::layers. conv_c is -1 for basic blocks;
// shortcut is -1 for an identity shortcut. The block's output is relu(last conv + shortcut).
// When the two summed tensors have different widths (search time), the narrower one is added into
// the first channels of the wider one.
struct Block {
  int conv_a = -1;
  int conv_b = -1;
  int conv_c = -1;
  int shortcut = -1;
  int last() const { return conv_c >= 0 ? conv_c : conv_b; }
};

enum class Family {
  kCifarResNet,     // resnet8/20/32/56/110: basic blocks, TAS shortcut B (avg pool + 1x1 conv)
  kImageNetResNet,  // resnet18 (basic) / resnet50 (bottleneck), 1x1 stride-2 conv + BN shortcuts
  kVgg,             // plain chain of conv-BN-ReLU with max pools, then the FC
  kTopology,        // read from a SCALE-Sim topology CSV: a plain list of layers, nothing to train
};

struct InputShape {
  int channels = 3;
  int height = 32;
  int width = 32;
  int num_classes = 10;
};

// Canonical inputs.
InputShape cifar_input();          // 3x32x32, 10 classes
InputShape fashion_mnist_input();  // 1x28x28, 10 classes
InputShape imagenet_input();       // 3x224x224, 1000 classes

struct Network {
  std::string model;  // "resnet20", ...
  Family family = Family::kCifarResNet;
  InputShape input;
  // The width vector in TAS order: widths[0] = input channels, then one entry per searchable conv
  // (stem, then conv_a, conv_b[, conv_c] of each block; VGG: each conv). Layers refer to it through
  // in_width_index/out_width_index. Empty for kTopology.
  std::vector<int> widths;
  std::vector<Layer> layers;  // every conv/FC in execution order (a shortcut right after its block)
  std::vector<Block> blocks;  // ResNets only

  std::int64_t macs() const;    // sum of layer MACs (conv + FC, no bias): ResNet-20 = 40,813,184
  std::int64_t params() const;  // every parameter: ResNet-20 = 272,282
  // MACs + one per biased output, TAS's counting: ResNet-20 = 40,813,194.
  std::int64_t macs_with_bias() const;
  int num_searchable() const { return widths.empty() ? 0 : static_cast<int>(widths.size()) - 1; }
  const Layer& layer(const std::string& name) const;  // throws std::invalid_argument if absent
};

// Names accepted by build(): resnet8, resnet20, resnet32, resnet56, resnet110, vgg16, resnet18,
// resnet50.
const std::vector<std::string>& model_names();
bool is_cifar_model(const std::string& name);

// The model's canonical input (CIFAR for the CIFAR models, ImageNet for resnet18/50).
InputShape canonical_input(const std::string& model);

// The full-width vector of a model (its published channel counts) for an input with `in_channels`.
std::vector<int> default_widths(const std::string& model, int in_channels = 3);

// Builds a network. `widths` empty = the model's default widths; otherwise it must have
// num_searchable()+1 entries, widths[0] equal to input.channels, every entry >= 1.
// Throws std::invalid_argument with a message naming the model, the index and the value.
// The 1x1 conv + BN shortcut (full precision, no ReLU) that a stride-1 residual block gets when
// its input and output widths differ (TAS; searched networks): named "<block>.shortcut", it reads
// conv_a's input width index and writes that of the block's last conv, on its output map. build()
// adds it to such blocks; the search's cost accounting to every stride-1 identity block.
Layer width_shortcut(const Layer& conv_a, const Layer& last);

Network build(const std::string& model, const std::vector<int>& widths = {},
              const InputShape& input = InputShape{});
// (build() refuses widths above kMaxWidth, and inputs too small for the model, naming them.)
// Same, with the model's canonical input.
Network build_canonical(const std::string& model, const std::vector<int>& widths = {});

// Bounds on channel counts that keep every count (MACs, PARAMs, GEMM sizes, cycles) of every model
// inside 64 bits and every tensor allocatable: a layer has at most kMaxWidth channels (8x the
// widest layer of ResNet-50), and a width multiplier (WRPN, TAS's base multiplier) lies in
// (0, kMaxWidthMultiplier].
constexpr int kMaxWidth = 16384;
constexpr double kMaxWidthMultiplier = 64.0;
// Layers read from a topology CSV: at most kMaxMapSize pixels a side and kMaxLayerMacs MACs
// (ResNet-50 has 4.1e9 in all), so that every count stays well inside 64 bits.
constexpr int kMaxMapSize = 16384;
constexpr double kMaxLayerMacs = 1e15;

// The one checked width scaling: round(width * multiplier), at least 1. Throws
// std::invalid_argument naming the value when multiplier is not finite or outside
// (0, kMaxWidthMultiplier], or when the result exceeds kMaxWidth.
int scale_width(int width, double multiplier);

// WRPN: every searchable width times `multiplier` (scale_width); widths[0] (the input) kept.
std::vector<int> scale_widths(const std::vector<int>& widths, double multiplier);

// Parses "3,16,16,..." into integers; throws std::invalid_argument naming the bad item.
std::vector<int> parse_widths(const std::string& text);

// Parses a list of width multipliers "1,1.5,2": every item a whole finite number (no trailing
// junk such as "2abc") in (0, kMaxWidthMultiplier]. Throws std::invalid_argument naming the item.
std::vector<double> parse_multipliers(const std::string& text);
std::string format_widths(const std::vector<int>& widths);  // "[3,16,...]" (JSON array)

}  // namespace nce::models
