#pragma once
// Saving and restoring a training run: the model's parameters plus the
// optimizer's state and the epoch, in one atomic checkpoint file.

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "scvae/io/checkpoint.hpp"
#include "scvae/optim/adam.hpp"
#include "scvae/optim/sgd.hpp"
#include "scvae/train/callback.hpp"
#include "scvae/train/trainer.hpp"

namespace scvae {

/// A count stored as a float64 extra (epochs, optimizer steps): a whole
/// number in [0, 2^53]. Anything else (NaN, negative, huge, fractional) is a
/// CheckpointError rather than an undefined conversion to an integer.
inline double checkpoint_count(const CheckpointExtras& extras, const std::string& name) {
  const double value = extras.scalar(name);
  if (!(value >= 0.0 && value <= 9007199254740992.0 && value == std::floor(value)))
    throw CheckpointError("checkpoint extra '" + detail::printable(name) +
                          "' is not a count: " + std::to_string(value));
  return value;
}

namespace detail {

/// The sizes of an optimizer state stored in extras must fit the parameters.
/// (An SGD without momentum stores an empty buffer: `may_be_empty`.)
inline void check_extra_size(const CheckpointExtras& extras, const std::string& name,
                             Index expected, bool may_be_empty = false) {
  if (!extras.contains(name)) return;
  const std::size_t size = extras.values(name).size();
  if (size != static_cast<std::size_t>(expected) && !(may_be_empty && size == 0))
    throw CheckpointError("checkpoint extra '" + name + "' holds " + std::to_string(size) +
                          " values, the model has " + std::to_string(expected) + " parameters");
}

template <typename Scalar>
CheckpointValuesView<Scalar> values_view(const std::string& name, const Vector<Scalar>& values) {
  return {name, values.data(), values.size()};
}

/// The optimizer's step count goes into `extras`; its state vectors are
/// returned as views, to be written from the optimizer's own memory.
template <typename Scalar>
std::vector<CheckpointValuesView<Scalar>> optimizer_state_views(const AdamT<Scalar>& adam,
                                                                CheckpointExtras& extras) {
  if (adam.step_count() == 0) return {};
  extras.set_scalar("adam.step", static_cast<double>(adam.step_count()));
  extras.erase("adam.first_moment");
  extras.erase("adam.second_moment");
  return {values_view("adam.first_moment", adam.first_moment()),
          values_view("adam.second_moment", adam.second_moment())};
}

template <typename Scalar>
std::vector<CheckpointValuesView<Scalar>> optimizer_state_views(const SgdT<Scalar>& sgd,
                                                                CheckpointExtras& extras) {
  if (sgd.step_count() == 0) return {};
  extras.set_scalar("sgd.step", static_cast<double>(sgd.step_count()));
  extras.erase("sgd.momentum");
  return {values_view("sgd.momentum", sgd.momentum_buffer())};
}

template <typename Scalar>
void copy_into(const std::vector<CheckpointValuesView<Scalar>>& views, CheckpointExtras& extras) {
  for (const auto& view : views)
    extras.set_vector(view.name, view.values());
}

}  // namespace detail

/// Copies the optimizer's state into `extras` (as float64 values).
template <typename Scalar>
void save_optimizer_state(const AdamT<Scalar>& adam, CheckpointExtras& extras) {
  detail::copy_into(detail::optimizer_state_views(adam, extras), extras);
}

template <typename Scalar>
void save_optimizer_state(const SgdT<Scalar>& sgd, CheckpointExtras& extras) {
  detail::copy_into(detail::optimizer_state_views(sgd, extras), extras);
}

template <typename Scalar>
bool restore_optimizer_state(AdamT<Scalar>& adam, const CheckpointExtras& extras) {
  if (!extras.contains("adam.step")) return false;
  adam.restore_state(extras.vector<Scalar>("adam.first_moment"),
                     extras.vector<Scalar>("adam.second_moment"),
                     static_cast<long>(checkpoint_count(extras, "adam.step")));
  return true;
}

template <typename Scalar>
bool restore_optimizer_state(SgdT<Scalar>& sgd, const CheckpointExtras& extras) {
  if (!extras.contains("sgd.step")) return false;
  sgd.restore_state(extras.vector<Scalar>("sgd.momentum"),
                    static_cast<long>(checkpoint_count(extras, "sgd.step")));
  return true;
}

/// Saves model, optimizer and epoch, plus the caller's own `extras` (e.g. a
/// parameter average). The write is atomic: a crash or a full disk leaves
/// the previous checkpoint at `path` intact. Parameters or optimizer state
/// that are not all finite are a NumericalError, and nothing is written.
template <typename Model, typename Optimizer>
void save_training_checkpoint(const std::string& path, const Model& model,
                              const Optimizer& optimizer, Index epochs_done,
                              CheckpointExtras extras = {}) {
  using Scalar = typename Model::Scalar;
  extras.set_scalar("epochs_done", static_cast<double>(epochs_done));
  const auto views = detail::optimizer_state_views(optimizer, extras);
  for (const auto& view : views)
    detail::check_finite_for_saving(path, "optimizer state values (" + view.name + ")",
                                    view.values());
  // Moments a caller passed in extras (without an optimizer state of its own).
  for (const char* name : {"adam.first_moment", "adam.second_moment", "sgd.momentum"}) {
    if (!extras.contains(name)) continue;
    const std::vector<double>& values = extras.values(name);
    detail::check_finite_for_saving(
        path, std::string("optimizer state values (") + name + ")",
        Eigen::Map<const Vector<double>>(values.data(), static_cast<Index>(values.size())));
  }
  detail::save_checkpoint_with_views<Scalar>(path, model.architecture(), model.parameters(),
                                             extras, views);
}

/// Loads what save_training_checkpoint wrote; returns the epochs done
/// (0 for a checkpoint holding only a model).
/// Model and optimizer are changed only when the whole checkpoint is valid:
/// the file (checksum, architecture, parameter count) and its extras (counts
/// that are whole numbers, optimizer state sized like the parameters, and
/// whatever `read_extras` checks). `read_extras`, if given, sees all the
/// extras before anything changes and takes the caller's own state from
/// them; an `Error` it throws becomes a CheckpointError naming the file.
template <typename Model, typename Optimizer>
Index load_training_checkpoint(
    const std::string& path, Model& model, Optimizer& optimizer,
    const std::function<void(const CheckpointExtras&)>& read_extras = {}) {
  using Scalar = typename Model::Scalar;
  CheckpointExtras extras;
  Vector<Scalar> parameters = load_checkpoint<Scalar>(path, model.architecture(), &extras);
  const Index count = model.parameters().size();
  if (parameters.size() != count)
    throw CheckpointError("checkpoint " + detail::quoted_path(path) + " holds " +
                          std::to_string(parameters.size()) + " parameters, this model has " +
                          std::to_string(count));
  try {
    Index epochs_done = 0;
    if (extras.contains("epochs_done"))
      epochs_done = static_cast<Index>(checkpoint_count(extras, "epochs_done"));
    detail::check_extra_size(extras, "adam.first_moment", count);
    detail::check_extra_size(extras, "adam.second_moment", count);
    detail::check_extra_size(extras, "sgd.momentum", count, true);
    if (read_extras) read_extras(extras);
    restore_optimizer_state(optimizer, extras);
    // Same size: assigns in place, so views into the flat buffer stay valid.
    model.parameters() = parameters;
    return epochs_done;
  } catch (const Error& e) {
    // A missing, mistyped or mis-sized extra in an otherwise valid file.
    throw CheckpointError("checkpoint " + detail::quoted_path(path) +
                          ": its training state cannot be restored: " + e.what());
  }
}

/// Loads a checkpoint that CheckpointEveryEpoch(path, trainer) wrote into
/// the trainer's model and optimizer, gives every callback of the trainer
/// its state back (restore_state; add the callbacks first) and makes fit()
/// start after the checkpoint's epochs, which it returns. Nothing changes
/// unless the whole checkpoint, the callbacks' entries included, is valid
/// (load_training_checkpoint).
template <typename Model, typename Optimizer>
Index resume_training(const std::string& path, Trainer<Model, Optimizer>& trainer) {
  const Index epochs_done =
      load_training_checkpoint(path, trainer.model(), trainer.optimizer(),
                               [&](const CheckpointExtras& extras) {
                                 trainer.restore_callback_states(extras);
                               });
  trainer.set_first_epoch(epochs_done);
  return epochs_done;
}

/// Saves a training checkpoint at the end of every epoch. `add_extras`, if
/// given, puts the caller's own state into each checkpoint (e.g. a
/// parameter average, for load_training_checkpoint's `read_extras`).
template <typename Model, typename Optimizer>
class CheckpointEveryEpoch : public Callback {
 public:
  CheckpointEveryEpoch(std::string path, const Model& model, const Optimizer& optimizer,
                       std::function<void(CheckpointExtras&)> add_extras = {})
      : path_(std::move(path)),
        model_(model),
        optimizer_(optimizer),
        add_extras_(std::move(add_extras)) {}
  /// Saves the trainer's model and optimizer and every one of its callbacks'
  /// state (save_state) for resume_training. Callbacks run in the order
  /// added: add this one after those whose end-of-epoch state it must hold.
  CheckpointEveryEpoch(std::string path, const Trainer<Model, Optimizer>& trainer)
      : CheckpointEveryEpoch(std::move(path), trainer.model(), trainer.optimizer(),
                             [&trainer](CheckpointExtras& extras) {
                               trainer.save_callback_states(extras);
                             }) {}
  bool on_epoch_end(EpochReport& r) override {
    CheckpointExtras extras;
    if (add_extras_) add_extras_(extras);
    save_training_checkpoint(path_, model_, optimizer_, r.epoch, std::move(extras));
    return false;
  }

 private:
  std::string path_;
  const Model& model_;
  const Optimizer& optimizer_;
  std::function<void(CheckpointExtras&)> add_extras_;
};

}  // namespace scvae
