// The supernet search's checkpoint (search_run.h, "Interruption"). It is an nn::Checkpoint:
//   model, widths   the base network
//   options         the run's identity (search_identity): a resume with other options is refused
//   epochs_done     search epochs finished (warm-up + search)
//   rng_state       the search's generator (draws, batches, expansion initialization)
//   network         every supernet tensor by name (Supernet::state(): weights, BN slots, clips)
//   optimizer       the weight SGD's state
//   history         a text block, doubles in hexfloat so a resume is exact:
//                     arch <layers> / per layer: base_channels expansions n c_1..c_n / alpha
//                     adam <steps> / per layer: m / v
//                     epochs <n> / per epoch: epoch phase / tau lr loss top1 arch_loss seconds /
//                       layers / per layer: probabilities / mean dCE/dalpha / kendall / expanded
//                     candidates <n> / per candidate: method epoch phase n w_1..w_n macs params /
//                       latency energy top1
//                   (a vector is "<n> v_1 ... v_n").
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "nce/nn/dataset.h"
#include "nce/search/arch_optimizer.h"
#include "nce/search/arch_params.h"
#include "nce/search/search_run.h"

namespace nce::search {

// The options a resume must agree with, as (key, value) pairs.
std::vector<std::pair<std::string, std::string>> search_identity(const SearchConfig& config,
                                                                 const nn::Dataset& train);

std::string write_search_history(const ArchParams& arch, const ArchOptimizer& optimizer,
                                 const std::vector<SearchEpoch>& epochs,
                                 const std::vector<Candidate>& candidates);
// Restores what write_search_history wrote into `arch` (built for the base network, as the search
// builds it), `optimizer`, `epochs` and `candidates`; on an error they are left as they were.
// Throws std::runtime_error naming `path` and the field when the block is malformed or is not
// what a search of this network writes: another number of layers or base width, candidates other
// than the layer's own followed by its NCE expansions, more than `max_candidates` of them, alpha
// or Adam moments of another size or not finite, an epoch record that does not cover every layer
// or breaks the epoch numbering 1, 2, ..., a count larger than the text left could hold.
void read_search_history(const std::string& text, const std::string& path, ArchParams& arch,
                         ArchOptimizer& optimizer, std::vector<SearchEpoch>& epochs,
                         std::vector<Candidate>& candidates, int max_candidates);

}  // namespace nce::search
