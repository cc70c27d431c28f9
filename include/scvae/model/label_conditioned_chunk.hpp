#pragma once
// M2's loss on one chunk of a batch, forward and backward down to every
// layer's output gradient: LabelConditionedVAET (model/label_conditioned_vae.hpp)
// runs it on each chunk and the executor adds the parameter gradients.
//
// Per sample, with R(x, z, y) = -log p(x|z,y) at one z ~ q(z|x):
//   labelled (mask 1):  R(x, z, y) + beta KL + alpha * (-log q(y|x))
//   unlabelled:         sum_y q(y|x) R(x, z, y) + beta KL + gamma * sum_y q(y|x) log q(y|x)
// averaged over the batch. An unlabelled image is decoded once per class, so
// the classifier learns from it which class's decoder explains it best; that
// is what the label task gains from the images without labels. gamma = 1 is
// M2's bound (the entropy of q(y|x) is rewarded); gamma = 0 drops that term.

#include <algorithm>
#include <cmath>
#include <vector>

#include "scvae/core/parameters.hpp"
#include "scvae/model/label_conditioned_consistency.hpp"
#include "scvae/nn/column_buffer.hpp"
#include "scvae/prob/bernoulli.hpp"
#include "scvae/prob/gaussian.hpp"

namespace scvae {

template <typename Scalar_>
class LabelConditionedChunkT : public LabelConditionedConsistencyT<Scalar_> {
 public:
  using Scalar = Scalar_;
  using Base = LabelConditionedConsistencyT<Scalar>;
  using Base::Base;
  using Base::classes;
  using Base::inputs;
  using Base::latent;

 protected:
  using typename Base::Enc;
  using typename Base::Net;
  using Base::categorical_;
  using Base::classifier_;
  using Base::decoder_;
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

  /// Every buffer one chunk of a batch needs, reused from step to step. A
  /// chunk's sample and decoder column counts change with the labelled
  /// samples it holds: the buffers keep the capacity of the largest met, so
  /// that after a step with the most columns no step allocates.
  struct ChunkWorkspace {
    Index begin = 0;
    Index end = 0;
    typename Net::Workspace trunk, classifier, decoder;
    typename Enc::Workspace latent;
    ColumnBufferT<Scalar> q, head_input, column_eps, z, z_delta, decoder_input,
        decoder_input_delta, targets, head_input_delta;
    RowBufferT<Scalar> kl, weights, nll, kl_scale;
    std::vector<Index> column_sample, column_class;
    std::vector<double> class_terms;
    Sums sums;
  };

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
    const auto& h = trunk_.forward_view(values, x, ws.trunk);
    const Index H = h.rows();
    const auto& logits = classifier_.forward_view(values, h, ws.classifier);
    ws.q.resize(K, n);
    categorical_.mean(logits, ws.q);
    ws.head_input.resize(latent_head_.inputs(), z_columns);
    ws.head_input.setZero();
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

    ws.decoder_input.resize(Z + K, columns);
    ws.decoder_input.setZero();
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
    const auto& pixel_logits = decoder_.forward_view(values, ws.decoder_input, ws.decoder);
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
    ColumnBufferT<Scalar>& logits_delta = ws.classifier.output_delta;
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
      ws.kl_scale.resize(n);
      ws.kl_scale.setConstant(static_cast<Scalar>(beta) * inv_n);
    }
    ws.sums = sums;
    if (!with_gradient) return;

    // Backward: decoder, then z, then the latent head and the classifier
    // into the trunk.
    ws.decoder_input_delta.resize(Z + K, columns);
    MatrixRef<Scalar> input_delta(ws.decoder_input_delta);
    decoder_.backward(values, ws.decoder_input, ws.decoder,
                      {&input_delta, GradientWrite::Overwrite});
    ws.z_delta.resize(Z, z_columns);
    ws.z_delta.setZero();
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
    ColumnBufferT<Scalar>& hidden_delta = ws.trunk.output_delta;
    hidden_delta.resize(H, n);
    if (per_class_z) {
      hidden_delta.setZero();
      for (Index zc = 0; zc < z_columns; ++zc)
        hidden_delta.col(z_sample(zc)) += ws.head_input_delta.col(zc).head(H);
    } else {
      hidden_delta.assign(ws.head_input_delta);
    }
    MatrixRef<Scalar> hidden_delta_ref(hidden_delta);
    classifier_.backward(values, h, ws.classifier, {&hidden_delta_ref, GradientWrite::Add});
    trunk_.backward(values, x, ws.trunk);
  }
};

}  // namespace scvae
