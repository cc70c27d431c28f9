#pragma once
// Gaussian likelihood on decoder means, with a fixed variance or with a
// learned per-feature log-variance s: -log p = 1/2 sum((y-m)^2 e^-s + s + log 2pi).

#include <cmath>
#include <optional>
#include <string>

#include "scvae/prob/likelihood.hpp"

namespace scvae {

namespace detail {
/// SampleError naming the first non-finite value of an unmasked column.
template <typename Scalar>
void check_finite_target(const char* what, const ConstMatrixRef<Scalar>& target,
                         const std::optional<ConstRowVectorRef<Scalar>>& mask) {
  if (all_finite(target)) return;
  Index row = 0, column = 0;
  const auto column_ok = [](const auto& col) { return all_finite(col); };
  const auto ok = [](Scalar v) { return std::isfinite(static_cast<double>(v)); };
  if (!find_bad_entry(target, mask, column_ok, ok, row, column)) return;
  throw SampleError(std::string(what) + ": expected finite values, got " +
                        value_text(static_cast<double>(target(row, column))) + " at row " +
                        std::to_string(row) + ", column " + std::to_string(column) +
                        " of the batch (mask the sample out to leave it unscored)",
                    column);
}
}  // namespace detail

template <typename Scalar_>
class GaussianT final : public LikelihoodT<Scalar_> {
 public:
  using Scalar = Scalar_;
  using Base = LikelihoodT<Scalar>;

  explicit GaussianT(double variance = 1.0) : variance_(variance) {
    if (!(variance > 0.0) || !std::isfinite(variance))
      throw ArgumentError("gaussian variance: expected a positive finite value, got " +
                          std::to_string(variance));
  }

  std::string name() const override { return LikelihoodSpec::gaussian(variance_).name(); }
  std::unique_ptr<Base> clone() const override { return std::make_unique<GaussianT>(*this); }
  double variance() const { return variance_; }

  /// Targets must be finite where they are read; a masked column may hold
  /// anything (a NaN marking a missing value).
  void validate_target(const ConstMatrixRef<Scalar>& target,
                       const std::optional<ConstRowVectorRef<Scalar>>& mask,
                       Index outputs) const override {
    Base::validate_target(target, mask, outputs);
    detail::check_finite_target("gaussian target", target, mask);
  }

  void evaluate(const Scalar* /*values*/, Scalar* /*gradients*/,
                const ConstMatrixRef<Scalar>& output, const ConstMatrixRef<Scalar>& target,
                const ConstRowVectorRef<Scalar>& scale, Eigen::Ref<RowVector<Scalar>> nll,
                MatrixRef<Scalar>* output_gradient) const override {
    constexpr double kLog2Pi = 1.8378770664093454836;
    const auto inv_var = static_cast<Scalar>(1.0 / variance_);
    const auto constant = static_cast<Scalar>(0.5 * static_cast<double>(output.rows()) *
                                              (kLog2Pi + std::log(variance_)));
    for (Index j = 0; j < output.cols(); ++j) {
      const auto diff = output.col(j).array() - target.col(j).array();
      nll(j) = Scalar(0.5) * inv_var * diff.square().sum() + constant;
      if (scale(j) == Scalar(0)) {  // masked: its target (NaN, say) must not reach the gradient
        detail::zero_if_not_finite(nll(j));
        if (output_gradient != nullptr) output_gradient->col(j).setZero();
        continue;
      }
      if (output_gradient != nullptr) output_gradient->col(j).array() = (scale(j) * inv_var) * diff;
    }
  }

 private:
  double variance_;
};

template <typename Scalar_>
class GaussianLearnedVarianceT final : public LikelihoodT<Scalar_> {
 public:
  using Scalar = Scalar_;
  using Base = LikelihoodT<Scalar>;

  explicit GaussianLearnedVarianceT(Index features) : features_(features) {
    detail::check_positive("gaussian learned variance features", features);
  }

  std::string name() const override { return LikelihoodSpec::gaussian_learned_variance().name(); }
  std::unique_ptr<Base> clone() const override {
    return std::make_unique<GaussianLearnedVarianceT>(*this);
  }
  /// Targets must be finite where they are read; a masked column may hold
  /// anything (a NaN marking a missing value).
  void validate_target(const ConstMatrixRef<Scalar>& target,
                       const std::optional<ConstRowVectorRef<Scalar>>& mask,
                       Index outputs) const override {
    Base::validate_target(target, mask, outputs);
    detail::check_finite_target("gaussian target", target, mask);
  }

  Index parameter_count() const override { return features_; }
  /// log-variance 0: unit variance at the start.
  void initialize(Scalar* values) const override { log_variance(values).setZero(); }

  ConstVectorMap<Scalar> log_variance(const Scalar* values) const {
    return ConstVectorMap<Scalar>(values + this->offset_, features_);
  }
  VectorMap<Scalar> log_variance(Scalar* values) const {
    return VectorMap<Scalar>(values + this->offset_, features_);
  }

  void evaluate(const Scalar* values, Scalar* gradients, const ConstMatrixRef<Scalar>& output,
                const ConstMatrixRef<Scalar>& target, const ConstRowVectorRef<Scalar>& scale,
                Eigen::Ref<RowVector<Scalar>> nll,
                MatrixRef<Scalar>* output_gradient) const override {
    detail::check_rows("gaussian learned variance output", output.rows(), features_);
    constexpr double kLog2Pi = 1.8378770664093454836;
    const auto s = log_variance(values).array();
    const auto constant = static_cast<Scalar>(0.5 * (kLog2Pi * static_cast<double>(features_))) +
                          Scalar(0.5) * s.sum();
    for (Index j = 0; j < output.cols(); ++j) {
      const auto diff = output.col(j).array() - target.col(j).array();
      nll(j) = Scalar(0.5) * (diff.square() * (-s).exp()).sum() + constant;
      if (scale(j) == Scalar(0)) {  // masked: no gradient, to the output nor to s
        detail::zero_if_not_finite(nll(j));
        if (output_gradient != nullptr) output_gradient->col(j).setZero();
        continue;
      }
      if (output_gradient != nullptr) {
        output_gradient->col(j).array() = scale(j) * diff * (-s).exp();
        log_variance(gradients).array() +=
            scale(j) * Scalar(0.5) * (Scalar(1) - diff.square() * (-s).exp());
      }
    }
  }

 private:
  Index features_;
};

using Gaussian = GaussianT<float>;
using GaussianLearnedVariance = GaussianLearnedVarianceT<float>;

}  // namespace scvae
