#include "cli_util.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <stdexcept>

namespace nce::app {

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
  if (positional) {
    parser.positional(*positional);
  } else {
    parser.positional(po::positional_options_description());  // no positionals accepted
  }
  po::store(parser.run(), vm);
  po::notify(vm);
  return true;
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

void write_text_file(const std::string& path, const std::string& text) {
  if (path == "-") {
    std::cout << text;
    return;
  }
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) throw std::runtime_error("cannot write '" + path + "'");
    out << text;
    if (!out.flush()) throw std::runtime_error("cannot write '" + path + "'");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    throw std::runtime_error("cannot move '" + tmp + "' to '" + path + "'");
  }
}

}  // namespace nce::app
