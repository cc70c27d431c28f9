#pragma once
// Predictions of a table's targets in the original units, from a model
// trained on it (the SC-VAE of make_table_spec, task 1 + t predicting target
// t): rows are read like the training rows (table_data_from_csv(table,
// schema)), missing features imputed with the training mean, every row's
// targets predicted from the mean of q(z|x) whether the row holds them or
// not, so a missing target is filled in.

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "scvae/core/error.hpp"
#include "scvae/core/types.hpp"
#include "scvae/data/table_data.hpp"
#include "scvae/data/table_schema.hpp"
#include "scvae/data/table_standardizer.hpp"
#include "scvae/model/contract.hpp"
#include "scvae/model/spec.hpp"

namespace scvae {

/// One target's predictions for n rows.
struct TargetPrediction {
  std::string name;
  TargetKind kind = TargetKind::Real;
  /// Categorical: 1 x n class indices; Real: k x n values in the original
  /// units; Binary: k x n of 0/1.
  Matrix<double> values;
  /// Categorical: 1 x n probability of the predicted class; Binary: k x n
  /// probability of the predicted value (so >= 0.5); Real: empty.
  Matrix<double> probability;
  /// Categorical: the predicted class's name per row; otherwise empty.
  std::vector<std::string> class_names;
};

/// Every target's predictions, in the schema's target order.
struct TablePrediction {
  std::vector<TargetPrediction> targets;

  /// The prediction of the target called `name`; ArgumentError if none is.
  const TargetPrediction& target(const std::string& name) const {
    for (const TargetPrediction& t : targets)
      if (t.name == name) return t;
    throw ArgumentError("table prediction: no target named \"" + name + "\"");
  }
};

namespace detail {

/// Refuses rows, standardizer or model that do not belong to `schema`,
/// naming the rows' source.
template <typename Model, typename Scalar>
void check_table_prediction_inputs(const Model& model, const Standardizer& standardizer,
                                   const TableSchema& schema, const TableDataT<Scalar>& rows) {
  const std::string& source = rows.source();
  if (rows.feature_sources() != schema.features) {
    const std::vector<FeatureSource>& got = rows.feature_sources();
    std::size_t f = 0;
    while (f < got.size() && f < schema.features.size() && got[f] == schema.features[f]) ++f;
    throw ArgumentError(
        source + ": the rows' features differ from the model's at feature " + std::to_string(f) +
        (f < schema.features.size() ? " (the model expects \"" +
                                          schema.features[f].feature_name() + "\")"
                                    : std::string(" (the model has only ") +
                                          std::to_string(schema.features.size()) + ")") +
        ": read them with table_data_from_csv(table, schema)");
  }
  const Index targets = static_cast<Index>(schema.targets.size());
  if (standardizer.feature_count() != rows.feature_count() ||
      standardizer.target_count() != targets)
    throw ArgumentError(source + ": the standardizer has " +
                        std::to_string(standardizer.feature_count()) + " features and " +
                        std::to_string(standardizer.target_count()) + " targets, the schema " +
                        std::to_string(rows.feature_count()) + " and " + std::to_string(targets));
  if (model.task_count() != 1 + targets)
    throw ArgumentError(source + ": the model has " + std::to_string(model.task_count()) +
                        " tasks, a table of " + std::to_string(targets) +
                        " targets needs 1 + " + std::to_string(targets) +
                        " (see make_table_spec)");
  for (Index t = 0; t < targets; ++t) {
    const TableTargetSchema& target = schema.targets[static_cast<std::size_t>(t)];
    const TaskSpec& task = model.task(1 + t);
    const Index outputs =
        target.kind == TargetKind::Categorical ? static_cast<Index>(target.categories.size())
                                               : target.rows;
    if (task.name != target.name || task.outputs != outputs)
      throw ArgumentError(source + ": the model's task " + std::to_string(1 + t) + " (\"" +
                          task.name + "\", " + std::to_string(task.outputs) +
                          " outputs) is not target \"" + target.name + "\" (" +
                          std::to_string(outputs) + " outputs)");
  }
}

}  // namespace detail

/// Predicts every target of `schema` for `rows`, in the original units:
/// for a categorical target the most probable class, its name and its
/// probability; for a real one the Gaussian mean, un-standardised; for a
/// binary one 0/1 and the probability of that value. Rows are predicted in
/// chunks of `chunk` columns, so memory does not grow with their number.
/// ArgumentError naming the rows' source when the rows, the standardizer
/// and the model do not match the schema.
template <typename Model>
TablePrediction predict_table(const Model& model, const Standardizer& standardizer,
                              const TableSchema& schema,
                              const TableDataT<typename Model::Scalar>& rows, Index chunk = 4096) {
  using Scalar = typename Model::Scalar;
  detail::check_table_prediction_inputs(model, standardizer, schema, rows);
  if (chunk < 1) throw ArgumentError("predict_table: chunk must be positive, got " + std::to_string(chunk));
  const Index n = rows.samples();
  TablePrediction prediction;
  for (const TableTargetSchema& target : schema.targets) {
    TargetPrediction p;
    p.name = target.name;
    p.kind = target.kind;
    const Index value_rows = target.kind == TargetKind::Categorical ? 1 : target.rows;
    p.values.resize(value_rows, n);
    if (target.kind != TargetKind::Real) p.probability.resize(value_rows, n);
    if (target.kind == TargetKind::Categorical) p.class_names.resize(static_cast<std::size_t>(n));
    prediction.targets.push_back(std::move(p));
  }
  Matrix<Scalar> inputs, output, original;
  for (Index begin = 0; begin < n; begin += chunk) {
    const Index count = std::min(chunk, n - begin);
    standardizer.transform_features<Scalar>(rows.features().middleCols(begin, count), inputs);
    for (std::size_t t = 0; t < schema.targets.size(); ++t) {
      const TableTargetSchema& target = schema.targets[t];
      TargetPrediction& p = prediction.targets[t];
      const Index task = 1 + static_cast<Index>(t);
      reconstruct(model, task, inputs, output);  // the likelihood's mean at z = mu(x)
      switch (target.kind) {
        case TargetKind::Categorical:
          for (Index j = 0; j < count; ++j) {
            Index best = 0;
            output.col(j).maxCoeff(&best);
            p.values(0, begin + j) = static_cast<double>(best);
            p.probability(0, begin + j) = static_cast<double>(output(best, j));
            p.class_names[static_cast<std::size_t>(begin + j)] =
                target.categories[static_cast<std::size_t>(best)];
          }
          break;
        case TargetKind::Real:
          standardizer.inverse_target<Scalar>(static_cast<Index>(t), output, original);
          p.values.middleCols(begin, count) = original.template cast<double>();
          break;
        case TargetKind::Binary:
          for (Index j = 0; j < count; ++j)
            for (Index r = 0; r < output.rows(); ++r) {
              const double one = static_cast<double>(output(r, j));
              const bool is_one = one >= 0.5;
              p.values(r, begin + j) = is_one ? 1.0 : 0.0;
              p.probability(r, begin + j) = is_one ? one : 1.0 - one;
            }
          break;
      }
    }
  }
  return prediction;
}

}  // namespace scvae
