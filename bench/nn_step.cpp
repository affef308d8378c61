// Training-step throughput of the nn core: ResNet-20 (CIFAR, 3x32x32), batch 128, forward +
// softmax CE + backward (no optimizer update), W2A2 (SAWB + PACT) and W32A32, on all OpenMP
// threads. Prints images/s per configuration and the peak resident memory of the process. For a
// per-kernel breakdown run it under `perf record` (the kernels are plain functions).
//
//   build/bench/nce_bench_nn [--steps N] [--batch N] [--model resnet20] [--bits 2,32]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "nce/models/network.h"
#include "nce/nn/isa.h"
#include "nce/nn/loss.h"
#include "nce/nn/network.h"

namespace {

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

}  // namespace

int main(int argc, char** argv) {
  int steps = 5, batch = 128;
  std::string model = "resnet20", bits_list = "2,32";
  for (int i = 1; i < argc; i += 2) {
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      std::printf(
          "usage: nce_bench_nn [--steps N (5)] [--batch N (128)] [--model M (resnet20)] "
          "[--bits LIST (2,32)]\nTimes forward + CE + backward steps of M on all OpenMP threads; "
          "prints images/s per bit width and the peak RSS.\n");
      return 0;
    }
    if (i + 1 >= argc || std::strncmp(argv[i], "--", 2) != 0 ||
        (std::strcmp(argv[i], "--steps") && std::strcmp(argv[i], "--batch") &&
         std::strcmp(argv[i], "--model") && std::strcmp(argv[i], "--bits"))) {
      std::fprintf(stderr, "nce_bench_nn: bad argument '%s' (see --help)\n", argv[i]);
      return 2;
    }
    if (!std::strcmp(argv[i], "--steps"))
      steps = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--batch"))
      batch = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--model"))
      model = argv[i + 1];
    else if (!std::strcmp(argv[i], "--bits"))
      bits_list = argv[i + 1];
  }
  const auto desc = nce::models::build_canonical(model);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  nce::nn::Tensor images(batch, desc.input.channels, desc.input.height, desc.input.width);
  for (std::size_t i = 0; i < images.size(); ++i) images[i] = u(rng);
  std::vector<int> labels(batch);
  for (int& l : labels) l = static_cast<int>(rng() % desc.input.num_classes);

  std::stringstream ss(bits_list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const int bits = std::atoi(item.c_str());
    nce::nn::NetworkOptions opt;
    opt.weight_bits = opt.activation_bits = bits;
    nce::nn::Network net(desc, opt, 1);
    nce::nn::Tensor grad;
    auto step = [&] {
      const nce::nn::Tensor& z = net.forward(images, nce::nn::Mode::kTrain);
      nce::nn::softmax_cross_entropy(z, labels.data(), &grad);
      net.zero_grad();
      net.backward(grad);
    };
    step();  // warm-up: allocates every buffer
    std::vector<double> times;
    for (int s = 0; s < steps; ++s) {
      const auto t0 = std::chrono::steady_clock::now();
      step();
      times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    double total = 0.0;
    for (double t : times) total += t;
    std::sort(times.begin(), times.end());
    const double median = times[times.size() / 2], best = times.front();
    // Mean over all steps; the median and the best step show what a busy machine took away.
    std::printf(
        "%s W%dA%d batch %d: %.1f images/s (mean %.1f ms/step; median %.1f ms = %.1f images/s; "
        "best %.1f ms = %.1f images/s), buffers %.0f MiB\n",
        model.c_str(), bits, bits, batch, steps * batch / total, 1000.0 * total / steps,
        1000.0 * median, batch / median, 1000.0 * best, batch / best,
        static_cast<double>(net.buffer_bytes()) / (1 << 20));
  }
  std::printf("peak RSS %.0f MiB, kernels %s\n", peak_rss_mib(),
              nce::nn::isa_description().c_str());
  return 0;
}
