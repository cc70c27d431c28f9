#pragma once
// Classification accuracy of a categorical task: the class of highest
// probability that the model predicts (predict_classes of the model
// contract, model/contract.hpp: the SC-VAE's decoder at z = mu, M2's
// evidence-weighted q(y|x)), against the batch's class-index target row,
// over the samples whose mask is 1.

#include <string>
#include <vector>

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
/// ties go to the lowest class. For a model in a rank group the batches are
/// split across the ranks and the counts summed (eval/rank_shards.hpp).
/// E.g. M2's q(y|x) alone:
/// [&](const auto& x, auto& p) { model.class_probabilities(x, p); }.
/// Throws ArgumentError for a task index out of range, a task whose
/// likelihood is not categorical, batch_size < 1, an empty source, or when
/// every label is masked out; ShapeError when the source's task count differs.
template <typename Model, typename Predict>
AccuracyResult evaluate_accuracy(const Model& model, Index task,
                                 const BatchSource<typename Model::Scalar>& source,
                                 Index batch_size, Predict&& predict) {
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
  Batch<Scalar> batch;
  Matrix<Scalar> probabilities;
  AccuracyResult result;
  const EvaluationShards shards(evaluation_rank_group(model),
                                evaluation_batches(size, batch_size));
  for (Index begin = 0, b = 0; begin < size; begin += batch_size, ++b) {
    if (!shards.runs(b)) continue;
    const Index end = std::min(size, begin + batch_size);
    source.fill(order, begin, end, batch);
    const Matrix<Scalar>& target = batch.target(ts);
    detail::check_shape("accuracy target", target.rows(), target.cols(), 1, end - begin);
    const bool masked = batch.has_mask(ts);
    if (masked && batch.masks[ts].sum() == Scalar(0)) continue;
    predict(batch.x, probabilities);
    detail::check_shape("accuracy class probabilities", probabilities.rows(), probabilities.cols(),
                        spec.outputs, end - begin);
    result.correct += count_correct(probabilities, target, masked ? &batch.masks[ts] : nullptr);
    result.total += masked ? static_cast<Index>((batch.masks[ts].array() == Scalar(1)).count())
                           : probabilities.cols();
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
/// predict_classes (model/contract.hpp); throws as above.
template <typename Model>
AccuracyResult evaluate_accuracy(const Model& model, Index task,
                                 const BatchSource<typename Model::Scalar>& source,
                                 Index batch_size) {
  using Scalar = typename Model::Scalar;
  return evaluate_accuracy(model, task, source, batch_size,
                           [&](const Matrix<Scalar>& x, Matrix<Scalar>& probabilities) {
                             predict_classes(model, task, x, probabilities);
                           });
}

/// evaluate_accuracy(...).accuracy.
template <typename Model>
double accuracy(const Model& model, Index task, const BatchSource<typename Model::Scalar>& source,
                Index batch_size) {
  return evaluate_accuracy(model, task, source, batch_size).accuracy;
}

}  // namespace scvae
