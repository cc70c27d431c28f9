#pragma once
// The weight of a label task when none is given, from the share of samples
// that carry a label: the one rule of the image examples and of tables.

#include <algorithm>
#include <string>

#include "scvae/core/error.hpp"
#include "scvae/core/types.hpp"

namespace scvae {

/// The label task's weight when none is given: min(cap, 10 / labelled
/// fraction), so 50 (the cap) up to a fifth of the samples labelled and 10
/// with all of them. With 1000 of 60000 MNIST images labelled, 50 cost the
/// SC-VAE's image test_loss 5 nats and 10 less than 1, M2's 1.2 and 0.5
/// (examples/RESULTS-multitask.md).
inline double default_label_weight(Index labelled, Index samples, double cap = 50.0) {
  if (labelled < 1 || samples < labelled)
    throw ArgumentError("default label weight: expected 1 <= labelled <= samples, got " +
                        std::to_string(labelled) + " of " + std::to_string(samples));
  const double fraction = static_cast<double>(labelled) / static_cast<double>(samples);
  return std::min(cap, 10.0 / fraction);
}

}  // namespace scvae
