#include "nce/search/search_checkpoint.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "nce/common/text.h"

namespace nce::search {

namespace {

// Vectors of doubles, exact (hexfloat).
void write_vec(std::ostream& out, const std::vector<double>& v) {
  out << v.size();
  for (double x : v) out << ' ' << std::hexfloat << x << std::defaultfloat;
  out << '\n';
}

// Reads what write_search_history wrote, token by token, refusing anything it did not write: a
// count larger than the text left could hold (so nothing is allocated that the file does not
// hold), a number that is not one or is out of its range, a record of another shape.
class HistoryReader {
 public:
  HistoryReader(const std::string& text, const std::string& path) : text_(text), path_(path) {}

  [[noreturn]] void malformed(const std::string& what) const {
    throw std::runtime_error(path_ + ": malformed search state in checkpoint (" + what +
                             " at byte " + std::to_string(at_) + ")");
  }
  std::string word(const std::string& what) {
    while (at_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[at_]))) ++at_;
    const std::size_t begin = at_;
    while (at_ < text_.size() && !std::isspace(static_cast<unsigned char>(text_[at_]))) ++at_;
    if (begin == at_) malformed(what + ": missing");
    return text_.substr(begin, at_ - begin);
  }
  void expect(const char* tag) {
    if (word(std::string("'") + tag + "'") != tag) malformed(std::string("expected '") + tag + "'");
  }
  std::int64_t integer(const std::string& what, std::int64_t lo, std::int64_t hi) {
    const std::string token = word(what);
    errno = 0;
    char* end = nullptr;
    const long long v = std::strtoll(token.c_str(), &end, 10);
    if (end == token.c_str() || *end != '\0' || errno == ERANGE || v < lo || v > hi) {
      malformed(what + " '" + token + "' (want an integer in " + std::to_string(lo) + ".." +
                std::to_string(hi) + ")");
    }
    return v;
  }
  int integer(const std::string& what, int lo = std::numeric_limits<int>::min()) {
    return static_cast<int>(integer(what, lo, std::numeric_limits<int>::max()));
  }
  // A tagged list: `tag`, its count, then that many records, each returned by read(where, i) for
  // i = 0, 1, ... with where = "<label> <i + 1>" (for its messages).
  template <typename Read>
  auto records(const char* tag, const std::string& label, Read read) {
    expect(tag);
    std::vector<decltype(read(std::string(), std::size_t{0}))> out;
    const std::size_t n = count(tag);
    for (std::size_t i = 0; i < n; ++i) out.push_back(read(label + " " + std::to_string(i + 1), i));
    return out;
  }
  // A count of items that follow: each takes at least two bytes (a separator and a digit).
  std::size_t count(const std::string& what) {
    const std::int64_t left = static_cast<std::int64_t>(text_.size() - at_);
    return static_cast<std::size_t>(integer(what + " count", 0, left / 2));
  }
  double real(const std::string& what) {
    const std::string token = word(what);
    char* end = nullptr;
    const double v = std::strtod(token.c_str(), &end);
    if (end == token.c_str() || *end != '\0') malformed(what + " '" + token + "' (not a number)");
    return v;
  }
  std::vector<double> vec(const std::string& what) {
    std::vector<double> v(count(what));
    for (auto& x : v) x = real(what);
    return v;
  }
  std::vector<double> finite_vec(const std::string& what, std::size_t want) {
    std::vector<double> v = vec(what);
    if (v.size() != want) {
      malformed(what + ": " + std::to_string(v.size()) + " values, want " + std::to_string(want));
    }
    for (double x : v) {
      if (!std::isfinite(x)) malformed(what + ": not finite");
    }
    return v;
  }
  bool at_end() {
    while (at_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[at_]))) ++at_;
    return at_ == text_.size();
  }

 private:
  const std::string& text_;
  const std::string& path_;
  std::size_t at_ = 0;
};

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
                         std::vector<Candidate>& candidates, int max_candidates) {
  HistoryReader in(text, path);
  in.expect("arch");
  const int layers = in.integer("arch layers", 0);
  if (layers != arch.num_layers()) {
    throw std::runtime_error(path + ": the checkpoint's search has " + std::to_string(layers) +
                             " layers, this model has " + std::to_string(arch.num_layers()));
  }
  // Each layer must be what the search makes of this network: its base width's candidates,
  // then one NCE expansion after another (ArchParams::maybe_expand), at most max_candidates.
  ArchParams restored = arch;
  for (int w = 1; w <= layers; ++w) {
    const std::string where = "layer " + std::to_string(w);
    LayerChoice& l = restored.layer(w);
    const int base = in.integer(where + " base channels", 1);
    if (base != l.base_channels) {
      in.malformed(where + " base channels " + std::to_string(base) + ", this model has " +
                   std::to_string(l.base_channels));
    }
    l.candidates = channel_candidates(l.base_channels);
    const int initial = static_cast<int>(l.candidates.size());
    l.expansions = in.integer(where + " expansions", 0);
    if (l.expansions > std::max(0, max_candidates - initial)) {
      in.malformed(where + " expansions " + std::to_string(l.expansions) + " (at most " +
                   std::to_string(std::max(0, max_candidates - initial)) + ")");
    }
    for (int k = 1; k <= l.expansions; ++k) {
      l.candidates.push_back(
          std::max(expansion_width(l.base_channels, k), l.candidates.back() + 1));
    }
    const std::size_t n = in.count(where + " candidates");
    if (n != l.candidates.size()) {
      in.malformed(where + ": " + std::to_string(n) + " candidates, want " +
                   std::to_string(l.candidates.size()));
    }
    for (int c : l.candidates) {
      if (in.integer(where + " candidate", 1) != c) {
        in.malformed(where + " candidates: not those of " + std::to_string(l.base_channels) +
                     " channels after " + std::to_string(l.expansions) + " expansions");
      }
    }
    l.alpha = in.finite_vec(where + " alpha", l.candidates.size());
  }
  in.expect("adam");
  ArchOptimizer restored_adam = adam;
  restored_adam.steps = in.integer("adam steps", 0, std::numeric_limits<std::int64_t>::max());
  restored_adam.m.assign(layers, {});
  restored_adam.v.assign(layers, {});
  for (int w = 1; w <= layers; ++w) {
    const std::size_t n = restored.layer(w).candidates.size();
    restored_adam.m[w - 1] = in.finite_vec("layer " + std::to_string(w) + " adam m", n);
    restored_adam.v[w - 1] = in.finite_vec("layer " + std::to_string(w) + " adam v", n);
  }
  std::vector<SearchEpoch> restored_epochs =
      in.records("epochs", "epoch record", [&](const std::string& where, std::size_t i) {
        SearchEpoch e;
        e.epoch = in.integer(where + " epoch", 1);
        if (e.epoch != static_cast<int>(i) + 1)
          in.malformed(where + ": epoch " + std::to_string(e.epoch));
        e.phase = in.word(where + " phase");
        if (e.phase != "warmup" && e.phase != "search")
          in.malformed(where + " phase '" + e.phase + "'");
        const std::vector<double> s = in.vec(where);
        if (s.size() != 6)
          in.malformed(where + ": " + std::to_string(s.size()) + " statistics, want 6");
        e.tau = s[0], e.lr = s[1], e.loss = s[2], e.top1 = s[3], e.arch_loss = s[4],
        e.seconds = s[5];
        if (in.count(where + " layers") != static_cast<std::size_t>(layers)) {
          in.malformed(where + ": another number of layers than " + std::to_string(layers));
        }
        for (int w = 1; w <= layers; ++w) {
          e.probabilities.push_back(in.vec(where + " probabilities"));
          e.ce_alpha_grad.push_back(in.vec(where + " dCE/dalpha"));
          if (e.ce_alpha_grad.back().size() != e.probabilities.back().size()) {
            in.malformed(where + " layer " + std::to_string(w) +
                         ": dCE/dalpha and probabilities differ in size");
          }
        }
        e.kendall = in.vec(where + " kendall");
        if (e.kendall.size() != static_cast<std::size_t>(layers)) {
          in.malformed(where + ": " + std::to_string(e.kendall.size()) + " kendall values, want " +
                       std::to_string(layers));
        }
        e.expanded.resize(in.count(where + " expanded"));
        for (int& x : e.expanded) x = static_cast<int>(in.integer(where + " expanded", 1, layers));
        return e;
      });
  std::vector<Candidate> restored_candidates =
      in.records("candidates", "candidate", [&](const std::string& where, std::size_t) {
        Candidate c;
        c.method = in.word(where + " method");
        c.epoch = in.integer(where + " epoch", 0);
        c.phase = in.word(where + " phase");
        c.widths.resize(in.count(where + " widths"));
        for (int& w : c.widths) w = in.integer(where + " width", 1);
        c.macs = in.integer(where + " macs", 0, std::numeric_limits<std::int64_t>::max());
        c.params = in.integer(where + " params", 0, std::numeric_limits<std::int64_t>::max());
        const std::vector<double> s = in.vec(where);
        if (s.size() != 3) in.malformed(where + ": " + std::to_string(s.size()) + " costs, want 3");
        c.latency_cycles = s[0], c.energy_pj = s[1], c.top1 = s[2];
        return c;
      });
  if (!in.at_end()) in.malformed("text after the candidates");
  arch = std::move(restored);
  adam = std::move(restored_adam);
  epochs = std::move(restored_epochs);
  candidates = std::move(restored_candidates);
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
          kv("lr", common::number_text(c.lr)),
          kv("arch_lr", common::number_text(c.arch_lr)),
          kv("threshold", common::number_text(c.threshold)),
          kv("max_candidates", std::to_string(c.max_candidates)),
          kv("lambdas", common::number_text(c.flops.lambda) + "," + common::number_text(c.params.lambda) + "," +
                            common::number_text(c.latency.lambda) + "," + common::number_text(c.energy.lambda)),
          kv("targets",
             common::number_text(c.flops.target_ratio) + "," + common::number_text(c.params.target_ratio) + "," +
                 common::number_text(c.latency.target_ratio) + "," + common::number_text(c.energy.target_ratio)),
          kv("seed", std::to_string(c.seed)),
          kv("base_multiplier", common::number_text(c.base_multiplier)),
          kv("count_width_shortcuts", c.count_width_shortcuts ? "1" : "0"),
          kv("hw", c.hw_fingerprint.empty() ? "none" : c.hw_fingerprint)};
}

}  // namespace nce::search
