#pragma once
// Activations as modules: y = f(x) value by value, any shape. The backward
// pass reads the output (activation.hpp), so a module keeps no buffer of its
// own. A SequentialT fuses an activation into the dense layer before it, and
// runs it in place over the output of a module whose backward pass does not
// read that output (a convolution).

#include <string>

#include "scvae/core/check.hpp"
#include "scvae/nn/activation.hpp"
#include "scvae/nn/module.hpp"

namespace scvae {

template <typename Scalar_>
class ElementwiseT : public ModuleT<Scalar_> {
 public:
  using Scalar = Scalar_;
  using Base = ModuleT<Scalar>;

  ElementwiseT(const Shape& input, Activation activation)
      : Base(checked(input), input), activation_(activation) {}

  Activation activation() const { return activation_; }

  std::string token() const override { return activation_name(activation_); }
  std::unique_ptr<Base> clone() const override { return std::make_unique<ElementwiseT>(*this); }
  /// Value by value, so a network may run it over its input in place.
  OutputStorage output_storage() const override { return OutputStorage::OverInput; }

  void forward(const Scalar* /*parameters*/, const ConstMatrixRef<Scalar>& input,
               MatrixRef<Scalar> output, ModuleWorkspace* /*workspace*/) const override {
    detail::check_rows("activation input", input.rows(), this->inputs());
    detail::check_shape("activation output", output.rows(), output.cols(), this->outputs(),
                        input.cols());
    if (output.data() != input.data()) output = input;
    activate(activation_, output);
  }

  void backward(const Scalar* /*parameters*/, const ConstMatrixRef<Scalar>& input,
                const ConstMatrixRef<Scalar>& output, MatrixRef<Scalar> output_gradient,
                InputGradient<Scalar> input_gradient,
                ModuleWorkspace* /*workspace*/) const override {
    if (!input_gradient.wanted()) return;
    MatrixRef<Scalar>& target = *input_gradient.matrix;
    detail::check_shape("activation input gradient", target.rows(), target.cols(),
                        this->inputs(), input.cols());
    if (input_gradient.write == GradientWrite::Overwrite) {
      activation_backward(activation_, output, output_gradient, target);
    } else {
      activation_backward(activation_, output, output_gradient, output_gradient);
      target += output_gradient;
    }
  }

 private:
  static const Shape& checked(const Shape& input) {
    detail::check_shape_sizes("activation input shape", input);
    return input;
  }

  Activation activation_;
};

/// One class per activation, so that a network reads as its layers:
/// `net.add<ReLU>()`.
#define SCVAE_ACTIVATION_MODULE(Name, Kind)                                              \
  template <typename Scalar>                                                             \
  class Name##T : public ElementwiseT<Scalar> {                                          \
   public:                                                                               \
    explicit Name##T(const Shape& input) : ElementwiseT<Scalar>(input, Activation::Kind) {} \
  };                                                                                     \
  using Name = Name##T<float>;

SCVAE_ACTIVATION_MODULE(Identity, Identity)
SCVAE_ACTIVATION_MODULE(ReLU, ReLU)
SCVAE_ACTIVATION_MODULE(Tanh, Tanh)
SCVAE_ACTIVATION_MODULE(Sigmoid, Sigmoid)
SCVAE_ACTIVATION_MODULE(Softplus, Softplus)
SCVAE_ACTIVATION_MODULE(LeakyReLU, LeakyReLU)
SCVAE_ACTIVATION_MODULE(ELU, ELU)

#undef SCVAE_ACTIVATION_MODULE

}  // namespace scvae
