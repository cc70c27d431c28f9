#pragma once
// A callback that may change the gradient of a step before the optimizer
// uses it: a perturbation or consistency term (virtual adversarial
// training), clipping. The trainer calls it after the model's
// loss_and_gradient and before the update, with the batch and the step's
// noise generator (ensmallen's callbacks, which may modify the gradient).

#include <vector>

#include "scvae/core/random.hpp"
#include "scvae/data/batch_source.hpp"
#include "scvae/model/task_batch.hpp"
#include "scvae/train/callback.hpp"

namespace scvae {

/// One step as a gradient callback sees it.
template <typename Scalar>
struct GradientStep {
  const Batch<Scalar>& batch;                   ///< x and the targets as filled.
  const std::vector<TaskBatch<Scalar>>& tasks;  ///< The model's views of them.
  /// The samples of the data set in the batch: order[begin + column].
  const std::vector<Index>& order;
  Index begin;
  Index epoch;  ///< 0-based.
  Index step;   ///< 1-based within the epoch.
  /// The epoch's noise stream, after the model drew its own: draws here
  /// are part of the seeded run (a resumed run draws the same).
  Rng& noise;
  /// The model's parameters and the gradient of the step's loss, same
  /// layout; a callback adds its own term to `gradients` or rescales it.
  const Vector<Scalar>& parameters;
  Vector<Scalar>& gradients;
  /// The loss the model returned for the batch; a callback adds its term's
  /// value so the epoch's train_loss is the loss that was optimised.
  double& loss;

  Index size() const { return batch.x.cols(); }
  /// The data set's index of the sample in batch column `column`.
  Index sample(Index column) const { return order[static_cast<std::size_t>(begin + column)]; }
};

template <typename Scalar>
class GradientCallback : public Callback {
 public:
  /// Called once per step after the gradient is computed and before the
  /// update (and before the trainer's own clipping and finiteness checks).
  virtual void on_gradient(GradientStep<Scalar>& step) = 0;
};

}  // namespace scvae
