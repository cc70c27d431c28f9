#pragma once
// The loss of a model over a whole data source: every sample once, in order
// 0..size-1, batch by batch, with the per-batch LossParts merged so that the
// result is the exact per-sample mean (nats per sample). With beta = 1 and
// task weights 1 this is the negative ELBO, the "test loss" of the
// pytorch/examples VAE (summed Bernoulli NLL + KL).

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "scvae/core/check.hpp"
#include "scvae/core/error.hpp"
#include "scvae/core/random.hpp"
#include "scvae/data/batch_source.hpp"
#include "scvae/eval/task_batches.hpp"
#include "scvae/model/scvae.hpp"

namespace scvae {

namespace detail {

/// Checks shared by the evaluators: a positive batch size, a non-empty
/// source whose batches carry one target per model task.
template <typename Model, typename Scalar>
void check_eval_source(const char* what, const Model& model, const BatchSource<Scalar>& source,
                       Index batch_size) {
  if (batch_size < 1)
    throw ArgumentError(std::string(what) + " batch size: expected at least 1, got " +
                        std::to_string(batch_size));
  if (source.size() < 1)
    throw ArgumentError(std::string(what) + " source: expected at least one sample, got 0");
  if (source.task_count() != model.task_count())
    throw ShapeError(std::string(what) + " source: expected one target per model task (" +
                     std::to_string(model.task_count()) + "), got " +
                     std::to_string(source.task_count()));
}

/// NumericalError unless `value`, a result over samples [begin, end) of the
/// source, is finite: an evaluation must not report NaN as a number.
inline void check_eval_finite(const char* what, double value, Index begin, Index end) {
  if (std::isfinite(value)) return;
  std::ostringstream out;
  out << what << ": the result is not finite (" << value << ") for the samples " << begin << " to "
      << end - 1
      << " of the source; the model's parameters or these samples hold non-finite values, or "
         "the model diverged";
  throw NumericalError(out.str());
}

/// The order 0, 1, ..., n-1.
inline std::vector<Index> eval_order(Index n) {
  std::vector<Index> order(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
  return order;
}

}  // namespace detail

/// The model's loss (LossParts::total, kl, task_nll) averaged over every
/// sample of `source`. For each batch eps (latent x n) is drawn from `rng`
/// with Rng::fill_normal, the draw order of Model::loss_and_gradient; with
/// `use_mean` eps = 0, so z = mu and `rng` is not touched. Throws
/// ArgumentError for batch_size < 1 or an empty source, ShapeError when the
/// source's task count differs from the model's, NumericalError when a
/// batch's loss is not finite (naming its samples).
template <typename Model>
LossParts evaluate_loss(Model& model, const BatchSource<typename Model::Scalar>& source,
                        Index batch_size, Rng& rng, double beta = 1.0, bool use_mean = false) {
  using Scalar = typename Model::Scalar;
  detail::check_eval_source("evaluate_loss", model, source, batch_size);
  const Index size = source.size();
  const std::vector<Index> order = detail::eval_order(size);
  Batch<Scalar> batch;
  Matrix<Scalar> eps;
  LossParts result;
  for (Index begin = 0; begin < size; begin += batch_size) {
    const Index end = std::min(size, begin + batch_size);
    source.fill(order, begin, end, batch);
    const Index n = end - begin;
    if (eps.rows() != model.latent() || eps.cols() != n) eps.resize(model.latent(), n);
    if (use_mean)
      eps.setZero();
    else
      rng.fill_normal(eps);
    const LossParts parts = [&] {
      try {
        return model.loss(batch.x, task_batches(batch), eps, beta);
      } catch (const SampleError& e) {
        // Batches are taken in order: column j is sample begin + j.
        throw SampleError("evaluate_loss: sample " + std::to_string(begin + e.column()) +
                              " of the source: " + e.what(),
                          e.column());
      }
    }();
    detail::check_eval_finite("evaluate_loss", parts.total, begin, end);
    result.merge(parts);
  }
  return result;
}

}  // namespace scvae
