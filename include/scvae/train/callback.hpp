#pragma once
// The callback interface: the trainer calls each in the order added.
// Returning true from on_batch_end or on_epoch_end stops training. A
// callback with state that a resumed run needs (an average, pseudo-labels)
// saves it into the training checkpoint's extras and takes it back.

#include "scvae/train/report.hpp"

namespace scvae {

class CheckpointExtras;  // io/checkpoint_extras.hpp; only callbacks with state need it

class Callback {
 public:
  virtual ~Callback() = default;
  /// Epochs run from first_epoch (0-based) up to, not including, end_epoch.
  virtual void on_train_begin(Index /*first_epoch*/, Index /*end_epoch*/) {}
  /// Before the first step of `epoch` (0-based).
  virtual void on_epoch_begin(Index /*epoch*/) {}
  virtual bool on_batch_end(const BatchReport& /*report*/) { return false; }
  /// After the last step of `epoch` (0-based), before the trainer's own
  /// validation: what changes the model that validation should see (e.g.
  /// swapping in averaged parameters) belongs here.
  virtual void on_epoch_trained(Index /*epoch*/) {}
  /// May add metrics to `report` (an evaluation) for callbacks after it.
  virtual bool on_epoch_end(EpochReport& /*report*/) { return false; }
  virtual void on_train_end() {}

  /// Writes what a resumed run needs into a training checkpoint's extras,
  /// under names of the callback's own (e.g. "average.steps").
  virtual void save_state(CheckpointExtras& /*extras*/) const {}
  /// Takes back what save_state wrote; a checkpoint without it (e.g. one
  /// written before the callback existed) leaves the callback as it was.
  /// Throws an Error naming the entry when the entry does not fit this run.
  virtual void restore_state(const CheckpointExtras& /*extras*/) {}
};

}  // namespace scvae
