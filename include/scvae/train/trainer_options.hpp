#pragma once
// What a Trainer is asked to do (TrainerOptions: epochs, batches, seed,
// threads, KL weight and warm-up, clipping, precision) and what fit()
// returns (TrainResult), apart from the training loop that reads them.

#include <cstdint>
#include <string>
#include <vector>

#include "scvae/core/error.hpp"
#include "scvae/core/precision.hpp"
#include "scvae/core/types.hpp"
#include "scvae/train/report.hpp"

namespace scvae {

struct TrainerOptions {
  Index epochs = 10;
  Index batch_size = 128;
  std::uint64_t seed = 1;
  int threads = 1;
  double beta = 1.0;        ///< KL weight after the warm-up.
  Index warmup_epochs = 0;  ///< Linear KL warm-up (KlWarmup); 0: none.
  double clip_norm = 0.0;   ///< Clip the gradient's global norm; 0: off.
  bool shuffle = true;
  Index first_epoch = 0;  ///< 0-based epoch to start at (when resuming).
  Precision precision = Precision::Fp32;  ///< Of the products (core/precision.hpp).

  void validate() const {
    if (epochs < 0)
      throw ArgumentError("epochs: expected a value >= 0, got " + std::to_string(epochs));
    if (batch_size < 1)
      throw ArgumentError("batch size: expected at least 1, got " + std::to_string(batch_size));
    if (threads < 1)
      throw ArgumentError("threads: expected at least 1, got " + std::to_string(threads));
    if (!(beta >= 0.0))
      throw ArgumentError("beta: expected a value >= 0, got " + std::to_string(beta));
    if (warmup_epochs < 0)
      throw ArgumentError("warm-up epochs: expected a value >= 0, got " +
                          std::to_string(warmup_epochs));
    if (!(clip_norm >= 0.0))
      throw ArgumentError("clip norm: expected a value >= 0, got " + std::to_string(clip_norm));
  }
};

/// What fit() returns.
struct TrainResult {
  Index epochs_run = 0;
  bool stopped_early = false;
  std::vector<EpochReport> history;
};

}  // namespace scvae
