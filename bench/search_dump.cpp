// One search iteration of nce's supernet, written out tensor by tensor for bench/tas_step_check.py
// (bench/compare_tas_step.sh), which replays it in AutoDL-Projects' SearchWidthCifarResNet (TAS).
//
// Uses only the public search:: interfaces (Supernet, ArchParams, gumbel_draw, expected_cost,
// cost_accounting, tas_cost_loss). ResNet-20 at 8 candidates per layer (TAS: no expansion), so
// every allocation is the base width and the weights have TAS's shapes.
//
//   1. initial state: every Supernet::state() tensor, alpha (S x 8), the candidates, two batches
//      (images N x 3 x 32 x 32 uniform in [-1, 1], labels) for the weight and the architecture
//      step;
//   2. weight step: Gumbel draws (index, mixing weights, z and the Gumbel noise g = tau*z -
//      log_softmax(alpha), from which TAS's select2withP recomputes the draw), forward (train-mode
//      BN), CE, backward with weight gradients; writes the loss, every parameter gradient, the CE
//      alpha gradient of this step, and the state after it (BN running statistics);
//   3. SGD step (nn::Sgd, lr --lr, momentum 0.9, Nesterov, wd 5e-4 as the search uses it); writes
//   the
//      parameters after it;
//   4. architecture step on the other batch with fresh draws: forward, CE, backward without weight
//      gradients, the CE alpha gradient; expected MACs of softmax(alpha) with dE/dalpha on the base
//      network (TAS's expected FLOPs: no width shortcuts) and on nce's default accounting
//      (count_width_shortcuts), the argmax MACs F, target R = --flop-ratio * base MACs, the TAS
//      cost loss and lambda * dL/dalpha;
//   5. --rule-draws K more draws per layer (z and indices) to test the sampling rule statistically.
//
// Files (DIR): scalars.txt ("name value" per line), *.npy (float32 tensors flattened as nce holds
// them, row-major; float64 for alpha, draws, costs; int32 for indices and labels), and one folder
// per state snapshot (state0/, grad_w/, state1/, state2/) with one NAME.npy per Supernet tensor
// name.
//
//   build/bench/nce_search_dump --out DIR [--seed 1] [--bits 32] [--batch 64] [--tau 2]
//       [--alpha-std 1] [--flop-ratio 0.5] [--flop-lambda 2] [--tolerance 0.05] [--lr 0.1]
//       [--rule-draws 4000] [--quantizer sawb] [--full-width]
// --full-width (a diagnostic) fixes every draw to the widest candidate with weight 1 (the plain
// network); TAS, given the same index twice, mixes it with itself at 0.5 + 0.5, so its forward and
// weight gradients are the same while its mixing weights (and alpha gradients) are not.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "nce/models/network.h"
#include "nce/nn/loss.h"
#include "nce/nn/network.h"
#include "nce/nn/optimizer.h"
#include "nce/nn/quantizer.h"
#include "nce/search/arch_params.h"
#include "nce/search/expected_cost.h"
#include "nce/search/search_run.h"
#include "nce/search/supernet.h"

namespace {

namespace fs = std::filesystem;
using namespace nce;

// A minimal .npy (version 1.0) writer: C order, little endian.
template <class T>
const char* npy_descr();
template <>
const char* npy_descr<float>() {
  return "<f4";
}
template <>
const char* npy_descr<double>() {
  return "<f8";
}
template <>
const char* npy_descr<std::int32_t>() {
  return "<i4";
}

template <class T>
void write_npy(const fs::path& path, const T* data, const std::vector<std::size_t>& shape) {
  std::ostringstream dict;
  dict << "{'descr': '" << npy_descr<T>() << "', 'fortran_order': False, 'shape': (";
  std::size_t count = 1;
  for (std::size_t d : shape) {
    dict << d << ",";
    count *= d;
  }
  dict << "), }";
  std::string header = dict.str();
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  std::ofstream out(path, std::ios::binary);
  if (!out) throw std::runtime_error("cannot write " + path.string());
  out.write("\x93NUMPY\x01\x00", 8);
  const std::uint16_t len = static_cast<std::uint16_t>(header.size());
  out.put(static_cast<char>(len & 0xff));
  out.put(static_cast<char>(len >> 8));
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(count * sizeof(T)));
  if (!out) throw std::runtime_error("short write to " + path.string());
}

void write_tensor(const fs::path& path, const nn::Tensor& t) {
  write_npy(path, t.data(), {t.size()});
}

// Rows of equal length (per layer vectors) as one 2-D array.
template <class T>
void write_rows(const fs::path& path, const std::vector<std::vector<T>>& rows) {
  std::vector<T> flat;
  for (const auto& r : rows) {
    if (r.size() != rows.front().size()) throw std::logic_error("ragged rows for " + path.string());
    flat.insert(flat.end(), r.begin(), r.end());
  }
  write_npy(path, flat.data(), {rows.size(), rows.empty() ? 0 : rows.front().size()});
}

void write_state(const fs::path& dir, const std::vector<nn::NamedTensor>& state) {
  fs::create_directories(dir);
  for (const auto& t : state) write_tensor(dir / (t.name + ".npy"), *t.tensor);
}

void write_grads(const fs::path& dir, const std::vector<nn::Parameter>& params) {
  fs::create_directories(dir);
  for (const auto& p : params) write_tensor(dir / (p.name + ".npy"), *p.grad);
}

void write_draws(const fs::path& dir, const std::string& prefix, const search::ArchParams& arch,
                 const std::vector<search::GumbelDraw>& draws) {
  std::vector<std::vector<std::int32_t>> index;
  std::vector<std::vector<double>> weight, z, gumbel;
  for (size_t i = 0; i < draws.size(); ++i) {
    const search::GumbelDraw& d = draws[i];
    index.push_back({d.index[0], d.index[1]});
    weight.push_back({d.weight[0], d.weight[1]});
    z.push_back(d.z);
    const std::vector<double> p = arch.probabilities(static_cast<int>(i) + 1);
    std::vector<double> g(d.z.size());
    for (size_t j = 0; j < g.size(); ++j) g[j] = d.tau * d.z[j] - std::log(p[j]);
    gumbel.push_back(g);
  }
  write_rows(dir / (prefix + "_index.npy"), index);
  write_rows(dir / (prefix + "_weight.npy"), weight);
  write_rows(dir / (prefix + "_z.npy"), z);
  write_rows(dir / (prefix + "_gumbel.npy"), gumbel);
}

std::vector<std::vector<double>> mixing_rows(const search::Supernet& net) {
  std::vector<std::vector<double>> rows;
  for (const auto& m : net.mixing_grads()) rows.push_back({m[0], m[1]});
  return rows;
}

struct Options {
  std::string out;
  std::uint64_t seed = 1;
  int bits = 32, batch = 64, rule_draws = 4000;
  double tau = 2.0, alpha_std = 1.0, lr = 0.1;
  double flop_ratio = 0.5, flop_lambda = 2.0, tolerance = 0.05;
  std::string quantizer = "sawb";
  bool full_width = false;  // diagnostic: every draw is the widest candidate twice, weight 1
  bool help = false;
};

// The options that take a value, by type.
const std::pair<const char*, int Options::*> kIntOptions[] = {
    {"--bits", &Options::bits},
    {"--batch", &Options::batch},
    {"--rule-draws", &Options::rule_draws}};
const std::pair<const char*, double Options::*> kDoubleOptions[] = {
    {"--tau", &Options::tau},
    {"--alpha-std", &Options::alpha_std},
    {"--flop-ratio", &Options::flop_ratio},
    {"--flop-lambda", &Options::flop_lambda},
    {"--tolerance", &Options::tolerance},
    {"--lr", &Options::lr}};

// Sets option a to v; false when a takes no value here.
bool set_value_option(Options& o, const std::string& a, const std::string& v) {
  for (const auto& [name, field] : kIntOptions) {
    if (a != name) continue;
    o.*field = std::stoi(v);
    return true;
  }
  for (const auto& [name, field] : kDoubleOptions) {
    if (a != name) continue;
    o.*field = std::stod(v);
    return true;
  }
  if (a == "--out") {
    o.out = v;
  } else if (a == "--seed") {
    o.seed = std::stoull(v);
  } else if (a == "--quantizer") {
    o.quantizer = v;
  } else {
    return false;
  }
  return true;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      o.help = true;
      return o;
    }
    if (a == "--full-width") {
      o.full_width = true;
      continue;
    }
    if (i + 1 >= argc) throw std::invalid_argument("option " + a + " needs a value");
    if (!set_value_option(o, a, argv[++i]))
      throw std::invalid_argument("unknown option " + a + " (see --help)");
  }
  if (o.out.empty()) throw std::invalid_argument("--out DIR is required");
  if (o.full_width) o.rule_draws = 0;
  if (o.batch < 2)
    throw std::invalid_argument("--batch must be >= 2, got " + std::to_string(o.batch));
  if (!(o.tau > 0)) throw std::invalid_argument("--tau must be > 0");
  return o;
}

void write_scalars_header(std::ofstream& scalars, const Options& o,
                          const search::SupernetOptions& sopt) {
  scalars.precision(17);
  scalars << "seed " << o.seed << "\nbits " << o.bits << "\nbatch " << o.batch << "\ntau " << o.tau
          << "\nalpha_std " << o.alpha_std << "\nflop_ratio " << o.flop_ratio << "\nflop_lambda "
          << o.flop_lambda << "\ntolerance " << o.tolerance << "\nlr " << o.lr << "\nbn_momentum "
          << sopt.bn_momentum << "\nbn_eps " << sopt.bn_eps << "\npact_init_clip "
          << sopt.pact_init_clip << "\npact_clip_l2 " << sopt.pact_clip_l2 << "\nquantizer_sawb "
          << (sopt.quantizer == nn::QuantizerKind::kSawb ? 1 : 0) << "\n";
}

// The weight step's and the architecture step's batches (step 1), written to DIR.
struct Batches {
  nn::Tensor images_w, images_a;
  std::vector<std::int32_t> labels_w, labels_a;
};

Batches make_batches(const Options& o, const fs::path& dir) {
  std::mt19937 data_rng(static_cast<std::uint32_t>(o.seed) * 7919u + 13u);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  Batches b{nn::Tensor(o.batch, 3, 32, 32), nn::Tensor(o.batch, 3, 32, 32),
            std::vector<std::int32_t>(o.batch), std::vector<std::int32_t>(o.batch)};
  for (auto* t : {&b.images_w, &b.images_a}) {
    for (std::size_t i = 0; i < t->size(); ++i) (*t)[i] = u(data_rng);
  }
  for (auto* l : {&b.labels_w, &b.labels_a}) {
    for (auto& y : *l) y = static_cast<std::int32_t>(data_rng() % 10);
  }
  const std::vector<std::size_t> image_shape = {static_cast<std::size_t>(o.batch), 3, 32, 32};
  write_npy(dir / "images_w.npy", b.images_w.data(), image_shape);
  write_npy(dir / "images_a.npy", b.images_a.data(), image_shape);
  write_npy(dir / "labels_w.npy", b.labels_w.data(), {b.labels_w.size()});
  write_npy(dir / "labels_a.npy", b.labels_a.data(), {b.labels_a.size()});
  return b;
}

void write_arch(const fs::path& dir, const search::ArchParams& arch) {
  std::vector<std::vector<double>> alpha;
  std::vector<std::vector<std::int32_t>> candidates;
  for (const auto& l : arch.layers()) {
    alpha.push_back(l.alpha);
    candidates.push_back(std::vector<std::int32_t>(l.candidates.begin(), l.candidates.end()));
  }
  write_rows(dir / "alpha.npy", alpha);
  write_rows(dir / "candidates.npy", candidates);
}

// One Gumbel draw per layer; with --full-width the plain network at its full widths (Gumbel
// noise 0).
std::vector<search::GumbelDraw> draw_all(const search::ArchParams& arch, const Options& o,
                                         std::mt19937_64& rng) {
  std::vector<search::GumbelDraw> d;
  for (int w = 1; w <= arch.num_layers(); ++w)
    d.push_back(search::gumbel_draw(arch.layer(w).alpha, o.tau, rng));
  if (o.full_width) {
    for (int w = 1; w <= arch.num_layers(); ++w) {
      search::GumbelDraw& g = d[w - 1];
      const int last = static_cast<int>(g.z.size()) - 1;
      g.index[0] = g.index[1] = last;
      g.weight[0] = 1;
      g.weight[1] = 0;
      const std::vector<double> p = arch.probabilities(w);
      for (size_t j = 0; j < p.size(); ++j) g.z[j] = std::log(p[j]) / o.tau;
    }
  }
  return d;
}

// A step's fresh draws (written as draw_<tag>_*.npy) set on the supernet, its train-mode forward
// of the batch (logits_<tag>.npy) and the CE loss, whose gradient goes to grad.
double draw_and_forward(search::Supernet& net, const search::ArchParams& arch, const Options& o,
                        std::mt19937_64& rng, const fs::path& dir, const std::string& tag,
                        const nn::Tensor& images, const std::vector<std::int32_t>& labels,
                        nn::Tensor& grad) {
  const std::vector<search::GumbelDraw> draws = draw_all(arch, o, rng);
  write_draws(dir, "draw_" + tag, arch, draws);
  net.set_draws(draws);
  const nn::Tensor& logits = net.forward(images, nn::Mode::kTrain);
  write_tensor(dir / ("logits_" + tag + ".npy"), logits);
  const std::vector<int> labels_int(labels.begin(), labels.end());
  return nn::softmax_cross_entropy(logits, labels_int.data(), &grad);
}

// Step 4's cost terms: "tas" = the base network (TAS's expected FLOPs), "nce" = the search's
// default accounting with the width shortcuts a derived network gets; ce_grad: the step's CE
// alpha gradient.
void write_cost_terms(const fs::path& dir, std::ofstream& scalars, const Options& o,
                      const models::Network& desc, const search::ArchParams& arch,
                      const std::vector<std::vector<double>>& ce_grad) {
  const std::vector<int> argmax = arch.derive(desc.widths[0]);
  const std::vector<int> widest = arch.max_widths(desc.widths[0]);
  std::vector<std::int32_t> argmax32(argmax.begin(), argmax.end());
  write_npy(dir / "argmax_widths.npy", argmax32.data(), {argmax32.size()});
  const search::CostAccounting acc = search::cost_accounting(desc, true);
  struct Accounting {
    const char* name;
    const models::Network* net;
    search::LayerCostFn fn;
  };
  const std::vector<Accounting> accountings = {
      {"tas", &desc, search::macs_cost(desc)},
      {"nce", &acc.net, acc.gate(search::macs_cost(acc.net))}};
  for (const Accounting& a : accountings) {
    const search::ExpectedCost e = search::expected_cost(*a.net, arch, a.fn);
    const double f = search::concrete_cost(*a.net, argmax, a.fn);
    const double base_cost = search::concrete_cost(*a.net, desc.widths, a.fn);
    const double target = o.flop_ratio * base_cost;
    const double rmax = search::concrete_cost(*a.net, widest, a.fn);
    const search::CostLoss cl = search::tas_cost_loss(e.value, f, target, rmax, o.tolerance);
    const std::string p = std::string("flops_") + a.name + "_";
    scalars << p << "expected " << e.value << "\n"
            << p << "argmax " << f << "\n"
            << p << "base " << base_cost << "\n"
            << p << "target " << target << "\n"
            << p << "max " << rmax << "\n"
            << p << "loss " << cl.loss << "\n"
            << p << "direction " << cl.direction << "\n";
    write_rows(dir / (p + "expected_grad_alpha.npy"), e.grad_alpha);
    std::vector<std::vector<double>> term = e.grad_alpha, total = ce_grad;
    for (size_t w = 0; w < term.size(); ++w) {
      for (size_t i = 0; i < term[w].size(); ++i) {
        term[w][i] *= o.flop_lambda * cl.grad_expected;
        total[w][i] += term[w][i];
      }
    }
    write_rows(dir / (p + "term_grad_alpha.npy"), term);
    write_rows(dir / (p + "arch_grad_alpha.npy"), total);
  }
}

// Step 5, the sampling rule: more draws at the same alpha and tau.
void write_rule_draws(const fs::path& dir, const search::ArchParams& arch, const Options& o,
                      std::mt19937_64& rng) {
  std::vector<std::vector<double>> rule_z;
  std::vector<std::vector<std::int32_t>> rule_index;
  for (int k = 0; k < o.rule_draws; ++k) {
    for (const search::GumbelDraw& d : draw_all(arch, o, rng)) {
      rule_z.push_back(d.z);
      rule_index.push_back({d.index[0], d.index[1]});
    }
  }
  if (o.rule_draws > 0) {
    write_rows(dir / "rule_z.npy", rule_z);
    write_rows(dir / "rule_index.npy", rule_index);
  }
}

int run(const Options& o) {
  const fs::path dir(o.out);
  fs::create_directories(dir);
  const models::Network desc = models::build_canonical("resnet20");
  std::mt19937_64 rng(o.seed);
  search::ArchParams arch(desc.widths, rng, o.alpha_std);
  search::SupernetOptions sopt;
  sopt.weight_bits = sopt.activation_bits = o.bits;
  sopt.quantizer = nn::parse_quantizer(o.quantizer);
  sopt.max_candidates = 8;  // TAS: no expansion, allocations = base widths
  search::Supernet net(desc, arch, sopt, o.seed + 1);
  for (int w = 0; w < static_cast<int>(desc.widths.size()); ++w) {
    if (net.allocated_width(w) != desc.widths[w]) {
      throw std::logic_error("allocation of width index " + std::to_string(w) + " is " +
                             std::to_string(net.allocated_width(w)) + ", expected " +
                             std::to_string(desc.widths[w]));
    }
  }
  std::ofstream scalars(dir / "scalars.txt");
  write_scalars_header(scalars, o, sopt);
  const Batches batches = make_batches(o, dir);
  write_arch(dir, arch);
  write_state(dir / "state0", net.state());
  nn::Tensor grad;

  // 2. Weight step.
  const double loss_w =
      draw_and_forward(net, arch, o, rng, dir, "w", batches.images_w, batches.labels_w, grad);
  net.zero_grad();
  net.backward(grad, true);
  scalars << "loss_w " << loss_w << "\n";
  write_grads(dir / "grad_w", net.parameters());
  write_rows(dir / "alpha_grad_w.npy", net.alpha_grads());
  write_rows(dir / "mixing_grad_w.npy", mixing_rows(net));
  write_state(dir / "state1", net.state());

  // 3. SGD step as the search takes it.
  nn::Sgd sgd(net.parameters(), nn::SgdOptions{});
  sgd.step(static_cast<float>(o.lr));
  write_state(dir / "state2", net.state());

  // 4. Architecture step.
  const double loss_a =
      draw_and_forward(net, arch, o, rng, dir, "a", batches.images_a, batches.labels_a, grad);
  net.backward(grad, false);
  const std::vector<std::vector<double>> ce_grad = net.alpha_grads();
  scalars << "loss_a " << loss_a << "\n";
  write_rows(dir / "alpha_grad_a_ce.npy", ce_grad);
  write_rows(dir / "mixing_grad_a.npy", mixing_rows(net));
  write_cost_terms(dir, scalars, o, desc, arch, ce_grad);

  // 5. The sampling rule.
  write_rule_draws(dir, arch, o, rng);
  scalars << "rule_draws " << o.rule_draws << "\nfull_width " << (o.full_width ? 1 : 0) << "\n";
  std::printf(
      "nce_search_dump: resnet20 W%dA%d batch %d tau %g: weight-step CE %.6f, arch-step CE "
      "%.6f -> %s\n",
      o.bits, o.bits, o.batch, o.tau, loss_w, loss_a, dir.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv);
    if (o.help) {
      std::cout
          << "nce_search_dump --out DIR [--seed N] [--bits 32] [--batch 64] [--tau 2]\n"
             "  [--alpha-std 1] [--flop-ratio 0.5] [--flop-lambda 2] [--tolerance 0.05]\n"
             "  [--lr 0.1] [--rule-draws 4000] [--quantizer sawb|dorefa|lsq] [--full-width]\n";
      return 0;
    }
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nce_search_dump: %s\n", e.what());
    return 2;
  }
}
