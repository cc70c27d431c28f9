#pragma once
// A fully connected module y = W x + b, one sample per column, W outputs x
// inputs stored column-major at the start of its slice, then b. Any input
// shape is read as a flat vector of its features.
//
// A SequentialT runs a dense module and the activation after it as one pass
// (forward_activated, backward_activated): the fusion saves a pass over the
// layer's output and a buffer, and stays an optimisation of the network, not
// part of the module contract.

#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>

#include "scvae/core/check.hpp"
#include "scvae/core/precision.hpp"
#include "scvae/kernels/gemm.hpp"
#include "scvae/nn/activation.hpp"
#include "scvae/nn/dense_bf16.hpp"
#include "scvae/nn/module.hpp"

namespace scvae {

template <typename Scalar_>
class DenseT : public ModuleT<Scalar_> {
 public:
  using Scalar = Scalar_;
  using Base = ModuleT<Scalar>;

  DenseT(const Shape& input, Index outputs) : Base(input, output_shape_for(input, outputs)) {}

  std::string token() const override { return "dense(" + std::to_string(this->outputs()) + ")"; }
  std::unique_ptr<Base> clone() const override { return std::make_unique<DenseT>(*this); }
  Index parameter_count() const override {
    return this->outputs() * this->inputs() + this->outputs();
  }
  double parameter_gradient_cost() const override {
    return static_cast<double>(this->outputs() * this->inputs());
  }

  /// Bf16 rounds the operands of its three products to bf16 and sums in
  /// float (nn/dense_bf16.hpp); only a float layer has that path.
  void set_precision(Precision precision) override {
    if (precision == Precision::Bf16 && !std::is_same_v<Scalar, float>)
      throw ArgumentError("dense: bf16 products need a float layer (this one is double)");
    precision_ = precision;
  }
  Precision precision() const { return precision_; }

  /// The bf16 products' packed operands (empty until used under Bf16, so
  /// the precision may change after the workspace is made).
  std::unique_ptr<ModuleWorkspace> make_workspace() const override {
    return std::make_unique<detail::DenseBf16Workspace<Scalar>>();
  }
  void prepare(ModuleWorkspace* workspace, Index columns) const override {
    if (bf16()) bf16_workspace(workspace).reserve(this->outputs(), this->inputs(), columns);
  }

  /// A large layer's weight gradient comes in blocks of whole columns of W
  /// (contiguous, column-major), the bias with the last block, so that the
  /// executor can spread one layer over threads: M2's decoder runs on about
  /// ten times the columns of the batch, and as one part its output layer
  /// kept one thread busy while the other waited. Blocks start on a multiple
  /// of kPartColumnStep columns, so each element of a block is summed by the
  /// same GEMM micro-kernel path as in the whole product: the bits do not
  /// depend on the split (tests/nn/dense_test.cpp checks it).
  Index gradient_part_count() const override {
    return (this->inputs() + part_columns() - 1) / part_columns();
  }
  GradientPart gradient_part(Index part) const override {
    const Index first = part * part_columns();
    const Index columns = std::min(part_columns(), this->inputs() - first);
    const bool last = first + columns == this->inputs();
    const Index size = columns * this->outputs() + (last ? this->outputs() : 0);
    return {first * this->outputs(), size, static_cast<double>(columns * this->outputs())};
  }
  void part_gradient(Index part, const ConstMatrixRef<Scalar>& input,
                     const ConstMatrixRef<Scalar>& output_gradient, Scalar* gradient,
                     GradientWrite write, ModuleWorkspace* workspace) const override {
    check_gradient_operands(input, output_gradient);
    if (part < 0 || part >= gradient_part_count())
      throw ArgumentError("dense gradient part: expected 0 to " +
                          std::to_string(gradient_part_count() - 1) + ", got " +
                          std::to_string(part));
    const Index first = part * part_columns();
    const Index columns = std::min(part_columns(), this->inputs() - first);
    if (bf16()) {
      bf16_workspace(workspace).weight_gradient(this->outputs(), first, columns, input,
                                                gradient + first * this->outputs(),
                                                product_write(write));
    } else {
      auto weight_gradient = weights(gradient).middleCols(first, columns);
      detail::gemm<false, true>(output_gradient, input.middleRows(first, columns), weight_gradient,
                                write == GradientWrite::Add);  // D X^T, these columns
    }
    if (first + columns == this->inputs()) bias_gradient(output_gradient, gradient, write);
  }

  ConstMatrixMap<Scalar> weights(const Scalar* parameters) const {
    return ConstMatrixMap<Scalar>(parameters, this->outputs(), this->inputs());
  }
  MatrixMap<Scalar> weights(Scalar* parameters) const {
    return MatrixMap<Scalar>(parameters, this->outputs(), this->inputs());
  }
  ConstVectorMap<Scalar> bias(const Scalar* parameters) const {
    return ConstVectorMap<Scalar>(parameters + this->outputs() * this->inputs(), this->outputs());
  }
  VectorMap<Scalar> bias(Scalar* parameters) const {
    return VectorMap<Scalar>(parameters + this->outputs() * this->inputs(), this->outputs());
  }

  /// HeGlorot: He-uniform before a ReLU, Glorot-uniform otherwise, zero bias.
  /// PyTorch: U(-1/sqrt(in), 1/sqrt(in)) for W and b, as torch.nn.Linear.
  void initialize(Scalar* parameters, Rng& rng, const InitOptions& options) const override {
    const double fan_in = static_cast<double>(this->inputs());
    double limit = 1.0 / std::sqrt(fan_in);
    if (options.scheme == Initialization::HeGlorot)
      limit = options.followed_by == Activation::ReLU
                  ? std::sqrt(6.0 / fan_in)
                  : std::sqrt(6.0 / static_cast<double>(this->inputs() + this->outputs()));
    auto w = weights(parameters);
    for (Index j = 0; j < w.cols(); ++j)
      for (Index i = 0; i < w.rows(); ++i)
        w(i, j) = static_cast<Scalar>((2.0 * rng.uniform() - 1.0) * limit);
    auto b = bias(parameters);
    if (options.scheme == Initialization::HeGlorot) {
      b.setZero();
    } else {
      for (Index i = 0; i < b.size(); ++i)
        b(i) = static_cast<Scalar>((2.0 * rng.uniform() - 1.0) * limit);
    }
  }

  void forward(const Scalar* parameters, const ConstMatrixRef<Scalar>& input,
               MatrixRef<Scalar> output, ModuleWorkspace* workspace) const override {
    forward_activated(parameters, input, output, Activation::Identity, workspace);
  }

  void backward(const Scalar* parameters, const ConstMatrixRef<Scalar>& input,
                const ConstMatrixRef<Scalar>& output, MatrixRef<Scalar> output_gradient,
                InputGradient<Scalar> input_gradient, ModuleWorkspace* workspace) const override {
    backward_activated(parameters, input, output, output_gradient, Activation::Identity,
                       input_gradient, workspace);
  }

  /// dL/dW = D X^T and dL/db = the row sums of D, from the input X and the
  /// delta D = dL/d(pre-activation) that backward() left (under Bf16, D as
  /// backward() kept it in the workspace).
  void parameter_gradient(const ConstMatrixRef<Scalar>& input,
                          const ConstMatrixRef<Scalar>& output_gradient, Scalar* gradient,
                          GradientWrite write, ModuleWorkspace* workspace) const override {
    check_gradient_operands(input, output_gradient);
    if (bf16()) {
      bf16_workspace(workspace).weight_gradient(this->outputs(), 0, this->inputs(), input, gradient,
                                                product_write(write));
    } else {
      auto weight_gradient = weights(gradient);
      detail::gemm<false, true>(output_gradient, input, weight_gradient,
                                write == GradientWrite::Add);  // D X^T
    }
    bias_gradient(output_gradient, gradient, write);
  }

  /// output = f(W input + b) in one pass over the output; under Bf16 the
  /// workspace from make_workspace() holds the packed operands.
  void forward_activated(const Scalar* parameters, const ConstMatrixRef<Scalar>& input,
                         MatrixRef<Scalar> output, Activation activation,
                         ModuleWorkspace* workspace = nullptr) const {
    detail::check_rows("dense input", input.rows(), this->inputs());
    detail::check_shape("dense output", output.rows(), output.cols(), this->outputs(),
                        input.cols());
    if (bf16())
      bf16_workspace(workspace).forward(parameters, this->outputs(), this->inputs(), input, output);
    else
      detail::gemm<false, false>(weights(parameters), input, output, false);  // W X
    add_bias_and_activate(activation, output, bias(parameters));
  }

  /// Given dL/d(output) of f(W x + b) in `delta`, leaves dL/d(pre-activation)
  /// there and writes dL/d(input) = W^T delta where asked.
  void backward_activated(const Scalar* parameters, const ConstMatrixRef<Scalar>& input,
                          const ConstMatrixRef<Scalar>& output, MatrixRef<Scalar> delta,
                          Activation activation, InputGradient<Scalar> input_gradient,
                          ModuleWorkspace* workspace = nullptr) const {
    detail::check_shape("dense output gradient", delta.rows(), delta.cols(), this->outputs(),
                        input.cols());
    if (activation != Activation::Identity) activation_backward(activation, output, delta, delta);
    if (bf16()) bf16_workspace(workspace).keep_delta(this->outputs(), this->inputs(), delta);
    if (!input_gradient.wanted()) return;
    MatrixRef<Scalar>& target = *input_gradient.matrix;
    detail::check_shape("dense input gradient", target.rows(), target.cols(), this->inputs(),
                        input.cols());
    if (bf16())
      bf16_workspace(workspace).input_gradient(parameters, this->outputs(), this->inputs(), delta,
                                               target, product_write(input_gradient.write));
    else
      detail::gemm<true, false>(weights(parameters), delta, target,
                                input_gradient.write == GradientWrite::Add);  // W^T D
  }

 private:
  /// Multiply-adds per sample below which a block of the weight gradient is
  /// not worth a part of its own: ~64K keeps each block's GEMM efficient (a
  /// 784 x 600 layer splits into 7 blocks, a 40 x 400 head stays whole).
  static constexpr Index kPartCost = Index(1) << 16;
  /// Column blocks start on multiples of this: a multiple of every GEMM
  /// kernel's column tile (Eigen's nr, ours), and of a cache line of floats.
  static constexpr Index kPartColumnStep = 16;

  /// Columns of W per gradient part (the last part may have fewer).
  Index part_columns() const {
    const Index inputs = this->inputs();
    const Index blocks = std::max<Index>(1, this->outputs() * inputs / kPartCost);
    if (blocks == 1) return inputs;
    const Index columns = (inputs + blocks - 1) / blocks;
    return (columns + kPartColumnStep - 1) / kPartColumnStep * kPartColumnStep;
  }

  bool bf16() const { return precision_ == Precision::Bf16; }

  static detail::DenseBf16Workspace<Scalar>& bf16_workspace(ModuleWorkspace* workspace) {
    auto* ws = dynamic_cast<detail::DenseBf16Workspace<Scalar>*>(workspace);
    if (ws == nullptr)
      throw ArgumentError("dense: bf16 products need the workspace from its make_workspace()");
    return *ws;
  }
  static detail::ProductWrite product_write(GradientWrite write) {
    return write == GradientWrite::Add ? detail::ProductWrite::Add
                                       : detail::ProductWrite::Overwrite;
  }
  void check_gradient_operands(const ConstMatrixRef<Scalar>& input,
                               const ConstMatrixRef<Scalar>& output_gradient) const {
    detail::check_rows("dense input", input.rows(), this->inputs());
    detail::check_shape("dense output gradient", output_gradient.rows(), output_gradient.cols(),
                        this->outputs(), input.cols());
  }

  /// dL/db, column after column: the same sums in the same order on every
  /// thread count.
  void bias_gradient(const ConstMatrixRef<Scalar>& output_gradient, Scalar* gradient,
                     GradientWrite write) const {
    auto sum = bias(gradient);
    Index j = 0;
    if (write == GradientWrite::Overwrite) {
      if (output_gradient.cols() > 0)
        sum = output_gradient.col(j++);
      else
        sum.setZero();
    }
    for (; j < output_gradient.cols(); ++j) sum += output_gradient.col(j);
  }

  Precision precision_ = Precision::Fp32;

  static Shape output_shape_for(const Shape& input, Index outputs) {
    detail::check_shape_sizes("dense input shape", input);
    detail::check_positive("dense outputs", outputs);
    // outputs * (inputs + 1) parameters must fit an Index with room to spare.
    const Index limit = Index(1) << 40;
    if (input.features() + 1 > limit / outputs)
      throw ArgumentError("dense: " + std::to_string(outputs) + " outputs of " +
                          std::to_string(input.features()) +
                          " inputs need more than 2^40 parameters");
    return Shape::vector(outputs);
  }
};

using Dense = DenseT<float>;

}  // namespace scvae
