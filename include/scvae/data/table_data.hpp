#pragma once
// A table of float data: features (features x samples) with NaN where a value
// is missing, and any number of targets (a class, real values, 0/1 values),
// each with a per-sample mask. Built from Eigen matrices here, or from a CSV
// table by data/table_csv.hpp. Missing features stay NaN in features() and 0
// in feature_mask(); a Standardizer (data/table_standardizer.hpp) imputes
// them. A missing target is 0 in its mask and 0 in its values, so that the
// values are always finite.

#include <cmath>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "scvae/core/error.hpp"
#include "scvae/core/types.hpp"

namespace scvae {

/// What a target holds and which likelihood predicts it.
enum class TargetKind {
  Categorical,  ///< One class per sample: a 1 x n row of class indices.
  Real,         ///< Real values (k x n), predicted by a Gaussian.
  Binary,       ///< 0/1 values (k x n), predicted by a Bernoulli.
};

inline const char* target_kind_name(TargetKind kind) {
  switch (kind) {
    case TargetKind::Categorical: return "categorical";
    case TargetKind::Real: return "real";
    case TargetKind::Binary: return "binary";
  }
  return "unknown";
}

/// Where a feature row comes from: a numeric column (category empty), or the
/// one-hot indicator of `category` in a text column.
struct FeatureSource {
  std::string column;
  std::string category{};

  /// "column" for a numeric column, "column=category" for an indicator.
  std::string feature_name() const { return category.empty() ? column : column + "=" + category; }
  friend bool operator==(const FeatureSource& a, const FeatureSource& b) {
    return a.column == b.column && a.category == b.category;
  }
};

/// One target of a table. `mask(i)` is 0 where sample i's target is missing;
/// its values are then 0.
template <typename Scalar>
struct TableTargetT {
  std::string name;
  TargetKind kind = TargetKind::Real;
  Matrix<Scalar> values;               ///< 1 x n class indices, or k x n values.
  RowVector<Scalar> mask;              ///< 1 x n of 0/1.
  std::vector<std::string> categories; ///< Categorical only: the class names, by index.

  Index classes() const { return static_cast<Index>(categories.size()); }
  Index present() const { return static_cast<Index>((mask.array() != Scalar(0)).count()); }
};

template <typename Scalar_>
class TableDataT {
 public:
  using Scalar = Scalar_;
  using Target = TableTargetT<Scalar>;

  TableDataT() = default;
  /// `features` is features x samples with NaN for a missing value; one name
  /// per feature row. ShapeError when the counts differ, ArgumentError for an
  /// empty or duplicate name or an infinite value.
  TableDataT(Matrix<Scalar> features, std::vector<std::string> feature_names,
             std::string source = "table")
      : TableDataT(std::move(features), sources_of(feature_names), std::move(source), 0) {}

  /// As above, with each feature's origin in a CSV table (a numeric column,
  /// or a category of a text column).
  static TableDataT with_sources(Matrix<Scalar> features, std::vector<FeatureSource> sources,
                                 std::string source) {
    return TableDataT(std::move(features), std::move(sources), std::move(source), 0);
  }

 private:
  TableDataT(Matrix<Scalar> features, std::vector<FeatureSource> sources, std::string source,
             int /*private*/)
      : source_(std::move(source)), features_(std::move(features)), sources_(std::move(sources)) {
    if (static_cast<Index>(sources_.size()) != features_.rows())
      throw ShapeError(source_ + ": " + std::to_string(sources_.size()) + " feature names for " +
                       std::to_string(features_.rows()) + " feature rows");
    if (features_.rows() == 0 || features_.cols() == 0)
      throw ArgumentError(source_ + ": expected at least one feature and one sample, got " +
                          std::to_string(features_.rows()) + " x " +
                          std::to_string(features_.cols()));
    for (std::size_t f = 0; f < sources_.size(); ++f) {
      const std::string name = sources_[f].feature_name();
      if (sources_[f].column.empty())
        throw ArgumentError(source_ + ": feature " + std::to_string(f) + " has an empty name");
      for (std::size_t g = 0; g < f; ++g)
        if (sources_[g].feature_name() == name)
          throw ArgumentError(source_ + ": feature \"" + name + "\" is listed twice");
    }
    feature_mask_.resize(features_.rows(), features_.cols());
    for (Index j = 0; j < features_.cols(); ++j)
      for (Index f = 0; f < features_.rows(); ++f) {
        const double value = static_cast<double>(features_(f, j));
        if (std::isinf(value))
          throw ArgumentError(source_ + ": feature \"" + sources_[static_cast<std::size_t>(f)]
                                  .feature_name() + "\", sample " + std::to_string(j) +
                              ": expected a finite value or NaN (missing), got " +
                              std::to_string(value));
        feature_mask_(f, j) = std::isnan(value) ? Scalar(0) : Scalar(1);
      }
  }

 public:
  /// Adds a target from `values` (1 x n class indices for Categorical, k x n
  /// otherwise), NaN marking a missing one (a sample is missing when any of
  /// its values is NaN). Categorical: `categories` names the classes (empty:
  /// "0", "1", ...; the count is then the largest index + 1), at least two,
  /// every present value an integer index below their count. Binary: every
  /// present value 0 or 1. Every value may be missing (rows to predict).
  /// ArgumentError naming the target and the sample.
  void add_target(const std::string& name, TargetKind kind, Matrix<Scalar> values,
                  std::vector<std::string> categories = {}) {
    const std::string what = source_ + ": target \"" + name + "\"";
    if (name.empty()) throw ArgumentError(source_ + ": a target needs a name");
    for (const Target& other : targets_)
      if (other.name == name) throw ArgumentError(what + " is listed twice");
    if (values.cols() != samples() || values.rows() < 1)
      throw ShapeError(what + ": expected k x " + std::to_string(samples()) + " values, got " +
                       std::to_string(values.rows()) + " x " + std::to_string(values.cols()));
    if (kind == TargetKind::Categorical && values.rows() != 1)
      throw ShapeError(what + ": a categorical target is one row of class indices, got " +
                       std::to_string(values.rows()) + " rows");
    if (kind != TargetKind::Categorical && !categories.empty())
      throw ArgumentError(what + ": only a categorical target has category names");
    Target target;
    target.name = name;
    target.kind = kind;
    target.mask.setOnes(samples());
    double largest = -1;
    for (Index j = 0; j < samples(); ++j) {
      for (Index r = 0; r < values.rows(); ++r) {
        const double value = static_cast<double>(values(r, j));
        if (std::isnan(value)) {
          target.mask(j) = Scalar(0);
          continue;
        }
        const auto refuse = [&](const std::string& expected) {
          throw ArgumentError(what + ", sample " + std::to_string(j) + ": expected " + expected +
                              ", got " + std::to_string(value));
        };
        if (!std::isfinite(value)) refuse("a finite value or NaN (missing)");
        if (kind == TargetKind::Binary && value != 0.0 && value != 1.0) refuse("0 or 1");
        if (kind == TargetKind::Categorical) {
          if (value < 0 || value != std::floor(value)) refuse("a class index (0, 1, ...)");
          if (!categories.empty() && value >= static_cast<double>(categories.size()))
            refuse("a class index below " + std::to_string(categories.size()));
          if (value > largest) largest = value;
        }
      }
      if (target.mask(j) == Scalar(0)) values.col(j).setZero();
    }
    if (kind == TargetKind::Categorical && categories.empty())
      for (Index k = 0; k <= static_cast<Index>(largest); ++k) categories.push_back(std::to_string(k));
    if (kind == TargetKind::Categorical && categories.size() < 2)
      throw ArgumentError(what + ": a categorical target needs at least two classes, got " +
                          std::to_string(categories.size()));
    target.values = std::move(values);
    target.categories = std::move(categories);
    targets_.push_back(std::move(target));
  }

  const std::string& source() const { return source_; }
  Index samples() const { return features_.cols(); }
  Index feature_count() const { return features_.rows(); }
  /// features x samples, NaN where missing.
  const Matrix<Scalar>& features() const { return features_; }
  /// features x samples, 0 where the feature is missing, else 1.
  const Matrix<Scalar>& feature_mask() const { return feature_mask_; }
  const std::vector<FeatureSource>& feature_sources() const { return sources_; }
  std::vector<std::string> feature_names() const {
    std::vector<std::string> names;
    for (const FeatureSource& s : sources_) names.push_back(s.feature_name());
    return names;
  }

  Index target_count() const { return static_cast<Index>(targets_.size()); }
  const Target& target(Index t) const { return targets_.at(static_cast<std::size_t>(t)); }
  const std::vector<Target>& targets() const { return targets_; }
  /// The index of the target called `name`; ArgumentError listing them if none is.
  Index target_index(const std::string& name) const {
    std::string known;
    for (std::size_t t = 0; t < targets_.size(); ++t) {
      if (targets_[t].name == name) return static_cast<Index>(t);
      known += (known.empty() ? "\"" : ", \"") + targets_[t].name + "\"";
    }
    throw ArgumentError(source_ + ": no target named \"" + name + "\" (targets: " +
                        (known.empty() ? std::string("none") : known) + ")");
  }

  /// The samples `rows` (each below samples(), repeats allowed), in that order.
  TableDataT subset(const std::vector<Index>& rows) const {
    TableDataT out;
    out.source_ = source_;
    out.sources_ = sources_;
    const Index n = static_cast<Index>(rows.size());
    out.features_.resize(feature_count(), n);
    out.feature_mask_.resize(feature_count(), n);
    out.targets_ = targets_;
    for (Target& t : out.targets_) {
      t.values.resize(t.values.rows(), n);
      t.mask.resize(n);
    }
    for (Index j = 0; j < n; ++j) {
      const Index i = rows[static_cast<std::size_t>(j)];
      if (i < 0 || i >= samples())
        throw ArgumentError(source_ + ": row " + std::to_string(i) + " is not below " +
                            std::to_string(samples()));
      out.features_.col(j) = features_.col(i);
      out.feature_mask_.col(j) = feature_mask_.col(i);
      for (std::size_t t = 0; t < targets_.size(); ++t) {
        out.targets_[t].values.col(j) = targets_[t].values.col(i);
        out.targets_[t].mask(j) = targets_[t].mask(i);
      }
    }
    return out;
  }

 private:
  static std::vector<FeatureSource> sources_of(const std::vector<std::string>& names) {
    std::vector<FeatureSource> out;
    for (const std::string& name : names) out.push_back(FeatureSource{name});
    return out;
  }

  std::string source_;
  Matrix<Scalar> features_;
  Matrix<Scalar> feature_mask_;
  std::vector<FeatureSource> sources_;
  std::vector<Target> targets_;
};

using TableTarget = TableTargetT<float>;
using TableData = TableDataT<float>;

}  // namespace scvae
