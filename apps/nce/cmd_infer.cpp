// nce infer: integer-only inference of an integer model (nce export) on a data set's test images:
// top-1 / top-5 and images/s (nce_deploy's integer engine).
#include <omp.h>

#include <cstdio>
#include <iostream>

#include "cli_util.h"
#include "command.h"
#include "nce/common/json.h"
#include "nce/deploy/infer.h"

namespace nce::app {
namespace {

int run_infer_command(const std::vector<std::string>& args) {
  po::options_description opts("nce infer options");
  opts.add_options()("model", po::value<std::string>(), "integer model (nce export --out)")(
      "dataset", po::value<std::string>()->default_value(""),
      "fashion-mnist or cifar10 (default: the model's)")(
      "data", po::value<std::string>()->default_value(""),
      "data directory (default: Fashion-MNIST's; CIFAR-10 needs one)")(
      "subset", po::value<int>()->default_value(0),
      "the first N test images of each class only (0 = all)")(
      "engine", po::value<std::string>()->default_value("auto"),
      "portable, avx2, vnni or auto (the fastest this CPU has)")(
      "batch", po::value<int>()->default_value(256), "images per engine call")(
      "threads", po::value<int>()->default_value(0), "OpenMP threads (0 = OpenMP's default)")(
      "checkpoint", po::value<std::string>()->default_value(""),
      "the checkpoint the model was exported from: also run the trainer's eval of it on the "
      "same images and count the images where the two predict different classes (and how many "
      "of those are float ties)")("json", po::bool_switch(), "print JSON instead of text");
  po::variables_map vm;
  if (!parse_or_help(args, "infer", "--model FILE --dataset D [--data DIR] [--engine E]", opts, vm))
    return 0;
  if (!vm.count("model")) throw std::invalid_argument("--model is required");
  const int threads = vm["threads"].as<int>();
  if (threads < 0) throw std::invalid_argument("--threads must be >= 0");
  if (threads > 0) omp_set_num_threads(threads);
  deploy::InferConfig c;
  c.model = vm["model"].as<std::string>();
  c.dataset = vm["dataset"].as<std::string>();
  c.data_dir = vm["data"].as<std::string>();
  c.subset = vm["subset"].as<int>();
  c.engine = vm["engine"].as<std::string>();
  c.batch = vm["batch"].as<int>();
  c.compare_checkpoint = vm["checkpoint"].as<std::string>();
  const deploy::InferResult r = deploy::run_infer(c);
  const double ips = r.seconds > 0 ? r.images / r.seconds : 0.0;
  if (vm["json"].as<bool>()) {
    common::JsonWriter j(std::cout);
    j.begin_object();
    j.members("model", c.model, "engine", r.kernel, "images", r.images, "top1", r.top1, "top5",
              r.top5, "seconds", r.seconds, "images_per_s", ips, "threads", omp_get_max_threads());
    if (r.compared) {
      j.members("trainer_top1", r.agreement.float_top1, "agree", r.agreement.equal, "disagree",
                r.agreement.images - r.agreement.equal, "disagree_logit_ties",
                r.agreement.logit_ties, "disagree_code_ties", r.agreement.code_ties,
                "disagree_other", r.agreement.other, "disagreeing_images", r.agreement.disagreeing);
    }
    j.end_object();
    std::cout << "\n";
  } else {
    std::printf(
        "infer %s (%s kernel, %d threads): %d images, top-1 %.2f%%, top-5 %.2f%%, "
        "%.1f images/s\n",
        c.model.c_str(), r.kernel.c_str(), omp_get_max_threads(), r.images, r.top1, r.top5, ips);
    if (r.compared) {
      const deploy::Agreement& a = r.agreement;
      std::printf(
          "trainer's eval of %s: top-1 %.2f%%; the same class on %d of %d images (%.2f%%); of "
          "the %d apart, %d are float ties in the logits, %d start at a float tie in a code "
          "(within %g of a rounding boundary), %d other\n",
          c.compare_checkpoint.c_str(), a.float_top1, a.equal, a.images,
          a.images > 0 ? 100.0 * a.equal / a.images : 0.0, a.images - a.equal, a.logit_ties,
          a.code_ties, deploy::kCodeTieDistance, a.other);
      if (a.other > 0)
        std::printf(
            "note: a checkpoint trained without --int8-full-precision keeps its stem, shortcuts "
            "and FC in float, which the integer model rounds to 8 bits\n");
    }
  }
  return 0;
}

}  // namespace

NCE_REGISTER_COMMAND("infer", "integer-only inference of an integer model (top-1/top-5)",
                     run_infer_command);

}  // namespace nce::app
