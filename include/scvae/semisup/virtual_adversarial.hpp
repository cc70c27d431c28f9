#pragma once
// Virtual adversarial training (Miyato et al., 2018) as a gradient callback:
// each step adds weight * mean_j CE(q(y|x_j), q(y|x_j + r_j)) to the loss,
// r_j the perturbation of L2 norm epsilon that changes the classifier's
// prediction the most (to first order), found by one power-iteration step
// from a random direction. The prediction at x is held fixed (a target).
//
// The classifier interface (M2's LabelConditionedVAET has it; an SC-VAE's
// label task has it through LabelHeadClassifier):
//   using Scalar = ...;
//   void class_probabilities(x, Matrix<Scalar>& q);            // classes x n
//   void classifier_input_gradient(x, targets, Matrix<Scalar>& dx);
//       // d/dx sum_j CE(targets_j, q(y|x_j)), the model's gradient untouched
//   double add_classifier_loss_and_gradient(x, targets, double weight);
//       // adds the gradient of weight * mean_j CE(targets_j, q(y|x_j)) to
//       // the model's gradients() (the trainer's step.gradients) and returns it

#include <cmath>
#include <limits>
#include <string>

#include "scvae/core/error.hpp"
#include "scvae/train/gradient_callback.hpp"

namespace scvae {

struct VirtualAdversarialOptions {
  double epsilon = 2.0;  ///< L2 norm of the perturbation of each input.
  double xi = 1.0;       ///< L2 norm of the random probe that finds its direction.
  double weight = 1.0;   ///< Weight of the term in the loss.
  /// The perturbed inputs are clamped to [input_min, input_max]: pixel
  /// intensities stay in [0, 1], where the model was trained. (The probe is
  /// not clamped: it only measures how the prediction changes.)
  double input_min = 0.0;
  double input_max = 1.0;

  void validate() const {
    if (!(epsilon >= 0.0) || !std::isfinite(epsilon))
      throw ArgumentError("virtual adversarial epsilon: expected a finite value >= 0, got " +
                          std::to_string(epsilon));
    if (!(xi > 0.0) || !std::isfinite(xi))
      throw ArgumentError("virtual adversarial xi: expected a finite value > 0, got " +
                          std::to_string(xi));
    if (!(weight >= 0.0) || !std::isfinite(weight))
      throw ArgumentError("virtual adversarial weight: expected a finite value >= 0, got " +
                          std::to_string(weight));
    if (!(input_min <= input_max))
      throw ArgumentError("virtual adversarial input range: expected min <= max, got [" +
                          std::to_string(input_min) + ", " + std::to_string(input_max) + "]");
  }
};

template <typename Classifier>
class VirtualAdversarialTraining final : public GradientCallback<typename Classifier::Scalar> {
 public:
  using Scalar = typename Classifier::Scalar;

  /// The classifier must outlive the callback.
  VirtualAdversarialTraining(Classifier& classifier, VirtualAdversarialOptions options)
      : classifier_(classifier), options_(options) {
    options_.validate();
  }
  const VirtualAdversarialOptions& options() const { return options_; }

  /// Every column of the batch, labelled or not; the random directions come
  /// from the step's noise stream.
  void on_gradient(GradientStep<Scalar>& step) override {
    if (options_.weight == 0.0) return;
    adversarial_inputs(step.batch.x, step.noise, adversarial_, targets_);
    step.loss +=
        classifier_.add_classifier_loss_and_gradient(adversarial_, targets_, options_.weight);
  }

  /// x + r for each column of x (clamped to the input range) into
  /// `adversarial`, and the fixed targets q(y|x) into `targets`. A column
  /// whose probe gradient vanishes stays x.
  void adversarial_inputs(const Matrix<Scalar>& x, Rng& rng, Matrix<Scalar>& adversarial,
                          Matrix<Scalar>& targets) {
    classifier_.class_probabilities(x, targets);
    probe_.resize(x.rows(), x.cols());
    rng.fill_normal(probe_);
    const auto xi = static_cast<Scalar>(options_.xi);
    for (Index j = 0; j < x.cols(); ++j) {
      const Scalar norm = probe_.col(j).norm();
      probe_.col(j) = x.col(j) + (norm > Scalar(0) ? xi / norm : Scalar(0)) * probe_.col(j);
    }
    classifier_.classifier_input_gradient(probe_, targets, gradient_);
    adversarial.resize(x.rows(), x.cols());
    const auto epsilon = static_cast<Scalar>(options_.epsilon);
    const auto low = static_cast<Scalar>(options_.input_min);
    const auto high = static_cast<Scalar>(options_.input_max);
    for (Index j = 0; j < x.cols(); ++j) {
      const Scalar norm = gradient_.col(j).norm();
      if (norm > Scalar(0) && std::isfinite(static_cast<double>(norm)))
        adversarial.col(j) =
            (x.col(j) + (epsilon / norm) * gradient_.col(j)).cwiseMax(low).cwiseMin(high);
      else
        adversarial.col(j) = x.col(j);
    }
  }

 private:
  Classifier& classifier_;
  VirtualAdversarialOptions options_;
  Matrix<Scalar> probe_, gradient_, adversarial_, targets_;
};

}  // namespace scvae
