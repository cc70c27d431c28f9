#pragma once
// Standardisation fitted on the training part of a table: per feature (and
// per row of each real-valued target) the mean and the standard deviation
// (population, as scikit-learn's StandardScaler) over the present values.
// A missing feature becomes the training mean, i.e. 0 after standardisation.
// A constant column, or one with a single present value, keeps scale 1; a
// column with no present value has mean 0 and scale 1. Saved into and loaded
// from a checkpoint's extras ("table.feature_mean", "table.feature_scale",
// "table.target_mean", "table.target_scale"), so predictions of a saved model
// come back in the original units.

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "scvae/core/error.hpp"
#include "scvae/core/types.hpp"
#include "scvae/data/table_data.hpp"
#include "scvae/io/checkpoint_extras.hpp"

namespace scvae {

class Standardizer {
 public:
  Standardizer() = default;

  /// Fits on `train`: features over their present values, real targets over
  /// their unmasked samples; categorical and binary targets are left as they
  /// are (mean 0, scale 1).
  template <typename Scalar>
  static Standardizer fit(const TableDataT<Scalar>& train) {
    Standardizer s;
    const Index features = train.feature_count();
    s.feature_mean_.setZero(features);
    s.feature_scale_.setOnes(features);
    for (Index f = 0; f < features; ++f)
      fit_row(train.features().row(f), train.feature_mask().row(f), s.feature_mean_(f),
              s.feature_scale_(f));
    for (const TableTargetT<Scalar>& t : train.targets()) {
      Vector<double> mean = Vector<double>::Zero(t.values.rows());
      Vector<double> scale = Vector<double>::Ones(t.values.rows());
      if (t.kind == TargetKind::Real)
        for (Index r = 0; r < t.values.rows(); ++r)
          fit_row(t.values.row(r), t.mask, mean(r), scale(r));
      s.target_mean_.push_back(mean);
      s.target_scale_.push_back(scale);
    }
    return s;
  }

  Index feature_count() const { return feature_mean_.size(); }
  Index target_count() const { return static_cast<Index>(target_mean_.size()); }
  const Vector<double>& feature_mean() const { return feature_mean_; }
  const Vector<double>& feature_scale() const { return feature_scale_; }
  const Vector<double>& target_mean(Index t) const { return target_mean_.at(index(t)); }
  const Vector<double>& target_scale(Index t) const { return target_scale_.at(index(t)); }

  /// (raw - mean) / scale per feature row, with a missing (NaN) value
  /// replaced by 0, the training mean. `out` is resized only when its shape
  /// differs.
  template <typename Scalar>
  void transform_features(const ConstMatrixRef<Scalar>& raw, Matrix<Scalar>& out) const {
    check_rows("features", raw.rows(), feature_count());
    if (out.rows() != raw.rows() || out.cols() != raw.cols()) out.resize(raw.rows(), raw.cols());
    for (Index j = 0; j < raw.cols(); ++j)
      for (Index f = 0; f < raw.rows(); ++f) {
        const double value = static_cast<double>(raw(f, j));
        out(f, j) = std::isnan(value)
                        ? Scalar(0)
                        : static_cast<Scalar>((value - feature_mean_(f)) / feature_scale_(f));
      }
  }
  /// standardised * scale + mean per feature row: back to the original units.
  template <typename Scalar>
  void inverse_features(const ConstMatrixRef<Scalar>& standardised, Matrix<Scalar>& out) const {
    check_rows("features", standardised.rows(), feature_count());
    affine(standardised, feature_scale_, feature_mean_, out);
  }

  /// Target t's values standardised (real targets; others unchanged). A
  /// masked value should be 0 (TableData keeps it so): it stays finite.
  template <typename Scalar>
  void transform_target(Index t, const ConstMatrixRef<Scalar>& raw, Matrix<Scalar>& out) const {
    check_rows("target", raw.rows(), target_mean(t).size());
    const Vector<double> inverse_scale = target_scale(t).cwiseInverse();
    affine(raw, inverse_scale, -target_mean(t).cwiseProduct(inverse_scale), out);
  }
  /// Target t's standardised values (e.g. a prediction) in the original units.
  template <typename Scalar>
  void inverse_target(Index t, const ConstMatrixRef<Scalar>& standardised,
                      Matrix<Scalar>& out) const {
    check_rows("target", standardised.rows(), target_mean(t).size());
    affine(standardised, target_scale(t), target_mean(t), out);
  }

  /// Stores the means and scales in `extras` (see the top of this file).
  void save(CheckpointExtras& extras) const {
    extras.set_vector("table.feature_mean", feature_mean_);
    extras.set_vector("table.feature_scale", feature_scale_);
    std::vector<double> mean;
    std::vector<double> scale;
    std::vector<double> rows;
    for (std::size_t t = 0; t < target_mean_.size(); ++t) {
      rows.push_back(static_cast<double>(target_mean_[t].size()));
      mean.insert(mean.end(), target_mean_[t].data(), target_mean_[t].data() + target_mean_[t].size());
      scale.insert(scale.end(), target_scale_[t].data(),
                   target_scale_[t].data() + target_scale_[t].size());
    }
    extras.set_values("table.target_rows", rows);
    extras.set_values("table.target_mean", mean);
    extras.set_values("table.target_scale", scale);
  }

  /// The standardizer save() stored. ArgumentError if an entry is absent,
  /// CheckpointError if the entries disagree in size or hold a scale that
  /// is not positive and finite.
  static Standardizer load(const CheckpointExtras& extras) {
    for (const char* name : {"table.feature_mean", "table.feature_scale", "table.target_rows",
                             "table.target_mean", "table.target_scale"})
      if (!extras.contains(name))
        throw ArgumentError(std::string("checkpoint extras: no '") + name +
                            "' entry: the model was not saved with its table's standardizer");
    Standardizer s;
    s.feature_mean_ = extras.vector<double>("table.feature_mean");
    s.feature_scale_ = extras.vector<double>("table.feature_scale");
    if (s.feature_mean_.size() != s.feature_scale_.size())
      malformed("feature means and scales differ in count");
    const std::vector<double>& rows = extras.values("table.target_rows");
    const std::vector<double>& mean = extras.values("table.target_mean");
    const std::vector<double>& scale = extras.values("table.target_scale");
    std::size_t at = 0;
    for (const double r : rows) {
      if (!(r >= 1 && r == std::floor(r) && at + static_cast<std::size_t>(r) <= mean.size()))
        malformed("target rows do not fit the target means");
      const auto k = static_cast<Index>(r);
      s.target_mean_.push_back(Eigen::Map<const Vector<double>>(mean.data() + at, k));
      if (at + static_cast<std::size_t>(k) > scale.size()) malformed("target scales are missing");
      s.target_scale_.push_back(Eigen::Map<const Vector<double>>(scale.data() + at, k));
      at += static_cast<std::size_t>(k);
    }
    if (at != mean.size() || at != scale.size()) malformed("target means and scales differ in count");
    const auto bad_scale = [](const Vector<double>& v) {
      for (Index i = 0; i < v.size(); ++i)
        if (!(v(i) > 0.0) || !std::isfinite(v(i))) return true;
      return false;
    };
    if (bad_scale(s.feature_scale_)) malformed("a feature scale is not positive and finite");
    for (const Vector<double>& v : s.target_scale_)
      if (bad_scale(v)) malformed("a target scale is not positive and finite");
    return s;
  }

 private:
  template <typename Row, typename Mask>
  static void fit_row(const Row& values, const Mask& mask, double& mean, double& scale) {
    double sum = 0.0;
    Index count = 0;
    for (Index j = 0; j < values.size(); ++j)
      if (mask(j) != 0) {
        sum += static_cast<double>(values(j));
        ++count;
      }
    mean = count > 0 ? sum / static_cast<double>(count) : 0.0;
    double squares = 0.0;
    for (Index j = 0; j < values.size(); ++j)
      if (mask(j) != 0) {
        const double d = static_cast<double>(values(j)) - mean;
        squares += d * d;
      }
    const double deviation = count > 0 ? std::sqrt(squares / static_cast<double>(count)) : 0.0;
    // A constant column would divide by 0: it keeps its units (all its values become 0).
    scale = deviation > 1e-12 * std::max(1.0, std::fabs(mean)) ? deviation : 1.0;
  }

  template <typename Scalar>
  static void affine(const ConstMatrixRef<Scalar>& in, const Vector<double>& scale,
                     const Vector<double>& shift, Matrix<Scalar>& out) {
    if (out.rows() != in.rows() || out.cols() != in.cols()) out.resize(in.rows(), in.cols());
    for (Index j = 0; j < in.cols(); ++j)
      for (Index r = 0; r < in.rows(); ++r)
        out(r, j) = static_cast<Scalar>(static_cast<double>(in(r, j)) * scale(r) + shift(r));
  }

  static void check_rows(const char* what, Index got, Index expected) {
    if (got != expected)
      throw ShapeError(std::string("standardizer ") + what + ": expected " +
                       std::to_string(expected) + " rows, got " + std::to_string(got));
  }
  std::size_t index(Index t) const {
    if (t < 0 || t >= target_count())
      throw ArgumentError("standardizer: target " + std::to_string(t) + " is not below " +
                          std::to_string(target_count()));
    return static_cast<std::size_t>(t);
  }
  [[noreturn]] static void malformed(const std::string& what) {
    throw CheckpointError("checkpoint extras 'table.*': " + what);
  }

  Vector<double> feature_mean_;
  Vector<double> feature_scale_;
  std::vector<Vector<double>> target_mean_;
  std::vector<Vector<double>> target_scale_;
};

}  // namespace scvae
