#pragma once
// The shared-encoder multi-task VAE. For sample i the loss to minimise is
//   sum_t w_t * m_ti * (-log p_t(y_ti | z_i)) + beta * KL_i,
// averaged over the batch (ModelSpec::balance learns the task weights:
// model/task_balance.hpp, model/gradnorm.hpp). One call computes it and
// writes its gradient into the model's flat gradient buffer. A plain VAE is
// the one-task case.
//
// The model says what one chunk of a batch computes (run_chunk) and what the
// parameter gradient's parts are; the executor (exec/executor.hpp) splits
// batches over threads and reduces the parts in a fixed order.

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "scvae/core/random.hpp"
#include "scvae/exec/executor.hpp"
#include "scvae/model/loss_parts.hpp"
#include "scvae/model/scvae_base.hpp"
#include "scvae/model/task_balance.hpp"
#include "scvae/model/task_batch.hpp"

namespace scvae {

template <typename Scalar_>
class SCVAET : public SCVAEBaseT<Scalar_> {
 public:
  using Scalar = Scalar_;
  using Base = SCVAEBaseT<Scalar>;
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
  /// One chunk's buffers. They keep the capacity of the largest chunk met
  /// (nn/column_buffer.hpp), so that the one set serves every batch size: a
  /// trainer's partial last batch allocates nothing after a full one.
  struct ChunkWorkspace {
    Index begin = 0;
    Index end = 0;
    typename EncoderT<Scalar>::Workspace encoder;
    ColumnBufferT<Scalar> z;
    ColumnBufferT<Scalar> z_delta;
    ColumnBufferT<Scalar> task_delta;  ///< One task's share of z_delta (GradNorm).
    RowBufferT<Scalar> kl;
    RowBufferT<Scalar> kl_scale;
    ColumnBufferT<Scalar> responsibilities;  ///< The class prior's r_jk (model/class_prior.hpp).
    Matrix<Scalar> centre_gradient;          ///< The class prior's dKL/dc, this chunk's.
    std::vector<typename DecoderT<Scalar>::Workspace> decoders;
    Vector<Scalar> gradients;  ///< The likelihoods' own parameter gradients.
    // Sums of this chunk, combined in chunk order.
    double kl_sum = 0.0;
    std::vector<double> task_nll_sum;
    std::vector<Index> task_count;
    std::vector<double> task_gradient_norm2;  ///< GradNorm's G_t^2 of this chunk.
  };
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

  /// What decoder t reads in a chunk: mu or the sampled z (its TaskSpec).
  ConstMatrixRef<Scalar> decoder_input(const ChunkWorkspace& ws, std::size_t t) const {
    if (spec_.tasks[t].input == DecoderInput::Mean)
      return ConstMatrixRef<Scalar>(EncoderT<Scalar>::mu(ws.encoder));
    return ConstMatrixRef<Scalar>(ws.z);
  }

  /// One chunk's loss and, with_gradient, its backward pass down to every
  /// layer's output gradient (the executor adds the parameter gradients).
  void run_chunk(ChunkWorkspace& ws, const ConstMatrixRef<Scalar>& x,
                 const std::vector<TaskBatch<Scalar>>& targets, const ConstMatrixRef<Scalar>& eps,
                 Scalar beta, Scalar inv_n, bool with_gradient,
                 Scalar* likelihood_gradients) const {
    const Index n = x.cols();
    const Scalar* values = parameters_.data();
    using Enc = EncoderT<Scalar>;

    encoder_.forward(values, x, ws.encoder);
    ws.z.resize(latent(), n);
    ws.z_delta.resize(latent(), n);
    ws.kl.resize(n);
    reparameterize<Scalar>(Enc::mu(ws.encoder), Enc::logvar(ws.encoder), eps, ws.z);
    const Index prior_task = Base::class_prior_task();
    if (prior_task < 0) {
      gaussian_kl<Scalar>(Enc::mu(ws.encoder), Enc::logvar(ws.encoder), ws.kl);
    } else {
      const TaskBatch<Scalar>& classes = targets[static_cast<std::size_t>(prior_task)];
      std::optional<ConstRowVectorRef<Scalar>> mask;
      if (classes.mask) mask.emplace(classes.mask->middleCols(ws.begin, n));
      ws.responsibilities.resize(task(prior_task).outputs, n);
      class_prior_kl<Scalar>(Enc::mu(ws.encoder), Enc::logvar(ws.encoder), Base::class_centres(),
                             classes.target.middleCols(ws.begin, n), mask, ws.kl,
                             ws.responsibilities);
    }
    ws.kl_sum = ws.kl.template cast<double>().sum();

    ws.decoders.resize(decoders_.size());
    ws.task_nll_sum.assign(decoders_.size(), 0.0);
    ws.task_count.assign(decoders_.size(), 0);
    ws.task_gradient_norm2.assign(decoders_.size(), 0.0);
    if (with_gradient) Enc::mu_delta(ws.encoder).setZero();
    bool z_delta_written = false;
    for (std::size_t t = 0; t < decoders_.size(); ++t) {
      const TaskBatch<Scalar>& batch = targets[t];
      const auto target = batch.target.middleCols(ws.begin, n);
      auto& dws = ws.decoders[t];
      decoders_[t].prepare(dws, n);
      if (batch.mask)
        dws.scale.assign(batch.mask->middleCols(ws.begin, n));
      else
        dws.scale.setOnes();
      const Index count = static_cast<Index>(dws.scale.sum());
      if (count == 0) continue;  // nothing to score: skip the decoder entirely
      const bool from_mean = spec_.tasks[t].input == DecoderInput::Mean;
      const ConstMatrixRef<Scalar> input = decoder_input(ws, t);
      decoders_[t].forward_view(values, input, dws);
      if (with_gradient) {
        // From here on scale is mask * w_t / n (times the learned weight with
        // balance): the weight of each sample's NLL in the batch-mean loss.
        const double weight = Base::task_loss_weight(static_cast<Index>(t));
        dws.scale *= static_cast<Scalar>(weight) * inv_n;
        auto mu_delta = Enc::mu_delta(ws.encoder);
        MatrixRef<Scalar> shared =
            from_mean ? MatrixRef<Scalar>(mu_delta) : MatrixRef<Scalar>(ws.z_delta);
        const GradientWrite write =
            from_mean || z_delta_written ? GradientWrite::Add : GradientWrite::Overwrite;
        z_delta_written = z_delta_written || !from_mean;
        if (spec_.balance != TaskBalance::GradNorm) {
          decoders_[t].nll_backward(values, likelihood_gradients, input, target, dws,
                                    {&shared, write});
        } else {  // G_t needs the task's own share of the gradient at z
          ws.task_delta.resize(latent(), n);
          MatrixRef<Scalar> own(ws.task_delta);
          decoders_[t].nll_backward(values, likelihood_gradients, input, target, dws,
                                    {&own, GradientWrite::Overwrite});
          ws.task_gradient_norm2[t] = own.template cast<double>().squaredNorm();
          if (write == GradientWrite::Add) shared += own; else shared = own;
        }
      } else {
        decoders_[t].evaluate_nll(values, target, dws);
      }
      if (batch.mask)
        ws.task_nll_sum[t] = (dws.nll.array() * batch.mask->middleCols(ws.begin, n).array())
                                 .template cast<double>()
                                 .sum();
      else
        ws.task_nll_sum[t] = dws.nll.template cast<double>().sum();
      ws.task_count[t] = count;
    }
    if (!with_gradient) return;

    if (!z_delta_written) ws.z_delta.setZero();
    auto mu_delta = Enc::mu_delta(ws.encoder);
    auto logvar_delta = Enc::logvar_delta(ws.encoder);
    logvar_delta.setZero();
    ws.kl_scale.resize(n);
    ws.kl_scale.setConstant(beta * inv_n);
    reparameterize_backward<Scalar>(Enc::logvar(ws.encoder), eps, ws.z_delta, mu_delta,
                                    logvar_delta);
    if (prior_task < 0) {
      gaussian_kl_backward<Scalar>(Enc::mu(ws.encoder), Enc::logvar(ws.encoder), ws.kl_scale,
                                   mu_delta, logvar_delta);
    } else {
      ws.centre_gradient.setZero(latent(), task(prior_task).outputs);  // allocates once
      class_prior_kl_backward<Scalar>(Enc::mu(ws.encoder), Enc::logvar(ws.encoder),
                                      Base::class_centres(), ws.responsibilities, ws.kl_scale,
                                      mu_delta, logvar_delta, ws.centre_gradient);
    }
    encoder_.backward(values, x, ws.encoder);
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
