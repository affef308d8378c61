#include "cli_util.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>

#include "nce/common/output_file.h"
#include "nce/common/text.h"

namespace nce::app {

namespace {

namespace fs = std::filesystem;

// Ranges of the numeric options that mean the same in every command that has them. An option not
// listed here only has to be finite (and non-negative when unsigned); commands check the rest
// (e.g. bits in {2,3,4,8,32}) in their library's validate().
struct NumericBound {
  const char* option;
  double min, max;
  bool min_open, max_open;  // excluded endpoints
};
constexpr double kMaxLearningRate = 1e6;  // far above any schedule that trains; 1e300 is a typo
constexpr int kMaxThreads = 1024;         // libgomp crashes on 100000
constexpr NumericBound kNumericBounds[] = {
    {"lr", 0.0, kMaxLearningRate, true, false},
    {"final-lr", 0.0, kMaxLearningRate, false, false},
    {"arch-lr", 0.0, kMaxLearningRate, true, false},
    {"momentum", 0.0, 1.0, false, true},
    {"weight-decay", 0.0, 1.0, false, false},
    {"pact-init", 0.0, 1e6, true, false},
    {"threshold", 0.0, 1.0, true, true},
    {"distill-temperature", 0.0, 1e3, true, false},
    {"distill-weight", 0.0, 1.0, false, false},
    {"lambda-flops", 0.0, 1e6, false, false},
    {"lambda-params", 0.0, 1e6, false, false},
    {"lambda-latency", 0.0, 1e6, false, false},
    {"lambda-energy", 0.0, 1e6, false, false},
    {"flops-target", 0.0, 1e6, true, false},
    {"params-target", 0.0, 1e6, true, false},
    {"latency-target", 0.0, 1e6, true, false},
    {"energy-target", 0.0, 1e6, true, false},
    {"wrpn", 0.0, models::kMaxWidthMultiplier, true, false},
    {"base-multiplier", 0.0, models::kMaxWidthMultiplier, true, false},
    {"threads", 0.0, kMaxThreads, false, false},
    {"jobs", 1.0, kMaxThreads, false, false},
    {"batch", 1.0, 1 << 16, false, false},
    {"epochs", 0.0, 1e6, false, false},
    {"warmup-epochs", 0.0, 1e6, false, false},
    {"search-epochs", 0.0, 1e6, false, false},
    {"retrain-epochs", 0.0, 1e6, false, false},
    {"subset", 0.0, 1e9, false, false},
    {"test-subset", 0.0, 1e9, false, false},
    {"max-batches", 0.0, 1e9, false, false},
};

std::string range_text(const NumericBound& b) {
  return std::string(b.min_open ? "(" : "[") + common::number_text(b.min) + ", " + common::number_text(b.max) +
         (b.max_open ? ")" : "]");
}

// Output options: what they write (a file or a directory).
struct OutputOption {
  const char* option;
  bool directory;
};
constexpr OutputOption kOutputOptions[] = {
    {"out", false},        {"json", false},    {"md", false},
    {"checkpoint", false}, {"analysis", true}, {"seeds-csv", false},
};
// Every option that names a file or directory (read or written).
constexpr const char* kPathOptions[] = {
    "db",   "hw", "data",       "topology", "sweep",  "plan",         "out",
    "json", "md", "checkpoint", "analysis", "inputs", "scalesim-cfg", "seeds-csv"};

std::vector<std::string> string_values(const po::variable_value& v) {
  if (v.empty()) return {};
  if (v.value().type() == typeid(std::string)) return {v.as<std::string>()};
  if (v.value().type() == typeid(std::vector<std::string>)) {
    return v.as<std::vector<std::string>>();
  }
  return {};
}

// Two paths name one file: by device and inode when both exist, else by canonical path.
bool same_file(const std::string& a, const std::string& b) {
  struct stat sa {
  }, sb{};
  const bool ea = ::stat(a.c_str(), &sa) == 0, eb = ::stat(b.c_str(), &sb) == 0;
  if (ea && eb) return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  if (ea != eb) return false;
  std::error_code ec1, ec2;
  const fs::path ca = fs::weakly_canonical(fs::absolute(a), ec1);
  const fs::path cb = fs::weakly_canonical(fs::absolute(b), ec2);
  return !ec1 && !ec2 && ca == cb;
}

}  // namespace

bool parse_or_help(const std::vector<std::string>& args, const std::string& command,
                   const std::string& usage, const po::options_description& options,
                   po::variables_map& vm, const po::positional_options_description* positional) {
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      std::cout << "Usage: nce " << command << " " << usage << "\n\n" << options << "\n";
      return false;
    }
  }
  po::command_line_parser parser(args);
  parser.options(options);
  // Boost's default style guesses abbreviations (`--mod` = `--model`): exact names only.
  parser.style(po::command_line_style::default_style & ~po::command_line_style::allow_guessing);
  if (positional) {
    parser.positional(*positional);
  } else {
    parser.positional(po::positional_options_description());  // no positionals accepted
  }
  const po::parsed_options parsed = parser.run();
  po::store(parsed, vm);
  po::notify(vm);
  check_numeric_options(parsed, vm);
  check_output_paths(vm);
  return true;
}

void check_numeric_options(const po::parsed_options& parsed, const po::variables_map& vm) {
  // Unsigned options: boost::lexical_cast wraps "-1" to 2^64 - 1, so look at what was typed.
  for (const auto& o : parsed.options) {
    auto it = vm.find(o.string_key);
    if (it == vm.end() || it->second.empty()) continue;
    const std::type_info& type = it->second.value().type();
    if (type != typeid(std::uint64_t) && type != typeid(unsigned)) continue;
    for (const auto& token : o.original_tokens) {
      std::string value = token;  // "-1", or "--seed=-1"
      if (token.rfind("--", 0) == 0) {
        const auto eq = token.find('=');
        value = eq == std::string::npos ? "" : token.substr(eq + 1);
      }
      if (value.find('-') != std::string::npos) {
        throw std::invalid_argument("--" + o.string_key + " " + value +
                                    ": must be a non-negative integer");
      }
    }
  }
  for (const auto& [name, v] : vm) {
    if (v.empty()) continue;
    const std::type_info& type = v.value().type();
    double value = 0.0;
    if (type == typeid(double)) {
      value = v.as<double>();
    } else if (type == typeid(float)) {
      value = v.as<float>();
    } else if (type == typeid(int)) {
      value = v.as<int>();
    } else if (type == typeid(std::int64_t)) {
      value = static_cast<double>(v.as<std::int64_t>());
    } else {
      continue;
    }
    if (!std::isfinite(value)) {
      throw std::invalid_argument("--" + name + " " + common::number_text(value) +
                                  ": must be a finite number");
    }
    for (const NumericBound& b : kNumericBounds) {
      if (name != b.option) continue;
      const bool below = b.min_open ? !(value > b.min) : !(value >= b.min);
      const bool above = b.max_open ? !(value < b.max) : !(value <= b.max);
      if (below) {
        throw std::invalid_argument("--" + name + " must be " + (b.min_open ? "> " : ">= ") +
                                    common::number_text(b.min) + " (range " + range_text(b) + "), got " +
                                    common::number_text(value));
      }
      if (above) {
        throw std::invalid_argument("--" + name + " must be in " + range_text(b) + ", got " +
                                    common::number_text(value));
      }
    }
  }
}

void check_output_paths(const po::variables_map& vm) {
  for (const OutputOption& out : kOutputOptions) {
    auto it = vm.find(out.option);
    if (it == vm.end()) continue;
    for (const std::string& path : string_values(it->second)) {
      if (path.empty() || path == "-") continue;
      const std::string what = std::string("--") + out.option + " '" + path + "'";
      for (const char* other : kPathOptions) {
        if (std::string(other) == out.option) continue;
        auto o = vm.find(other);
        if (o == vm.end()) continue;
        for (const std::string& other_path : string_values(o->second)) {
          if (other_path.empty() || other_path == "-") continue;
          if (same_file(path, other_path)) {
            throw std::invalid_argument(what + " names the same file as --" + other + " '" +
                                        other_path + "' (it would be overwritten)");
          }
        }
      }
      std::error_code ec;
      const bool exists = fs::exists(path, ec);
      if (exists && !out.directory && fs::is_directory(path, ec)) {
        throw std::invalid_argument(what + " is a directory; name a file");
      }
      if (exists && out.directory && !fs::is_directory(path, ec)) {
        throw std::invalid_argument(what + " exists and is not a directory");
      }
      if (!out.directory) {
        // A FIFO, a device (/dev/full), a symlink: write_file_atomic would refuse it at the end.
        try {
          common::check_output_path(path);
        } catch (const std::runtime_error& e) {
          throw std::invalid_argument(std::string("--") + out.option + " " + e.what());
        }
      }
      fs::path parent = fs::absolute(path).parent_path();
      if (out.directory && exists) parent = fs::absolute(path);
      if (!fs::is_directory(parent, ec)) {
        throw std::invalid_argument(what + ": directory '" + parent.string() + "' does not exist");
      }
      if (::access(parent.c_str(), W_OK) != 0 || (exists && ::access(path.c_str(), W_OK) != 0)) {
        throw std::invalid_argument(what + ": not writable");
      }
    }
  }
}

models::InputShape input_for_dataset(const std::string& model, const std::string& dataset) {
  if (dataset.empty()) return models::canonical_input(model);
  if (dataset == "cifar10") return models::cifar_input();
  if (dataset == "fashion-mnist") return models::fashion_mnist_input();
  if (dataset == "imagenet") return models::imagenet_input();
  throw std::invalid_argument("unknown --dataset '" + dataset +
                              "' (known: cifar10, fashion-mnist, imagenet)");
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long s = std::lround(seconds);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s / 60) % 60);
  } else if (s >= 60) {
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lds", s);
  }
  return buf;
}

int report_error(const std::string& command, const std::string& what) {
  std::cerr << "nce " << command << ": error: " << what << "\n";
  return 2;
}

int report_interrupted(const std::string& command, const common::Interrupted& interrupted) {
  std::cerr << "nce " << command << ": " << interrupted.what() << "\n";
  return interrupted.exit_code();
}

void write_text_file(const std::string& path, const std::string& text) {
  if (path == "-") {
    std::cout << text;
    return;
  }
  common::write_file_atomic(path, text);
}

}  // namespace nce::app
