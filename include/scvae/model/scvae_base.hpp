#pragma once
// The SC-VAE's composition: its spec, an encoder and task decoders built from
// modules on one flat parameter buffer, and inference with them (encode,
// decode, predict, per-task NLL and input gradients). SCVAEChunkT
// (model/scvae_chunk.hpp) adds one chunk's loss and backward pass, SCVAET
// (model/scvae.hpp) the batch's on the executor.

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "scvae/core/random.hpp"
#include "scvae/model/class_prior.hpp"
#include "scvae/model/decoder.hpp"
#include "scvae/model/encoder.hpp"
#include "scvae/model/gradnorm.hpp"
#include "scvae/model/spec_networks.hpp"
#include "scvae/model/task_balance.hpp"
#include "scvae/model/task_batch.hpp"

namespace scvae {

template <typename Scalar_>
class SCVAEBaseT {
 public:
  using Scalar = Scalar_;

  /// Builds the encoder and decoders and initialises the parameters from `seed`.
  explicit SCVAEBaseT(const ModelSpec& spec, std::uint64_t seed = 1)
      : spec_((spec.validate(), spec)),
        encoder_(make_encoder(spec_, layout_)),
        decoders_(make_decoders(spec_, layout_)) {
    // After every layer, so that a balanced model's other parameters have
    // the offsets and initial values of the same model without balance.
    if (spec_.balance == TaskBalance::Uncertainty) balance_offset_ = layout_.reserve(task_count());
    if (spec_.balance == TaskBalance::GradNorm) {
      balance_offset_ = layout_.reserve(2 * task_count());  // a_t, then L_t(0)
      gradnorm_status_.resize(spec_.tasks.size());
    }
    // s_t = a_t = 0: every learned weight starts at 1; L_t(0) = 0: not measured.
    parameters_.setZero(layout_.total());
    gradients_.setZero(layout_.total());
    Rng rng(seed);
    encoder_.initialize(parameters_.data(), rng, spec_.initialization);
    for (const auto& decoder : decoders_)
      decoder.initialize(parameters_.data(), rng, spec_.initialization);
  }

  /// The precision of the encoder's and decoders' products
  /// (core/precision.hpp): Bf16 rounds their operands to bf16 and sums in
  /// float; the parameters, likelihoods, KL and loss stay in Scalar, so a
  /// checkpoint is the same under either. Bf16 needs a float model.
  void set_precision(Precision precision) {
    encoder_.set_precision(precision);
    for (auto& decoder : decoders_) decoder.set_precision(precision);
    precision_ = precision;
  }
  Precision precision() const { return precision_; }

  const ModelSpec& spec() const { return spec_; }
  std::string architecture() const { return spec_.architecture(); }
  Index inputs() const { return spec_.inputs; }
  Index latent() const { return spec_.latent; }
  Index task_count() const { return static_cast<Index>(spec_.tasks.size()); }
  const TaskSpec& task(Index t) const { return spec_.tasks.at(static_cast<std::size_t>(t)); }
  const DecoderT<Scalar>& decoder(Index t) const {
    return decoders_.at(static_cast<std::size_t>(t));
  }
  const EncoderT<Scalar>& encoder() const { return encoder_; }

  /// Index of the task called `name`; ArgumentError if there is none.
  Index task_index(const std::string& name) const {
    for (Index t = 0; t < task_count(); ++t)
      if (task(t).name == name) return t;
    throw ArgumentError("task name: no task called '" + name + "' in " + architecture());
  }

  /// Changes w_t (e.g. for a weight schedule); the architecture is unchanged.
  void set_task_weight(Index t, double weight) {
    if (!(weight >= 0.0))
      throw ArgumentError("task weight: expected a value >= 0, got " + std::to_string(weight));
    spec_.tasks.at(static_cast<std::size_t>(t)).weight = weight;
  }

  /// The learned weight of each task: exp(-s_t) with ModelSpec::balance
  /// Uncertainty, W_t with GradNorm (model/gradnorm.hpp; the hand-set w_t
  /// multiplies either), or 1 for every task without balance.
  std::vector<double> task_balance_weights() const {
    std::vector<double> weights(spec_.tasks.size(), 1.0);
    for (Index t = 0; t < task_count(); ++t) {
      const double learned = task_log_variance(t);
      if (spec_.balance == TaskBalance::Uncertainty)
        weights[static_cast<std::size_t>(t)] = std::exp(-learned);
      if (spec_.balance == TaskBalance::GradNorm)
        weights[static_cast<std::size_t>(t)] = detail::gradnorm_weight(t, learned);
    }
    return weights;
  }
  /// Where the log-variances s_t (Uncertainty) or the a_t (GradNorm, then
  /// the L_t(0)) start in parameters() (one per task, in task order), or -1
  /// without balance.
  Index balance_offset() const { return balance_offset_; }
  /// What the last training step's GradNorm measured (empty vectors unless
  /// ModelSpec::balance is GradNorm).
  const GradNormStatus& gradnorm_status() const { return gradnorm_status_; }

  /// All parameters, one flat vector; layers are views into it.
  Vector<Scalar>& parameters() { return parameters_; }
  const Vector<Scalar>& parameters() const { return parameters_; }
  /// The gradient the last loss_and_gradient() call wrote, same layout.
  Vector<Scalar>& gradients() { return gradients_; }
  const Vector<Scalar>& gradients() const { return gradients_; }
  Index parameter_count() const { return parameters_.size(); }

  /// mu and logvar of q(z|x), latent x n each.
  void encode(const ConstMatrixRef<Scalar>& x, Matrix<Scalar>& mu, Matrix<Scalar>& logvar) const {
    typename EncoderT<Scalar>::Workspace ws;
    encoder_.forward(parameters_.data(), x, ws);
    mu = EncoderT<Scalar>::mu(ws);
    logvar = EncoderT<Scalar>::logvar(ws);
  }

  /// Raw decoder outputs (logits or means) of task t for latent codes z.
  void decode(Index t, const ConstMatrixRef<Scalar>& z, Matrix<Scalar>& output) const {
    check_task(t);
    detail::check_rows("decode z", z.rows(), latent());
    typename DecoderT<Scalar>::Workspace ws;
    output = decoder(t).forward_view(parameters_.data(), z, ws);
  }

  /// The expected target of task t given z: pixel probabilities, Gaussian
  /// means or class probabilities.
  void predict(Index t, const ConstMatrixRef<Scalar>& z, Matrix<Scalar>& mean) const {
    Matrix<Scalar> output;
    decode(t, z, output);
    mean.resize(output.rows(), output.cols());
    decoder(t).likelihood().mean(output, mean);
  }

  /// The gradient with respect to x of sum_i -log p_t(target_i | z_i = mu(x_i))
  /// (task t at the posterior mean; no mask, weight or KL), written to dx:
  /// how each input value moves the task's loss, e.g. for saliency maps or
  /// adversarial perturbations of the input.
  void task_input_gradient(Index t, const ConstMatrixRef<Scalar>& x,
                           const ConstMatrixRef<Scalar>& target, Matrix<Scalar>& dx) const {
    check_task(t);
    detail::check_rows("input x", x.rows(), inputs());
    decoder(t).likelihood().validate_target(target, std::nullopt, decoder(t).outputs());
    detail::check_shape("task target", target.rows(), target.cols(), target.rows(), x.cols());
    using Enc = EncoderT<Scalar>;
    const Scalar* values = parameters_.data();
    typename Enc::Workspace encoder_ws;
    encoder_.forward(values, x, encoder_ws);
    const Matrix<Scalar> mu = Enc::mu(encoder_ws);
    typename DecoderT<Scalar>::Workspace decoder_ws;
    decoder(t).forward_view(values, mu, decoder_ws);
    decoder_ws.scale.setOnes();
    // Only a likelihood's own parameters (a learned variance) get a gradient
    // here, at their offset in the flat layout.
    Vector<Scalar> unused = Vector<Scalar>::Zero(parameter_count());
    MatrixRef<Scalar> mu_gradient(Enc::mu_delta(encoder_ws));
    decoder(t).nll_backward(values, unused.data(), mu, target, decoder_ws,
                            {&mu_gradient, GradientWrite::Overwrite});
    Enc::logvar_delta(encoder_ws).setZero();
    dx.resize(x.rows(), x.cols());
    MatrixRef<Scalar> input_gradient(dx);
    encoder_.backward(values, x, encoder_ws, {&input_gradient, GradientWrite::Overwrite});
  }

  /// Per-sample -log p_t(target | z) of task t (no mask, no weight).
  void task_nll(Index t, const ConstMatrixRef<Scalar>& z, const ConstMatrixRef<Scalar>& target,
                RowVector<Scalar>& nll) const {
    check_task(t);
    detail::check_rows("task z", z.rows(), latent());
    decoder(t).likelihood().validate_target(target, std::nullopt, decoder(t).outputs());
    detail::check_shape("task target", target.rows(), target.cols(), target.rows(), z.cols());
    typename DecoderT<Scalar>::Workspace ws;
    decoder(t).forward_view(parameters_.data(), z, ws);
    ws.scale.setOnes();  // every column is read: a zero would mean "masked"
    decoder(t).evaluate_nll(parameters_.data(), target, ws);
    nll = ws.nll;
  }

  /// Whether ModelSpec::class_prior makes the prior a mixture over a task's
  /// classes (model/class_prior.hpp), and which task.
  bool has_class_prior() const { return spec_.class_prior_task() >= 0; }
  Index class_prior_task() const { return spec_.class_prior_task(); }
  /// The prior's centres c_k, latent x K: the class_prior task's read-out
  /// parameters. ArgumentError without a class prior.
  ConstMatrixMap<Scalar> class_centres() const {
    const Index t = class_prior_task();
    if (t < 0) throw ArgumentError("class centres: this model's prior is N(0, I), without classes");
    return ConstMatrixMap<Scalar>(parameters_.data() + decoder(t).offset(), latent(),
                                  task(t).outputs);
  }

  /// log p(z) + latent/2 log(2 pi) of every column of z: -||z||^2 / 2, or
  /// with a class prior log(1/K sum_k exp(-||z - c_k||^2 / 2)).
  void log_prior(const ConstMatrixRef<Scalar>& z, Eigen::Ref<RowVector<double>> out) const {
    detail::check_rows("prior z", z.rows(), latent());
    detail::check_shape("prior log-density", out.rows(), out.cols(), 1, z.cols());
    if (!has_class_prior()) {
      for (Index j = 0; j < z.cols(); ++j)
        out(j) = -0.5 * z.col(j).template cast<double>().squaredNorm();
      return;
    }
    const auto centres = class_centres();
    const double log_classes = std::log(static_cast<double>(centres.cols()));
    Vector<double> distances(centres.cols());
    for (Index j = 0; j < z.cols(); ++j) {
      for (Index k = 0; k < centres.cols(); ++k)
        distances(k) = 0.5 * (z.col(j) - centres.col(k)).template cast<double>().squaredNorm();
      out(j) = -detail::soft_assign_to_centres(distances) - log_classes;
    }
  }

  /// Codes drawn from the prior: N(0, I), or with a class prior column j
  /// from class j mod K (N(c_k, I)).
  void sample_prior(Rng& rng, Matrix<Scalar>& z) const {
    detail::check_rows("prior z", z.rows(), latent());
    rng.fill_normal(z);
    if (!has_class_prior()) return;
    const auto centres = class_centres();
    for (Index j = 0; j < z.cols(); ++j) z.col(j) += centres.col(j % centres.cols());
  }

 protected:
  // The shorthand builds the 0.1.0 networks in the 0.1.0 order (encoder,
  // then each decoder and its likelihood), so layouts and seeds carry over.
  static EncoderT<Scalar> make_encoder(const ModelSpec& spec, ParameterLayout& layout) {
    return EncoderT<Scalar>(make_encoder_network<Scalar>(spec), layout);
  }
  static std::vector<DecoderT<Scalar>> make_decoders(const ModelSpec& spec,
                                                     ParameterLayout& layout) {
    std::vector<DecoderT<Scalar>> decoders;
    for (Index t = 0; t < static_cast<Index>(spec.tasks.size()); ++t)
      decoders.emplace_back(make_decoder_network<Scalar>(spec, t),
                            spec.tasks[static_cast<std::size_t>(t)].likelihood, layout);
    return decoders;
  }


  /// Throws ShapeError or ArgumentError, naming the task, for a batch the
  /// training loss cannot read.
  void validate(const ConstMatrixRef<Scalar>& x, const std::vector<TaskBatch<Scalar>>& targets,
                const ConstMatrixRef<Scalar>& eps, double beta) const {
    detail::check_rows("input x", x.rows(), inputs());
    if (x.cols() <= 0) throw ShapeError("input x: expected at least one column, got 0");
    detail::check_shape("noise eps", eps.rows(), eps.cols(), latent(), x.cols());
    if (static_cast<Index>(targets.size()) != task_count())
      throw ShapeError("targets: expected one per task (" + std::to_string(task_count()) +
                       "), got " + std::to_string(targets.size()));
    if (!(beta >= 0.0) || beta == HUGE_VAL)
      throw ArgumentError("beta: expected a finite value >= 0, got " + std::to_string(beta));
    for (Index t = 0; t < task_count(); ++t) {
      const TaskBatch<Scalar>& batch = targets[static_cast<std::size_t>(t)];
      // Built only for a message: a long task name would allocate every step.
      auto name = [&] { return "task '" + task(t).name + "'"; };
      if (batch.target.cols() != x.cols())
        throw ShapeError(name() + " target: expected " + std::to_string(x.cols()) +
                         " columns (one per sample), got " + std::to_string(batch.target.cols()));
      if (batch.mask) {
        if (batch.mask->cols() != x.cols())
          throw ShapeError(name() + " mask: expected length " + std::to_string(x.cols()) +
                           ", got " + std::to_string(batch.mask->cols()));
        const auto m = batch.mask->array();
        if (!((m == Scalar(0)) || (m == Scalar(1))).all())
          throw ArgumentError(name() + " mask: expected only 0 and 1");
      }
      decoder(t).likelihood().validate_target(batch.target, batch.mask, decoder(t).outputs());
    }
  }

  /// s_t of task t (Uncertainty), a_t (GradNorm), or 0 without balance.
  double task_log_variance(Index t) const {
    if (balance_offset_ < 0) return 0.0;
    return static_cast<double>(parameters_(balance_offset_ + t));
  }
  /// The factor of each of task t's per-sample NLLs in the loss.
  double task_loss_weight(Index t) const {
    const double weight = task(t).weight;
    switch (spec_.balance) {
      case TaskBalance::Uncertainty:
        return detail::balanced_task_weight(weight, task_log_variance(t));
      case TaskBalance::GradNorm:
        return weight * detail::gradnorm_weight(t, task_log_variance(t));
      case TaskBalance::None: break;
    }
    return weight;
  }
  /// Task t's term of the summed loss, from its NLL sum and target count.
  double task_loss_term(Index t, double nll_sum, Index count) const {
    if (spec_.balance == TaskBalance::Uncertainty)
      return detail::balanced_task_term(task(t).weight, task_log_variance(t), nll_sum, count);
    return task_loss_weight(t) * nll_sum;
  }

  void check_task(Index t) const {
    if (t < 0 || t >= task_count())
      throw ArgumentError("task index: expected 0.." + std::to_string(task_count() - 1) + ", got " +
                          std::to_string(t));
  }


  ModelSpec spec_;
  ParameterLayout layout_;
  EncoderT<Scalar> encoder_;
  Precision precision_ = Precision::Fp32;
  std::vector<DecoderT<Scalar>> decoders_;
  Index balance_offset_ = -1;  ///< balance_offset()
  GradNormStatus gradnorm_status_;
  Vector<Scalar> parameters_;
  Vector<Scalar> gradients_;
};

}  // namespace scvae
