#include "nce/models/network.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "nce/common/text.h"

namespace nce::models {

const char* to_string(LayerKind kind) {
  return kind == LayerKind::kConv ? "conv" : "fc";
}

std::int64_t Layer::macs() const {
  return static_cast<std::int64_t>(k) * k * c_in * c_out * h_out * w_out;
}

std::int64_t Layer::outputs() const {
  return static_cast<std::int64_t>(c_out) * h_out * w_out;
}

std::int64_t Layer::params() const {
  std::int64_t p = static_cast<std::int64_t>(k) * k * c_in * c_out;
  if (bias) p += c_out;
  if (batch_norm) p += 2 * static_cast<std::int64_t>(c_out);
  return p;
}

GemmShape Layer::gemm() const {
  return GemmShape{static_cast<std::int64_t>(k) * k * c_in,
                   static_cast<std::int64_t>(h_out) * w_out, static_cast<std::int64_t>(c_out)};
}

namespace {

int pooled(int size, const Pool& pool) {
  if (pool.kind == PoolKind::kNone) return size;
  const int span = size + 2 * pool.pad - pool.k;
  return span < 0 ? 0 : span / pool.stride + 1;
}

// Inverse of pooled() for the sizes nce builds (exact for 2x2/s2 without padding).
int unpooled(int size, const Pool& pool) {
  if (pool.kind == PoolKind::kNone) return size;
  return (size - 1) * pool.stride + pool.k - 2 * pool.pad;
}

}  // namespace

int Layer::h_src() const {
  return unpooled(h_in, in_pool);
}
int Layer::w_src() const {
  return unpooled(w_in, in_pool);
}

std::int64_t Network::macs() const {
  std::int64_t total = 0;
  for (const auto& l : layers) total += l.macs();
  return total;
}

std::int64_t Network::params() const {
  std::int64_t total = 0;
  for (const auto& l : layers) total += l.params();
  return total;
}

std::int64_t Network::macs_with_bias() const {
  std::int64_t total = 0;
  for (const auto& l : layers) total += l.macs() + (l.bias ? l.outputs() : 0);
  return total;
}

const Layer& Network::layer(const std::string& name) const {
  for (const auto& l : layers) {
    if (l.name == name) return l;
  }
  throw std::invalid_argument("model '" + model + "' has no layer '" + name + "'");
}

InputShape cifar_input() {
  return InputShape{3, 32, 32, 10};
}
InputShape fashion_mnist_input() {
  return InputShape{1, 28, 28, 10};
}
InputShape imagenet_input() {
  return InputShape{3, 224, 224, 1000};
}

namespace {

struct ModelInfo {
  std::string name;
  Family family;
  int depth;
};

const std::vector<ModelInfo>& model_table() {
  static const std::vector<ModelInfo> table = {
      {"resnet8", Family::kCifarResNet, 8},      {"resnet20", Family::kCifarResNet, 20},
      {"resnet32", Family::kCifarResNet, 32},    {"resnet56", Family::kCifarResNet, 56},
      {"resnet110", Family::kCifarResNet, 110},  {"vgg16", Family::kVgg, 16},
      {"resnet18", Family::kImageNetResNet, 18}, {"resnet50", Family::kImageNetResNet, 50},
  };
  return table;
}

const ModelInfo& find_model(const std::string& name) {
  for (const auto& m : model_table()) {
    if (m.name == name) return m;
  }
  std::string known;
  for (const auto& m : model_table()) known += (known.empty() ? "" : ", ") + m.name;
  throw std::invalid_argument("unknown model '" + name + "' (known: " + known + ")");
}

// VGG-16 (CIFAR) configuration: channel counts, 0 = 2x2 max pool.
const std::vector<int>& vgg16_cfg() {
  static const std::vector<int> cfg = {64, 64,  0,   128, 128, 0,   256, 256, 256,
                                       0,  512, 512, 512, 0,   512, 512, 512, 0};
  return cfg;
}

// ImageNet ResNets: blocks per stage and whether blocks are bottlenecks.
struct ImageNetSpec {
  std::vector<int> blocks;
  bool bottleneck;
};

ImageNetSpec imagenet_spec(int depth) {
  if (depth == 18) return {{2, 2, 2, 2}, false};
  return {{3, 4, 6, 3}, true};  // 50
}

int cifar_blocks_per_stage(int depth) {
  return (depth - 2) / 6;
}

class Builder {
 public:
  Builder(Network& net, const std::vector<int>& widths) : net_(net), widths_(widths) {}

  // Adds a conv from width index `in` to width index `out` (-1 = fixed at `fixed_out`).
  Layer& conv(const std::string& name, int in_index, int out_index, int k, int stride, int pad,
              int h_in, int w_in) {
    Layer l;
    l.name = name;
    l.kind = LayerKind::kConv;
    l.in_width_index = in_index;
    l.out_width_index = out_index;
    l.c_in = widths_[in_index];
    l.c_out = widths_[out_index];
    l.k = k;
    l.stride = stride;
    l.pad = pad;
    l.h_in = h_in;
    l.w_in = w_in;
    l.h_out = (h_in + 2 * pad - k) / stride + 1;
    l.w_out = (w_in + 2 * pad - k) / stride + 1;
    if (l.h_out < 1 || l.w_out < 1) {
      std::ostringstream msg;
      msg << "model '" << net_.model << "': layer '" << name << "' gets a " << h_in << "x" << w_in
          << " input, too small for its " << k << "x" << k << " stride-" << stride << " kernel";
      throw std::invalid_argument(msg.str());
    }
    l.batch_norm = true;
    l.relu = true;
    l.quantized = true;
    net_.layers.push_back(l);
    return net_.layers.back();
  }

  Layer& fc(int in_index, int classes) {
    Layer l;
    l.name = "fc";
    l.kind = LayerKind::kFC;
    l.in_width_index = in_index;
    l.out_width_index = -1;
    l.c_in = widths_[in_index];
    l.c_out = classes;
    l.k = 1;
    l.h_in = l.w_in = l.h_out = l.w_out = 1;
    l.bias = true;
    l.quantized = false;
    net_.layers.push_back(l);
    return net_.layers.back();
  }

  int last_index() const { return static_cast<int>(net_.layers.size()) - 1; }

 private:
  Network& net_;
  const std::vector<int>& widths_;
};

}  // namespace

Layer width_shortcut(const Layer& conv_a, const Layer& last) {
  Layer sc;
  sc.name = conv_a.name.substr(0, conv_a.name.find('.')) + ".shortcut";
  sc.kind = LayerKind::kConv;
  sc.in_width_index = conv_a.in_width_index;
  sc.out_width_index = last.out_width_index;
  sc.c_in = conv_a.c_in;
  sc.c_out = last.c_out;
  sc.k = 1;
  sc.stride = 1;
  sc.pad = 0;
  sc.h_in = last.h_out;
  sc.w_in = last.w_out;
  sc.h_out = last.h_out;
  sc.w_out = last.w_out;
  sc.batch_norm = true;
  sc.relu = false;
  sc.quantized = false;
  return sc;
}

namespace {

void build_cifar_resnet(Network& net, int depth) {
  Builder b(net, net.widths);
  const int n = cifar_blocks_per_stage(depth);
  int h = net.input.height, w = net.input.width;
  Layer& stem = b.conv("stem", 0, 1, 3, 1, 1, h, w);
  stem.quantized = false;
  int in_index = 1;
  int next = 2;
  for (int stage = 1; stage <= 3; ++stage) {
    for (int blk = 0; blk < n; ++blk) {
      const int stride = (stage > 1 && blk == 0) ? 2 : 1;
      const std::string prefix = "s" + std::to_string(stage) + "b" + std::to_string(blk + 1);
      Block block;
      const int a_index = next++, b_index = next++;
      Layer& a = b.conv(prefix + ".conv_a", in_index, a_index, 3, stride, 1, h, w);
      const int ho = a.h_out, wo = a.w_out;
      block.conv_a = b.last_index();
      Layer& cb = b.conv(prefix + ".conv_b", a_index, b_index, 3, 1, 1, ho, wo);
      cb.relu = false;  // the block's ReLU comes after the residual add
      block.conv_b = b.last_index();
      if (stride == 2) {
        // TAS shortcut B: 2x2 average pool, then a 1x1 conv without BN.
        Layer& sc = b.conv(prefix + ".shortcut", in_index, b_index, 1, 1, 0, ho, wo);
        sc.in_pool = Pool{PoolKind::kAvg, 2, 2, 0};
        if (pooled(h, sc.in_pool) != ho || pooled(w, sc.in_pool) != wo) {
          // A 1-pixel map has no 2x2 window to average (and an odd one loses a row): the
          // shortcut cannot produce the block's output shape, so the input does not fit.
          std::ostringstream msg;
          msg << "model '" << net.model << "': input " << net.input.channels << "x"
              << net.input.height << "x" << net.input.width
              << " does not fit it (too small, or odd where a stride-2 block halves it): block '"
              << prefix << "' gets a " << h << "x" << w
              << " map, and its 2x2 stride-2 average-pool "
              << "shortcut gives " << pooled(h, sc.in_pool) << "x" << pooled(w, sc.in_pool)
              << " where the block gives " << ho << "x" << wo;
          throw std::invalid_argument(msg.str());
        }
        sc.batch_norm = false;
        sc.relu = false;
        sc.quantized = false;
        block.shortcut = b.last_index();
      } else if (net.widths[in_index] != net.widths[b_index]) {
        // Stride-1 block whose widths differ (searched networks): 1x1 conv + BN (TAS).
        const Layer sc = width_shortcut(net.layers[static_cast<std::size_t>(block.conv_a)],
                                        net.layers[static_cast<std::size_t>(block.conv_b)]);
        net.layers.push_back(sc);
        block.shortcut = b.last_index();
      }
      net.blocks.push_back(block);
      in_index = b_index;
      h = ho;
      w = wo;
    }
  }
  b.fc(in_index, net.input.num_classes);
}

void build_imagenet_resnet(Network& net, int depth) {
  Builder b(net, net.widths);
  const ImageNetSpec spec = imagenet_spec(depth);
  Layer& stem = b.conv("stem", 0, 1, 7, 2, 3, net.input.height, net.input.width);
  stem.quantized = false;
  stem.out_pool = Pool{PoolKind::kMax, 3, 2, 1};
  int h = pooled(stem.h_out, stem.out_pool), w = pooled(stem.w_out, stem.out_pool);
  if (h < 1 || w < 1) throw std::invalid_argument("model '" + net.model + "': input too small");
  int in_index = 1;
  int next = 2;
  for (size_t stage = 0; stage < spec.blocks.size(); ++stage) {
    for (int blk = 0; blk < spec.blocks[stage]; ++blk) {
      const int stride = (stage > 0 && blk == 0) ? 2 : 1;
      const std::string prefix = "s" + std::to_string(stage + 1) + "b" + std::to_string(blk + 1);
      Block block;
      int out_index = 0, ho = 0, wo = 0;
      if (spec.bottleneck) {
        const int a_index = next++, b_index = next++, c_index = next++;
        b.conv(prefix + ".conv_a", in_index, a_index, 1, 1, 0, h, w);
        block.conv_a = b.last_index();
        Layer& mid = b.conv(prefix + ".conv_b", a_index, b_index, 3, stride, 1, h, w);
        ho = mid.h_out;
        wo = mid.w_out;
        block.conv_b = b.last_index();
        Layer& last = b.conv(prefix + ".conv_c", b_index, c_index, 1, 1, 0, ho, wo);
        last.relu = false;
        block.conv_c = b.last_index();
        out_index = c_index;
      } else {
        const int a_index = next++, b_index = next++;
        Layer& a = b.conv(prefix + ".conv_a", in_index, a_index, 3, stride, 1, h, w);
        ho = a.h_out;
        wo = a.w_out;
        block.conv_a = b.last_index();
        Layer& cb = b.conv(prefix + ".conv_b", a_index, b_index, 3, 1, 1, ho, wo);
        cb.relu = false;
        block.conv_b = b.last_index();
        out_index = b_index;
      }
      if (stride != 1 || net.widths[in_index] != net.widths[out_index]) {
        Layer& sc = b.conv(prefix + ".shortcut", in_index, out_index, 1, stride, 0, h, w);
        sc.relu = false;
        sc.quantized = false;
        block.shortcut = b.last_index();
      }
      net.blocks.push_back(block);
      in_index = out_index;
      h = ho;
      w = wo;
    }
  }
  b.fc(in_index, net.input.num_classes);
}

void build_vgg16(Network& net) {
  Builder b(net, net.widths);
  int h = net.input.height, w = net.input.width;
  int index = 0;
  int conv_no = 0;
  for (int entry : vgg16_cfg()) {
    if (entry == 0) {
      Layer& prev = net.layers.back();
      prev.out_pool = Pool{PoolKind::kMax, 2, 2, 0};
      h = pooled(h, prev.out_pool);
      w = pooled(w, prev.out_pool);
      if (h < 1 || w < 1) {
        std::ostringstream msg;
        msg << "model 'vgg16' needs an input of at least 32x32 (5 max pools); got "
            << net.input.height << "x" << net.input.width;
        throw std::invalid_argument(msg.str());
      }
      continue;
    }
    ++conv_no;
    Layer& l = b.conv("conv" + std::to_string(conv_no), index, index + 1, 3, 1, 1, h, w);
    if (conv_no == 1) l.quantized = false;
    ++index;
  }
  if (h != 1 || w != 1) {
    std::ostringstream msg;
    msg << "model 'vgg16' expects a 1x1 map before its FC (a 32x32 input); got " << h << "x" << w
        << " from a " << net.input.height << "x" << net.input.width << " input";
    throw std::invalid_argument(msg.str());
  }
  b.fc(index, net.input.num_classes);
}

}  // namespace

const std::vector<std::string>& model_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& m : model_table()) out.push_back(m.name);
    return out;
  }();
  return names;
}

bool is_cifar_model(const std::string& name) {
  return find_model(name).family != Family::kImageNetResNet;
}

InputShape canonical_input(const std::string& model) {
  return is_cifar_model(model) ? cifar_input() : imagenet_input();
}

std::vector<int> default_widths(const std::string& model, int in_channels) {
  const ModelInfo& info = find_model(model);
  std::vector<int> widths = {in_channels};
  switch (info.family) {
    case Family::kCifarResNet: {
      widths.push_back(16);
      const int n = cifar_blocks_per_stage(info.depth);
      for (int c : {16, 32, 64}) {
        for (int i = 0; i < 2 * n; ++i) widths.push_back(c);
      }
      break;
    }
    case Family::kImageNetResNet: {
      widths.push_back(64);
      const ImageNetSpec spec = imagenet_spec(info.depth);
      const int mids[] = {64, 128, 256, 512};
      for (size_t s = 0; s < spec.blocks.size(); ++s) {
        for (int i = 0; i < spec.blocks[s]; ++i) {
          if (spec.bottleneck) {
            widths.insert(widths.end(), {mids[s], mids[s], 4 * mids[s]});
          } else {
            widths.insert(widths.end(), {mids[s], mids[s]});
          }
        }
      }
      break;
    }
    case Family::kVgg:
      for (int entry : vgg16_cfg()) {
        if (entry != 0) widths.push_back(entry);
      }
      break;
    case Family::kTopology:
      break;
  }
  return widths;
}

Network build(const std::string& model, const std::vector<int>& widths, const InputShape& input) {
  const ModelInfo& info = find_model(model);
  if (input.channels < 1 || input.height < 1 || input.width < 1 || input.num_classes < 1) {
    throw std::invalid_argument("model '" + model + "': input shape and class count must be >= 1");
  }
  Network net;
  net.model = model;
  net.family = info.family;
  net.input = input;
  const std::vector<int> expected = default_widths(model, input.channels);
  if (widths.empty()) {
    net.widths = expected;
  } else {
    if (widths.size() != expected.size()) {
      std::ostringstream msg;
      msg << "model '" << model << "' takes " << expected.size() << " widths (the input's "
          << input.channels << " channels, then " << expected.size() - 1
          << " searchable convs), got " << widths.size();
      throw std::invalid_argument(msg.str());
    }
    for (size_t i = 0; i < widths.size(); ++i) {
      if (widths[i] < 1) {
        std::ostringstream msg;
        msg << "model '" << model << "': width " << i << " is " << widths[i]
            << "; every width must be >= 1";
        throw std::invalid_argument(msg.str());
      }
      if (widths[i] > kMaxWidth) {
        std::ostringstream msg;
        msg << "model '" << model << "': width " << i << " is " << widths[i]
            << "; a layer may have at most " << kMaxWidth << " channels";
        throw std::invalid_argument(msg.str());
      }
    }
    if (widths[0] != input.channels) {
      std::ostringstream msg;
      msg << "model '" << model << "': width 0 is the input's channel count, " << input.channels
          << ", got " << widths[0];
      throw std::invalid_argument(msg.str());
    }
    net.widths = widths;
  }
  switch (info.family) {
    case Family::kCifarResNet:
      build_cifar_resnet(net, info.depth);
      break;
    case Family::kImageNetResNet:
      build_imagenet_resnet(net, info.depth);
      break;
    case Family::kVgg:
      build_vgg16(net);
      break;
    case Family::kTopology:
      break;
  }
  return net;
}

Network build_canonical(const std::string& model, const std::vector<int>& widths) {
  return build(model, widths, canonical_input(model));
}

namespace {

std::string multiplier_text(double m) {
  std::ostringstream out;
  out << m;
  return out.str();
}

void check_multiplier(double multiplier) {
  if (!std::isfinite(multiplier) || !(multiplier > 0.0) || multiplier > kMaxWidthMultiplier) {
    throw std::invalid_argument("width multiplier " + multiplier_text(multiplier) +
                                ": must be a finite number in (0, " +
                                multiplier_text(kMaxWidthMultiplier) + "]");
  }
}

}  // namespace

int scale_width(int width, double multiplier) {
  check_multiplier(multiplier);
  const double scaled = std::round(static_cast<double>(width) * multiplier);
  if (!(scaled <= kMaxWidth)) {
    throw std::invalid_argument("width " + std::to_string(width) + " x " +
                                multiplier_text(multiplier) + " = " + multiplier_text(scaled) +
                                " channels: more than the " + std::to_string(kMaxWidth) +
                                " a layer may have");
  }
  return std::max(1, static_cast<int>(scaled));
}

std::vector<int> scale_widths(const std::vector<int>& widths, double multiplier) {
  check_multiplier(multiplier);
  std::vector<int> out = widths;
  for (size_t i = 1; i < out.size(); ++i) out[i] = scale_width(widths[i], multiplier);
  return out;
}

std::vector<double> parse_multipliers(const std::string& text) {
  std::vector<double> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    const std::string trimmed = common::trim(item);
    std::size_t used = 0;
    double m = 0.0;
    try {
      m = std::stod(trimmed, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (trimmed.empty() || used != trimmed.size()) {
      throw std::invalid_argument("multiplier list '" + text + "': '" + item + "' is not a number");
    }
    try {
      check_multiplier(m);
    } catch (const std::invalid_argument& ex) {
      throw std::invalid_argument("multiplier list '" + text + "': " + ex.what());
    }
    out.push_back(m);
  }
  if (out.empty() || text.back() == ',') {
    throw std::invalid_argument("multiplier list '" + text + "': empty item");
  }
  return out;
}

std::vector<int> parse_widths(const std::string& text) {
  std::string body = text;
  // Accept "3,16,16", "[3,16,16]" and spaces.
  body.erase(std::remove_if(body.begin(), body.end(),
                            [](char c) { return c == '[' || c == ']' || c == ' '; }),
             body.end());
  std::vector<int> out;
  if (body.empty()) throw std::invalid_argument("empty width list");
  std::stringstream in(body);
  std::string item;
  int position = 0;
  while (std::getline(in, item, ',')) {
    size_t used = 0;
    int value = 0;
    try {
      value = std::stoi(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size()) {
      throw std::invalid_argument("width list '" + text + "': item " + std::to_string(position) +
                                  " ('" + item + "') is not an integer");
    }
    out.push_back(value);
    ++position;
  }
  if (!body.empty() && body.back() == ',') {
    throw std::invalid_argument("width list '" + text + "' ends with a comma");
  }
  return out;
}

std::string format_widths(const std::vector<int>& widths) {
  std::string out = "[";
  for (size_t i = 0; i < widths.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(widths[i]);
  }
  return out + "]";
}

}  // namespace nce::models
