#pragma once
// The error of a real-valued (Gaussian) task's predictions over a whole data
// source: the root mean square and mean absolute error of the predicted mean
// at the mean of q(z|x), over every unmasked target value, in the units the
// source gives its targets (a standardised table's: multiply by the
// target's standard deviation for its own units).

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "scvae/core/check.hpp"
#include "scvae/core/error.hpp"
#include "scvae/data/batch_source.hpp"
#include "scvae/eval/evaluation_threads.hpp"
#include "scvae/eval/loss.hpp"
#include "scvae/eval/rank_shards.hpp"
#include "scvae/model/contract.hpp"

namespace scvae {

struct RegressionResult {
  double rmse = 0.0;
  double mae = 0.0;
  Index values = 0;  ///< Target values that counted (unmasked samples x outputs).
};

/// RMSE and MAE of Gaussian task `task` over every sample of `source`, in
/// order 0..size-1, batch by batch, predicted by reconstruct() (model/
/// contract.hpp); a learned variance's rows after the means are not scored.
/// With options.pool the batches are split across its threads, and for a model
/// in a rank group across the ranks, with the bits of one thread in one
/// process (eval/evaluation_threads.hpp, eval/rank_shards.hpp).
/// Throws ArgumentError for a task index out of range, a task that is not
/// Gaussian, batch_size < 1, an empty source, or when every target is masked
/// out; ShapeError when the source's task count or target rows differ.
template <typename Model>
RegressionResult evaluate_regression(const Model& model, Index task,
                                     const BatchSource<typename Model::Scalar>& source,
                                     Index batch_size, const EvaluationOptions& options = {}) {
  using Scalar = typename Model::Scalar;
  using Kind = LikelihoodSpec::Kind;
  if (task < 0 || task >= model.task_count())
    throw ArgumentError("regression task: expected a task index in 0.." +
                        std::to_string(model.task_count() - 1) + ", got " + std::to_string(task));
  const TaskSpec& spec = model.task(task);
  if (spec.likelihood.kind != Kind::Gaussian && spec.likelihood.kind != Kind::GaussianLearnedVariance)
    throw ArgumentError("regression task '" + spec.name + "': expected a Gaussian likelihood, got " +
                        spec.likelihood.name());
  detail::check_eval_source("evaluate_regression", model, source, batch_size);
  const Index size = source.size();
  const std::vector<Index> order = detail::eval_order(size);
  const auto ts = static_cast<std::size_t>(task);
  const Index batches = evaluation_batches(size, batch_size);
  const EvaluationShards shards(evaluation_rank_group(model), batches);
  const std::size_t threads = evaluation_threads(options);
  // Split across ranks or threads: each target value's error (rows per
  // sample, those of the first batch's target) and whether its sample counts,
  // filled by the thread and rank that compute its batch, then added in
  // sample order, as one thread adds them.
  const bool split = shards.split() || (threads > 1 && batches > 1);
  struct Scratch {
    Batch<Scalar> batch;
    Matrix<Scalar> predicted;
  };
  std::vector<Scratch> scratch(threads);
  SerialFill fill;
  Index rows = 0;
  std::vector<double> errors, counted;
  if (split) {
    fill(source, order, 0, std::min(size, batch_size), scratch[0].batch);
    rows = scratch[0].batch.target(ts).rows();
    errors.assign(static_cast<std::size_t>(size * rows), 0.0);
    counted.assign(static_cast<std::size_t>(size), 0.0);
  }
  double squares = 0.0, absolutes = 0.0;
  RegressionResult result;
  auto compute = [&](int worker, Index b, Rng*) {
    Scratch& s = scratch[static_cast<std::size_t>(worker)];
    const Index begin = b * batch_size;
    const Index end = std::min(size, begin + batch_size);
    fill(source, order, begin, end, s.batch);
    const Matrix<Scalar>& target = s.batch.target(ts);
    const bool masked = s.batch.has_mask(ts);
    reconstruct(model, task, s.batch.x, s.predicted);
    if (s.predicted.rows() < target.rows() || s.predicted.cols() != target.cols())
      throw ShapeError("regression task '" + spec.name + "': predictions of " +
                       std::to_string(s.predicted.rows()) + " x " +
                       std::to_string(s.predicted.cols()) + " for targets of " +
                       std::to_string(target.rows()) + " x " + std::to_string(target.cols()));
    if (split && target.rows() != rows)
      throw ShapeError("regression task '" + spec.name + "': targets of " +
                       std::to_string(target.rows()) + " rows for samples " +
                       std::to_string(begin) + " to " + std::to_string(end - 1) +
                       ", the first samples' have " + std::to_string(rows));
    for (Index j = 0; j < target.cols(); ++j) {
      if (masked && s.batch.masks[ts](j) != Scalar(1)) continue;
      for (Index i = 0; i < target.rows(); ++i) {
        const double error =
            static_cast<double>(s.predicted(i, j)) - static_cast<double>(target(i, j));
        if (split) {
          errors[static_cast<std::size_t>((begin + j) * rows + i)] = error;
          continue;
        }
        squares += error * error;
        absolutes += std::abs(error);
      }
      if (split)
        counted[static_cast<std::size_t>(begin + j)] = 1.0;
      else
        result.values += target.rows();
    }
  };
  EvaluationOptions run = options;
  if (!split) run.pool = nullptr;  // one thread adds the errors as it goes
  run_evaluation_batches(shards, batches, run, nullptr, compute, [](int, Index, Rng&) {});
  if (split) {
    shards.gather(errors);
    shards.gather(counted);
    for (Index j = 0; j < size; ++j) {
      if (counted[static_cast<std::size_t>(j)] == 0.0) continue;
      for (Index i = 0; i < rows; ++i) {
        const double error = errors[static_cast<std::size_t>(j * rows + i)];
        squares += error * error;
        absolutes += std::abs(error);
      }
      result.values += rows;
    }
  }
  if (result.values == 0)
    throw ArgumentError("regression task '" + spec.name +
                        "': expected at least one target value, got 0 (every target is masked)");
  result.rmse = std::sqrt(squares / static_cast<double>(result.values));
  result.mae = absolutes / static_cast<double>(result.values);
  return result;
}

}  // namespace scvae
