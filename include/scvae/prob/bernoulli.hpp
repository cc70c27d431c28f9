#pragma once
// Bernoulli on logits: -log p(y|l) = softplus(l) - y*l, written as
// max(l,0) - y*l + log1p(exp(-|l|)) so it is exact and finite for any l.
// Targets may be grey levels in [0,1], as in the usual MNIST VAE.

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
    const auto t = target.array();
    if (((t < Scalar(0)) || (t > Scalar(1))).any() || !t.isFinite().all())
      throw ArgumentError("bernoulli target: expected values in [0, 1], got min " +
                          std::to_string(static_cast<double>(target.minCoeff())) + ", max " +
                          std::to_string(static_cast<double>(target.maxCoeff())));
  }

  void mean(const ConstMatrixRef<Scalar>& output, MatrixRef<Scalar> mean) const override {
    mean.array() = Scalar(1) / (Scalar(1) + (-output.array()).exp());
  }

  void evaluate(const Scalar* /*values*/, Scalar* /*gradients*/,
                const ConstMatrixRef<Scalar>& output, const ConstMatrixRef<Scalar>& target,
                const ConstRowVectorRef<Scalar>& scale, Eigen::Ref<RowVector<Scalar>> nll,
                MatrixRef<Scalar>* output_gradient) const override {
    for (Index j = 0; j < output.cols(); ++j) {
      const auto l = output.col(j).array();
      const auto y = target.col(j).array();
      nll(j) = (l.max(Scalar(0)) - l * y + (-l.abs()).exp().log1p()).sum();
      if (output_gradient != nullptr) {
        // 1/(1+exp(-l)) is exact at both ends in IEEE arithmetic: exp(1000)
        // is inf and 1/inf is 0.
        output_gradient->col(j).array() =
            scale(j) * (Scalar(1) / (Scalar(1) + (-l).exp()) - y);
      }
    }
  }
};

}  // namespace scvae
