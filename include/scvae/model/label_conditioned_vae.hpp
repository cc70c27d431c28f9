#pragma once
// A semi-supervised VAE whose image decoder reads the class label: Kingma et
// al.'s M2 (2014), with one encoder trunk shared by q(y|x) and q(z|x).
//
//   h = trunk(x),  q(y|x) = softmax(C h),  q(z|x) = N(mu(h), exp(logvar(h))),
//   p(x|z,y) = Bernoulli(decoder([z; onehot(y)])).
//
// With latent_reads_label, q(z|x,y) = N(mu([h; onehot(y)]), ...) as in the
// paper: z is then free to leave the class to y, and an unlabelled image gets
// one z per class (the same noise for each), its KL weighted by q(y|x) too.
//
// Per sample, with R(x, z, y) = -log p(x|z,y) at one z ~ q(z|x):
//   labelled (mask 1):  R(x, z, y) + beta KL + alpha * (-log q(y|x))
//   unlabelled:         sum_y q(y|x) R(x, z, y) + beta KL + gamma * sum_y q(y|x) log q(y|x)
// averaged over the batch. An unlabelled image is decoded once per class, so
// the classifier learns from it which class's decoder explains it best; that
// is what the label task gains from the images without labels. gamma = 1 is
// M2's bound (the entropy of q(y|x) is rewarded); gamma = 0 drops that term.

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "scvae/core/check.hpp"
#include "scvae/core/error.hpp"
#include "scvae/core/flush_denormals.hpp"
#include "scvae/core/parameters.hpp"
#include "scvae/core/random.hpp"
#include "scvae/model/encoder.hpp"
#include "scvae/nn/mlp.hpp"
#include "scvae/prob/bernoulli.hpp"
#include "scvae/prob/categorical.hpp"
#include "scvae/prob/gaussian.hpp"

namespace scvae {

/// What fixes a LabelConditionedVAE: sizes and the weights of its loss.
struct LabelConditionedSpec {
  Index inputs = 0;
  std::vector<Index> encoder_hidden{400};  ///< The shared trunk: at least one layer.
  Index latent = 20;
  Index classes = 10;
  std::vector<Index>
      classifier_hidden{};  ///< Hidden layers of q(y|x) after the trunk (none: linear).
  std::vector<Index> decoder_hidden{400};
  bool latent_reads_label = false;  ///< q(z|x,y) instead of q(z|x).
  Activation activation = Activation::ReLU;
  double label_weight = 50.0;   ///< alpha: weight of -log q(y|x) of a labelled sample.
  double entropy_weight = 0.0;  ///< gamma: weight of -H(q(y|x)) of an unlabelled sample.
  Initialization initialization = Initialization::HeGlorot;

  /// Throws ArgumentError on a size <= 0, no trunk, fewer than 2 classes,
  /// or a weight that is negative or not finite.
  void validate() const {
    detail::check_positive("label-conditioned VAE inputs", inputs);
    detail::check_positive("label-conditioned VAE latent size", latent);
    if (classes < 2)
      throw ArgumentError("label-conditioned VAE classes: expected at least 2, got " +
                          std::to_string(classes));
    if (encoder_hidden.empty())
      throw ArgumentError(
          "label-conditioned VAE encoder: expected at least one hidden layer (the trunk that "
          "q(y|x) and q(z|x) share), got none");
    for (Index h : encoder_hidden)
      detail::check_positive("label-conditioned VAE encoder hidden size", h);
    for (Index h : classifier_hidden)
      detail::check_positive("label-conditioned VAE classifier hidden size", h);
    for (Index h : decoder_hidden)
      detail::check_positive("label-conditioned VAE decoder hidden size", h);
    detail::check_finite_nonnegative("label-conditioned VAE label weight", label_weight);
    detail::check_finite_nonnegative("label-conditioned VAE entropy weight", entropy_weight);
  }

  /// One line naming everything that fixes the parameter layout.
  std::string architecture() const {
    std::ostringstream out;
    out << "scvae-m2-v1 encoder=" << inputs;
    for (Index h : encoder_hidden) out << "-" << h;
    out << " latent=" << latent << (latent_reads_label ? "|y" : "") << " classes=" << classes
        << " classifier=" << encoder_hidden.back();
    for (Index h : classifier_hidden) out << "-" << h;
    out << "-" << classes << " decoder=" << latent << "+" << classes;
    for (Index h : decoder_hidden) out << "-" << h;
    out << "-" << inputs << " " << activation_name(activation) << " bernoulli";
    return out.str();
  }
};

/// The loss of one batch and its parts (means over the batch's samples).
struct LabelConditionedLoss {
  double total = 0.0;           ///< The loss above, batch mean.
  double reconstruction = 0.0;  ///< Mean R (for an unlabelled sample: its q-weighted mean).
  double kl = 0.0;              ///< Mean KL(q(z|x) || N(0, I)).
  double label_nll = 0.0;       ///< Mean -log q(y|x) over the labelled samples.
  Index samples = 0;
  Index labelled = 0;
};

template <typename Scalar_>
class LabelConditionedVAET {
 public:
  using Scalar = Scalar_;

  /// Builds the model and initialises its parameters from `seed`.
  explicit LabelConditionedVAET(const LabelConditionedSpec& spec, std::uint64_t seed = 1)
      : spec_((spec.validate(), spec)),
        trunk_(concat({spec_.inputs}, spec_.encoder_hidden), spec_.activation, spec_.activation,
               layout_),
        latent_head_(head_inputs(spec_), {}, spec_.latent, spec_.activation, layout_),
        classifier_(
            concat(concat({spec_.encoder_hidden.back()}, spec_.classifier_hidden), {spec_.classes}),
            spec_.activation, Activation::Identity, layout_),
        decoder_(
            concat(concat({spec_.latent + spec_.classes}, spec_.decoder_hidden), {spec_.inputs}),
            spec_.activation, Activation::Identity, layout_),
        categorical_(spec_.classes) {
    parameters_.setZero(layout_.total());
    gradients_.setZero(layout_.total());
    Rng rng(seed);
    trunk_.initialize(parameters_.data(), rng, spec_.initialization);
    latent_head_.initialize(parameters_.data(), rng, spec_.initialization);
    classifier_.initialize(parameters_.data(), rng, spec_.initialization);
    decoder_.initialize(parameters_.data(), rng, spec_.initialization);
  }

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

  /// Loss and gradient with the noise eps (latent x n) given. `labels` is a
  /// 1 x n row of class indices, read only where `mask` (1 x n, 0/1) is 1.
  LabelConditionedLoss loss_and_gradient(const ConstMatrixRef<Scalar>& x,
                                         const ConstRowVectorRef<Scalar>& labels,
                                         const ConstRowVectorRef<Scalar>& mask,
                                         const ConstMatrixRef<Scalar>& eps, double beta = 1.0) {
    return run(x, labels, mask, eps, beta, true);
  }

  /// Loss and gradient, drawing eps from `rng`.
  LabelConditionedLoss loss_and_gradient(const ConstMatrixRef<Scalar>& x,
                                         const ConstRowVectorRef<Scalar>& labels,
                                         const ConstRowVectorRef<Scalar>& mask, Rng& rng,
                                         double beta = 1.0) {
    eps_.resize(latent(), x.cols());
    rng.fill_normal(eps_);
    return run(x, labels, mask, eps_, beta, true);
  }

  /// The loss alone; gradients() is left as it was.
  LabelConditionedLoss loss(const ConstMatrixRef<Scalar>& x,
                            const ConstRowVectorRef<Scalar>& labels,
                            const ConstRowVectorRef<Scalar>& mask,
                            const ConstMatrixRef<Scalar>& eps, double beta = 1.0) {
    return run(x, labels, mask, eps, beta, false);
  }

  /// q(y|x), classes x n.
  void class_probabilities(const ConstMatrixRef<Scalar>& x, Matrix<Scalar>& probabilities) const {
    detail::check_rows("input x", x.rows(), inputs());
    typename MlpT<Scalar>::Workspace trunk_ws, classifier_ws;
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
    typename MlpT<Scalar>::Workspace trunk_ws, classifier_ws, decoder_ws;
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
        classifier_cross_entropy(x, targets, scale, gradients_.data(),
                                 ParameterGradients::Accumulate, nullptr, consistency_ws_);
    return weight * sum / static_cast<double>(x.cols());
  }

  /// d/dx of sum_j CE(targets_j, q(y|x_j)), written to dx (inputs x n): how
  /// each input value moves the classifier's cross-entropy against fixed soft
  /// targets. Parameters and gradients() are left as they were.
  void classifier_input_gradient(const ConstMatrixRef<Scalar>& x,
                                 const ConstMatrixRef<Scalar>& targets, Matrix<Scalar>& dx) const {
    typename MlpT<Scalar>::Workspace ws;
    dx.resize(x.rows(), x.cols());
    MatrixRef<Scalar> input_gradient(dx);
    classifier_cross_entropy(x, targets, Scalar(1), nullptr, ParameterGradients::Defer,
                             &input_gradient, ws);
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
    typename MlpT<Scalar>::Workspace trunk_ws;
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
    typename MlpT<Scalar>::Workspace ws;
    const Matrix<Scalar>& logits = decoder_.forward(parameters_.data(), input, ws);
    probabilities.resize(logits.rows(), logits.cols());
    BernoulliT<Scalar>().mean(logits, probabilities);
  }

 private:
  using Enc = EncoderT<Scalar>;

  static std::vector<Index> concat(std::vector<Index> a, const std::vector<Index>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }

  // The latent head reads the trunk's last layer, and the one-hot class too
  // with latent_reads_label.
  static Index head_inputs(const LabelConditionedSpec& spec) {
    return spec.encoder_hidden.back() + (spec.latent_reads_label ? spec.classes : 0);
  }

  void validate(const ConstMatrixRef<Scalar>& x, const ConstRowVectorRef<Scalar>& labels,
                const ConstRowVectorRef<Scalar>& mask, const ConstMatrixRef<Scalar>& eps,
                double beta) const {
    detail::check_rows("input x", x.rows(), inputs());
    if (x.cols() <= 0) throw ShapeError("input x: expected at least one column, got 0");
    detail::check_shape("labels", labels.rows(), labels.cols(), 1, x.cols());
    detail::check_shape("label mask", mask.rows(), mask.cols(), 1, x.cols());
    detail::check_shape("noise eps", eps.rows(), eps.cols(), latent(), x.cols());
    if (!(beta >= 0.0) || beta == HUGE_VAL)
      throw ArgumentError("beta: expected a finite value >= 0, got " + std::to_string(beta));
    BernoulliT<Scalar>().validate_target(x, std::nullopt, inputs());
    for (Index j = 0; j < x.cols(); ++j)
      if (mask(j) != Scalar(0) && mask(j) != Scalar(1))
        throw ArgumentError("label mask: expected only 0 and 1, got " +
                            std::to_string(static_cast<double>(mask(j))));
    categorical_.validate_target(labels, mask, classes());
  }

  LabelConditionedLoss run(const ConstMatrixRef<Scalar>& x, const ConstRowVectorRef<Scalar>& labels,
                           const ConstRowVectorRef<Scalar>& mask, const ConstMatrixRef<Scalar>& eps,
                           double beta, bool with_gradient) {
    validate(x, labels, mask, eps, beta);
    // A labelled image's saturated softmax sends gradients of ~1e-40 into a
    // hidden classifier layer: without this, such steps run ten times slower.
    const detail::FlushDenormals flush;
    const Scalar* values = parameters_.data();
    const Index n = x.cols(), Z = latent(), K = classes();
    const bool per_class_z = spec_.latent_reads_label;
    const Scalar inv_n = Scalar(1) / static_cast<Scalar>(n);

    // Decoder columns: one per labelled sample (its class), K per unlabelled
    // one (every class, weighted by q(y|x)).
    Index columns = 0;
    for (Index j = 0; j < n; ++j) columns += mask(j) == Scalar(1) ? 1 : K;
    column_sample_.resize(static_cast<std::size_t>(columns));
    column_class_.resize(static_cast<std::size_t>(columns));
    for (Index j = 0, c = 0; j < n; ++j) {
      const bool labelled = mask(j) == Scalar(1);
      const Index first = labelled ? static_cast<Index>(labels(j)) : 0;
      for (Index k = first; k < first + (labelled ? 1 : K); ++k, ++c) {
        column_sample_[static_cast<std::size_t>(c)] = j;
        column_class_[static_cast<std::size_t>(c)] = k;
      }
    }
    // z columns: one per sample, or with q(z|x,y) one per decoder column.
    const Index z_columns = per_class_z ? columns : n;
    auto z_column = [&](Index c) {
      return per_class_z ? c : column_sample_[static_cast<std::size_t>(c)];
    };
    auto z_sample = [&](Index zc) {
      return per_class_z ? column_sample_[static_cast<std::size_t>(zc)] : zc;
    };

    // Encoder: the trunk; q(y|x) and q(z|x[,y]) read its last layer.
    const Matrix<Scalar>& h = trunk_.forward(values, x, trunk_ws_);
    const Index H = h.rows();
    logits_ = classifier_.forward(values, h, classifier_ws_);
    q_.resize(K, n);
    categorical_.mean(logits_, q_);
    head_input_.setZero(latent_head_.inputs(), z_columns);
    column_eps_.resize(Z, z_columns);
    for (Index zc = 0; zc < z_columns; ++zc) {
      head_input_.col(zc).head(H) = h.col(z_sample(zc));
      column_eps_.col(zc) = eps.col(z_sample(zc));
      if (per_class_z) head_input_(H + column_class_[static_cast<std::size_t>(zc)], zc) = 1;
    }
    latent_head_.forward(values, head_input_, latent_ws_);
    z_.resize(Z, z_columns);
    reparameterize<Scalar>(Enc::mu(latent_ws_), Enc::logvar(latent_ws_), column_eps_, z_);
    kl_.resize(z_columns);
    gaussian_kl<Scalar>(Enc::mu(latent_ws_), Enc::logvar(latent_ws_), kl_);

    decoder_input_.setZero(Z + K, columns);
    targets_.resize(inputs(), columns);
    weights_.resize(columns);
    for (Index c = 0; c < columns; ++c) {
      const Index j = column_sample_[static_cast<std::size_t>(c)];
      const Index k = column_class_[static_cast<std::size_t>(c)];
      decoder_input_.col(c).head(Z) = z_.col(z_column(c));
      decoder_input_(Z + k, c) = 1;
      targets_.col(c) = x.col(j);
      weights_(c) = mask(j) == Scalar(1) ? inv_n : q_(k, j) * inv_n;
    }
    const Matrix<Scalar>& pixel_logits = decoder_.forward(values, decoder_input_, decoder_ws_);
    nll_.resize(columns);
    output_gradient_.resize(inputs(), columns);
    MatrixRef<Scalar> output_gradient(output_gradient_);
    BernoulliT<Scalar>().evaluate(nullptr, nullptr, pixel_logits, targets_, weights_, nll_,
                                  with_gradient ? &output_gradient : nullptr);

    // The loss, and d loss / d logits of q(y|x). With q(z|x,y) the KL
    // depends on the class and joins each class's term; otherwise it is
    // one per sample and added after.
    const double alpha = spec_.label_weight, gamma = spec_.entropy_weight;
    LabelConditionedLoss parts;
    parts.samples = n;
    double total = 0.0, reconstruction = 0.0, label_nll = 0.0, kl_sum = 0.0;
    logits_delta_.resize(K, n);
    class_terms_.resize(static_cast<std::size_t>(K));
    kl_scale_.resize(z_columns);
    for (Index j = 0, c = 0; j < n; ++j) {
      auto q = q_.col(j);
      if (mask(j) == Scalar(1)) {
        const Index y = static_cast<Index>(labels(j));
        const double log_q = static_cast<double>(logits_(y, j) - logits_.col(j).maxCoeff()) -
                             std::log(static_cast<double>(
                                 (logits_.col(j).array() - logits_.col(j).maxCoeff()).exp().sum()));
        total += nll_(c) + alpha * -log_q;
        reconstruction += nll_(c);
        label_nll += -log_q;
        ++parts.labelled;
        logits_delta_.col(j) = q * static_cast<Scalar>(alpha) * inv_n;
        logits_delta_(y, j) -= static_cast<Scalar>(alpha) * inv_n;
        if (per_class_z) {
          const double kl = static_cast<double>(kl_(c));
          total += beta * kl;
          kl_sum += kl;
          kl_scale_(c) = static_cast<Scalar>(beta) * inv_n;
        }
        c += 1;
      } else {
        // g_k = R_k (+ beta KL_k) + gamma log q_k; d/dlogit_k sum_k q_k g_k
        // = q_k (g_k - sum q g).
        double expected = 0.0, expected_r = 0.0;
        for (Index k = 0; k < K; ++k) {
          const double log_q = std::log(std::max(static_cast<double>(q(k)), 1e-300));
          double g = static_cast<double>(nll_(c + k)) + gamma * log_q;
          if (per_class_z) {
            const double kl = static_cast<double>(kl_(c + k));
            g += beta * kl;
            kl_sum += static_cast<double>(q(k)) * kl;
            kl_scale_(c + k) = static_cast<Scalar>(beta) * q(k) * inv_n;
          }
          class_terms_[static_cast<std::size_t>(k)] = g;
          expected += static_cast<double>(q(k)) * g;
          expected_r += static_cast<double>(q(k)) * static_cast<double>(nll_(c + k));
        }
        for (Index k = 0; k < K; ++k)
          logits_delta_(k, j) =
              static_cast<Scalar>(static_cast<double>(q(k)) *
                                  (class_terms_[static_cast<std::size_t>(k)] - expected)) *
              inv_n;
        total += expected;
        reconstruction += expected_r;
        c += K;
      }
    }
    if (!per_class_z) {
      kl_sum = kl_.template cast<double>().sum();
      total += beta * kl_sum;
      kl_scale_.setConstant(n, static_cast<Scalar>(beta) * inv_n);
    }
    parts.total = total / static_cast<double>(n);
    parts.reconstruction = reconstruction / static_cast<double>(n);
    parts.kl = kl_sum / static_cast<double>(n);
    parts.label_nll = parts.labelled > 0 ? label_nll / static_cast<double>(parts.labelled) : 0.0;
    if (!with_gradient) return parts;

    // Backward: decoder, then z, then the latent head and the classifier
    // into the trunk.
    gradients_.setZero();
    Scalar* grads = gradients_.data();
    decoder_input_delta_.resize(Z + K, columns);
    MatrixRef<Scalar> input_delta(decoder_input_delta_);
    decoder_.backward(values, grads, decoder_input_, output_gradient_, decoder_ws_, &input_delta);
    z_delta_.setZero(Z, z_columns);
    for (Index c = 0; c < columns; ++c)
      z_delta_.col(z_column(c)) += decoder_input_delta_.col(c).head(Z);
    latent_ws_.head_delta.setZero();
    auto mu_delta = Enc::mu_delta(latent_ws_);
    auto logvar_delta = Enc::logvar_delta(latent_ws_);
    reparameterize_backward<Scalar>(Enc::logvar(latent_ws_), column_eps_, z_delta_, mu_delta,
                                    logvar_delta);
    gaussian_kl_backward<Scalar>(Enc::mu(latent_ws_), Enc::logvar(latent_ws_), kl_scale_, mu_delta,
                                 logvar_delta);
    head_input_delta_.resize(latent_head_.inputs(), z_columns);
    MatrixRef<Scalar> head_input_delta(head_input_delta_);
    latent_head_.backward(values, head_input_, latent_ws_,
                          {&head_input_delta, GradientWrite::Overwrite});
    latent_head_.add_parameter_gradients(head_input_, latent_ws_, grads);
    // The latent head's and the classifier's input gradients meet at the
    // trunk's output before the trunk's backward pass.
    if (per_class_z) {
      hidden_delta_.setZero(H, n);
      for (Index zc = 0; zc < z_columns; ++zc)
        hidden_delta_.col(z_sample(zc)) += head_input_delta_.col(zc).head(H);
    } else {
      hidden_delta_ = head_input_delta_;
    }
    MatrixRef<Scalar> hidden_delta(hidden_delta_);
    MatrixRef<Scalar> logits_delta(logits_delta_);
    classifier_.backward(values, grads, h, logits_delta, classifier_ws_, &hidden_delta, true);
    trunk_.backward(values, grads, x, hidden_delta_, trunk_ws_);
    return parts;
  }

  // sum_j CE(targets_j, q(y|x_j)); its gradient, scaled by `scale`, goes
  // into `grads` (as `mode` says) and, if given, into input_gradient.
  double classifier_cross_entropy(const ConstMatrixRef<Scalar>& x,
                                  const ConstMatrixRef<Scalar>& targets, Scalar scale,
                                  Scalar* grads, ParameterGradients mode,
                                  MatrixRef<Scalar>* input_gradient,
                                  typename MlpT<Scalar>::Workspace& trunk_ws) const {
    detail::check_rows("input x", x.rows(), inputs());
    if (x.cols() <= 0) throw ShapeError("input x: expected at least one column, got 0");
    detail::check_shape("classifier targets", targets.rows(), targets.cols(), classes(), x.cols());
    categorical_.validate_target(targets, std::nullopt, classes());
    const detail::FlushDenormals flush;  // as in run()
    const Scalar* values = parameters_.data();
    const Matrix<Scalar>& h = trunk_.forward(values, x, trunk_ws);
    typename MlpT<Scalar>::Workspace classifier_ws;
    const Matrix<Scalar>& logits = classifier_.forward(values, h, classifier_ws);
    Matrix<Scalar> delta(classes(), x.cols());
    RowVector<Scalar> nll(x.cols());
    MatrixRef<Scalar> logits_delta(delta);
    categorical_.evaluate(nullptr, nullptr, logits, targets,
                          RowVector<Scalar>::Constant(x.cols(), scale), nll, &logits_delta);
    Matrix<Scalar> hidden_delta(h.rows(), x.cols());
    MatrixRef<Scalar> hidden_delta_ref(hidden_delta);
    classifier_.backward(values, grads, h, logits_delta, classifier_ws, &hidden_delta_ref, false,
                         mode);
    trunk_.backward(values, grads, x, hidden_delta, trunk_ws, input_gradient, false, mode);
    return nll.template cast<double>().sum();
  }

  LabelConditionedSpec spec_;
  ParameterLayout layout_;
  MlpT<Scalar> trunk_;
  EncoderT<Scalar> latent_head_;  // no trunk of its own: the Gaussian head with its logvar clamp
  MlpT<Scalar> classifier_;
  MlpT<Scalar> decoder_;
  CategoricalT<Scalar> categorical_;
  Vector<Scalar> parameters_;
  Vector<Scalar> gradients_;
  // Per-batch buffers, reused from step to step.
  typename EncoderT<Scalar>::Workspace latent_ws_;
  typename MlpT<Scalar>::Workspace trunk_ws_, decoder_ws_, classifier_ws_, consistency_ws_;
  Matrix<Scalar> eps_, q_, logits_, logits_delta_, z_, z_delta_, column_eps_;
  Matrix<Scalar> head_input_, head_input_delta_, hidden_delta_;
  Matrix<Scalar> decoder_input_, decoder_input_delta_, targets_, output_gradient_;
  RowVector<Scalar> kl_, kl_scale_, weights_, nll_;
  std::vector<Index> column_sample_, column_class_;
  std::vector<double> class_terms_;  // g_k of one unlabelled sample
};

using LabelConditionedVAE = LabelConditionedVAET<float>;

}  // namespace scvae
