#pragma once
// Bernoulli on logits: -log p(y|l) = softplus(l) - y*l, written as
// max(l,0) - y*l + log1p(exp(-|l|)) so it is exact and finite for any l.
// Targets may be grey levels in [0,1], as in the usual MNIST VAE.

#include <cmath>
#include <limits>

#include "scvae/prob/likelihood.hpp"

namespace scvae {

template <typename Scalar_>
class BernoulliT final : public LikelihoodT<Scalar_> {
 public:
  using Scalar = Scalar_;
  using Base = LikelihoodT<Scalar>;

  std::string name() const override { return "bernoulli"; }
  std::unique_ptr<Base> clone() const override { return std::make_unique<BernoulliT>(*this); }

  void validate_target(const ConstMatrixRef<Scalar>& target,
                       const std::optional<ConstRowVectorRef<Scalar>>& mask,
                       Index outputs) const override {
    Base::validate_target(target, mask, outputs);
    // One vectorised pass: |t - clamp(t, 0, 1)| sums to 0 exactly when every
    // value is in [0, 1]; a NaN or an infinity makes the sum NaN or infinite.
    if (in_range(target)) return;
    // Something is out of range: find it, column by column, skipping masked
    // columns (a NaN there marks a missing value and is never read).
    Index row = 0, column = 0;
    const auto column_ok = [](const auto& col) { return in_range(col); };
    const auto ok = [](Scalar v) { return v >= Scalar(0) && v <= Scalar(1); };
    if (!detail::find_bad_entry(target, mask, column_ok, ok, row, column)) return;
    throw SampleError("bernoulli target: expected values in [0, 1], got " +
                          detail::value_text(static_cast<double>(target(row, column))) +
                          " at row " + std::to_string(row) + ", column " + std::to_string(column) +
                          " of the batch",
                      column);
  }

  void mean(const ConstMatrixRef<Scalar>& output, MatrixRef<Scalar> mean) const override {
    mean.array() = Scalar(1) / (Scalar(1) + (-output.array()).exp());
  }

  template <typename Derived>
  static bool in_range(const Eigen::MatrixBase<Derived>& target) {
    const auto t = target.array();
    return (t - t.max(Scalar(0)).min(Scalar(1))).abs().sum() == Scalar(0);
  }

  void evaluate(const Scalar* /*values*/, Scalar* /*gradients*/,
                const ConstMatrixRef<Scalar>& output, const ConstMatrixRef<Scalar>& target,
                const ConstRowVectorRef<Scalar>& scale, Eigen::Ref<RowVector<Scalar>> nll,
                MatrixRef<Scalar>* output_gradient) const override {
    // One exp per element: e = exp(-|l|) gives both log1p(e) for the NLL and
    // sigmoid(l) = (l >= 0 ? 1 : e) / (1 + e), exact at both ends (e -> 0).
    // The gradient column holds e between the two passes, so they run in L1.
    // Eigen 3.4's select() is not vectorised (it called scalar expf), so the
    // two conditions are written as 0/1 factors clamp(a * big, 0, 1):
    //  - past |l| = -log(smallest normal), e is 0 (vectorised exp returns a
    //    denormal there instead of 0, and sigmoid must be exactly 0 or 1);
    //  - (l >= 0 ? 1 : e) = max(e, step(l)), where step(l) is 1 for l > 0
    //    (for a denormal l it is between 0 and 1, but then e rounds to 1).
    const Scalar cut = -std::log(std::numeric_limits<Scalar>::min());
    const Scalar big = std::numeric_limits<Scalar>::max();
    for (Index j = 0; j < output.cols(); ++j) {
      const auto l = output.col(j).array();
      const auto y = target.col(j).array();
      if (output_gradient == nullptr) {
        nll(j) = (l.max(Scalar(0)) - l * y + (-l.abs()).exp().log1p()).sum();
        if (scale(j) == Scalar(0)) detail::zero_if_not_finite(nll(j));
        continue;
      }
      auto g = output_gradient->col(j).array();
      g = (-l.abs()).exp() * ((cut - l.abs()) * big).max(Scalar(0)).min(Scalar(1));
      nll(j) = (l.max(Scalar(0)) - l * y + g.log1p()).sum();
      if (scale(j) == Scalar(0)) {  // masked: its target (NaN, say) must not reach the gradient
        detail::zero_if_not_finite(nll(j));
        g.setZero();
        continue;
      }
      g = scale(j) * (g.max((l * big).max(Scalar(0)).min(Scalar(1))) / (Scalar(1) + g) - y);
    }
  }
};

using Bernoulli = BernoulliT<float>;

}  // namespace scvae
