#pragma once
// Averages a model's parameters over the training steps (ParameterAverage,
// optim/parameter_average.hpp) as a trainer callback: at each epoch's end
// the model holds the average, so the trainer's validation and the
// evaluations, pseudo-labels and checkpoints of every callback's
// on_epoch_end see the averaged model; the next
// epoch trains on from the training parameters; after the last epoch the
// model keeps the average.
//
// Checkpoint entries (one scheme for every model): the checkpoint's
// parameters are the average (what --load with no training evaluates), and
//   average.training_parameters  the parameters training goes on from
//   average.steps                the updates behind the average
//   average.decay                its decay (a resumed run must use the same)

#include <string>

#include "scvae/core/error.hpp"
#include "scvae/io/checkpoint.hpp"
#include "scvae/optim/parameter_average.hpp"
#include "scvae/train/callback.hpp"
#include "scvae/train/checkpointing.hpp"

namespace scvae {

template <typename Model>
class AverageParameters final : public Callback {
 public:
  using Scalar = typename Model::Scalar;
  static constexpr const char* kTrainingParameters = "average.training_parameters";
  static constexpr const char* kSteps = "average.steps";
  static constexpr const char* kDecay = "average.decay";

  /// Weights (1 - decay) decay^(t - i) on the parameters after step i of t,
  /// normalised; decay in [0, 1).
  AverageParameters(Model& model, double decay) : model_(model), average_(decay) {}

  /// Whether the model holds the average now (between an epoch's end and
  /// the next epoch's start, and after training).
  bool model_holds_average() const { return holds_average_; }
  const ParameterAverageT<Scalar>& average() const { return average_; }

  void on_train_begin(Index /*first_epoch*/, Index /*end_epoch*/) override {
    if (restored_steps_ == 0) return;
    // The model holds the checkpoint's parameters, the average; it trains
    // on from the training parameters (assigned in place: same size).
    average_.restore(model_.parameters(), restored_steps_);
    model_.parameters() = restored_training_;
    restored_training_.resize(0);
    restored_steps_ = 0;
    holds_average_ = false;
  }
  void on_epoch_begin(Index /*epoch*/) override { swap_back(); }
  bool on_batch_end(const BatchReport& /*report*/) override {
    average_.update(model_.parameters());
    return false;
  }
  // Before the trainer's validation, so that it scores the average too.
  void on_epoch_trained(Index /*epoch*/) override {
    if (average_.steps() > 0 && !holds_average_) {
      average_.swap(model_.parameters());
      holds_average_ = true;
    }
  }

  void save_state(CheckpointExtras& extras) const override {
    if (average_.steps() == 0) return;
    if (!holds_average_)
      throw ArgumentError(
          "AverageParameters: a checkpoint saved while the model holds the training "
          "parameters (in the middle of an epoch); save at an epoch's end");
    extras.set_vector(kTrainingParameters, average_.average());
    extras.set_scalar(kSteps, static_cast<double>(average_.steps()));
    extras.set_scalar(kDecay, average_.decay());
  }

  /// Checks the entries; the average is rebuilt when training begins (the
  /// checkpoint's parameters reach the model only after this is called).
  void restore_state(const CheckpointExtras& extras) override {
    if (!extras.contains(kTrainingParameters)) return;
    const double decay = extras.scalar(kDecay);
    if (decay != average_.decay())
      throw ArgumentError(std::string("checkpoint extra '") + kDecay + "': the average has decay " +
                          std::to_string(decay) + ", this run " +
                          std::to_string(average_.decay()) + "; resume with the same decay");
    Vector<Scalar> training = extras.vector<Scalar>(kTrainingParameters);
    if (training.size() != model_.parameters().size())
      throw ShapeError(std::string("checkpoint extra '") + kTrainingParameters + "' holds " +
                       std::to_string(training.size()) + " values, the model has " +
                       std::to_string(model_.parameters().size()) + " parameters");
    const auto steps = static_cast<long>(checkpoint_count(extras, kSteps));
    if (steps < 1)
      throw ArgumentError(std::string("checkpoint extra '") + kSteps +
                          "' is 0: an average of no update");
    restored_training_ = std::move(training);
    restored_steps_ = steps;
  }

 private:
  void swap_back() {
    if (!holds_average_) return;
    average_.swap(model_.parameters());
    holds_average_ = false;
  }

  Model& model_;
  ParameterAverageT<Scalar> average_;
  bool holds_average_ = false;
  Vector<Scalar> restored_training_;
  long restored_steps_ = 0;
};

}  // namespace scvae
