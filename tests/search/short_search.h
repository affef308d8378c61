// The short ResNet-8 searches of the search tests (search_run_test, search_latency_test).
#pragma once

#include <string>

#include "nce/search/search_run.h"

namespace nce::search::testing {

// `method` on ResNet-8 over `dataset`: warmup_epochs + search_epochs of max_batches batches of 16,
// no augmentation, no retrain, architecture learning rate 0.05; the rest at its default.
inline SearchConfig short_search(const std::string& method, const std::string& dataset,
                                 int warmup_epochs, int search_epochs, int max_batches) {
  SearchConfig c;
  c.method = method;
  c.model = "resnet8";
  c.dataset = dataset;
  c.warmup_epochs = warmup_epochs, c.search_epochs = search_epochs;
  c.batch_size = 16, c.max_batches = max_batches;
  c.augment = false, c.retrain = false;
  c.arch_lr = 0.05;
  return c;
}

}  // namespace nce::search::testing
