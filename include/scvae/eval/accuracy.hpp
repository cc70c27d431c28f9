#pragma once
// Classification accuracy of a categorical task: the class of highest
// probability that the model predicts (predict_classes of the model
// contract, model/contract.hpp: the SC-VAE's decoder at z = mu, M2's
// evidence-weighted q(y|x)), against the batch's class-index target row,
// over the samples whose mask is 1.

#include <algorithm>
#include <string>
#include <type_traits>
#include <vector>

#include "scvae/eval/evaluation_threads.hpp"
#include "scvae/eval/loss.hpp"
#include "scvae/eval/rank_shards.hpp"
#include "scvae/model/contract.hpp"

namespace scvae {

struct AccuracyResult {
  double accuracy = 0.0;  ///< correct / total.
  Index correct = 0;
  Index total = 0;  ///< Samples counted: those whose label is not masked out.
};

/// How many columns of `scores` (classes x n: probabilities or logits) have
/// their highest class (ties go to the lowest) equal to the class index in
/// row 0 of `targets` (1 x n); with a `mask` (1 x n), only the columns whose
/// mask is 1 count.
template <typename Scalar>
Index count_correct(const Matrix<Scalar>& scores, const Matrix<Scalar>& targets,
                    const RowVector<Scalar>* mask = nullptr) {
  Index correct = 0;
  for (Index j = 0; j < scores.cols(); ++j) {
    if (mask != nullptr && (*mask)(j) != Scalar(1)) continue;
    Index predicted = 0;
    for (Index c = 1; c < scores.rows(); ++c)
      if (scores(c, j) > scores(predicted, j)) predicted = c;
    if (static_cast<Scalar>(predicted) == targets(0, j)) ++correct;
  }
  return correct;
}

/// Accuracy of categorical task `task` over every sample of `source`, in
/// order 0..size-1, batch by batch, with the class probabilities that
/// `predict(x, probabilities)` writes for a batch's inputs (classes x n);
/// ties go to the lowest class. With options.pool the batches are split across
/// its threads, which then call `predict` at once (it must be safe to: a
/// const model's prediction is); for a model in a rank group they are split
/// across the ranks too, and the counts summed (eval/evaluation_threads.hpp,
/// eval/rank_shards.hpp). E.g. M2's q(y|x) alone:
/// [&](const auto& x, auto& p) { model.class_probabilities(x, p); }.
/// Throws ArgumentError for a task index out of range, a task whose
/// likelihood is not categorical, batch_size < 1, an empty source, or when
/// every label is masked out; ShapeError when the source's task count differs.
template <typename Model, typename Predict,
          typename = std::enable_if_t<std::is_invocable_v<
              Predict&, const Matrix<typename Model::Scalar>&, Matrix<typename Model::Scalar>&>>>
AccuracyResult evaluate_accuracy(const Model& model, Index task,
                                 const BatchSource<typename Model::Scalar>& source,
                                 Index batch_size, Predict&& predict,
                                 const EvaluationOptions& options = {}) {
  using Scalar = typename Model::Scalar;
  if (task < 0 || task >= model.task_count())
    throw ArgumentError("accuracy task: expected a task index in 0.." +
                        std::to_string(model.task_count() - 1) + ", got " + std::to_string(task));
  const TaskSpec& spec = model.task(task);
  if (spec.likelihood.kind != LikelihoodSpec::Kind::Categorical)
    throw ArgumentError("accuracy task '" + spec.name +
                        "': expected a categorical likelihood, got " + spec.likelihood.name());
  detail::check_eval_source("accuracy", model, source, batch_size);

  const Index size = source.size();
  const std::vector<Index> order = detail::eval_order(size);
  const auto ts = static_cast<std::size_t>(task);
  // One thread's buffers and counts; counts are exact in any order.
  struct Scratch {
    Batch<Scalar> batch;
    Matrix<Scalar> probabilities;
    Index correct = 0;
    Index total = 0;
  };
  std::vector<Scratch> scratch(evaluation_threads(options));
  SerialFill fill;
  const Index batches = evaluation_batches(size, batch_size);
  const EvaluationShards shards(evaluation_rank_group(model), batches);
  auto compute = [&](int worker, Index b, Rng*) {
    Scratch& s = scratch[static_cast<std::size_t>(worker)];
    const Index begin = b * batch_size;
    const Index end = std::min(size, begin + batch_size);
    fill(source, order, begin, end, s.batch);
    const Matrix<Scalar>& target = s.batch.target(ts);
    detail::check_shape("accuracy target", target.rows(), target.cols(), 1, end - begin);
    const bool masked = s.batch.has_mask(ts);
    if (masked && s.batch.masks[ts].sum() == Scalar(0)) return;
    predict(s.batch.x, s.probabilities);
    detail::check_shape("accuracy class probabilities", s.probabilities.rows(),
                        s.probabilities.cols(), spec.outputs, end - begin);
    s.correct += count_correct(s.probabilities, target, masked ? &s.batch.masks[ts] : nullptr);
    s.total += masked ? static_cast<Index>((s.batch.masks[ts].array() == Scalar(1)).count())
                      : s.probabilities.cols();
  };
  run_evaluation_batches(shards, batches, options, nullptr, compute, [](int, Index, Rng&) {});
  AccuracyResult result;
  for (const Scratch& s : scratch) {
    result.correct += s.correct;
    result.total += s.total;
  }
  if (shards.split()) {
    // Counts below 2^53: exact in a double, in any order.
    double counts[2] = {static_cast<double>(result.correct), static_cast<double>(result.total)};
    shards.gather(counts, 2);
    result.correct = static_cast<Index>(counts[0]);
    result.total = static_cast<Index>(counts[1]);
  }
  if (result.total == 0)
    throw ArgumentError("accuracy task '" + spec.name +
                        "': expected at least one labelled sample, got 0 (every label is masked)");
  result.accuracy = static_cast<double>(result.correct) / static_cast<double>(result.total);
  return result;
}

/// Accuracy of categorical task `task` with the model's own prediction,
/// predict_classes (model/contract.hpp), on options.pool's threads if given;
/// throws as above.
template <typename Model>
AccuracyResult evaluate_accuracy(const Model& model, Index task,
                                 const BatchSource<typename Model::Scalar>& source,
                                 Index batch_size, const EvaluationOptions& options = {}) {
  using Scalar = typename Model::Scalar;
  return evaluate_accuracy(
      model, task, source, batch_size,
      [&](const Matrix<Scalar>& x, Matrix<Scalar>& probabilities) {
        predict_classes(model, task, x, probabilities);
      },
      options);
}

/// evaluate_accuracy(...).accuracy.
template <typename Model>
double accuracy(const Model& model, Index task, const BatchSource<typename Model::Scalar>& source,
                Index batch_size, const EvaluationOptions& options = {}) {
  return evaluate_accuracy(model, task, source, batch_size, options).accuracy;
}

}  // namespace scvae
