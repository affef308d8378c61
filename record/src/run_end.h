// How a recorded run ends when its work throws (private to nce_record).
#pragma once

#include "nce/common/interrupted.h"
#include "nce/nn/trainer.h"
#include "nce/results/result_sink.h"

namespace nce::record {

// Runs `body` (a training or a search) and returns what it returns; when it throws, ends `run`
// (if any) by how it ended and rethrows: the network diverged (nn::DivergedError: a NaN/inf loss
// or logits) -> "diverged", which keeps it off every front and chart; a signal (Interrupted) ->
// "interrupted" (a resume continues it). Any other exception leaves the run to RunScope
// ("failed").
template <typename Body>
auto end_run_on_throw(results::RunScope* run, Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const nn::DivergedError&) {
    if (run != nullptr) run->finish(results::RunStatus::kDiverged);
    throw;
  } catch (const common::Interrupted&) {
    if (run != nullptr) run->finish(results::RunStatus::kInterrupted);
    throw;
  }
}

}  // namespace nce::record
