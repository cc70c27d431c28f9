#pragma once
// TableData as batches for an SC-VAE, and the SC-VAE that fits it.
//
// Task order: task 0 reconstructs the (standardised, imputed) features,
// Gaussian; task 1 + t predicts target t of the table: class indices for a
// categorical target, standardised values for a real one (Gaussian), 0/1 for
// a binary one (Bernoulli), each with the target's per-sample mask.
//
// A missing feature is the training mean (0) in the input and in the
// reconstruction target alike: TaskBatch masks whole samples, not single
// values, so a missing value cannot be left out of the reconstruction loss;
// it is scored against the mean instead, which pulls its reconstruction
// slightly towards the mean.

#include <string>
#include <vector>

#include "scvae/data/batch_source.hpp"
#include "scvae/data/table_data.hpp"
#include "scvae/data/table_standardizer.hpp"
#include "scvae/model/label_weight.hpp"
#include "scvae/model/spec.hpp"

namespace scvae {

/// The name of task 0, the features' reconstruction, in make_table_spec.
inline const std::string& table_feature_task_name() {
  static const std::string name = "features";
  return name;
}

template <typename Scalar>
class TableSource final : public BatchSource<Scalar> {
 public:
  /// Standardises `data` with `standardizer` (fitted on the training part)
  /// once; the source keeps its own copy.
  TableSource(const TableDataT<Scalar>& data, const Standardizer& standardizer) {
    if (standardizer.feature_count() != data.feature_count() ||
        standardizer.target_count() != data.target_count())
      throw ShapeError(data.source() + ": the standardizer was fitted on " +
                       std::to_string(standardizer.feature_count()) + " features and " +
                       std::to_string(standardizer.target_count()) + " targets, the table has " +
                       std::to_string(data.feature_count()) + " and " +
                       std::to_string(data.target_count()));
    standardizer.transform_features<Scalar>(data.features(), inputs_);
    for (Index t = 0; t < data.target_count(); ++t) {
      const TableTargetT<Scalar>& target = data.target(t);
      if (target.values.rows() != standardizer.target_mean(t).size())
        throw ShapeError(data.source() + ": target \"" + target.name + "\" has " +
                         std::to_string(target.values.rows()) + " rows, the standardizer " +
                         std::to_string(standardizer.target_mean(t).size()));
      Matrix<Scalar> values;
      standardizer.transform_target<Scalar>(t, target.values, values);
      // Masked values are 0 in TableData; keep them 0 in standardised units too.
      for (Index j = 0; j < values.cols(); ++j)
        if (target.mask(j) == Scalar(0)) values.col(j).setZero();
      targets_.push_back(std::move(values));
      masks_.push_back(target.mask);
    }
  }

  Index size() const override { return inputs_.cols(); }
  Index task_count() const override { return 1 + static_cast<Index>(targets_.size()); }
  /// features x samples, standardised, missing values 0.
  const Matrix<Scalar>& inputs() const { return inputs_; }
  /// Target t (0-based among the table's targets) as task 1 + t reads it.
  const Matrix<Scalar>& target(Index t) const { return targets_.at(static_cast<std::size_t>(t)); }
  const RowVector<Scalar>& mask(Index t) const { return masks_.at(static_cast<std::size_t>(t)); }

  void fill(const std::vector<Index>& order, Index begin, Index end,
            Batch<Scalar>& batch) const override {
    if (begin < 0 || end < begin || end > static_cast<Index>(order.size()))
      throw ArgumentError("table batch: range [" + std::to_string(begin) + ", " +
                          std::to_string(end) + ") does not fit an order of " +
                          std::to_string(order.size()));
    const Index n = end - begin;
    const std::size_t tasks = static_cast<std::size_t>(task_count());
    batch.targets.resize(tasks);
    batch.masks.resize(tasks);
    if (batch.target_is_input.size() != tasks) {
      batch.target_is_input.assign(tasks, false);
      batch.target_is_input[0] = true;
    }
    batch.masks[0].resize(0);
    if (batch.x.rows() != inputs_.rows() || batch.x.cols() != n) batch.x.resize(inputs_.rows(), n);
    for (std::size_t t = 0; t < targets_.size(); ++t) {
      Matrix<Scalar>& target = batch.targets[t + 1];
      if (target.rows() != targets_[t].rows() || target.cols() != n)
        target.resize(targets_[t].rows(), n);
      if (batch.masks[t + 1].size() != n) batch.masks[t + 1].resize(n);
    }
    for (Index j = 0; j < n; ++j) {
      const Index i = order[static_cast<std::size_t>(begin + j)];
      if (i < 0 || i >= size())
        throw ArgumentError("table batch: sample " + std::to_string(i) + " is not below " +
                            std::to_string(size()));
      batch.x.col(j) = inputs_.col(i);
      for (std::size_t t = 0; t < targets_.size(); ++t) {
        batch.targets[t + 1].col(j) = targets_[t].col(i);
        batch.masks[t + 1](j) = masks_[t](i);
      }
    }
  }

 private:
  Matrix<Scalar> inputs_;
  std::vector<Matrix<Scalar>> targets_;
  std::vector<RowVector<Scalar>> masks_;
};

/// The KL weight (TrainerOptions::beta) scvae_table trains tables with. A
/// table has few features, so at beta 1 the KL empties every latent
/// direction that does not pay for itself in reconstruction, and the targets
/// read a code squeezed toward the prior: on scikit-learn's four tables
/// (half the labels, 10 splits each, and 10 more splits held out of the
/// choice) 0.3 raised every accuracy and lowered every RMSE against 1
/// (examples/RESULTS-balance.md).
inline constexpr double kTableKlWeight = 0.3;

/// The latent code's prior in make_table_spec: N(0, I), a mixture over the
/// classes of the first categorical target, or (Auto) that mixture when the
/// table has a categorical target and N(0, I) otherwise.
enum class TablePrior { Auto, Standard, Classes };

namespace detail {
/// default_label_weight() of the target's labelled rows; 1 with none (its
/// term is then empty).
template <typename Scalar>
double categorical_target_weight(const TableTargetT<Scalar>& target) {
  Index labelled = 0;
  for (Index j = 0; j < target.mask.size(); ++j) labelled += target.mask(j) != Scalar(0) ? 1 : 0;
  return labelled == 0 ? 1.0 : default_label_weight(labelled, target.mask.size());
}
}  // namespace detail

/// An SC-VAE for `data` in TableSource's task order: an encoder of `hidden`
/// layers to `latent`, a Gaussian (variance 1, standardised units) decoder
/// of the features with the same hidden sizes reversed, and per target a
/// decoder of the same shape with a Gaussian or Bernoulli likelihood.
/// A categorical target is read linearly (softmax of one dense layer) from
/// the posterior mean, as prediction does: on scikit-learn's small tables a
/// classifier on the sampled latent lost 4-12 points of accuracy, and a
/// hidden layer before the softmax 1.4-1.7 points on wine; its weight is
/// default_label_weight() of its labelled share (20 with half the rows
/// labelled, 10 with all: one class term against the reconstruction of every
/// feature). Every other weight is 1; real and binary targets read the
/// sample, whose noise kept their RMSE lower (bench/tables/baselines.py,
/// examples/RESULTS-balance.md). ArgumentError if a target is called like
/// task 0 ("features").
///
/// With a class prior (TablePrior::Classes, and Auto when a target is
/// categorical) the first categorical target is read by the distance of the
/// mean to one centre per class ("[centres(K)]") and those centres are the
/// prior's (ModelSpec::class_prior): the rows without that target's label
/// then shape its classes too. The weights start as torch.nn.Linear's
/// (Initialization::PyTorch). On wine's cultivar with half the labels, over
/// 40 splits held out of every choice and 3 initialisations, the two took
/// 94.00% to 95.23% (examples/RESULTS-balance.md). ArgumentError for
/// TablePrior::Classes when no target is categorical.
template <typename Scalar>
ModelSpec make_table_spec(const TableDataT<Scalar>& data, Index latent,
                          const std::vector<Index>& hidden, TablePrior prior = TablePrior::Auto) {
  ModelSpec spec;
  spec.initialization = Initialization::PyTorch;
  spec.inputs = data.feature_count();
  spec.encoder_hidden = hidden;
  spec.latent = latent;
  const std::vector<Index> decoder_hidden(hidden.rbegin(), hidden.rend());
  TaskSpec features;
  features.name = table_feature_task_name();
  features.outputs = data.feature_count();
  features.hidden = decoder_hidden;
  features.likelihood = LikelihoodSpec::gaussian();
  spec.tasks.push_back(features);
  for (const TableTargetT<Scalar>& target : data.targets()) {
    if (target.name == table_feature_task_name())
      throw ArgumentError(data.source() + ": target \"" + target.name +
                          "\" has the name of the features' reconstruction task; rename it");
    TaskSpec task;
    task.name = target.name;
    task.hidden = decoder_hidden;
    switch (target.kind) {
      case TargetKind::Categorical:
        task.outputs = target.classes();
        task.input = DecoderInput::Mean;  // see above
        task.likelihood = LikelihoodSpec::categorical(target.classes());
        task.weight = detail::categorical_target_weight(target);
        task.hidden.clear();  // see above
        break;
      case TargetKind::Real:
        task.outputs = target.values.rows();
        task.likelihood = LikelihoodSpec::gaussian();
        break;
      case TargetKind::Binary:
        task.outputs = target.values.rows();
        task.likelihood = LikelihoodSpec::bernoulli();
        break;
    }
    // Auto takes the mixture as Classes does, and only Classes insists on it (below).
    if (target.kind == TargetKind::Categorical && prior != TablePrior::Standard &&
        spec.class_prior.empty()) {
      task.network = "[centres(" + std::to_string(task.outputs) + ")]";
      spec.class_prior = task.name;
    }
    spec.tasks.push_back(task);
  }
  if (prior == TablePrior::Classes && spec.class_prior.empty())
    throw ArgumentError(
        data.source() +
        ": a prior over classes needs a categorical target, and this table has none");
  spec.validate();
  return spec;
}

}  // namespace scvae
