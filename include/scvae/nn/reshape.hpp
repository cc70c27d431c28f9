#pragma once
// Modules that change how a sample's features are read, not their values:
// ReshapeT gives them another (channels, height, width) and FlattenT makes
// them a plain vector. Features keep their (c, h, w) order (shape.hpp), so
// on their own both copy the input to the output and the output gradient to
// the input gradient, and own no parameters; inside a network (SequentialT)
// they share their input's buffers and copy nothing. A convolution's output becomes a dense
// layer's input through a FlattenT, and a dense decoder's output an image for
// a transposed convolution through a ReshapeT.

#include <string>

#include "scvae/core/check.hpp"
#include "scvae/nn/module.hpp"

namespace scvae {

namespace detail {

/// output = input, or dL/d(input) (+)= dL/d(output): what a module that only
/// relabels its features does in both directions.
template <typename Scalar>
void copy_features(const char* what, const Shape& input_shape, const ConstMatrixRef<Scalar>& input,
                   MatrixRef<Scalar> output) {
  check_rows(what, input.rows(), input_shape.features());
  check_shape(what, output.rows(), output.cols(), input.rows(), input.cols());
  output = input;
}

template <typename Scalar>
void pass_gradient(const char* what, const ConstMatrixRef<Scalar>& output_gradient,
                   InputGradient<Scalar> input_gradient) {
  if (!input_gradient.wanted()) return;
  MatrixRef<Scalar>& target = *input_gradient.matrix;
  check_shape(what, target.rows(), target.cols(), output_gradient.rows(), output_gradient.cols());
  if (input_gradient.write == GradientWrite::Add)
    target += output_gradient;
  else
    target = output_gradient;
}

}  // namespace detail

template <typename Scalar_>
class ReshapeT : public ModuleT<Scalar_> {
 public:
  using Scalar = Scalar_;
  using Base = ModuleT<Scalar>;

  /// ShapeError unless `output` has as many features as `input`.
  ReshapeT(const Shape& input, const Shape& output) : Base(input, checked(input, output)) {}

  /// "reshape(64x7x7)", or "reshape(784)" to a vector.
  std::string token() const override { return "reshape(" + this->output_shape().text() + ")"; }
  std::unique_ptr<Base> clone() const override { return std::make_unique<ReshapeT>(*this); }
  OutputStorage output_storage() const override { return OutputStorage::SameAsInput; }
  bool backward_reads_output() const override { return false; }

  void forward(const Scalar* /*parameters*/, const ConstMatrixRef<Scalar>& input,
               MatrixRef<Scalar> output, ModuleWorkspace* /*workspace*/) const override {
    detail::copy_features<Scalar>("reshape output", this->input_shape(), input, output);
  }

  void backward(const Scalar* /*parameters*/, const ConstMatrixRef<Scalar>& /*input*/,
                const ConstMatrixRef<Scalar>& /*output*/, MatrixRef<Scalar> output_gradient,
                InputGradient<Scalar> input_gradient,
                ModuleWorkspace* /*workspace*/) const override {
    detail::pass_gradient<Scalar>("reshape input gradient", output_gradient, input_gradient);
  }

 private:
  static const Shape& checked(const Shape& input, const Shape& output) {
    detail::check_shape_sizes("reshape input shape", input);
    detail::check_shape_sizes("reshape output shape", output);
    if (input.features() != output.features())
      throw ShapeError("reshape: expected an output shape of " + std::to_string(input.features()) +
                       " features like the input " + input.text() + ", got " + output.text() +
                       " (" + std::to_string(output.features()) + " features)");
    return output;
  }
};

template <typename Scalar_>
class FlattenT : public ModuleT<Scalar_> {
 public:
  using Scalar = Scalar_;
  using Base = ModuleT<Scalar>;

  explicit FlattenT(const Shape& input) : Base(input, checked(input)) {}

  std::string token() const override { return "flatten"; }
  std::unique_ptr<Base> clone() const override { return std::make_unique<FlattenT>(*this); }
  OutputStorage output_storage() const override { return OutputStorage::SameAsInput; }
  bool backward_reads_output() const override { return false; }

  void forward(const Scalar* /*parameters*/, const ConstMatrixRef<Scalar>& input,
               MatrixRef<Scalar> output, ModuleWorkspace* /*workspace*/) const override {
    detail::copy_features<Scalar>("flatten output", this->input_shape(), input, output);
  }

  void backward(const Scalar* /*parameters*/, const ConstMatrixRef<Scalar>& /*input*/,
                const ConstMatrixRef<Scalar>& /*output*/, MatrixRef<Scalar> output_gradient,
                InputGradient<Scalar> input_gradient,
                ModuleWorkspace* /*workspace*/) const override {
    detail::pass_gradient<Scalar>("flatten input gradient", output_gradient, input_gradient);
  }

 private:
  static Shape checked(const Shape& input) {
    detail::check_shape_sizes("flatten input shape", input);
    return Shape::vector(input.features());
  }
};

using Reshape = ReshapeT<float>;
using Flatten = FlattenT<float>;

}  // namespace scvae
