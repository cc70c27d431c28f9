#pragma once
// M2's composition: its spec, the trunk, q(y|x), q(z|x[,y]) and p(x|z,y) as
// module networks on one flat parameter buffer, and inference with them
// (class probabilities, the evidence-weighted prediction, encoding and
// decoding), including the model contract's inference entries
// (model/contract.hpp): two tasks, "image" and "label", predict_classes,
// reconstruct, decode_prior and importance_log_weights for evaluate_iwae.
// model/label_conditioned_consistency.hpp adds the classifier's consistency
// term and virtual adversarial inputs, label_conditioned_chunk.hpp the loss
// of one chunk, label_conditioned_vae.hpp the training loss on the executor.

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "scvae/core/check.hpp"
#include "scvae/core/error.hpp"
#include "scvae/core/flush_denormals.hpp"
#include "scvae/core/parameters.hpp"
#include "scvae/core/random.hpp"
#include "scvae/model/encoder.hpp"
#include "scvae/model/label_conditioned_networks.hpp"
#include "scvae/model/label_conditioned_spec.hpp"
#include "scvae/model/network.hpp"
#include "scvae/model/spec.hpp"
#include "scvae/model/task_batch.hpp"
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
        trunk_(make_label_conditioned_trunk<Scalar>(spec_), layout_),
        latent_head_(head_inputs(), {}, spec_.latent, spec_.activation, layout_),
        classifier_(
            make_mlp<Scalar>(trunk_.outputs(), concat(spec_.classifier_hidden, {spec_.classes}),
                             spec_.activation, Activation::Identity),
            layout_),
        decoder_(make_label_conditioned_decoder<Scalar>(spec_), layout_),
        categorical_(spec_.classes) {
    make_tasks();
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
        gradients_(other.gradients_),
        tasks_{other.tasks_[0], other.tasks_[1]} {}
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

  /// The model contract's tasks: 0 "image" (target x, Bernoulli), 1 "label"
  /// (class indices with a mask, categorical; its weight is label_weight).
  Index task_count() const { return 2; }
  const TaskSpec& task(Index t) const {
    check_task(t);
    return tasks_[t];
  }
  /// Index of the task called `name`; ArgumentError if there is none.
  Index task_index(const std::string& name) const {
    for (Index t = 0; t < task_count(); ++t)
      if (tasks_[t].name == name) return t;
    throw ArgumentError("task name: no task called '" + name + "' in " + architecture());
  }

  /// Changes gamma, the weight of -H(q(y|x)) of an unlabelled sample: 1 makes
  /// the loss of an unlabelled sample M2's bound on -log p(x) up to the
  /// constant log(classes). The architecture is unchanged.
  void set_entropy_weight(double gamma) {
    detail::check_finite_nonnegative("label-conditioned VAE entropy weight", gamma);
    spec_.entropy_weight = gamma;
  }

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
    const auto& logits = classifier_.forward_view(
        parameters_.data(), trunk_.forward_view(parameters_.data(), x, trunk_ws), classifier_ws);
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
    const auto& h = trunk_.forward_view(values, x, trunk_ws);
    // The logits are log q(y|x) up to a per-column constant, which the
    // softmax at the end ignores.
    Matrix<Scalar> score = classifier_.forward_view(values, h, classifier_ws);
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
      const auto& pixel_logits = decoder_.forward_view(values, decoder_input, decoder_ws);
      BernoulliT<Scalar>().evaluate(nullptr, nullptr, pixel_logits, x, unit, nll, nullptr);
      score.row(k) -= nll + kl;
    }
    probabilities.resize(K, n);
    categorical_.mean(score, probabilities);
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
    const auto& h = trunk_.forward_view(parameters_.data(), x, trunk_ws);
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
    const auto& logits = decoder_.forward_view(parameters_.data(), input, ws);
    probabilities.resize(logits.rows(), logits.cols());
    BernoulliT<Scalar>().mean(logits, probabilities);
  }

  // ------------------------------------------------ the model contract's inference

  /// Class probabilities of task 1 ("label"), classes x n: the
  /// evidence-weighted ones, M2's prediction. evaluate_accuracy reads them.
  void predict_classes(Index t, const ConstMatrixRef<Scalar>& x,
                       Matrix<Scalar>& probabilities) const {
    if (t != 1) throw ArgumentError(task_message(t, "has no classes to predict; task 1 has"));
    evidence_weighted_class_probabilities(x, probabilities);
  }

  /// Task 0: pixel probabilities of each image decoded from the mean of
  /// q(z|x[,y]) in its predicted class (evidence-weighted); task 1: the
  /// class probabilities. write_reconstructions draws them.
  void reconstruct(Index t, const ConstMatrixRef<Scalar>& x, Matrix<Scalar>& output) const {
    check_task(t);
    Matrix<Scalar> probabilities;
    evidence_weighted_class_probabilities(x, probabilities);
    if (t == 1) {
      output = probabilities;
      return;
    }
    RowVector<Scalar> labels(x.cols());
    for (Index j = 0; j < x.cols(); ++j) {
      Index best = 0;
      probabilities.col(j).maxCoeff(&best);
      labels(j) = static_cast<Scalar>(best);
    }
    Matrix<Scalar> mu, logvar;
    encode(x, labels, mu, logvar);
    decode(mu, labels, output);
  }

  /// Task 0 decoded from codes z (latent x n), column j in class j mod
  /// classes: grids with `classes` columns show one class per column.
  /// write_prior_samples draws them. The label does not depend on z.
  void decode_prior(Index t, const ConstMatrixRef<Scalar>& z, Matrix<Scalar>& output) const {
    if (t != 0) throw ArgumentError(task_message(t, "is not decoded from z in M2; task 0 is"));
    RowVector<Scalar> labels(z.cols());
    for (Index j = 0; j < z.cols(); ++j) labels(j) = static_cast<Scalar>(j % classes());
    decode(z, labels, output);
  }

  /// log w_j of one importance sample per column for evaluate_iwae, with
  /// the noise eps (latent x n) shared by every class:
  ///   labelled (label given, mask 1):  log p(y) p(x|z_y,y) p(z_y) / q(z_y|x[,y])
  ///   otherwise:  log sum_y of the same,
  /// with z_y = mu_y + exp(logvar_y / 2) eps and p(y) = 1 / classes. Each is
  /// an unbiased estimate of p(x, y) or p(x), so the IWAE bound holds.
  /// `label` is task 1's batch, or null to marginalise every sample's class.
  void importance_log_weights(const ConstMatrixRef<Scalar>& x, const TaskBatch<Scalar>* label,
                              const ConstMatrixRef<Scalar>& eps,
                              RowVector<double>& log_w) const {
    detail::check_rows("input x", x.rows(), inputs());
    const Index n = x.cols(), K = classes(), Z = latent();
    detail::check_shape("noise eps", eps.rows(), eps.cols(), Z, n);
    BernoulliT<Scalar>().validate_target(x, std::nullopt, inputs());
    if (label != nullptr) {
      detail::check_shape("label target", label->target.rows(), label->target.cols(), 1, n);
      categorical_.validate_target(label->target, label->mask, K);
    }
    auto given = [&](Index j) -> Index {
      if (label == nullptr || (label->mask && (*label->mask)(j) != Scalar(1))) return -1;
      return static_cast<Index>(label->target(0, j));
    };
    const detail::FlushDenormals flush;  // as in run_chunk()
    const Scalar* values = parameters_.data();
    typename Net::Workspace trunk_ws, decoder_ws;
    typename Enc::Workspace latent_ws;
    const auto& h = trunk_.forward_view(values, x, trunk_ws);
    Matrix<Scalar> head_input = Matrix<Scalar>::Zero(latent_head_.inputs(), n);
    head_input.topRows(h.rows()) = h;
    Matrix<Scalar> decoder_input = Matrix<Scalar>::Zero(Z + K, n);
    Matrix<Scalar> z(Z, n);
    RowVector<Scalar> nll(n);
    RowVector<double> log_ratio(n), max_term(n), sum_exp(n);
    const RowVector<Scalar> unit = RowVector<Scalar>::Ones(n);
    max_term.setConstant(-std::numeric_limits<double>::infinity());
    sum_exp.setZero();
    const double log_prior_y = -std::log(static_cast<double>(K));
    for (Index k = 0; k < K; ++k) {
      if (spec_.latent_reads_label || k == 0) {
        if (spec_.latent_reads_label) {
          head_input.bottomRows(K).setZero();
          head_input.row(h.rows() + k).setOnes();
        }
        latent_head_.forward(values, head_input, latent_ws);
        const auto logvar = Enc::logvar(latent_ws);
        reparameterize<Scalar>(Enc::mu(latent_ws), logvar, eps, z);
        // log N(z; 0, I) - log N(z; mu, diag exp(logvar)), as in evaluate_iwae.
        log_ratio = 0.5 * (eps.template cast<double>().array().square() -
                           z.template cast<double>().array().square() +
                           logvar.template cast<double>().array())
                              .matrix()
                              .colwise()
                              .sum();
        decoder_input.topRows(Z) = z;
      }
      decoder_input.bottomRows(K).setZero();
      decoder_input.row(Z + k).setOnes();
      const auto& pixel_logits = decoder_.forward_view(values, decoder_input, decoder_ws);
      BernoulliT<Scalar>().evaluate(nullptr, nullptr, pixel_logits, x, unit, nll, nullptr);
      for (Index j = 0; j < n; ++j) {
        const Index y = given(j);
        if (y >= 0 && y != k) continue;
        const double term = log_prior_y - static_cast<double>(nll(j)) + log_ratio(j);
        if (term > max_term(j)) {
          sum_exp(j) = sum_exp(j) * std::exp(max_term(j) - term) + 1.0;
          max_term(j) = term;
        } else {
          sum_exp(j) += std::exp(term - max_term(j));
        }
      }
    }
    log_w.resize(n);
    for (Index j = 0; j < n; ++j) log_w(j) = max_term(j) + std::log(sum_exp(j));
  }

 protected:
  using Enc = EncoderT<Scalar>;
  using Net = PlacedNetworkT<Scalar>;

  void check_task(Index t) const {
    if (t < 0 || t >= task_count())
      throw ArgumentError("task index: expected 0.." + std::to_string(task_count() - 1) + ", got " +
                          std::to_string(t));
  }
  std::string task_message(Index t, const std::string& what) const {
    check_task(t);
    return "task " + std::to_string(t) + " ('" + tasks_[t].name + "') " + what;
  }

  void make_tasks() {
    TaskSpec& image = tasks_[0];
    image.name = "image";
    image.outputs = spec_.inputs;
    image.hidden = spec_.decoder_hidden;
    image.network = spec_.decoder_network;
    image.activation = spec_.activation;
    TaskSpec& label = tasks_[1];
    label.name = "label";
    label.outputs = spec_.classes;
    label.hidden = spec_.classifier_hidden;
    label.likelihood = LikelihoodSpec::categorical(spec_.classes);
    label.weight = spec_.label_weight;
  }

  static std::vector<Index> concat(std::vector<Index> a, const std::vector<Index>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }

  // The latent head reads the trunk's features, and the one-hot class too
  // with latent_reads_label.
  Index head_inputs() const {
    return trunk_.outputs() + (spec_.latent_reads_label ? spec_.classes : 0);
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
  TaskSpec tasks_[2];  // the model contract's view: "image" and "label"
};

}  // namespace scvae
