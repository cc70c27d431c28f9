#pragma once
// Categorical on logits with integer class targets (a 1 x n row of class
// indices): -log p = logsumexp(l) - l[y], computed with the max subtracted.

#include <cmath>

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
  Index target_rows(Index /*outputs*/) const override { return 1; }
  Index classes() const { return classes_; }

  void validate_target(const ConstMatrixRef<Scalar>& target,
                       const std::optional<ConstRowVectorRef<Scalar>>& mask,
                       Index outputs) const override {
    Base::validate_target(target, mask, outputs);
    for (Index j = 0; j < target.cols(); ++j) {
      if (mask && (*mask)(j) == Scalar(0)) continue;
      if (!valid_class(target(0, j)))
        throw ArgumentError("categorical target: expected a class index in [0, " +
                            std::to_string(classes_) + "), got " +
                            std::to_string(static_cast<double>(target(0, j))) + " in column " +
                            std::to_string(j));
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
    for (Index j = 0; j < output.cols(); ++j) {
      const auto l = output.col(j).array();
      const Scalar max = l.maxCoeff();
      const Scalar log_sum = max + std::log((l - max).exp().sum());
      // Columns with no valid class can only be masked ones (validate_target);
      // they score 0 and get no gradient.
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

  Index classes_;
};

using Categorical = CategoricalT<float>;

}  // namespace scvae
