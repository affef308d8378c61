#include "nce/search/search_checkpoint.h"

#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace nce::search {

namespace {

std::string num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

// Vectors of doubles, exact (hexfloat).
void write_vec(std::ostream& out, const std::vector<double>& v) {
  out << v.size();
  for (double x : v) out << ' ' << std::hexfloat << x << std::defaultfloat;
  out << '\n';
}

std::vector<double> read_vec(std::istream& in) {
  size_t n = 0;
  in >> n;
  std::vector<double> v(n);
  for (auto& x : v) {
    std::string token;
    in >> token;
    x = std::strtod(token.c_str(), nullptr);
  }
  return v;
}

}  // namespace

std::string write_search_history(const ArchParams& arch, const ArchOptimizer& adam,
                                 const std::vector<SearchEpoch>& epochs,
                                 const std::vector<Candidate>& candidates) {
  std::ostringstream out;
  out << "arch " << arch.num_layers() << '\n';
  for (const auto& l : arch.layers()) {
    out << l.base_channels << ' ' << l.expansions << ' ' << l.candidates.size();
    for (int c : l.candidates) out << ' ' << c;
    out << '\n';
    write_vec(out, l.alpha);
  }
  out << "adam " << adam.steps << '\n';
  for (size_t i = 0; i < adam.m.size(); ++i) {
    write_vec(out, adam.m[i]);
    write_vec(out, adam.v[i]);
  }
  out << "epochs " << epochs.size() << '\n';
  for (const auto& e : epochs) {
    out << e.epoch << ' ' << e.phase << '\n';
    write_vec(out, {e.tau, e.lr, e.loss, e.top1, e.arch_loss, e.seconds});
    out << e.probabilities.size() << '\n';
    for (size_t i = 0; i < e.probabilities.size(); ++i) {
      write_vec(out, e.probabilities[i]);
      write_vec(out, e.ce_alpha_grad[i]);
    }
    write_vec(out, e.kendall);
    out << e.expanded.size();
    for (int x : e.expanded) out << ' ' << x;
    out << '\n';
  }
  out << "candidates " << candidates.size() << '\n';
  for (const auto& c : candidates) {
    out << c.method << ' ' << c.epoch << ' ' << c.phase << ' ' << c.widths.size();
    for (int w : c.widths) out << ' ' << w;
    out << ' ' << c.macs << ' ' << c.params << '\n';
    write_vec(out, {c.latency_cycles, c.energy_pj, c.top1});
  }
  return out.str();
}

void read_search_history(const std::string& text, const std::string& path, ArchParams& arch,
                         ArchOptimizer& adam, std::vector<SearchEpoch>& epochs,
                         std::vector<Candidate>& candidates) {
  std::istringstream in(text);
  std::string tag;
  auto expect = [&](const char* what) {
    in >> tag;
    if (!in || tag != what) {
      throw std::runtime_error(path + ": malformed search state (expected '" + what + "')");
    }
  };
  int layers = 0;
  expect("arch");
  in >> layers;
  if (layers != arch.num_layers()) {
    throw std::runtime_error(path + ": the checkpoint's search has " + std::to_string(layers) +
                             " layers, this model has " + std::to_string(arch.num_layers()));
  }
  for (auto& l : arch.layers()) {
    size_t n = 0;
    in >> l.base_channels >> l.expansions >> n;
    l.candidates.resize(n);
    for (auto& c : l.candidates) in >> c;
    l.alpha = read_vec(in);
  }
  expect("adam");
  in >> adam.steps;
  adam.m.assign(layers, {});
  adam.v.assign(layers, {});
  for (int i = 0; i < layers; ++i) {
    adam.m[i] = read_vec(in);
    adam.v[i] = read_vec(in);
  }
  size_t n = 0;
  expect("epochs");
  in >> n;
  epochs.assign(n, {});
  for (auto& e : epochs) {
    in >> e.epoch >> e.phase;
    const std::vector<double> s = read_vec(in);
    if (s.size() != 6) throw std::runtime_error(path + ": malformed epoch record");
    e.tau = s[0], e.lr = s[1], e.loss = s[2], e.top1 = s[3], e.arch_loss = s[4], e.seconds = s[5];
    size_t np = 0;
    in >> np;
    e.probabilities.resize(np);
    e.ce_alpha_grad.resize(np);
    for (size_t i = 0; i < np; ++i) {
      e.probabilities[i] = read_vec(in);
      e.ce_alpha_grad[i] = read_vec(in);
    }
    e.kendall = read_vec(in);
    size_t ne = 0;
    in >> ne;
    e.expanded.resize(ne);
    for (auto& x : e.expanded) in >> x;
  }
  expect("candidates");
  in >> n;
  candidates.assign(n, {});
  for (auto& c : candidates) {
    size_t nw = 0;
    in >> c.method >> c.epoch >> c.phase >> nw;
    c.widths.resize(nw);
    for (auto& w : c.widths) in >> w;
    in >> c.macs >> c.params;
    const std::vector<double> s = read_vec(in);
    if (s.size() != 3) throw std::runtime_error(path + ": malformed candidate record");
    c.latency_cycles = s[0], c.energy_pj = s[1], c.top1 = s[2];
  }
  if (!in) throw std::runtime_error(path + ": malformed search state (truncated)");
}

std::vector<std::pair<std::string, std::string>> search_identity(const SearchConfig& c,
                                                                 const nn::Dataset& train) {
  std::ostringstream s;
  auto kv = [&](const std::string& k, const std::string& v) {
    return std::pair<std::string, std::string>{k, v};
  };
  return {kv("method", c.method),
          kv("dataset", c.dataset),
          kv("train_images", std::to_string(train.size())),
          kv("bits", std::to_string(c.supernet.weight_bits) + "/" +
                         std::to_string(c.supernet.activation_bits)),
          kv("quantizer", nn::to_string(c.supernet.quantizer)),
          kv("warmup_epochs", std::to_string(c.warmup_epochs)),
          kv("search_epochs", std::to_string(c.search_epochs)),
          kv("batch", std::to_string(c.batch_size)),
          kv("max_batches", std::to_string(c.max_batches)),
          kv("lr", num(c.lr)),
          kv("arch_lr", num(c.arch_lr)),
          kv("threshold", num(c.threshold)),
          kv("max_candidates", std::to_string(c.max_candidates)),
          kv("lambdas", num(c.flops.lambda) + "," + num(c.params.lambda) + "," +
                            num(c.latency.lambda) + "," + num(c.energy.lambda)),
          kv("targets", num(c.flops.target_ratio) + "," + num(c.params.target_ratio) + "," +
                            num(c.latency.target_ratio) + "," + num(c.energy.target_ratio)),
          kv("seed", std::to_string(c.seed)),
          kv("base_multiplier", num(c.base_multiplier)),
          kv("count_width_shortcuts", c.count_width_shortcuts ? "1" : "0"),
          kv("hw", c.hw_fingerprint.empty() ? "none" : c.hw_fingerprint)};
}

}  // namespace nce::search
