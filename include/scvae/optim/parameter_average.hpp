#pragma once
// An exponential moving average of a model's flat parameter vector over
// training steps (Polyak averaging with exponential weights; the "mean
// teacher" of Tarvainen and Valpola, 2017): the average is often a better
// model than the last step's parameters, and it moves smoothly from epoch to
// epoch where the parameters themselves jump with each batch.
//
// The average is bias-corrected as Adam's moments are: it weighs only the
// parameters given to update(), with weights (1 - decay) decay^(t - i)
// normalised to sum to 1. An average started at the initial weights instead
// would, after a few hundred steps at decay 0.999, still be mostly those
// initial weights (0.999^469, one epoch of Fashion-MNIST in batches of 128,
// leaves them 63% of the weight).

#include <string>

#include "scvae/core/error.hpp"
#include "scvae/core/types.hpp"

namespace scvae {

template <typename Scalar>
class ParameterAverageT {
 public:
  /// Weights (1 - decay) decay^(t - i) on the i-th of t updates,
  /// normalised; decay in [0, 1). Throws ArgumentError otherwise.
  explicit ParameterAverageT(double decay) : decay_(decay) {
    if (!(decay >= 0.0 && decay < 1.0))
      throw ArgumentError("ParameterAverage: decay: expected a value in [0, 1), got " +
                          std::to_string(decay));
  }

  /// Forgets every update: the next update() starts the average afresh.
  void reset() {
    average_.resize(0);
    steps_ = 0;
    decay_power_ = 1.0;
  }

  /// One step's parameters into the average. The first update() after
  /// construction or reset() copies them and fixes the size.
  void update(const Eigen::Ref<const Vector<Scalar>>& parameters) {
    if (steps_ == 0) {
      average_ = parameters;
    } else {
      check_size(parameters.size());
      // The normalised weights make this the running form of
      // sum_i (1 - d) d^(t - i) p_i / (1 - d^t).
      const double weight = (1.0 - decay_) / (1.0 - decay_power_ * decay_);
      average_ += static_cast<Scalar>(weight) * (parameters - average_);
    }
    decay_power_ *= decay_;
    ++steps_;
  }

  /// Puts back an average saved after `steps` updates (e.g. from a
  /// checkpoint), so that further updates continue it bit for bit.
  /// ArgumentError for steps < 1 or an empty average.
  void restore(const Eigen::Ref<const Vector<Scalar>>& average, long steps) {
    if (steps < 1 || average.size() == 0)
      throw ArgumentError(
          "ParameterAverage: restore: expected a non-empty average of at least "
          "one update, got " +
          std::to_string(average.size()) + " parameters after " + std::to_string(steps) +
          " updates");
    average_ = average;
    steps_ = steps;
    // The same products as update() formed, so the weights match bit for bit.
    decay_power_ = 1.0;
    for (long i = 0; i < steps; ++i) decay_power_ *= decay_;
  }

  /// Exchanges the average and `parameters` (same size), e.g. to evaluate
  /// the averaged model and swap back to go on training. The values move,
  /// not the buffers: a model's views into its parameters stay valid.
  /// ArgumentError before the first update().
  void swap(Vector<Scalar>& parameters) {
    if (steps_ == 0)
      throw ArgumentError("ParameterAverage: swap() before any update(): there is no average yet");
    check_size(parameters.size());
    Eigen::Map<Vector<Scalar>> in_place(parameters.data(), parameters.size());
    in_place.swap(average_);
  }

  /// Empty before the first update().
  const Vector<Scalar>& average() const { return average_; }
  double decay() const { return decay_; }
  /// update() calls since construction or the last reset().
  long steps() const { return steps_; }

 private:
  void check_size(Index size) const {
    if (size != average_.size())
      throw ShapeError("ParameterAverage: expected " + std::to_string(average_.size()) +
                       " parameters (the size of the first update), got " + std::to_string(size));
  }

  double decay_;
  Vector<Scalar> average_;
  long steps_ = 0;
  double decay_power_ = 1.0;  // decay^steps_
};

using ParameterAverage = ParameterAverageT<float>;

}  // namespace scvae
