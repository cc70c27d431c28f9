#pragma once
// A class read-out by distance: K learned centres c_k in the input space and
// one logit per class, minus half the squared distance to its centre,
//   out_k = -1/2 ||x - c_k||^2,
// so that the softmax of the logits is the class posterior of a mixture of K
// unit Gaussians with equal weights. Written "centres(K)". An SC-VAE whose
// ModelSpec::class_prior names a task read this way makes those Gaussians
// the prior of its latent code too (model/class_prior.hpp): the rows without
// a label then pull the centres and the codes together, which a linear
// read-out of the code cannot learn from them.
//
// The centres are the module's parameters, one column of c per class
// (inputs x K, column-major); they are drawn from N(0, 1), apart enough
// that the classes start on different sides.

#include <string>

#include "scvae/core/check.hpp"
#include "scvae/nn/column_buffer.hpp"
#include "scvae/nn/module.hpp"

namespace scvae {

template <typename Scalar_>
class ClassCentresT : public ModuleT<Scalar_> {
 public:
  using Scalar = Scalar_;
  using Base = ModuleT<Scalar>;

  ClassCentresT(const Shape& input, Index classes)
      : Base(input, output_shape_for(input, classes)), classes_(classes) {}

  Index classes() const { return classes_; }

  std::string token() const override { return "centres(" + std::to_string(classes_) + ")"; }
  std::unique_ptr<Base> clone() const override { return std::make_unique<ClassCentresT>(*this); }

  Index parameter_count() const override { return this->inputs() * classes_; }
  double parameter_gradient_cost() const override {
    return static_cast<double>(this->inputs() * classes_);
  }

  /// The centres in `parameters` (the module's slice): inputs x classes.
  ConstMatrixMap<Scalar> centres(const Scalar* parameters) const {
    return ConstMatrixMap<Scalar>(parameters, this->inputs(), classes_);
  }

  void initialize(Scalar* parameters, Rng& rng, const InitOptions& /*options*/) const override {
    for (Index i = 0; i < parameter_count(); ++i) parameters[i] = static_cast<Scalar>(rng.normal());
  }

  /// The parameter gradient reads the centres; backward() leaves a copy here.
  std::unique_ptr<ModuleWorkspace> make_workspace() const override {
    return std::make_unique<Workspace>();
  }

  void forward(const Scalar* parameters, const ConstMatrixRef<Scalar>& input,
               MatrixRef<Scalar> output, ModuleWorkspace* /*workspace*/) const override {
    detail::check_rows("centres input", input.rows(), this->inputs());
    detail::check_shape("centres output", output.rows(), output.cols(), classes_, input.cols());
    const auto c = centres(parameters);
    for (Index j = 0; j < input.cols(); ++j)
      for (Index k = 0; k < classes_; ++k)
        output(k, j) = Scalar(-0.5) * (input.col(j) - c.col(k)).squaredNorm();
  }

  /// dL/dx_j = sum_k g_kj (c_k - x_j).
  void backward(const Scalar* parameters, const ConstMatrixRef<Scalar>& input,
                const ConstMatrixRef<Scalar>& /*output*/, MatrixRef<Scalar> output_gradient,
                InputGradient<Scalar> input_gradient, ModuleWorkspace* workspace) const override {
    const auto c = centres(parameters);
    Workspace& ws = static_cast<Workspace&>(*workspace);
    ws.centres = c;  // same size every step: no allocation after the first
    if (!input_gradient.wanted()) return;
    MatrixRef<Scalar>& target = *input_gradient.matrix;
    detail::check_shape("centres input gradient", target.rows(), target.cols(), this->inputs(),
                        input.cols());
    const bool add = input_gradient.write == GradientWrite::Add;
    for (Index j = 0; j < input.cols(); ++j) {
      const Scalar total = output_gradient.col(j).sum();
      for (Index d = 0; d < this->inputs(); ++d) {
        Scalar value = -total * input(d, j);
        for (Index k = 0; k < classes_; ++k) value += c(d, k) * output_gradient(k, j);
        target(d, j) = add ? target(d, j) + value : value;
      }
    }
  }

  /// dL/dc_k = sum_j g_kj (x_j - c_k).
  void parameter_gradient(const ConstMatrixRef<Scalar>& input,
                          const ConstMatrixRef<Scalar>& output_gradient, Scalar* gradient,
                          GradientWrite write, ModuleWorkspace* workspace) const override {
    const Workspace& ws = static_cast<const Workspace&>(*workspace);
    MatrixMap<Scalar> g(gradient, this->inputs(), classes_);
    if (write == GradientWrite::Overwrite) g.setZero();
    for (Index k = 0; k < classes_; ++k)
      for (Index j = 0; j < input.cols(); ++j)
        g.col(k) += output_gradient(k, j) * (input.col(j) - ws.centres.col(k));
  }

 private:
  struct Workspace : ModuleWorkspace {
    Matrix<Scalar> centres;
  };

  static Shape output_shape_for(const Shape& input, Index classes) {
    detail::check_shape_sizes("centres input shape", input);
    if (!input.is_vector())
      throw ShapeError("centres: expected a vector input, got " + input.text());
    detail::check_positive("centres classes", classes);
    // Both sizes are at most 2^40, their product need not be: refuse before it overflows.
    if (classes > (Index(1) << 40) / input.features())
      throw ArgumentError("centres(" + std::to_string(classes) + ") on " +
                          std::to_string(input.features()) +
                          " inputs: expected at most 2^40 parameters");
    const Shape output = Shape::vector(classes);
    detail::check_shape_sizes("centres output shape", output);
    return output;
  }

  Index classes_;
};

using ClassCentres = ClassCentresT<float>;

}  // namespace scvae
