#pragma once
// The importance-weighted bound (Burda, Grosse and Salakhutdinov, IWAE) with
// k samples from q(z|x). For sample i and draw k,
//   log w_ik = sum_t m_ti * log p_t(y_ti | z_ik) + log N(z_ik; 0, I)
//              - log N(z_ik; mu_i, diag exp(logvar_i)),
//   z_ik = mu_i + exp(logvar_i / 2) * eps_ik,
// and -(logsumexp_k log w_ik - log k) estimates -log p(y_i) from above; it
// tightens as k grows. Task weights are training devices and are ignored;
// masks are respected. A task decoded from the mean (DecoderInput::Mean)
// reads mu, as in the loss, so its factor is the same for every draw.
// A model whose decoder reads more than z gives log w_ik itself through the
// model contract's importance_log_weights (model/contract.hpp): M2 sums its
// terms over the classes of an unlabelled sample, so that -log p(x) of
// task 0 alone marginalises the class, and with task 1 a labelled sample's
// estimate is -log p(x, y).

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "scvae/eval/evaluation_threads.hpp"
#include "scvae/eval/loss.hpp"
#include "scvae/eval/rank_shards.hpp"
#include "scvae/model/contract.hpp"
#include "scvae/prob/gaussian.hpp"

namespace scvae {

struct IwaeResult {
  /// Mean over samples of -(logsumexp_k log w_ik - log k): nats per sample.
  double nll = 0.0;
  /// Mean over samples and draws of -log w_ik: the single-sample Monte Carlo
  /// negative ELBO (sampled, not analytic, KL) of the same draws. Never below
  /// `nll` (Jensen), equal to it when k = 1.
  double elbo_loss = 0.0;
  Index samples = 0;
  Index k = 0;
};

/// The IWAE estimate of -log p(y) over every sample of `source`, in order
/// 0..size-1, batch by batch. Per batch the model encodes once, then for each
/// of the k draws eps (latent x n) is filled from `rng` (Rng::fill_normal) and
/// all selected tasks decode the n codes: draws are taken batch by batch,
/// draw by draw, so a seed fixes the result. With options.pool (e.g. the
/// model's, thread_pool(), between training steps) the batches are split
/// across its threads, and for a model in a rank group across the ranks, with the bits
/// of one thread in one process (eval/evaluation_threads.hpp,
/// eval/rank_shards.hpp). `tasks` selects the tasks whose
/// likelihood counts (empty = all; e.g. {0} for the image of an SC-VAE; a
/// model with importance_log_weights, M2, needs task 0 among them).
/// Throws ArgumentError for k < 1, batch_size < 1, an empty source or a bad
/// task selection; ShapeError when the source's task count differs;
/// NumericalError when a batch's estimate is not finite (naming its samples).
template <typename Model>
IwaeResult evaluate_iwae(const Model& model, const BatchSource<typename Model::Scalar>& source,
                         Index k, Index batch_size, Rng& rng, const std::vector<Index>& tasks = {},
                         const EvaluationOptions& options = {}) {
  using Scalar = typename Model::Scalar;
  if (k < 1)
    throw ArgumentError("evaluate_iwae samples k: expected at least 1, got " + std::to_string(k));
  detail::check_eval_source("evaluate_iwae", model, source, batch_size);
  const Index task_total = model.task_count();
  std::vector<bool> selected(static_cast<std::size_t>(task_total), tasks.empty());
  for (Index t : tasks) {
    if (t < 0 || t >= task_total)
      throw ArgumentError("evaluate_iwae tasks: expected task indices in 0.." +
                          std::to_string(task_total - 1) + ", got " + std::to_string(t));
    if (selected[static_cast<std::size_t>(t)])
      throw ArgumentError("evaluate_iwae tasks: expected each task once, got " + std::to_string(t) +
                          " twice");
    selected[static_cast<std::size_t>(t)] = true;
  }
  if constexpr (detail::has_importance_log_weights<Model>::value) {
    if (!selected[0])
      throw ArgumentError("evaluate_iwae tasks: expected task 0 ('" + model.task(0).name +
                          "') among them: this model's tasks are scored together with it");
  }

  const Index size = source.size();
  const Index latent = model.latent();
  const std::vector<Index> order = detail::eval_order(size);
  const double log_k = std::log(static_cast<double>(k));
  constexpr double kMinusInf = -std::numeric_limits<double>::infinity();

  struct Term {
    Index task;
    const Matrix<Scalar>* target;
    RowVector<double> mask;  // empty: every column counts
  };
  // One thread's buffers.
  struct Scratch {
    Batch<Scalar> batch;
    Matrix<Scalar> mu, logvar, eps, z, skipped;
    std::vector<Matrix<Scalar>> masked_targets;
    std::vector<Term> sampled_terms;
    RowVector<Scalar> nll;
    RowVector<double> base, log_w, max_log_w, sum_w, sum_log_w, log_prior;
  };
  // Each sample's two terms, filled by the thread (and rank) that computes
  // its batch, then added in sample order: the same bits on any count.
  const Index batches = evaluation_batches(size, batch_size);
  const EvaluationShards shards(evaluation_rank_group(model), batches);
  std::vector<double> nll_terms(static_cast<std::size_t>(size), 0.0);
  std::vector<double> elbo_terms(static_cast<std::size_t>(size), 0.0);
  std::vector<Scratch> scratch(evaluation_threads(options));
  for (Scratch& s : scratch) s.masked_targets.resize(static_cast<std::size_t>(task_total));
  SerialFill fill;

  auto compute = [&](int worker, Index b, Rng* stream) {
    Scratch& s = scratch[static_cast<std::size_t>(worker)];
    Rng& noise = *stream;
    const Index begin = b * batch_size;
    const Index end = std::min(size, begin + batch_size);
    const Index n = end - begin;
    Batch<Scalar>& batch = s.batch;
    fill(source, order, begin, end, batch);
    s.max_log_w.setConstant(n, kMinusInf);
    s.sum_w.setZero(n);
    s.sum_log_w.setZero(n);
    // Adds one draw's log w_ij (for each column j) to the running sums.
    auto add_draw = [&](const RowVector<double>& draw_log_w) {
      for (Index j = 0; j < n; ++j) {
        const double value = draw_log_w(j);
        s.sum_log_w(j) += value;
        // Streaming log-sum-exp: sum_w(j) * exp(max_log_w(j)) = sum of w so far.
        if (value == kMinusInf) continue;
        if (value > s.max_log_w(j)) {
          s.sum_w(j) = s.sum_w(j) * std::exp(s.max_log_w(j) - value) + 1.0;
          s.max_log_w(j) = value;
        } else {
          s.sum_w(j) += std::exp(value - s.max_log_w(j));
        }
      }
    };
    if constexpr (detail::has_importance_log_weights<Model>::value) {
      const std::vector<TaskBatch<Scalar>> targets = task_batches(batch);
      const TaskBatch<Scalar>* label =
          task_total > 1 && selected[1] ? &targets[1] : nullptr;
      s.eps.resize(latent, n);
      for (Index draw = 0; draw < k; ++draw) {
        noise.fill_normal(s.eps);
        model.importance_log_weights(batch.x, label, s.eps, s.log_w);
        add_draw(s.log_w);
      }
    } else {
      const auto& mu = s.mu;
      const auto& logvar = s.logvar;
      const auto& eps = s.eps;
      const auto& z = s.z;
      model.encode(batch.x, s.mu, s.logvar);
      const bool class_prior = detail::model_has_class_prior(model);  // log p(z) from the model
      s.log_prior.resize(n);

      // The selected tasks' targets; masked columns get a target of 0, which
      // every likelihood accepts, and a weight of 0. Tasks read from the mean
      // are scored here once.
      s.base.setZero(n);
      s.sampled_terms.clear();
      for (Index t = 0; t < task_total; ++t) {
        const auto ts = static_cast<std::size_t>(t);
        if (!selected[ts]) continue;
        Term term{t, &batch.target(ts), RowVector<double>()};
        if (batch.has_mask(ts)) {
          term.mask = batch.masks[ts].template cast<double>();
          if (term.mask.sum() == 0.0) continue;
          if ((term.mask.array() == 0.0).any()) {
            Matrix<Scalar>& copy = s.masked_targets[ts];
            copy = *term.target;
            for (Index j = 0; j < n; ++j)
              if (term.mask(j) == 0.0) copy.col(j).setZero();
            term.target = &copy;
          } else {
            term.mask.resize(0);
          }
        }
        if (model.task(t).input == DecoderInput::Mean) {
          model.task_nll(t, mu, *term.target, s.nll);
          if (term.mask.size() > 0)
            s.base.array() -= s.nll.template cast<double>().array() * term.mask.array();
          else
            s.base -= s.nll.template cast<double>();
        } else {
          s.sampled_terms.push_back(std::move(term));
        }
      }

      s.eps.resize(latent, n);
      s.z.resize(latent, n);
      for (Index draw = 0; draw < k; ++draw) {
        noise.fill_normal(s.eps);
        reparameterize<Scalar>(mu, logvar, eps, s.z);
        s.log_w = s.base;
        for (const Term& term : s.sampled_terms) {
          model.task_nll(term.task, z, *term.target, s.nll);
          if (term.mask.size() > 0)
            s.log_w.array() -= s.nll.template cast<double>().array() * term.mask.array();
          else
            s.log_w -= s.nll.template cast<double>();
        }
        if constexpr (detail::has_class_prior_member<Model>::value)
          if (class_prior) model.log_prior(z, s.log_prior);
        for (Index j = 0; j < n; ++j) {
          // log p(z) - log N(z; mu, diag exp(logvar)); the 2 pi terms cancel
          // and (z - mu)^2 / exp(logvar) = eps^2. log N(z; 0, I) is summed
          // with the rest, as before class priors were written.
          double log_ratio = 0.0;
          if (class_prior) {
            for (Index d = 0; d < latent; ++d) {
              const double e = static_cast<double>(eps(d, j));
              log_ratio += 0.5 * (e * e + static_cast<double>(logvar(d, j)));
            }
            log_ratio += s.log_prior(j);
          } else {
            for (Index d = 0; d < latent; ++d) {
              const double e = static_cast<double>(eps(d, j));
              const double zd = static_cast<double>(z(d, j));
              log_ratio += 0.5 * (e * e - zd * zd + static_cast<double>(logvar(d, j)));
            }
          }
          s.log_w(j) += log_ratio;
        }
        add_draw(s.log_w);
      }
    }
    for (Index j = 0; j < n; ++j) {
      nll_terms[static_cast<std::size_t>(begin + j)] =
          s.max_log_w(j) + std::log(s.sum_w(j)) - log_k;
      elbo_terms[static_cast<std::size_t>(begin + j)] = s.sum_log_w(j) / static_cast<double>(k);
    }
  };
  auto skip = [&](int worker, Index b, Rng& noise) {
    const Index n = std::min(size, (b + 1) * batch_size) - b * batch_size;
    shards.skip_draws(noise, scratch[static_cast<std::size_t>(worker)].skipped, latent, n, k);
  };
  run_evaluation_batches(shards, batches, options, &rng, compute, skip);
  shards.gather(nll_terms);
  shards.gather(elbo_terms);
  double nll_sum = 0.0;
  double elbo_sum = 0.0;
  for (Index begin = 0; begin < size; begin += batch_size) {
    const Index end = std::min(size, begin + batch_size);
    for (Index i = begin; i < end; ++i) {
      nll_sum -= nll_terms[static_cast<std::size_t>(i)];
      elbo_sum -= elbo_terms[static_cast<std::size_t>(i)];
    }
    // The sums were finite before this batch, and stay non-finite once not.
    detail::check_eval_finite("evaluate_iwae", nll_sum + elbo_sum, begin, end);
  }

  IwaeResult result;
  result.samples = size;
  result.k = k;
  result.nll = nll_sum / static_cast<double>(size);
  result.elbo_loss = elbo_sum / static_cast<double>(size);
  return result;
}

}  // namespace scvae
