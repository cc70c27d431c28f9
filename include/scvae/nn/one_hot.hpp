#pragma once
// Conditioning on a class: AppendOneHotT reads features followed by one row
// of class indices and gives the features followed by the one-hot of the
// class, [h; onehot(y)]. This is what M2's q(z|x,y) and p(x|z,y) read.
//
// The class travels as one row of the input rather than as a second input so
// that the module keeps the contract's one input and one output: a model
// writes h (e.g. a trunk's forward straight into input.topRows(features))
// and the labels into the last row, and the module fits in a SequentialT like
// any other, "[onehot(10) dense(600) relu ...]". When a model sums over the
// classes it rewrites only the last row between passes.
//
// The class is not differentiable: dL/d(class row) is 0, and dL/d(features)
// is the output gradient's feature rows.

#include <cmath>
#include <sstream>
#include <string>

#include "scvae/core/check.hpp"
#include "scvae/nn/module.hpp"

namespace scvae {

template <typename Scalar_>
class AppendOneHotT : public ModuleT<Scalar_> {
 public:
  using Scalar = Scalar_;
  using Base = ModuleT<Scalar>;

  /// `input` is vector(features + 1): the features, then the class row.
  AppendOneHotT(const Shape& input, Index classes)
      : Base(input, output_shape_for(input, classes)), classes_(classes) {}

  /// Rows before the class row.
  Index features() const { return this->inputs() - 1; }
  Index classes() const { return classes_; }

  std::string token() const override { return "onehot(" + std::to_string(classes_) + ")"; }
  std::unique_ptr<Base> clone() const override { return std::make_unique<AppendOneHotT>(*this); }

  /// ArgumentError naming the column and the value when a class index is not
  /// an integer in [0, classes).
  void forward(const Scalar* /*parameters*/, const ConstMatrixRef<Scalar>& input,
               MatrixRef<Scalar> output, ModuleWorkspace* /*workspace*/) const override {
    detail::check_rows("onehot input", input.rows(), this->inputs());
    detail::check_shape("onehot output", output.rows(), output.cols(), this->outputs(),
                        input.cols());
    const Index f = features();
    output.topRows(f) = input.topRows(f);
    output.bottomRows(classes_).setZero();
    for (Index j = 0; j < input.cols(); ++j) output(f + class_of(input(f, j), j), j) = Scalar(1);
  }

  void backward(const Scalar* /*parameters*/, const ConstMatrixRef<Scalar>& input,
                const ConstMatrixRef<Scalar>& /*output*/, MatrixRef<Scalar> output_gradient,
                InputGradient<Scalar> input_gradient,
                ModuleWorkspace* /*workspace*/) const override {
    if (!input_gradient.wanted()) return;
    MatrixRef<Scalar>& target = *input_gradient.matrix;
    detail::check_shape("onehot input gradient", target.rows(), target.cols(), this->inputs(),
                        input.cols());
    detail::check_shape("onehot output gradient", output_gradient.rows(), output_gradient.cols(),
                        this->outputs(), input.cols());
    const Index f = features();
    if (input_gradient.write == GradientWrite::Add) {
      target.topRows(f) += output_gradient.topRows(f);
    } else {
      target.topRows(f) = output_gradient.topRows(f);
      target.row(f).setZero();
    }
  }

 private:
  static Shape output_shape_for(const Shape& input, Index classes) {
    detail::check_shape_sizes("onehot input shape", input);
    if (!input.is_vector())
      throw ShapeError("onehot: expected a vector input (features, then one row of classes), got " +
                       input.text());
    detail::check_positive("onehot classes", classes);
    // Both terms are at most 2^40 (check_shape_sizes' limit), so the sum cannot overflow.
    const Index limit = Index(1) << 40;
    if (classes > limit)
      throw ArgumentError("onehot classes: expected at most 2^40, got " + std::to_string(classes));
    const Shape output = Shape::vector(input.features() - 1 + classes);
    detail::check_shape_sizes("onehot output shape", output);
    return output;
  }

  Index class_of(Scalar value, Index column) const {
    // The comparisons are false for NaN, so NaN is refused with the rest.
    const bool valid =
        value >= Scalar(0) && value < static_cast<Scalar>(classes_) && std::floor(value) == value;
    if (!valid) {
      std::ostringstream out;
      out << "onehot(" << classes_ << "): the class row of column " << column
          << ": expected an integer in [0, " << classes_ << "), got " << value;
      throw ArgumentError(out.str());
    }
    return static_cast<Index>(value);
  }

  Index classes_;
};

using AppendOneHot = AppendOneHotT<float>;

}  // namespace scvae
