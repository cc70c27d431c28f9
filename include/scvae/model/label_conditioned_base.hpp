#pragma once
// M2's composition: its spec, the trunk, q(y|x), q(z|x[,y]) and p(x|z,y) as
// module networks on one flat parameter buffer, and inference with them
// (class probabilities, the evidence-weighted prediction, encoding and
// decoding, the classifier's consistency term and virtual adversarial
// inputs). LabelConditionedVAET (model/label_conditioned_vae.hpp) adds the
// training loss on the executor.

#include <cmath>
#include <string>
#include <vector>

#include "scvae/core/check.hpp"
#include "scvae/core/error.hpp"
#include "scvae/core/flush_denormals.hpp"
#include "scvae/core/parameters.hpp"
#include "scvae/core/random.hpp"
#include "scvae/model/encoder.hpp"
#include "scvae/model/label_conditioned_spec.hpp"
#include "scvae/model/network.hpp"
#include "scvae/prob/bernoulli.hpp"
#include "scvae/prob/categorical.hpp"
#include "scvae/prob/gaussian.hpp"

namespace scvae {

template <typename Scalar_>
class LabelConditionedBaseT {
 public:
  using Scalar = Scalar_;

  explicit LabelConditionedBaseT(const LabelConditionedSpec& spec, std::uint64_t seed = 1)
      : spec_((spec.validate(), spec)),
        trunk_(make_mlp<Scalar>(spec_.inputs, spec_.encoder_hidden, spec_.activation,
                                spec_.activation),
               layout_),
        latent_head_(head_inputs(spec_), {}, spec_.latent, spec_.activation, layout_),
        classifier_(make_mlp<Scalar>(spec_.encoder_hidden.back(),
                                     concat(spec_.classifier_hidden, {spec_.classes}),
                                     spec_.activation, Activation::Identity),
                    layout_),
        decoder_(make_mlp<Scalar>(spec_.latent + spec_.classes,
                                  concat(spec_.decoder_hidden, {spec_.inputs}), spec_.activation,
                                  Activation::Identity),
                 layout_),
        categorical_(spec_.classes) {
    parameters_.setZero(layout_.total());
    gradients_.setZero(layout_.total());
    Rng rng(seed);
    trunk_.initialize(parameters_.data(), rng, spec_.initialization);
    latent_head_.initialize(parameters_.data(), rng, spec_.initialization);
    classifier_.initialize(parameters_.data(), rng, spec_.initialization);
    decoder_.initialize(parameters_.data(), rng, spec_.initialization);
  }

  // The per-batch buffers are not copied: a copy makes its own.
  LabelConditionedBaseT(const LabelConditionedBaseT& other)
      : spec_(other.spec_),
        layout_(other.layout_),
        trunk_(other.trunk_),
        latent_head_(other.latent_head_),
        classifier_(other.classifier_),
        decoder_(other.decoder_),
        categorical_(other.categorical_),
        parameters_(other.parameters_),
        gradients_(other.gradients_) {}
  LabelConditionedBaseT& operator=(const LabelConditionedBaseT& other) {
    if (this != &other) {
      LabelConditionedBaseT copy(other);
      *this = std::move(copy);
    }
    return *this;
  }
  LabelConditionedBaseT(LabelConditionedBaseT&&) noexcept = default;
  LabelConditionedBaseT& operator=(LabelConditionedBaseT&&) noexcept = default;

  const LabelConditionedSpec& spec() const { return spec_; }
  std::string architecture() const { return spec_.architecture(); }
  Index inputs() const { return spec_.inputs; }
  Index latent() const { return spec_.latent; }
  Index classes() const { return spec_.classes; }

  Vector<Scalar>& parameters() { return parameters_; }
  const Vector<Scalar>& parameters() const { return parameters_; }
  /// The gradient the last loss_and_gradient() wrote, same layout.
  Vector<Scalar>& gradients() { return gradients_; }
  const Vector<Scalar>& gradients() const { return gradients_; }
  Index parameter_count() const { return parameters_.size(); }

  /// q(y|x), classes x n.
  void class_probabilities(const ConstMatrixRef<Scalar>& x, Matrix<Scalar>& probabilities) const {
    detail::check_rows("input x", x.rows(), inputs());
    typename Net::Workspace trunk_ws, classifier_ws;
    const Matrix<Scalar>& logits = classifier_.forward(
        parameters_.data(), trunk_.forward(parameters_.data(), x, trunk_ws), classifier_ws);
    probabilities.resize(classes(), x.cols());
    categorical_.mean(logits, probabilities);
  }

  /// The class probabilities of both of M2's classifiers together, classes x n:
  /// proportional to q(y|x) exp(-R(x, mu_y, y) - KL_y), where mu_y is the mean
  /// of q(z|x) (of q(z|x,y) with latent_reads_label) and KL_y its KL from the
  /// prior. The second factor is the image decoder's evidence for each class
  /// (the ELBO of x given y at the mean code): the decoder learned it from
  /// every image, labelled or not, and errs on other images than q(y|x) does,
  /// so the product predicts better than either alone. Costs one decoder pass
  /// per class.
  void evidence_weighted_class_probabilities(const ConstMatrixRef<Scalar>& x,
                                             Matrix<Scalar>& probabilities) const {
    detail::check_rows("input x", x.rows(), inputs());
    BernoulliT<Scalar>().validate_target(x, std::nullopt, inputs());
    const detail::FlushDenormals flush;  // as in run()
    const Scalar* values = parameters_.data();
    const Index n = x.cols(), K = classes(), Z = latent();
    typename Net::Workspace trunk_ws, classifier_ws, decoder_ws;
    const Matrix<Scalar>& h = trunk_.forward(values, x, trunk_ws);
    // The logits are log q(y|x) up to a per-column constant, which the
    // softmax at the end ignores.
    Matrix<Scalar> score = classifier_.forward(values, h, classifier_ws);
    Matrix<Scalar> head_input = Matrix<Scalar>::Zero(latent_head_.inputs(), n);
    head_input.topRows(h.rows()) = h;
    Matrix<Scalar> decoder_input = Matrix<Scalar>::Zero(Z + K, n);
    RowVector<Scalar> kl(n), nll(n);
    const RowVector<Scalar> unit = RowVector<Scalar>::Ones(n);
    typename Enc::Workspace latent_ws;
    for (Index k = 0; k < K; ++k) {
      if (spec_.latent_reads_label || k == 0) {
        if (spec_.latent_reads_label) {
          head_input.bottomRows(K).setZero();
          head_input.row(h.rows() + k).setOnes();
        }
        latent_head_.forward(values, head_input, latent_ws);
        gaussian_kl<Scalar>(Enc::mu(latent_ws), Enc::logvar(latent_ws), kl);
        decoder_input.topRows(Z) = Enc::mu(latent_ws);
      }
      decoder_input.bottomRows(K).setZero();
      decoder_input.row(Z + k).setOnes();
      const Matrix<Scalar>& pixel_logits = decoder_.forward(values, decoder_input, decoder_ws);
      BernoulliT<Scalar>().evaluate(nullptr, nullptr, pixel_logits, x, unit, nll, nullptr);
      score.row(k) -= nll + kl;
    }
    probabilities.resize(K, n);
    categorical_.mean(score, probabilities);
  }

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

  /// mu and logvar of q(z|x), latent x n each; with latent_reads_label, of
  /// q(z|x,y) at the most probable class of q(y|x).
  void encode(const ConstMatrixRef<Scalar>& x, Matrix<Scalar>& mu, Matrix<Scalar>& logvar) const {
    RowVector<Scalar> labels = RowVector<Scalar>::Zero(x.cols());
    if (spec_.latent_reads_label) {
      Matrix<Scalar> q;
      class_probabilities(x, q);
      for (Index j = 0; j < x.cols(); ++j) {
        Index best = 0;
        q.col(j).maxCoeff(&best);
        labels(j) = static_cast<Scalar>(best);
      }
    }
    encode(x, labels, mu, logvar);
  }

  /// mu and logvar of q(z|x,y) for the class indices `labels` (1 x n); without
  /// latent_reads_label the labels are checked but do not change q(z|x).
  void encode(const ConstMatrixRef<Scalar>& x, const ConstRowVectorRef<Scalar>& labels,
              Matrix<Scalar>& mu, Matrix<Scalar>& logvar) const {
    detail::check_rows("input x", x.rows(), inputs());
    detail::check_shape("encode labels", labels.rows(), labels.cols(), 1, x.cols());
    categorical_.validate_target(labels, std::nullopt, classes());
    typename Net::Workspace trunk_ws;
    const Matrix<Scalar>& h = trunk_.forward(parameters_.data(), x, trunk_ws);
    Matrix<Scalar> input = Matrix<Scalar>::Zero(latent_head_.inputs(), x.cols());
    input.topRows(h.rows()) = h;
    if (spec_.latent_reads_label)
      for (Index j = 0; j < x.cols(); ++j) input(h.rows() + static_cast<Index>(labels(j)), j) = 1;
    typename Enc::Workspace ws;
    latent_head_.forward(parameters_.data(), input, ws);
    mu = Enc::mu(ws);
    logvar = Enc::logvar(ws);
  }

  /// Pixel probabilities of p(x | z, y) for latent codes z (latent x n) and
  /// class indices `labels` (1 x n): e.g. one style drawn in every class.
  void decode(const ConstMatrixRef<Scalar>& z, const ConstRowVectorRef<Scalar>& labels,
              Matrix<Scalar>& probabilities) const {
    detail::check_rows("decode z", z.rows(), latent());
    detail::check_shape("decode labels", labels.rows(), labels.cols(), 1, z.cols());
    categorical_.validate_target(labels, std::nullopt, classes());
    Matrix<Scalar> input = Matrix<Scalar>::Zero(latent() + classes(), z.cols());
    input.topRows(latent()) = z;
    for (Index j = 0; j < z.cols(); ++j) input(latent() + static_cast<Index>(labels(j)), j) = 1;
    typename Net::Workspace ws;
    const Matrix<Scalar>& logits = decoder_.forward(parameters_.data(), input, ws);
    probabilities.resize(logits.rows(), logits.cols());
    BernoulliT<Scalar>().mean(logits, probabilities);
  }

 protected:
  using Enc = EncoderT<Scalar>;
  using Net = PlacedNetworkT<Scalar>;

  static std::vector<Index> concat(std::vector<Index> a, const std::vector<Index>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }

  // The latent head reads the trunk's last layer, and the one-hot class too
  // with latent_reads_label.
  static Index head_inputs(const LabelConditionedSpec& spec) {
    return spec.encoder_hidden.back() + (spec.latent_reads_label ? spec.classes : 0);
  }


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
    const Matrix<Scalar>& h = trunk_.forward(values, x, trunk_ws);
    typename Net::Workspace classifier_ws;
    const Matrix<Scalar>& logits = classifier_.forward(values, h, classifier_ws);
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


  LabelConditionedSpec spec_;
  ParameterLayout layout_;
  Net trunk_;
  EncoderT<Scalar> latent_head_;  // no trunk of its own: the Gaussian head with its logvar clamp
  Net classifier_;
  Net decoder_;
  CategoricalT<Scalar> categorical_;
  Vector<Scalar> parameters_;
  Vector<Scalar> gradients_;
  typename Net::Workspace consistency_ws_;
};

}  // namespace scvae
