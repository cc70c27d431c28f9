#pragma once
// M2's classifier q(y|x) as a term of its own: the cross-entropy against
// fixed soft targets (a consistency term added to a training step), its
// input gradient, and virtual adversarial inputs (Miyato et al., 2018) made
// with it. A virtual-adversarial-training callback needs only these.

#include <cmath>
#include <string>

#include "scvae/core/check.hpp"
#include "scvae/core/error.hpp"
#include "scvae/core/flush_denormals.hpp"
#include "scvae/core/random.hpp"
#include "scvae/model/label_conditioned_base.hpp"

namespace scvae {

template <typename Scalar_>
class LabelConditionedConsistencyT : public LabelConditionedBaseT<Scalar_> {
 public:
  using Scalar = Scalar_;
  using Base = LabelConditionedBaseT<Scalar>;
  using Base::Base;
  using Base::class_probabilities;
  using Base::classes;
  using Base::inputs;

  // The workspace is not copied: a copy makes its own.
  LabelConditionedConsistencyT(const LabelConditionedConsistencyT& other) : Base(other) {}
  LabelConditionedConsistencyT& operator=(const LabelConditionedConsistencyT& other) {
    if (this != &other) Base::operator=(other);
    return *this;
  }
  LabelConditionedConsistencyT(LabelConditionedConsistencyT&&) noexcept = default;
  LabelConditionedConsistencyT& operator=(LabelConditionedConsistencyT&&) noexcept = default;

  /// Adds to gradients() the gradient of weight * mean_j CE(targets_j, q(y|x_j))
  /// over the n columns of x, with the soft targets (classes x n, each column
  /// a distribution) held fixed, and returns that term. Called after
  /// loss_and_gradient() on the same batch, it adds a consistency term to the
  /// step: virtual adversarial training feeds it virtual_adversarial()'s images.
  double add_classifier_loss_and_gradient(const ConstMatrixRef<Scalar>& x,
                                          const ConstMatrixRef<Scalar>& targets, double weight) {
    detail::check_finite_nonnegative("classifier loss weight", weight);
    const Scalar scale = static_cast<Scalar>(weight / static_cast<double>(x.cols()));
    const double sum =
        classifier_cross_entropy(x, targets, scale, gradients_.data(), {}, consistency_ws_);
    return weight * sum / static_cast<double>(x.cols());
  }

  /// d/dx of sum_j CE(targets_j, q(y|x_j)), written to dx (inputs x n): how
  /// each input value moves the classifier's cross-entropy against fixed soft
  /// targets. Parameters and gradients() are left as they were.
  void classifier_input_gradient(const ConstMatrixRef<Scalar>& x,
                                 const ConstMatrixRef<Scalar>& targets, Matrix<Scalar>& dx) const {
    typename Net::Workspace ws;
    dx.resize(x.rows(), x.cols());
    MatrixRef<Scalar> input_gradient(dx);
    classifier_cross_entropy(x, targets, Scalar(1), nullptr,
                             {&input_gradient, GradientWrite::Overwrite}, ws);
  }

  /// Virtual adversarial training's inputs (Miyato et al., 2018): for each
  /// column, x + epsilon g / |g|, with g the input gradient of the classifier's
  /// cross-entropy against its own prediction q(y|x), taken at x + xi d for a
  /// random unit direction d drawn from rng (one power-iteration step: the
  /// direction that changes the prediction the most, to first order). targets
  /// receives q(y|x). A column whose g vanishes keeps x.
  void virtual_adversarial(const ConstMatrixRef<Scalar>& x, double epsilon, double xi, Rng& rng,
                           Matrix<Scalar>& adversarial, Matrix<Scalar>& targets) const {
    detail::check_finite_nonnegative("virtual adversarial epsilon", epsilon);
    if (!(xi > 0.0) || !std::isfinite(xi))
      throw ArgumentError("virtual adversarial xi: expected a finite value > 0, got " +
                          std::to_string(xi));
    class_probabilities(x, targets);
    Matrix<Scalar> probe(x.rows(), x.cols());
    rng.fill_normal(probe);
    for (Index j = 0; j < x.cols(); ++j) {
      const Scalar norm = probe.col(j).norm();
      probe.col(j) = x.col(j) + (static_cast<Scalar>(xi) / norm) * probe.col(j);
    }
    Matrix<Scalar> gradient;
    classifier_input_gradient(probe, targets, gradient);
    adversarial = x;
    for (Index j = 0; j < x.cols(); ++j) {
      const Scalar norm = gradient.col(j).norm();
      if (norm > Scalar(0) && std::isfinite(norm))
        adversarial.col(j) += (static_cast<Scalar>(epsilon) / norm) * gradient.col(j);
    }
  }

 protected:
  using typename Base::Net;
  using Base::categorical_;
  using Base::classifier_;
  using Base::gradients_;
  using Base::parameters_;
  using Base::trunk_;

  // sum_j CE(targets_j, q(y|x_j)); with `grads`, its gradient, scaled by
  // `scale`, is added there; dL/dx goes where `input_gradient` asks.
  double classifier_cross_entropy(const ConstMatrixRef<Scalar>& x,
                                  const ConstMatrixRef<Scalar>& targets, Scalar scale,
                                  Scalar* grads, InputGradient<Scalar> input_gradient,
                                  typename Net::Workspace& trunk_ws) const {
    detail::check_rows("input x", x.rows(), inputs());
    if (x.cols() <= 0) throw ShapeError("input x: expected at least one column, got 0");
    detail::check_shape("classifier targets", targets.rows(), targets.cols(), classes(), x.cols());
    categorical_.validate_target(targets, std::nullopt, classes());
    const detail::FlushDenormals flush;  // as in run_chunk()
    const Scalar* values = parameters_.data();
    const auto& h = trunk_.forward_view(values, x, trunk_ws);
    typename Net::Workspace classifier_ws;
    const auto& logits = classifier_.forward_view(values, h, classifier_ws);
    RowVector<Scalar> nll(x.cols());
    MatrixRef<Scalar> logits_delta(classifier_ws.output_delta);
    categorical_.evaluate(nullptr, nullptr, logits, targets,
                          RowVector<Scalar>::Constant(x.cols(), scale), nll, &logits_delta);
    trunk_ws.output_delta.resize(h.rows(), x.cols());
    MatrixRef<Scalar> hidden_delta(trunk_ws.output_delta);
    classifier_.backward(values, h, classifier_ws, {&hidden_delta, GradientWrite::Overwrite});
    trunk_.backward(values, x, trunk_ws, input_gradient);
    if (grads != nullptr) {
      classifier_.add_parameter_gradients(h, classifier_ws, grads);
      trunk_.add_parameter_gradients(x, trunk_ws, grads);
    }
    return nll.template cast<double>().sum();
  }

  typename Net::Workspace consistency_ws_;
};

}  // namespace scvae
