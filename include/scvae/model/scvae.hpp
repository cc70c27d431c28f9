#pragma once
// The shared-encoder multi-task VAE. For sample i the loss to minimise is
//   sum_t w_t * m_ti * (-log p_t(y_ti | z_i)) + beta * KL_i,
// averaged over the batch (ModelSpec::balance learns the task weights:
// model/task_balance.hpp, model/gradnorm.hpp). One call computes it and
// writes its gradient into the model's flat gradient buffer. A plain VAE is
// the one-task case.
//
// The model says what one chunk of a batch computes (run_chunk,
// model/scvae_chunk.hpp) and what the parameter gradient's parts are; the executor
// (exec/executor.hpp) splits batches over threads and reduces the parts in a fixed order.

#include <vector>

#include "scvae/core/random.hpp"
#include "scvae/exec/executor.hpp"
#include "scvae/model/loss_parts.hpp"
#include "scvae/model/scvae_chunk.hpp"
#include "scvae/model/task_balance.hpp"
#include "scvae/model/task_batch.hpp"

namespace scvae {

template <typename Scalar_>
class SCVAET : public SCVAEChunkT<Scalar_> {
 public:
  using Scalar = Scalar_;
  using Base = SCVAEChunkT<Scalar>;
  using Base::decoder;
  using Base::latent;
  using Base::task;
  using Base::task_count;
  using Base::inputs;
  using Base::parameter_count;

  /// Builds the model and initialises its parameters from `seed`.
  explicit SCVAET(const ModelSpec& spec, std::uint64_t seed = 1) : Base(spec, seed) {
    plan_parts();
  }

  SCVAET(const SCVAET& other)
      : Base(other),
        executor_(other.executor_),
        part_sources_(other.part_sources_),
        likelihood_parameters_(other.likelihood_parameters_) {}
  SCVAET& operator=(const SCVAET& other) {
    if (this != &other) {
      SCVAET copy(other);
      *this = std::move(copy);
    }
    return *this;
  }
  SCVAET(SCVAET&&) noexcept = default;
  SCVAET& operator=(SCVAET&&) noexcept = default;

  /// Splits each batch across `threads` (data parallel, exec/executor.hpp).
  /// The chunks and the order in which their gradients are summed depend only
  /// on the batch size and the thread count, so a seed and a thread count fix
  /// every bit.
  void set_threads(int threads) { executor_.set_threads(threads); }
  int threads() const { return executor_.threads(); }

  /// The pool the batches run on (nullptr with one thread). An optimizer may
  /// borrow it between steps, e.g. `adam.step(p, g, model.thread_pool())`.
  ThreadPool* thread_pool() { return executor_.thread_pool(); }

  /// Splits each batch across the ranks of `group` too (nullptr: this
  /// process alone; exec/rank_group.hpp): every rank passes the whole batch,
  /// computes its own chunks, and gets the loss and gradient of the whole
  /// batch, summed in chunk order. Every rank must then make the same calls
  /// (loss and gradient, loss alone) on the same batches. With one thread
  /// per rank, R ranks give the bits of one process with R threads (and
  /// R ranks x T threads those of R*T threads). The group is not owned.
  void set_rank_group(RankGroup* group) { executor_.set_rank_group(group); }
  RankGroup* rank_group() const { return executor_.rank_group(); }

  /// Whether every value of gradients() is finite after the last
  /// loss_and_gradient(). With several threads each checks its slice of the
  /// gradient inside the same pool run, so the check costs no serial pass.
  bool gradients_finite() const { return gradients_finite_; }

  /// Loss and gradient with the noise eps (latent x n) given, e.g. held fixed
  /// for a gradient check. The gradient (of the batch mean) replaces gradients().
  LossParts loss_and_gradient(const ConstMatrixRef<Scalar>& x,
                              const std::vector<TaskBatch<Scalar>>& targets,
                              const ConstMatrixRef<Scalar>& eps, double beta = 1.0) {
    return run(x, targets, eps, beta, true);
  }

  /// Loss and gradient, drawing eps from `rng` (column by column).
  LossParts loss_and_gradient(const ConstMatrixRef<Scalar>& x,
                              const std::vector<TaskBatch<Scalar>>& targets, Rng& rng,
                              double beta = 1.0) {
    batch_.eps.resize(latent(), x.cols());
    rng.fill_normal(batch_.eps);
    return run(x, targets, batch_.eps, beta, true);
  }

  /// The loss alone; gradients() is left as it was.
  LossParts loss(const ConstMatrixRef<Scalar>& x, const std::vector<TaskBatch<Scalar>>& targets,
                 const ConstMatrixRef<Scalar>& eps, double beta = 1.0) {
    return run(x, targets, eps, beta, false);
  }

 private:
  using Base::decoder_input;
  using Base::run_chunk;
  using typename Base::ChunkWorkspace;

  struct BatchWorkspace {
    ColumnBufferT<Scalar> eps;
    std::vector<ChunkWorkspace> chunks;
  };

  /// What a part of the parameter gradient is: a layer of the encoder or of
  /// a decoder, a likelihood's own parameters, or the tasks' s_t.
  struct PartSource {
    enum Kind { Encoder, Decoder, Likelihood, Balance } kind = Encoder;
    std::size_t task = 0;
    Index part = 0;
  };

  void plan_parts() {
    std::vector<GradientPart> parts;
    part_sources_.clear();
    for (Index p = 0; p < encoder_.part_count(); ++p) {
      parts.push_back(encoder_.part(p));
      part_sources_.push_back({PartSource::Encoder, 0, p});
    }
    likelihood_parameters_ = false;
    for (std::size_t t = 0; t < decoders_.size(); ++t) {
      for (Index p = 0; p < decoders_[t].part_count(); ++p) {
        parts.push_back(decoders_[t].part(p));
        part_sources_.push_back({PartSource::Decoder, t, p});
      }
      const LikelihoodT<Scalar>& likelihood = decoders_[t].likelihood();
      if (likelihood.parameter_count() > 0) {
        const Index size = likelihood.parameter_count();
        parts.push_back({likelihood.offset(), size, static_cast<double>(size)});
        part_sources_.push_back({PartSource::Likelihood, t, 0});
        likelihood_parameters_ = true;
      }
    }
    if (spec_.balance == TaskBalance::Uncertainty) {  // GradNorm's a_t: gradnorm_step()
      parts.push_back({balance_offset_, task_count(), static_cast<double>(task_count())});
      part_sources_.push_back({PartSource::Balance, 0, 0});
    }
    executor_.set_parts(std::move(parts));
  }

  LossParts run(const ConstMatrixRef<Scalar>& x, const std::vector<TaskBatch<Scalar>>& targets,
                const ConstMatrixRef<Scalar>& eps, double beta, bool with_gradient) {
    Base::validate(x, targets, eps, beta);
    const Index n = x.cols();
    BatchWorkspace& batch = batch_;
    const int chunks = executor_.chunk_count(n);
    if (static_cast<int>(batch.chunks.size()) < chunks) batch.chunks.resize(chunks);
    const Scalar inv_n = Scalar(1) / static_cast<Scalar>(n);

    auto chunk = [&](int c, Index begin, Index end) {
      ChunkWorkspace& ws = batch.chunks[static_cast<std::size_t>(c)];
      ws.begin = begin;
      ws.end = end;
      Scalar* likelihood_gradients = nullptr;
      if (with_gradient && likelihood_parameters_) {
        ws.gradients.resize(gradients_.size());
        for (std::size_t j = 0; j < part_sources_.size(); ++j)
          if (part_sources_[j].kind == PartSource::Likelihood) {
            const GradientPart& part = executor_.parts()[j];
            ws.gradients.segment(part.offset, part.size).setZero();
          }
        likelihood_gradients = ws.gradients.data();
      }
      run_chunk(ws, x.middleCols(begin, end - begin), targets, eps.middleCols(begin, end - begin),
                static_cast<Scalar>(beta), inv_n, with_gradient, likelihood_gradients);
    };
    auto part = [&](std::size_t j, int c, GradientWrite write) {
      ChunkWorkspace& ws = batch.chunks[static_cast<std::size_t>(c)];
      const PartSource& source = part_sources_[j];
      Scalar* gradients = gradients_.data();
      switch (source.kind) {
        case PartSource::Encoder:
          encoder_.part_gradient(source.part, x.middleCols(ws.begin, ws.end - ws.begin),
                                 ws.encoder, gradients, write);
          return true;
        case PartSource::Decoder: {
          const bool ran = ws.task_count[source.task] != 0;  // else it has no gradient
          if (ran)
            decoders_[source.task].part_gradient(source.part, decoder_input(ws, source.task),
                                                 ws.decoders[source.task], gradients, write);
          if (static_cast<Index>(source.task) != Base::class_prior_task()) return ran;
          // The centres are the prior's too: the KL's share of their gradient,
          // added in chunk order with the read-out's (the one part of "[centres(K)]").
          MatrixMap<Scalar> centres(gradients + executor_.parts()[j].offset, latent(),
                                    ws.centre_gradient.cols());
          if (ran || write == GradientWrite::Add)
            centres += ws.centre_gradient;
          else
            centres = ws.centre_gradient;
          return true;
        }
        case PartSource::Likelihood: {
          const GradientPart& p = executor_.parts()[j];
          auto total = gradients_.segment(p.offset, p.size);
          const auto chunk_part = ws.gradients.segment(p.offset, p.size);
          if (write == GradientWrite::Add)
            total += chunk_part;
          else
            total = chunk_part;
          return true;
        }
        case PartSource::Balance:
          for (std::size_t t = 0; t < decoders_.size(); ++t) {
            const auto gradient = static_cast<Scalar>(
                detail::balanced_task_term_gradient(spec_.tasks[t].weight, task_log_variance(t),
                                                    ws.task_nll_sum[t], ws.task_count[t]) /
                static_cast<double>(n));
            Scalar& total = gradients_(balance_offset_ + static_cast<Index>(t));
            total = write == GradientWrite::Add ? total + gradient : gradient;
          }
          return true;
      }
      return false;
    };
    executor_.run(n, chunk, part, with_gradient ? &gradients_ : nullptr);
    if (with_gradient) gradients_finite_ = executor_.gradients_finite();

    LossParts parts;
    parts.samples = n;
    const std::size_t tasks = decoders_.size();
    parts.task_nll_sum.assign(tasks, 0.0);
    parts.task_count.assign(tasks, 0);
    gradient_norm2_.assign(tasks, 0.0);
    const double* sums = chunk_loss_sums(batch, chunks);
    for (int c = 0; c < chunks; ++c, sums += 1 + 3 * tasks) {
      parts.kl_sum += sums[0];
      for (std::size_t t = 0; t < tasks; ++t) {
        parts.task_nll_sum[t] += sums[1 + t];
        parts.task_count[t] += static_cast<Index>(sums[1 + tasks + t]);
        gradient_norm2_[t] += sums[1 + 2 * tasks + t];
      }
    }
    parts.total_sum = beta * parts.kl_sum;
    for (std::size_t t = 0; t < tasks; ++t)
      parts.total_sum += Base::task_loss_term(static_cast<Index>(t), parts.task_nll_sum[t],
                                              parts.task_count[t]);
    if (with_gradient && spec_.balance == TaskBalance::GradNorm)
      gradients_finite_ = detail::gradnorm_step(
          spec_.gradnorm_alpha, parts.task_nll_sum, parts.task_count, gradient_norm2_.data(),
          parameters_.data() + balance_offset_ + task_count(), gradients_.data() + balance_offset_,
          Base::gradnorm_status_) && gradients_finite_;
    parts.finish();
    return parts;
  }

  /// Every chunk's KL sum, then each task's NLL sum, each task's count
  /// (exact in a double below 2^53) and each task's squared gradient norm at
  /// z (GradNorm; else 0), chunk after chunk. In a rank group each
  /// rank fills its own chunks and zeros for the others', and the sum across
  /// the ranks (x + 0 is x) gives every rank every chunk's sums exactly.
  const double* chunk_loss_sums(const BatchWorkspace& batch, int chunks) {
    const std::size_t tasks = decoders_.size();
    const std::size_t stride = 1 + 3 * tasks;
    chunk_sums_.assign(stride * static_cast<std::size_t>(chunks), 0.0);
    for (int c = 0; c < chunks; ++c) {
      if (!executor_.runs_chunk(c)) continue;
      const ChunkWorkspace& ws = batch.chunks[static_cast<std::size_t>(c)];
      double* sums = chunk_sums_.data() + stride * static_cast<std::size_t>(c);
      sums[0] = ws.kl_sum;
      for (std::size_t t = 0; t < tasks; ++t) {
        sums[1 + t] = ws.task_nll_sum[t];
        sums[1 + tasks + t] = static_cast<double>(ws.task_count[t]);
        sums[1 + 2 * tasks + t] = ws.task_gradient_norm2[t];
      }
    }
    executor_.sum_across_ranks(chunk_sums_.data(), chunk_sums_.size());
    return chunk_sums_.data();
  }

  using Base::balance_offset_;
  using Base::decoders_;
  using Base::task_log_variance;
  using Base::encoder_;
  using Base::gradients_;
  using Base::parameters_;
  using Base::spec_;

  ExecutorT<Scalar> executor_;
  std::vector<PartSource> part_sources_;
  bool likelihood_parameters_ = false;
  bool gradients_finite_ = true;
  BatchWorkspace batch_;
  std::vector<double> chunk_sums_;  ///< chunk_loss_sums()
  std::vector<double> gradient_norm2_;  ///< GradNorm's G_t^2 over the batch
};

using SCVAE = SCVAET<float>;

}  // namespace scvae
