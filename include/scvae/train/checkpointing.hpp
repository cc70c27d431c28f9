#pragma once
// Saving and restoring a training run: the model's parameters plus the
// optimizer's state and the epoch, in one atomic checkpoint file.

#include <string>

#include "scvae/io/checkpoint.hpp"
#include "scvae/optim/adam.hpp"
#include "scvae/optim/sgd.hpp"
#include "scvae/train/callback.hpp"

namespace scvae {

template <typename Scalar>
void save_optimizer_state(const AdamT<Scalar>& adam, CheckpointExtras& extras) {
  if (adam.step_count() == 0) return;
  extras.set_scalar("adam.step", static_cast<double>(adam.step_count()));
  extras.set_vector("adam.first_moment", adam.first_moment());
  extras.set_vector("adam.second_moment", adam.second_moment());
}

template <typename Scalar>
bool restore_optimizer_state(AdamT<Scalar>& adam, const CheckpointExtras& extras) {
  if (!extras.contains("adam.step")) return false;
  adam.restore_state(extras.vector<Scalar>("adam.first_moment"),
                     extras.vector<Scalar>("adam.second_moment"),
                     static_cast<long>(extras.scalar("adam.step")));
  return true;
}

template <typename Scalar>
void save_optimizer_state(const SgdT<Scalar>& sgd, CheckpointExtras& extras) {
  if (sgd.step_count() == 0) return;
  extras.set_scalar("sgd.step", static_cast<double>(sgd.step_count()));
  extras.set_vector("sgd.momentum", sgd.momentum_buffer());
}

template <typename Scalar>
bool restore_optimizer_state(SgdT<Scalar>& sgd, const CheckpointExtras& extras) {
  if (!extras.contains("sgd.step")) return false;
  sgd.restore_state(extras.vector<Scalar>("sgd.momentum"),
                    static_cast<long>(extras.scalar("sgd.step")));
  return true;
}

/// Saves model, optimizer and epoch. The write is atomic: a crash or a full
/// disk leaves the previous checkpoint at `path` intact.
template <typename Model, typename Optimizer>
void save_training_checkpoint(const std::string& path, const Model& model,
                              const Optimizer& optimizer, Index epochs_done) {
  CheckpointExtras extras;
  extras.set_scalar("epochs_done", static_cast<double>(epochs_done));
  save_optimizer_state(optimizer, extras);
  save_model(path, model, extras);
}

/// Loads what save_training_checkpoint wrote; returns the epochs done
/// (0 for a checkpoint holding only a model).
template <typename Model, typename Optimizer>
Index load_training_checkpoint(const std::string& path, Model& model, Optimizer& optimizer) {
  CheckpointExtras extras;
  load_model(path, model, &extras);
  restore_optimizer_state(optimizer, extras);
  return extras.contains("epochs_done") ? static_cast<Index>(extras.scalar("epochs_done")) : 0;
}

/// Saves a training checkpoint at the end of every epoch.
template <typename Model, typename Optimizer>
class CheckpointEveryEpoch : public Callback {
 public:
  CheckpointEveryEpoch(std::string path, const Model& model, const Optimizer& optimizer)
      : path_(std::move(path)), model_(model), optimizer_(optimizer) {}
  bool on_epoch_end(EpochReport& r) override {
    save_training_checkpoint(path_, model_, optimizer_, r.epoch);
    return false;
  }

 private:
  std::string path_;
  const Model& model_;
  const Optimizer& optimizer_;
};

}  // namespace scvae
