#pragma once
// The SC-VAE's loss on one chunk of a batch: the encoder, the KL (against
// N(0, I) or the class prior), every task's decoder and masked NLL, and,
// with the gradient, the backward pass down to every layer's output
// gradient. SCVAET (model/scvae.hpp) runs it on each chunk through the
// executor, which adds the parameter gradients in chunk order.

#include <optional>
#include <vector>

#include "scvae/model/class_prior.hpp"
#include "scvae/model/scvae_base.hpp"
#include "scvae/model/task_balance.hpp"
#include "scvae/model/task_batch.hpp"
#include "scvae/nn/column_buffer.hpp"
#include "scvae/prob/gaussian.hpp"

namespace scvae {

template <typename Scalar_>
class SCVAEChunkT : public SCVAEBaseT<Scalar_> {
 public:
  using Scalar = Scalar_;
  using Base = SCVAEBaseT<Scalar>;
  using Base::Base;
  using Base::latent;
  using Base::task;

 protected:
  using Base::decoders_;
  using Base::encoder_;
  using Base::parameters_;
  using Base::spec_;

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
};

}  // namespace scvae
