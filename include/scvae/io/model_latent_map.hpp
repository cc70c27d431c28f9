#pragma once
// The latent map (io/latent_map.hpp) of any model meeting the model
// contract (model/contract.hpp): its encode() means of every sample of a
// BatchSource, in batches, on their principal plane, coloured by the class
// targets of a categorical task where the source has them.

#include <algorithm>
#include <string>
#include <vector>

#include "scvae/data/batch_source.hpp"
#include "scvae/eval/loss.hpp"
#include "scvae/io/latent_map.hpp"
#include "scvae/model/spec.hpp"

namespace scvae {

/// Every sample's latent mean (latent x source.size()), in order, encoded
/// `batch_size` samples at a time.
template <typename Model>
Matrix<typename Model::Scalar> latent_means(const Model& model,
                                            const BatchSource<typename Model::Scalar>& source,
                                            Index batch_size) {
  using Scalar = typename Model::Scalar;
  detail::check_eval_source("latent_means", model, source, batch_size);
  const Index size = source.size();
  const std::vector<Index> order = detail::eval_order(size);
  Matrix<Scalar> means(model.latent(), size), mu, logvar;
  Batch<Scalar> batch;
  for (Index begin = 0; begin < size; begin += batch_size) {
    const Index end = std::min(size, begin + batch_size);
    source.fill(order, begin, end, batch);
    model.encode(batch.x, mu, logvar);
    means.middleCols(begin, end - begin) = mu;
  }
  return means;
}

/// The first categorical task of `model`, or -1 when it has none.
template <typename Model>
Index first_categorical_task(const Model& model) {
  for (Index t = 0; t < model.task_count(); ++t)
    if (model.task(t).likelihood.kind == LikelihoodSpec::Kind::Categorical) return t;
  return -1;
}

/// Each sample's class in categorical task `task` of `source` (in order):
/// the class index of its target (the most probable class when the target
/// holds probabilities), -1 where its mask is 0.
template <typename Model>
std::vector<Index> source_classes(const Model& model,
                                  const BatchSource<typename Model::Scalar>& source, Index task,
                                  Index batch_size) {
  using Scalar = typename Model::Scalar;
  detail::check_eval_source("source_classes", model, source, batch_size);
  if (task < 0 || task >= model.task_count() ||
      model.task(task).likelihood.kind != LikelihoodSpec::Kind::Categorical)
    throw ArgumentError("source_classes: task " + std::to_string(task) +
                        " is not a categorical task of the model");
  const Index size = source.size();
  const std::vector<Index> order = detail::eval_order(size);
  const auto ts = static_cast<std::size_t>(task);
  std::vector<Index> classes;
  Batch<Scalar> batch;
  for (Index begin = 0; begin < size; begin += batch_size) {
    const Index end = std::min(size, begin + batch_size);
    source.fill(order, begin, end, batch);
    const Matrix<Scalar>& target = batch.target(ts);
    for (Index j = 0; j < end - begin; ++j) {
      Index c = 0;
      if (target.rows() == 1)
        c = static_cast<Index>(target(0, j));
      else
        target.col(j).maxCoeff(&c);
      classes.push_back(batch.has_mask(ts) && batch.masks[ts](j) == Scalar(0) ? -1 : c);
    }
  }
  return classes;
}

/// The latent map of `model` on `source` at `path`: the latent means on
/// their principal plane, coloured by the model's first categorical task
/// (unlabelled samples grey) with `class_names` in the legend (empty: the
/// class numbers), or all grey when the model has no categorical task.
template <typename Model>
void write_model_latent_map(const std::string& path, const Model& model,
                            const BatchSource<typename Model::Scalar>& source, Index batch_size,
                            std::vector<std::string> class_names = {}) {
  const Index task = first_categorical_task(model);
  std::vector<Index> classes;
  if (task >= 0) {
    classes = source_classes(model, source, task, batch_size);
    if (class_names.empty())
      for (Index c = 0; c < model.task(task).outputs; ++c) class_names.push_back(std::to_string(c));
  }
  write_latent_map(path, principal_plane(latent_means(model, source, batch_size)), classes,
                   class_names);
}

/// The same with the classes given (one per sample of `source`, -1 for
/// none), e.g. labels that a model trained without them never saw.
template <typename Model>
void write_model_latent_map(const std::string& path, const Model& model,
                            const BatchSource<typename Model::Scalar>& source, Index batch_size,
                            const std::vector<Index>& classes,
                            const std::vector<std::string>& class_names) {
  write_latent_map(path, principal_plane(latent_means(model, source, batch_size)), classes,
                   class_names);
}

}  // namespace scvae
