#pragma once
// The callback interface: the trainer calls each in the order added.
// Returning true from on_batch_end or on_epoch_end stops training.

#include "scvae/train/report.hpp"

namespace scvae {

class Callback {
 public:
  virtual ~Callback() = default;
  /// Epochs run from first_epoch (0-based) up to, not including, end_epoch.
  virtual void on_train_begin(Index /*first_epoch*/, Index /*end_epoch*/) {}
  virtual bool on_batch_end(const BatchReport& /*report*/) { return false; }
  /// May add metrics to `report` (an evaluation) for callbacks after it.
  virtual bool on_epoch_end(EpochReport& /*report*/) { return false; }
  virtual void on_train_end() {}
};

}  // namespace scvae
