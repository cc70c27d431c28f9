#pragma once
// The Gaussian posterior head q(z|h) = N(mu, diag(exp(logvar))): one dense
// layer to [mu; logvar] (one GEMM, not two), with logvar clamped to
// [kLogVarMin, kLogVarMax] so that exp(+-logvar) stays finite in float32. A
// clamped logvar does not move with the weights: its gradient is 0. An
// encoder is any network that ends in this module.

#include <string>

#include "scvae/nn/dense.hpp"
#include "scvae/prob/gaussian.hpp"

namespace scvae {

template <typename Scalar_>
class GaussianHeadT : public ModuleT<Scalar_> {
 public:
  using Scalar = Scalar_;
  using Base = ModuleT<Scalar>;

  GaussianHeadT(const Shape& input, Index latent)
      : Base(input, Shape::vector(2 * checked_latent(latent))), dense_(input, 2 * latent) {}

  Index latent() const { return this->outputs() / 2; }
  const DenseT<Scalar>& dense() const { return dense_; }

  /// The rows of mu and logvar in the module's output.
  template <typename Derived>
  static auto mu(Derived&& output) {
    return output.topRows(output.rows() / 2);
  }
  template <typename Derived>
  static auto logvar(Derived&& output) {
    return output.bottomRows(output.rows() / 2);
  }

  std::string token() const override { return "gaussian(" + std::to_string(latent()) + ")"; }
  std::unique_ptr<Base> clone() const override { return std::make_unique<GaussianHeadT>(*this); }
  Index parameter_count() const override { return dense_.parameter_count(); }
  double parameter_gradient_cost() const override { return dense_.parameter_gradient_cost(); }

  void set_precision(Precision precision) override { dense_.set_precision(precision); }
  std::unique_ptr<ModuleWorkspace> make_workspace() const override {
    return dense_.make_workspace();
  }
  void prepare(ModuleWorkspace* workspace, Index columns) const override {
    dense_.prepare(workspace, columns);
  }

  void initialize(Scalar* parameters, Rng& rng, const InitOptions& options) const override {
    InitOptions linear = options;
    linear.followed_by = Activation::Identity;
    dense_.initialize(parameters, rng, linear);
  }

  void forward(const Scalar* parameters, const ConstMatrixRef<Scalar>& input,
               MatrixRef<Scalar> output, ModuleWorkspace* workspace) const override {
    dense_.forward(parameters, input, output, workspace);
    logvar(output) = logvar(output)
                         .cwiseMax(static_cast<Scalar>(kLogVarMin))
                         .cwiseMin(static_cast<Scalar>(kLogVarMax));
  }

  void backward(const Scalar* parameters, const ConstMatrixRef<Scalar>& input,
                const ConstMatrixRef<Scalar>& output, MatrixRef<Scalar> output_gradient,
                InputGradient<Scalar> input_gradient,
                ModuleWorkspace* workspace) const override {
    const auto lo = static_cast<Scalar>(kLogVarMin);
    const auto hi = static_cast<Scalar>(kLogVarMax);
    const auto lv = logvar(output).array();
    logvar(output_gradient) =
        (lv > lo && lv < hi).select(logvar(output_gradient).array(), Scalar(0)).matrix();
    dense_.backward(parameters, input, output, output_gradient, input_gradient, workspace);
  }

  void parameter_gradient(const ConstMatrixRef<Scalar>& input,
                          const ConstMatrixRef<Scalar>& output_gradient, Scalar* gradient,
                          GradientWrite write, ModuleWorkspace* workspace) const override {
    dense_.parameter_gradient(input, output_gradient, gradient, write, workspace);
  }

 private:
  static Index checked_latent(Index latent) {
    detail::check_positive("gaussian head latent size", latent);
    if (latent > (Index(1) << 39))
      throw ArgumentError("gaussian head latent size: expected at most 2^39, got " +
                          std::to_string(latent));
    return latent;
  }

  DenseT<Scalar> dense_;
};

using GaussianHead = GaussianHeadT<float>;

}  // namespace scvae
