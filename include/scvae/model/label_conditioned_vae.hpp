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
#include <string>
#include <vector>

#include "scvae/core/check.hpp"
#include "scvae/core/error.hpp"
#include "scvae/core/flush_denormals.hpp"
#include "scvae/core/parameters.hpp"
#include "scvae/core/random.hpp"
#include "scvae/exec/executor.hpp"
#include "scvae/model/label_conditioned_base.hpp"
#include "scvae/model/loss_parts.hpp"
#include "scvae/model/task_batch.hpp"
#include "scvae/prob/bernoulli.hpp"
#include "scvae/prob/categorical.hpp"
#include "scvae/prob/gaussian.hpp"

namespace scvae {

template <typename Scalar_>
class LabelConditionedVAET : public LabelConditionedBaseT<Scalar_> {
 public:
  using Scalar = Scalar_;
  using Base = LabelConditionedBaseT<Scalar>;
  using Base::classes;
  using Base::inputs;
  using Base::latent;

  /// Builds the model and initialises its parameters from `seed`.
  explicit LabelConditionedVAET(const LabelConditionedSpec& spec, std::uint64_t seed = 1)
      : Base(spec, seed) {
    plan_parts();
  }

  LabelConditionedVAET(const LabelConditionedVAET& other)
      : Base(other), executor_(other.executor_), part_sources_(other.part_sources_) {}
  LabelConditionedVAET& operator=(const LabelConditionedVAET& other) {
    if (this != &other) {
      LabelConditionedVAET copy(other);
      *this = std::move(copy);
    }
    return *this;
  }
  LabelConditionedVAET(LabelConditionedVAET&&) noexcept = default;
  LabelConditionedVAET& operator=(LabelConditionedVAET&&) noexcept = default;

  /// Splits each batch across `threads` (exec/executor.hpp): a seed and a
  /// thread count fix every bit.
  void set_threads(int threads) { executor_.set_threads(threads); }
  int threads() const { return executor_.threads(); }
  ThreadPool* thread_pool() { return executor_.thread_pool(); }
  /// Whether every value of gradients() was finite after the last
  /// loss_and_gradient().
  bool gradients_finite() const { return gradients_finite_; }

  /// Loss and gradient with the noise eps (latent x n) given. `labels` is a
  /// 1 x n row of class indices, read only where `mask` (1 x n, 0/1) is 1.
  LabelConditionedLoss loss_and_gradient(const ConstMatrixRef<Scalar>& x,
                                         const ConstRowVectorRef<Scalar>& labels,
                                         const ConstRowVectorRef<Scalar>& mask,
                                         const ConstMatrixRef<Scalar>& eps, double beta = 1.0) {
    return run(x, labels, mask, eps, beta, true).loss();
  }

  /// Loss and gradient, drawing eps from `rng`.
  LabelConditionedLoss loss_and_gradient(const ConstMatrixRef<Scalar>& x,
                                         const ConstRowVectorRef<Scalar>& labels,
                                         const ConstRowVectorRef<Scalar>& mask, Rng& rng,
                                         double beta = 1.0) {
    eps_.resize(latent(), x.cols());
    rng.fill_normal(eps_);
    return run(x, labels, mask, eps_, beta, true).loss();
  }

  /// The loss alone; gradients() is left as it was.
  LabelConditionedLoss loss(const ConstMatrixRef<Scalar>& x,
                            const ConstRowVectorRef<Scalar>& labels,
                            const ConstRowVectorRef<Scalar>& mask,
                            const ConstMatrixRef<Scalar>& eps, double beta = 1.0) {
    return run(x, labels, mask, eps, beta, false).loss();
  }

  /// The model contract that the Trainer and evaluate_loss use: two tasks,
  /// "image" (target x, the reconstruction term) and "label" (class indices
  /// with a mask, -log q(y|x) of the labelled samples). The image target must
  /// be x itself; M2 reconstructs its input.
  Index task_count() const { return 2; }
  LossParts loss_and_gradient(const ConstMatrixRef<Scalar>& x,
                              const std::vector<TaskBatch<Scalar>>& targets, Rng& rng,
                              double beta = 1.0) {
    eps_.resize(latent(), x.cols());
    rng.fill_normal(eps_);
    return loss_parts(x, targets, eps_, beta, true);
  }
  LossParts loss_and_gradient(const ConstMatrixRef<Scalar>& x,
                              const std::vector<TaskBatch<Scalar>>& targets,
                              const ConstMatrixRef<Scalar>& eps, double beta = 1.0) {
    return loss_parts(x, targets, eps, beta, true);
  }
  LossParts loss(const ConstMatrixRef<Scalar>& x, const std::vector<TaskBatch<Scalar>>& targets,
                 const ConstMatrixRef<Scalar>& eps, double beta = 1.0) {
    return loss_parts(x, targets, eps, beta, false);
  }

 private:
  using typename Base::Enc;
  using typename Base::Net;
  using Base::categorical_;
  using Base::classifier_;
  using Base::decoder_;
  using Base::gradients_;
  using Base::latent_head_;
  using Base::parameters_;
  using Base::spec_;
  using Base::trunk_;

  /// Sums of a batch's (or a chunk's) loss.
  struct Sums {
    double total = 0.0;  ///< Without beta * KL when the KL is per sample.
    double reconstruction = 0.0;
    double label_nll = 0.0;
    double kl = 0.0;
    Index labelled = 0;
    Index samples = 0;

    LabelConditionedLoss loss() const {
      LabelConditionedLoss parts;
      const double n = static_cast<double>(samples);
      parts.samples = samples;
      parts.labelled = labelled;
      parts.total = total / n;
      parts.reconstruction = reconstruction / n;
      parts.kl = kl / n;
      parts.label_nll = labelled > 0 ? label_nll / static_cast<double>(labelled) : 0.0;
      return parts;
    }
  };

  /// Every buffer one chunk of a batch needs, reused from step to step.
  struct ChunkWorkspace {
    Index begin = 0;
    Index end = 0;
    typename Net::Workspace trunk, classifier, decoder;
    typename Enc::Workspace latent;
    Matrix<Scalar> q, head_input, column_eps, z, z_delta, decoder_input, decoder_input_delta;
    Matrix<Scalar> targets, head_input_delta, hidden_delta;
    RowVector<Scalar> kl, weights, nll, kl_scale;
    std::vector<Index> column_sample, column_class;
    std::vector<double> class_terms;
    Sums sums;
  };

  /// Which network a part of the parameter gradient belongs to.
  struct PartSource {
    enum Network { Trunk, LatentHead, Classifier, Decoder } network = Trunk;
    Index part = 0;
  };

  void plan_parts() {
    std::vector<GradientPart> parts;
    part_sources_.clear();
    auto add = [&](typename PartSource::Network network, Index count, auto&& part) {
      for (Index p = 0; p < count; ++p) {
        parts.push_back(part(p));
        part_sources_.push_back({network, p});
      }
    };
    add(PartSource::Trunk, trunk_.part_count(), [&](Index p) { return trunk_.part(p); });
    add(PartSource::LatentHead, latent_head_.part_count(),
        [&](Index p) { return latent_head_.part(p); });
    add(PartSource::Classifier, classifier_.part_count(),
        [&](Index p) { return classifier_.part(p); });
    add(PartSource::Decoder, decoder_.part_count(), [&](Index p) { return decoder_.part(p); });
    executor_.set_parts(std::move(parts));
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

  LossParts loss_parts(const ConstMatrixRef<Scalar>& x,
                       const std::vector<TaskBatch<Scalar>>& targets,
                       const ConstMatrixRef<Scalar>& eps, double beta, bool with_gradient) {
    if (targets.size() != 2)
      throw ShapeError("targets: expected two (image, label) for M2, got " +
                       std::to_string(targets.size()));
    detail::check_shape("image target", targets[0].target.rows(), targets[0].target.cols(),
                        x.rows(), x.cols());
    if (targets[0].target.data() != x.data() && targets[0].target != x)
      throw ArgumentError("image target: M2 reconstructs its input, expected the target to be x");
    const TaskBatch<Scalar>& label = targets[1];
    detail::check_shape("label target", label.target.rows(), label.target.cols(), 1, x.cols());
    if (!label.mask) all_labelled_.setOnes(x.cols());
    const ConstRowVectorRef<Scalar> mask =
        label.mask ? *label.mask : ConstRowVectorRef<Scalar>(all_labelled_);
    const Sums sums = run(x, label.target.row(0), mask, eps, beta, with_gradient);
    LossParts parts;
    parts.samples = sums.samples;
    parts.total_sum = sums.total;
    parts.kl_sum = sums.kl;
    parts.task_nll_sum = {sums.reconstruction, sums.label_nll};
    parts.task_count = {sums.samples, sums.labelled};
    parts.finish();
    return parts;
  }

  Sums run(const ConstMatrixRef<Scalar>& x, const ConstRowVectorRef<Scalar>& labels,
           const ConstRowVectorRef<Scalar>& mask, const ConstMatrixRef<Scalar>& eps,
           double beta, bool with_gradient) {
    validate(x, labels, mask, eps, beta);
    const Index n = x.cols();
    const int chunk_total = executor_.chunk_count(n);
    if (static_cast<int>(chunks_.size()) < chunk_total) chunks_.resize(chunk_total);
    const Scalar inv_n = Scalar(1) / static_cast<Scalar>(n);
    auto chunk = [&](int c, Index begin, Index end) {
      // A labelled image's saturated softmax sends gradients of ~1e-40 into a
      // hidden classifier layer: without this, such steps run ten times
      // slower. The flag is per thread, so each chunk sets it.
      const detail::FlushDenormals flush;
      ChunkWorkspace& ws = chunks_[static_cast<std::size_t>(c)];
      ws.begin = begin;
      ws.end = end;
      const Index m = end - begin;
      run_chunk(ws, x.middleCols(begin, m), labels.middleCols(begin, m), mask.middleCols(begin, m),
                eps.middleCols(begin, m), beta, inv_n, with_gradient);
    };
    Scalar* gradients = gradients_.data();
    auto part = [&](std::size_t j, int c, GradientWrite write) {
      const detail::FlushDenormals flush;
      ChunkWorkspace& ws = chunks_[static_cast<std::size_t>(c)];
      const PartSource& source = part_sources_[j];
      switch (source.network) {
        case PartSource::Trunk:
          trunk_.part_gradient(source.part, x.middleCols(ws.begin, ws.end - ws.begin), ws.trunk,
                               gradients, write);
          break;
        case PartSource::LatentHead:
          latent_head_.part_gradient(source.part, ws.head_input, ws.latent, gradients, write);
          break;
        case PartSource::Classifier:
          classifier_.part_gradient(source.part, ws.trunk.output, ws.classifier, gradients, write);
          break;
        case PartSource::Decoder:
          decoder_.part_gradient(source.part, ws.decoder_input, ws.decoder, gradients, write);
          break;
      }
      return true;
    };
    executor_.run(n, chunk, part, with_gradient ? &gradients_ : nullptr);
    if (with_gradient) gradients_finite_ = executor_.gradients_finite();

    Sums sums;
    sums.samples = n;
    for (int c = 0; c < chunk_total; ++c) {
      const Sums& s = chunks_[static_cast<std::size_t>(c)].sums;
      sums.total += s.total;
      sums.reconstruction += s.reconstruction;
      sums.label_nll += s.label_nll;
      sums.kl += s.kl;
      sums.labelled += s.labelled;
    }
    if (!spec_.latent_reads_label) sums.total += beta * sums.kl;
    return sums;
  }

  /// One chunk's loss sums and, with_gradient, its backward pass down to every
  /// layer's output gradient (the executor adds the parameter gradients).
  /// `inv_n` is one over the whole batch's size: the loss is a batch mean.
  void run_chunk(ChunkWorkspace& ws, const ConstMatrixRef<Scalar>& x,
                 const ConstRowVectorRef<Scalar>& labels, const ConstRowVectorRef<Scalar>& mask,
                 const ConstMatrixRef<Scalar>& eps, double beta, Scalar inv_n,
                 bool with_gradient) const {
    const Scalar* values = parameters_.data();
    const Index n = x.cols(), Z = latent(), K = classes();
    const bool per_class_z = spec_.latent_reads_label;

    // Decoder columns: one per labelled sample (its class), K per unlabelled
    // one (every class, weighted by q(y|x)).
    Index columns = 0;
    for (Index j = 0; j < n; ++j) columns += mask(j) == Scalar(1) ? 1 : K;
    ws.column_sample.resize(static_cast<std::size_t>(columns));
    ws.column_class.resize(static_cast<std::size_t>(columns));
    for (Index j = 0, c = 0; j < n; ++j) {
      const bool labelled = mask(j) == Scalar(1);
      const Index first = labelled ? static_cast<Index>(labels(j)) : 0;
      for (Index k = first; k < first + (labelled ? 1 : K); ++k, ++c) {
        ws.column_sample[static_cast<std::size_t>(c)] = j;
        ws.column_class[static_cast<std::size_t>(c)] = k;
      }
    }
    // z columns: one per sample, or with q(z|x,y) one per decoder column.
    const Index z_columns = per_class_z ? columns : n;
    auto z_column = [&](Index c) {
      return per_class_z ? c : ws.column_sample[static_cast<std::size_t>(c)];
    };
    auto z_sample = [&](Index zc) {
      return per_class_z ? ws.column_sample[static_cast<std::size_t>(zc)] : zc;
    };

    // Encoder: the trunk; q(y|x) and q(z|x[,y]) read its last layer.
    const Matrix<Scalar>& h = trunk_.forward(values, x, ws.trunk);
    const Index H = h.rows();
    const Matrix<Scalar>& logits = classifier_.forward(values, h, ws.classifier);
    ws.q.resize(K, n);
    categorical_.mean(logits, ws.q);
    ws.head_input.setZero(latent_head_.inputs(), z_columns);
    ws.column_eps.resize(Z, z_columns);
    for (Index zc = 0; zc < z_columns; ++zc) {
      ws.head_input.col(zc).head(H) = h.col(z_sample(zc));
      ws.column_eps.col(zc) = eps.col(z_sample(zc));
      if (per_class_z) ws.head_input(H + ws.column_class[static_cast<std::size_t>(zc)], zc) = 1;
    }
    latent_head_.forward(values, ws.head_input, ws.latent);
    ws.z.resize(Z, z_columns);
    reparameterize<Scalar>(Enc::mu(ws.latent), Enc::logvar(ws.latent), ws.column_eps, ws.z);
    ws.kl.resize(z_columns);
    gaussian_kl<Scalar>(Enc::mu(ws.latent), Enc::logvar(ws.latent), ws.kl);

    ws.decoder_input.setZero(Z + K, columns);
    ws.targets.resize(inputs(), columns);
    ws.weights.resize(columns);
    for (Index c = 0; c < columns; ++c) {
      const Index j = ws.column_sample[static_cast<std::size_t>(c)];
      const Index k = ws.column_class[static_cast<std::size_t>(c)];
      ws.decoder_input.col(c).head(Z) = ws.z.col(z_column(c));
      ws.decoder_input(Z + k, c) = 1;
      ws.targets.col(c) = x.col(j);
      ws.weights(c) = mask(j) == Scalar(1) ? inv_n : ws.q(k, j) * inv_n;
    }
    const Matrix<Scalar>& pixel_logits = decoder_.forward(values, ws.decoder_input, ws.decoder);
    ws.nll.resize(columns);
    MatrixRef<Scalar> output_gradient(ws.decoder.output_delta);
    BernoulliT<Scalar>().evaluate(nullptr, nullptr, pixel_logits, ws.targets, ws.weights, ws.nll,
                                  with_gradient ? &output_gradient : nullptr);

    // The loss, and d loss / d logits of q(y|x). With q(z|x,y) the KL
    // depends on the class and joins each class's term; otherwise it is
    // one per sample and added for the whole batch.
    const double alpha = spec_.label_weight, gamma = spec_.entropy_weight;
    Sums sums;
    sums.samples = n;
    Matrix<Scalar>& logits_delta = ws.classifier.output_delta;
    ws.class_terms.resize(static_cast<std::size_t>(K));
    ws.kl_scale.resize(z_columns);
    for (Index j = 0, c = 0; j < n; ++j) {
      auto q = ws.q.col(j);
      if (mask(j) == Scalar(1)) {
        const Index y = static_cast<Index>(labels(j));
        const double log_q = static_cast<double>(logits(y, j) - logits.col(j).maxCoeff()) -
                             std::log(static_cast<double>(
                                 (logits.col(j).array() - logits.col(j).maxCoeff()).exp().sum()));
        sums.total += ws.nll(c) + alpha * -log_q;
        sums.reconstruction += ws.nll(c);
        sums.label_nll += -log_q;
        ++sums.labelled;
        logits_delta.col(j) = q * static_cast<Scalar>(alpha) * inv_n;
        logits_delta(y, j) -= static_cast<Scalar>(alpha) * inv_n;
        if (per_class_z) {
          const double kl = static_cast<double>(ws.kl(c));
          sums.total += beta * kl;
          sums.kl += kl;
          ws.kl_scale(c) = static_cast<Scalar>(beta) * inv_n;
        }
        c += 1;
      } else {
        // g_k = R_k (+ beta KL_k) + gamma log q_k; d/dlogit_k sum_k q_k g_k
        // = q_k (g_k - sum q g).
        double expected = 0.0, expected_r = 0.0;
        for (Index k = 0; k < K; ++k) {
          const double log_q = std::log(std::max(static_cast<double>(q(k)), 1e-300));
          double g = static_cast<double>(ws.nll(c + k)) + gamma * log_q;
          if (per_class_z) {
            const double kl = static_cast<double>(ws.kl(c + k));
            g += beta * kl;
            sums.kl += static_cast<double>(q(k)) * kl;
            ws.kl_scale(c + k) = static_cast<Scalar>(beta) * q(k) * inv_n;
          }
          ws.class_terms[static_cast<std::size_t>(k)] = g;
          expected += static_cast<double>(q(k)) * g;
          expected_r += static_cast<double>(q(k)) * static_cast<double>(ws.nll(c + k));
        }
        for (Index k = 0; k < K; ++k)
          logits_delta(k, j) =
              static_cast<Scalar>(static_cast<double>(q(k)) *
                                  (ws.class_terms[static_cast<std::size_t>(k)] - expected)) *
              inv_n;
        sums.total += expected;
        sums.reconstruction += expected_r;
        c += K;
      }
    }
    if (!per_class_z) {
      sums.kl = ws.kl.template cast<double>().sum();
      ws.kl_scale.setConstant(n, static_cast<Scalar>(beta) * inv_n);
    }
    ws.sums = sums;
    if (!with_gradient) return;

    // Backward: decoder, then z, then the latent head and the classifier
    // into the trunk.
    ws.decoder_input_delta.resize(Z + K, columns);
    MatrixRef<Scalar> input_delta(ws.decoder_input_delta);
    decoder_.backward(values, ws.decoder_input, ws.decoder,
                      {&input_delta, GradientWrite::Overwrite});
    ws.z_delta.setZero(Z, z_columns);
    for (Index c = 0; c < columns; ++c)
      ws.z_delta.col(z_column(c)) += ws.decoder_input_delta.col(c).head(Z);
    ws.latent.output_delta.setZero();
    auto mu_delta = Enc::mu_delta(ws.latent);
    auto logvar_delta = Enc::logvar_delta(ws.latent);
    reparameterize_backward<Scalar>(Enc::logvar(ws.latent), ws.column_eps, ws.z_delta, mu_delta,
                                    logvar_delta);
    gaussian_kl_backward<Scalar>(Enc::mu(ws.latent), Enc::logvar(ws.latent), ws.kl_scale,
                                 mu_delta, logvar_delta);
    ws.head_input_delta.resize(latent_head_.inputs(), z_columns);
    MatrixRef<Scalar> head_input_delta(ws.head_input_delta);
    latent_head_.backward(values, ws.head_input, ws.latent,
                          {&head_input_delta, GradientWrite::Overwrite});
    // The latent head's and the classifier's input gradients meet at the
    // trunk's output before the trunk's backward pass.
    Matrix<Scalar>& hidden_delta = ws.trunk.output_delta;
    if (per_class_z) {
      hidden_delta.setZero(H, n);
      for (Index zc = 0; zc < z_columns; ++zc)
        hidden_delta.col(z_sample(zc)) += ws.head_input_delta.col(zc).head(H);
    } else {
      hidden_delta = ws.head_input_delta;
    }
    MatrixRef<Scalar> hidden_delta_ref(hidden_delta);
    classifier_.backward(values, h, ws.classifier, {&hidden_delta_ref, GradientWrite::Add});
    trunk_.backward(values, x, ws.trunk);
  }

  ExecutorT<Scalar> executor_;
  std::vector<PartSource> part_sources_;
  bool gradients_finite_ = true;
  // Per-batch buffers, reused from step to step.
  std::vector<ChunkWorkspace> chunks_;
  Matrix<Scalar> eps_;
  RowVector<Scalar> all_labelled_;
};

using LabelConditionedVAE = LabelConditionedVAET<float>;

}  // namespace scvae
