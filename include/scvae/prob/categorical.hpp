#pragma once
// Categorical on logits. A target is either a 1 x n row of class indices,
// -log p = logsumexp(l) - l[y], or a classes x n matrix of class
// probabilities (soft labels, e.g. a model's own averaged predictions), scored
// by the cross-entropy -sum_k t_k log softmax(l)_k = sum_k t_k (logsumexp(l) -
// l_k). Both are computed with the max subtracted; a one-hot column scores
// exactly as its class index.

#include <cmath>
#include <limits>

#include "scvae/prob/likelihood.hpp"

namespace scvae {

template <typename Scalar_>
class CategoricalT final : public LikelihoodT<Scalar_> {
 public:
  using Scalar = Scalar_;
  using Base = LikelihoodT<Scalar>;

  explicit CategoricalT(Index classes) : classes_(classes) {
    if (classes < 2)
      throw ArgumentError("categorical classes: expected at least 2, got " +
                          std::to_string(classes));
  }

  std::string name() const override { return LikelihoodSpec::categorical(classes_).name(); }
  std::unique_ptr<Base> clone() const override { return std::make_unique<CategoricalT>(*this); }
  /// Class indices take one row; class probabilities (classes rows) are accepted too.
  Index target_rows(Index /*outputs*/) const override { return 1; }
  Index classes() const { return classes_; }

  /// How far a probability column's sum may be from 1: sqrt(epsilon), about
  /// 3e-4 in float and 1.5e-8 in double.
  static Scalar sum_tolerance() { return std::sqrt(std::numeric_limits<Scalar>::epsilon()); }

  void validate_target(const ConstMatrixRef<Scalar>& target,
                       const std::optional<ConstRowVectorRef<Scalar>>& mask,
                       Index /*outputs*/) const override {
    if (target.rows() != 1 && target.rows() != classes_)
      throw ShapeError("categorical target: expected 1 row (class indices) or " +
                       std::to_string(classes_) + " rows (class probabilities), got " +
                       std::to_string(target.rows()));
    const bool probabilities = target.rows() != 1;
    for (Index j = 0; j < target.cols(); ++j) {
      if (mask && (*mask)(j) == Scalar(0)) continue;
      if (probabilities && !valid_distribution(target.col(j)))
        throw SampleError(
            "categorical target: expected class probabilities (finite, >= 0, "
            "summing to 1) in column " +
                std::to_string(j) + ", got min " +
                detail::value_text(static_cast<double>(target.col(j).minCoeff())) + ", sum " +
                detail::value_text(static_cast<double>(target.col(j).sum())),
            j);
      if (!probabilities && !valid_class(target(0, j)))
        throw SampleError("categorical target: expected a class index in [0, " +
                              std::to_string(classes_) + "), got " +
                              detail::value_text(static_cast<double>(target(0, j))) +
                              " in column " + std::to_string(j) + " of the batch",
                          j);
    }
  }

  void mean(const ConstMatrixRef<Scalar>& output, MatrixRef<Scalar> mean) const override {
    for (Index j = 0; j < output.cols(); ++j) {
      const auto l = output.col(j).array();
      mean.col(j).array() = (l - l.maxCoeff()).exp();
      mean.col(j) /= mean.col(j).sum();
    }
  }

  void evaluate(const Scalar* /*values*/, Scalar* /*gradients*/,
                const ConstMatrixRef<Scalar>& output, const ConstMatrixRef<Scalar>& target,
                const ConstRowVectorRef<Scalar>& scale, Eigen::Ref<RowVector<Scalar>> nll,
                MatrixRef<Scalar>* output_gradient) const override {
    detail::check_rows("categorical logits", output.rows(), classes_);
    const bool probabilities = target.rows() != 1;
    if (probabilities) detail::check_rows("categorical target", target.rows(), classes_);
    for (Index j = 0; j < output.cols(); ++j) {
      const auto l = output.col(j).array();
      const Scalar max = l.maxCoeff();
      const Scalar log_sum = max + std::log((l - max).exp().sum());
      // Columns with no valid target can only be masked ones (validate_target);
      // they score 0 and get no gradient.
      if (probabilities) {
        const auto t = target.col(j).array();
        const bool valid = valid_distribution(target.col(j));
        // Every term t_k (log_sum - l_k) is >= 0: no cancellation.
        nll(j) = valid ? (t * (log_sum - l)).sum() : Scalar(0);
        if (output_gradient != nullptr) {
          auto g = output_gradient->col(j).array();
          // d nll / d l = sum(t) softmax(l) - t, exact also when sum(t) is 1 only to rounding.
          if (valid)
            g = scale(j) * (t.sum() * (l - log_sum).exp() - t);
          else
            g.setZero();
        }
        continue;
      }
      const bool valid = valid_class(target(0, j));
      const Index label = valid ? static_cast<Index>(target(0, j)) : 0;
      nll(j) = valid ? log_sum - l(label) : Scalar(0);
      if (output_gradient != nullptr) {
        auto g = output_gradient->col(j).array();
        if (valid) {
          g = scale(j) * (l - log_sum).exp();
          g(label) -= scale(j);
        } else {
          g.setZero();
        }
      }
    }
  }

 private:
  bool valid_class(Scalar value) const {
    return std::isfinite(static_cast<double>(value)) && value >= Scalar(0) &&
           value < static_cast<Scalar>(classes_) && std::floor(value) == value;
  }

  template <typename Column>
  static bool valid_distribution(const Column& t) {
    // A NaN fails both comparisons; an infinity makes the sum infinite or NaN.
    const Scalar sum = t.sum();
    return (t.array() >= Scalar(0)).all() && std::abs(sum - Scalar(1)) <= sum_tolerance();
  }

  Index classes_;
};

using Categorical = CategoricalT<float>;

}  // namespace scvae
