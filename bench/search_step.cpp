// Cost of one search iteration against one plain training step, side by side in one process:
// ResNet-20 (CIFAR, 3x32x32), batch 128, W2A2 (SAWB + PACT), both OpenMP threads.
//   plain   = nn::Network forward + CE + backward + SGD update on one batch
//   search  = Supernet weight step (Gumbel draws, forward, CE, backward, SGD update)
//           + architecture step (fresh draws, forward, CE, backward without weight gradients,
//             expected MACs/PARAMs with their alpha gradients, Adam-sized update on alpha)
// Prints ms per step for each, interleaved over --rounds rounds, and the ratio (target <= 2x, issue 11),
// then the search iteration's time by phase.
//
//   build/bench/nce_bench_search [--rounds N] [--batch N] [--model resnet20] [--bits 2]
//                                [--clock wall|cpu]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "nce/models/network.h"
#include "nce/nn/isa.h"
#include "nce/nn/loss.h"
#include "nce/nn/network.h"
#include "nce/nn/optimizer.h"
#include "nce/search/arch_params.h"
#include "nce/search/expected_cost.h"
#include "nce/search/supernet.h"

namespace {

// The parts of a search iteration the benchmark times separately.
const std::vector<const char*> kPhaseNames = {
    "Gumbel draws",      "weight forward", "weight CE + backward", "SGD",
    "arch forward", "arch CE + backward", "alpha grads + cost terms + update"};

// --clock cpu: the process's CPU time instead of the wall clock (on a loaded machine, with
// OMP_WAIT_POLICY=passive, it counts the work rather than the waits for a core).
bool g_cpu_clock = false;

double now_s() {
  if (g_cpu_clock) {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 5, batch = 128, bits = 2;
  std::string model = "resnet20";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--rounds")) rounds = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--batch")) batch = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--model")) model = argv[i + 1];
    if (!std::strcmp(argv[i], "--bits")) bits = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--clock")) g_cpu_clock = !std::strcmp(argv[i + 1], "cpu");
  }
  using namespace nce;
  const models::Network desc = models::build_canonical(model);
  std::mt19937 data_rng(1);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  nn::Tensor images(batch, desc.input.channels, desc.input.height, desc.input.width);
  for (std::size_t i = 0; i < images.size(); ++i) images[i] = u(data_rng);
  std::vector<int> labels(batch);
  for (int& l : labels) l = static_cast<int>(data_rng() % desc.input.num_classes);

  // Plain training step.
  nn::NetworkOptions nopt;
  nopt.weight_bits = nopt.activation_bits = bits;
  nn::Network plain(desc, nopt, 1);
  nn::Sgd plain_sgd(plain.parameters(), nn::SgdOptions{});
  nn::Tensor grad;
  auto plain_step = [&] {
    const nn::Tensor& z = plain.forward(images, nn::Mode::kTrain);
    nn::softmax_cross_entropy(z, labels.data(), &grad);
    plain.zero_grad();
    plain.backward(grad);
    plain_sgd.step(0.1f);
  };

  // Search iteration.
  std::mt19937_64 rng(2);
  search::ArchParams arch(desc.widths, rng);
  search::SupernetOptions sopt;
  sopt.weight_bits = sopt.activation_bits = bits;
  sopt.max_candidates = 16;
  search::Supernet net(desc, arch, sopt, 3);
  nn::Sgd sgd(net.parameters(), nn::SgdOptions{});
  const search::LayerCostFn macs = search::macs_cost(desc), params = search::params_cost(desc);
  auto draws = [&] {
    std::vector<search::GumbelDraw> d;
    for (int w = 1; w <= arch.num_layers(); ++w)
      d.push_back(search::gumbel_draw(arch.layer(w).alpha, 2.0, rng));
    return d;
  };
  // Seconds per phase, summed over the timed rounds (kPhaseNames).
  std::vector<double> phase(kPhaseNames.size(), 0.0);
  double mark = 0;
  auto lap = [&](std::size_t k) {
    const double t = now_s();
    phase[k] += t - mark;
    mark = t;
  };
  auto search_step = [&] {
    mark = now_s();
    net.set_draws(draws());
    lap(0);
    const nn::Tensor& z = net.forward(images, nn::Mode::kTrain);
    lap(1);
    nn::softmax_cross_entropy(z, labels.data(), &grad);
    net.zero_grad();
    net.backward(grad, true);
    lap(2);
    sgd.step(0.1f);
    lap(3);
    net.set_draws(draws());
    lap(0);
    const nn::Tensor& za = net.forward(images, nn::Mode::kTrain);
    lap(4);
    nn::softmax_cross_entropy(za, labels.data(), &grad);
    net.backward(grad, false);
    lap(5);
    std::vector<std::vector<double>> g = net.alpha_grads();
    for (const auto* fn : {&macs, &params}) {
      const search::ExpectedCost e = search::expected_cost(desc, arch, *fn);
      for (int w = 0; w < arch.num_layers(); ++w) {
        for (size_t i = 0; i < g[w].size(); ++i) g[w][i] += 2.0 / e.value * e.grad_alpha[w][i];
      }
    }
    for (int w = 1; w <= arch.num_layers(); ++w) {
      for (size_t i = 0; i < g[w - 1].size(); ++i) arch.layer(w).alpha[i] -= 1e-3 * g[w - 1][i];
    }
    lap(6);
  };

  plain_step();  // allocate buffers
  search_step();
  std::fill(phase.begin(), phase.end(), 0.0);
  double plain_s = 0, search_s = 0;
  for (int r = 0; r < rounds; ++r) {
    double t = now_s();
    plain_step();
    plain_s += now_s() - t;
    t = now_s();
    search_step();
    search_s += now_s() - t;
  }
  const double plain_ms = 1000 * plain_s / rounds, search_ms = 1000 * search_s / rounds;
  std::printf("%s W%dA%d batch %d, kernels %s, %d rounds interleaved, %s time\n", model.c_str(),
              bits, bits, batch, nce::nn::isa_description().c_str(), rounds,
              g_cpu_clock ? "CPU" : "wall");
  std::printf("  plain training step      %8.1f ms  (%.1f images/s)\n", plain_ms,
              batch / (plain_ms / 1000));
  std::printf("  search iteration (w + a) %8.1f ms\n", search_ms);
  std::printf("  ratio search / plain     %8.2fx  (target <= 2x, issue 11)\n", search_ms / plain_ms);
  std::printf("  search iteration by phase (ms):");
  for (std::size_t k = 0; k < phase.size(); ++k) {
    std::printf("%s %s %.1f", k ? "," : "", kPhaseNames[k], 1000 * phase[k] / rounds);
  }
  std::printf("\n");
  return 0;
}
