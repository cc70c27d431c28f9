#pragma once
// An exponential moving average of a model's flat parameter vector over
// training steps (Polyak averaging with exponential weights; the "mean
// teacher" of Tarvainen and Valpola, 2017): the average is often a better
// model than the last step's parameters, and it moves smoothly from epoch to
// epoch where the parameters themselves jump with each batch.

#include <cmath>
#include <string>

#include "scvae/core/error.hpp"
#include "scvae/core/types.hpp"

namespace scvae {

template <typename Scalar>
class ParameterAverageT {
 public:
  /// average <- decay * average + (1 - decay) * parameters at each update();
  /// decay in [0, 1). Throws ArgumentError otherwise.
  explicit ParameterAverageT(double decay) : decay_(decay) {
    if (!(decay >= 0.0 && decay < 1.0))
      throw ArgumentError("ParameterAverage: decay: expected a value in [0, 1), got " +
                          std::to_string(decay));
  }

  /// Starts the average at `parameters` (e.g. the initial weights).
  void start(const Eigen::Ref<const Vector<Scalar>>& parameters) {
    average_ = parameters;
    steps_ = 0;
  }

  /// One step's parameters into the average; the first update() without a
  /// start() starts it there.
  void update(const Eigen::Ref<const Vector<Scalar>>& parameters) {
    if (average_.size() == 0) {
      start(parameters);
    } else {
      check_size(parameters.size());
      const Scalar d = static_cast<Scalar>(decay_);
      average_ = d * average_ + (Scalar(1) - d) * parameters;
    }
    ++steps_;
  }

  /// Exchanges the average and `parameters` (same size), e.g. to evaluate
  /// the averaged model and swap back to go on training.
  void swap(Vector<Scalar>& parameters) {
    check_size(parameters.size());
    average_.swap(parameters);
  }

  const Vector<Scalar>& average() const { return average_; }
  double decay() const { return decay_; }
  /// update() calls since the last start().
  long steps() const { return steps_; }

 private:
  void check_size(Index size) const {
    if (size != average_.size())
      throw ShapeError("ParameterAverage: expected " + std::to_string(average_.size()) +
                       " parameters (the size it started with), got " + std::to_string(size));
  }

  double decay_;
  Vector<Scalar> average_;
  long steps_ = 0;
};

using ParameterAverage = ParameterAverageT<float>;

}  // namespace scvae
