#pragma once
// GradNorm (Chen, Badrinarayanan, Lee and Rabinovich 2018, "GradNorm:
// gradient normalization for adaptive loss balancing in deep multitask
// networks") for ModelSpec::balance GradNorm.
//
// Task t's NLL is weighed by w_t * W_t: w_t the hand-set TaskSpec::weight,
// W_0 = 1 for the first task and W_t = exp(a_t) for the others, a_t learned
// (initially 0, so every W_t starts at 1). The paper renormalises the weights
// to sum to the task count instead; on a VAE that lets the reconstruction's
// weight fall while the KL keeps weight 1, i.e. beta grows until the
// posterior collapses, which is how the uncertainty weights failed on
// Fashion-MNIST (examples/RESULTS-balance.md). Holding the first task (the
// input's reconstruction in every SC-VAE the examples build) at w_0 keeps
// the ELBO as it is and learns only how much the other tasks add to it.
//
// The shared layer is the latent code each decoder reads: G_t is the
// Frobenius norm over the batch of w_t W_t dL_t/dz (dL_t/dmu for a decoder
// reading the mean, which for a sampled z is the same thing since dz/dmu =
// I), L_t task t's NLL sum over the batch divided by the batch size. Each
// decoder's backward pass computes that gradient anyway; it is written to a
// buffer of its own, its squared norm taken per chunk, then added to the
// others. The training rates compare mean NLLs per sample with a target,
// l_t, so that batches with more or fewer targets compare alike: with
// l_t(0) the first batch's (the first in which the task has a target) and
// r_t = (l_t / l_t(0)) / mean_k(l_k / l_k(0)) the relative inverse training
// rate, the targets are G*_t = mean_k(G_k) * r_t^alpha, held constant, and
//   L_grad = sum_t |G_t - G*_t|,   dL_grad/da_t = sign(G_t - G*_t) * G_t
// (G_t is proportional to exp(a_t)) for t >= 1. That is the whole gradient
// the a_t get: the task losses' own gradient with respect to a is not added
// (it would only ever push every weight to 0). Tasks with no target in the
// batch are left out of the means and their a_t get no gradient.
//
// Layout: a_0 ... a_{T-1} at balance_offset() (a_0 is never read and keeps
// gradient 0, so that a_t sits at offset + t as the uncertainty s_t do),
// then l_0(0) ... l_{T-1}(0). Those are state, not trained: their gradient
// is 0, which Adam leaves in place (AdamW's decoupled decay shrinks them all
// by the same factor, which leaves every r_t as it is when they were
// recorded at the same step). They sit in the parameters so that a
// checkpoint, a resumed run and rank averaging carry them; 0 means "not yet
// measured", and the first training step with a target records it.

#include <cmath>
#include <vector>

#include "scvae/core/types.hpp"

namespace scvae {

/// What the last GradNorm step measured, one entry per task (0 for a task
/// with no target in the batch).
struct GradNormStatus {
  std::vector<double> gradient_norm;  ///< G_t.
  std::vector<double> target_norm;    ///< G*_t.
  /// l_t / l_t(0), of mean NLLs per target (1 when either is not positive).
  std::vector<double> loss_ratio;
  double loss = 0.0;                  ///< L_grad = sum_t |G_t - G*_t|.

  void resize(std::size_t tasks) {
    gradient_norm.assign(tasks, 0.0);
    target_norm.assign(tasks, 0.0);
    loss_ratio.assign(tasks, 0.0);
  }
};

namespace detail {

/// W_t of task t from its a_t (the first task's is 1).
inline double gradnorm_weight(Index task, double log_weight) {
  return task == 0 ? 1.0 : std::exp(log_weight);
}

/// After a batch: records the missing l_t(0), fills `status`, and writes
/// dL_grad/da_t into a_gradient[t]. task_gradient_norm2[t] is the squared
/// norm of w_t W_t dL_t/dz summed over the batch; initial_losses (the
/// l_t(0)) and a_gradient point into the model's flat buffers.
/// Returns whether every gradient written is finite. Allocates nothing
/// once `status` has one entry per task. Sums and Counts: any sized
/// containers indexed by task (LossParts's).
template <typename Scalar, typename Sums, typename Counts>
bool gradnorm_step(double alpha, const Sums& task_nll_sum, const Counts& task_count,
                   const double* task_gradient_norm2,
                   Scalar* initial_losses, Scalar* a_gradient, GradNormStatus& status) {
  const std::size_t tasks = task_nll_sum.size();
  double ratio_sum = 0.0, norm_sum = 0.0;
  Index active = 0;
  for (std::size_t t = 0; t < tasks; ++t) {
    status.gradient_norm[t] = status.target_norm[t] = status.loss_ratio[t] = 0.0;
    if (task_count[t] == 0) continue;
    const double loss = task_nll_sum[t] / static_cast<double>(task_count[t]);
    if (initial_losses[t] == Scalar(0)) initial_losses[t] = static_cast<Scalar>(loss);
    const auto initial = static_cast<double>(initial_losses[t]);
    status.loss_ratio[t] = loss > 0.0 && initial > 0.0 ? loss / initial : 1.0;
    status.gradient_norm[t] = std::sqrt(task_gradient_norm2[t]);
    ratio_sum += status.loss_ratio[t];
    norm_sum += status.gradient_norm[t];
    ++active;
  }
  status.loss = 0.0;
  bool finite = true;
  for (std::size_t t = 0; t < tasks; ++t) {
    a_gradient[t] = Scalar(0);
    if (task_count[t] == 0) continue;
    const double rate = status.loss_ratio[t] / (ratio_sum / static_cast<double>(active));
    status.target_norm[t] = norm_sum / static_cast<double>(active) * std::pow(rate, alpha);
    const double gap = status.gradient_norm[t] - status.target_norm[t];
    status.loss += std::abs(gap);
    if (t == 0) continue;
    const double sign = gap > 0.0 ? 1.0 : gap < 0.0 ? -1.0 : 0.0;
    a_gradient[t] = static_cast<Scalar>(sign * status.gradient_norm[t]);
    finite = finite && std::isfinite(a_gradient[t]);
  }
  return finite;
}

}  // namespace detail
}  // namespace scvae
