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
#include "scvae/model/label_conditioned_chunk.hpp"
#include "scvae/model/loss_parts.hpp"
#include "scvae/model/task_batch.hpp"
#include "scvae/prob/bernoulli.hpp"
#include "scvae/prob/categorical.hpp"
#include "scvae/prob/gaussian.hpp"

namespace scvae {

template <typename Scalar_>
class LabelConditionedVAET : public LabelConditionedChunkT<Scalar_> {
 public:
  using Scalar = Scalar_;
  using Base = LabelConditionedChunkT<Scalar>;
  using Base::classes;
  using Base::inputs;
  using Base::latent;

  /// Builds the model and initialises its parameters from `seed`.
  explicit LabelConditionedVAET(const LabelConditionedSpec& spec, std::uint64_t seed = 1)
      : Base(spec, seed) {
    plan_parts();
  }

  LabelConditionedVAET(const LabelConditionedVAET& other)
      : Base(other),
        executor_(other.executor_),
        part_sources_(other.part_sources_),
        precision_(other.precision_) {}
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

  /// Of every network's products, as SCVAEBaseT::set_precision.
  void set_precision(Precision precision) {
    for (auto* net : {&this->trunk_, &this->classifier_, &this->decoder_})
      net->set_precision(precision);
    this->latent_head_.set_precision(precision);
    precision_ = precision;
  }
  Precision precision() const { return precision_; }

  /// Splits each batch across the ranks of `group` too (nullptr: this
  /// process alone; exec/rank_group.hpp), as SCVAET::set_rank_group does:
  /// every rank passes the whole batch (its labels and mask too, which set
  /// the chunks' bounds), computes its own chunks, and gets the loss and
  /// gradient of the whole batch, summed in chunk order. Every rank must
  /// then make the same calls on the same batches. R ranks x T threads
  /// give the bits of one process with R*T threads. The group is not owned.
  void set_rank_group(RankGroup* group) { executor_.set_rank_group(group); }
  RankGroup* rank_group() const { return executor_.rank_group(); }
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
  using Base::task_count;
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
  using typename Base::ChunkWorkspace;
  using typename Base::Sums;
  using Base::categorical_;
  using Base::run_chunk;
  using Base::classifier_;
  using Base::decoder_;
  using Base::gradients_;
  using Base::latent_head_;
  using Base::parameters_;
  using Base::spec_;
  using Base::trunk_;

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
    if (!label.mask) {
      all_labelled_.resize(x.cols());
      all_labelled_.setOnes();
    }
    const ConstRowVectorRef<Scalar> mask =
        label.mask ? *label.mask : ConstRowVectorRef<Scalar>(all_labelled_);
    // A row of a matrix has a run-time stride, and Eigen would copy it into a
    // temporary to bind it to a RowVector Ref: map it when it is contiguous.
    const bool contiguous = label.target.outerStride() == 1;
    if (!contiguous) label_row_.assign(label.target.row(0));
    const ConstRowVectorRef<Scalar> labels =
        contiguous ? ConstRowVectorRef<Scalar>(
                         Eigen::Map<const RowVector<Scalar>>(label.target.data(), x.cols()))
                   : ConstRowVectorRef<Scalar>(label_row_);
    const Sums sums = run(x, labels, mask, eps, beta, with_gradient);
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
    // Chunks of about equal work: a labelled sample is decoded once, an
    // unlabelled one once per class; its encoder pass costs about half a
    // decoder column. In a rank group every rank has the whole mask, so
    // every rank cuts the batch at the same bounds.
    const double unlabelled_cost = static_cast<double>(classes()) + 0.5;
    auto sample_cost = [&](Index j) { return mask(j) == Scalar(1) ? 1.5 : unlabelled_cost; };
    executor_.run_balanced(n, sample_cost, chunk, part, with_gradient ? &gradients_ : nullptr);
    if (with_gradient) gradients_finite_ = executor_.gradients_finite();

    Sums sums;
    sums.samples = n;
    const double* chunk_sums = chunk_loss_sums(chunk_total);
    for (int c = 0; c < chunk_total; ++c, chunk_sums += kChunkSums) {
      sums.total += chunk_sums[0];
      sums.reconstruction += chunk_sums[1];
      sums.label_nll += chunk_sums[2];
      sums.kl += chunk_sums[3];
      sums.labelled += static_cast<Index>(chunk_sums[4]);
    }
    if (!spec_.latent_reads_label) sums.total += beta * sums.kl;
    return sums;
  }

  /// Every chunk's total, reconstruction, label NLL, KL and labelled count
  /// (exact in a double below 2^53), chunk after chunk. In a rank group each
  /// rank fills its own chunks and zeros for the others' (whose workspaces
  /// hold another batch's sums, or none), and the sum across the ranks
  /// (x + 0 is x) gives every rank every chunk's sums exactly; run() then
  /// adds them in chunk order, as one process does.
  static constexpr std::size_t kChunkSums = 5;
  const double* chunk_loss_sums(int chunk_total) {
    chunk_sums_.assign(kChunkSums * static_cast<std::size_t>(chunk_total), 0.0);
    for (int c = 0; c < chunk_total; ++c) {
      if (!executor_.runs_chunk(c)) continue;
      const Sums& s = chunks_[static_cast<std::size_t>(c)].sums;
      double* sums = chunk_sums_.data() + kChunkSums * static_cast<std::size_t>(c);
      sums[0] = s.total;
      sums[1] = s.reconstruction;
      sums[2] = s.label_nll;
      sums[3] = s.kl;
      sums[4] = static_cast<double>(s.labelled);
    }
    executor_.sum_across_ranks(chunk_sums_.data(), chunk_sums_.size());
    return chunk_sums_.data();
  }

  ExecutorT<Scalar> executor_;
  Precision precision_ = Precision::Fp32;
  std::vector<PartSource> part_sources_;
  bool gradients_finite_ = true;
  // Per-batch buffers, reused from step to step.
  std::vector<ChunkWorkspace> chunks_;
  std::vector<double> chunk_sums_;
  ColumnBufferT<Scalar> eps_;
  RowBufferT<Scalar> all_labelled_, label_row_;
};

using LabelConditionedVAE = LabelConditionedVAET<float>;

}  // namespace scvae
