#pragma once
// A fully connected layer Y = f(W X + b) at a fixed offset of the flat
// parameter buffer, with its activation fused: the layer of MlpT, which M2
// is still built from. New code composes DenseT and activation modules
// (nn/dense.hpp, nn/elementwise.hpp) in a SequentialT.

#include <cmath>

#include "scvae/core/check.hpp"
#include "scvae/core/parameters.hpp"
#include "scvae/core/random.hpp"
#include "scvae/nn/activation.hpp"
#include "scvae/kernels/gemm.hpp"
#include "scvae/nn/initialization.hpp"

namespace scvae {

/// Whether a backward pass also adds the layers' dL/dW and dL/db to the
/// gradient buffer (Accumulate) or leaves them for parameter_gradient()
/// (Defer): a batch split over threads then computes them once for the whole
/// batch, each thread whole layers, with no per-thread gradient buffers
/// to zero and sum.
enum class ParameterGradients { Accumulate, Defer };

template <typename Scalar_>
class DenseLayerT {
 public:
  using Scalar = Scalar_;

  DenseLayerT(Index inputs, Index outputs, Activation activation, ParameterLayout& layout)
      : inputs_(inputs), outputs_(outputs), activation_(activation) {
    detail::check_positive("Dense inputs", inputs);
    detail::check_positive("Dense outputs", outputs);
    offset_ = layout.reserve(parameter_count());
  }

  Index inputs() const { return inputs_; }
  Index outputs() const { return outputs_; }
  Activation activation() const { return activation_; }
  Index offset() const { return offset_; }
  Index parameter_count() const { return outputs_ * inputs_ + outputs_; }

  /// W, out x in, stored column-major at the start of the layer's slice.
  ConstMatrixMap<Scalar> weights(const Scalar* values) const {
    return ConstMatrixMap<Scalar>(values + offset_, outputs_, inputs_);
  }
  MatrixMap<Scalar> weights(Scalar* values) const {
    return MatrixMap<Scalar>(values + offset_, outputs_, inputs_);
  }
  ConstVectorMap<Scalar> bias(const Scalar* values) const {
    return ConstVectorMap<Scalar>(values + offset_ + outputs_ * inputs_, outputs_);
  }
  VectorMap<Scalar> bias(Scalar* values) const {
    return VectorMap<Scalar>(values + offset_ + outputs_ * inputs_, outputs_);
  }

  /// HeGlorot: He-uniform for ReLU, Glorot-uniform otherwise, zero bias.
  /// PyTorch: U(-1/sqrt(in), 1/sqrt(in)) for W and b, as torch.nn.Linear.
  void initialize(Scalar* values, Rng& rng,
                  Initialization scheme = Initialization::HeGlorot) const {
    const double fan_in = static_cast<double>(inputs_);
    double limit = 1.0 / std::sqrt(fan_in);
    if (scheme == Initialization::HeGlorot)
      limit = activation_ == Activation::ReLU
                  ? std::sqrt(6.0 / fan_in)
                  : std::sqrt(6.0 / static_cast<double>(inputs_ + outputs_));
    auto w = weights(values);
    for (Index j = 0; j < w.cols(); ++j)
      for (Index i = 0; i < w.rows(); ++i)
        w(i, j) = static_cast<Scalar>((2.0 * rng.uniform() - 1.0) * limit);
    auto b = bias(values);
    if (scheme == Initialization::HeGlorot) {
      b.setZero();
    } else {
      for (Index i = 0; i < outputs_; ++i)
        b(i) = static_cast<Scalar>((2.0 * rng.uniform() - 1.0) * limit);
    }
  }

  /// output = f(W input + b). `output` must already be outputs() x input.cols().
  void forward(const Scalar* values, const ConstMatrixRef<Scalar>& input,
               MatrixRef<Scalar> output) const {
    detail::check_rows("Dense input", input.rows(), inputs_);
    detail::check_shape("Dense output", output.rows(), output.cols(), outputs_, input.cols());
    detail::gemm<false, false>(weights(values), input, output, false);  // = W X
    add_bias_and_activate(activation_, output, bias(values));
  }

  /// Given dL/d(output) in `delta` (overwritten with dL/d(pre-activation)),
  /// accumulates dL/dW and dL/db into `gradients` and, when `input_gradient`
  /// is given, writes (or with `accumulate` adds) dL/d(input) there.
  /// With ParameterGradients::Defer, dL/dW and dL/db are left out (and
  /// `gradients` may be null): parameter_gradient() computes them later from
  /// the same input and delta.
  void backward(const Scalar* values, Scalar* gradients, const ConstMatrixRef<Scalar>& input,
                const ConstMatrixRef<Scalar>& output, MatrixRef<Scalar> delta,
                MatrixRef<Scalar>* input_gradient = nullptr, bool accumulate = false,
                ParameterGradients mode = ParameterGradients::Accumulate) const {
    detail::check_shape("Dense delta", delta.rows(), delta.cols(), outputs_, input.cols());
    if (mode == ParameterGradients::Defer) {
      activation_backward(activation_, output, delta, delta);
    } else {
      // delta = upstream * f'(x) and dL/db += the row sums, in one pass.
      auto bias_gradient = bias(gradients);
      activation_backward_and_sum(activation_, output, delta, bias_gradient);
      auto weight_gradient = weights(gradients);
      detail::gemm<false, true>(delta, input, weight_gradient, true);  // += D X^T
    }
    if (input_gradient != nullptr) {
      detail::check_shape("Dense input gradient", input_gradient->rows(), input_gradient->cols(),
                          inputs_, input.cols());
      detail::gemm<true, false>(weights(values), delta, *input_gradient, accumulate);  // W^T D
    }
  }

  /// dL/dW = D X^T and dL/db = the row sums of D, written (or with
  /// `accumulate` added) into `gradients`, from the layer's input X and the
  /// delta D that a Defer backward() left (dL/d(pre-activation)).
  void parameter_gradient(Scalar* gradients, const ConstMatrixRef<Scalar>& input,
                          const ConstMatrixRef<Scalar>& delta, bool accumulate) const {
    detail::check_rows("Dense input", input.rows(), inputs_);
    detail::check_shape("Dense delta", delta.rows(), delta.cols(), outputs_, input.cols());
    auto weight_gradient = weights(gradients);
    detail::gemm<false, true>(delta, input, weight_gradient, accumulate);
    auto bias_gradient = bias(gradients);
    if (accumulate)
      bias_gradient += delta.rowwise().sum();
    else
      bias_gradient = delta.rowwise().sum();
  }

 private:
  Index inputs_;
  Index outputs_;
  Activation activation_;
  Index offset_ = 0;
};

using DenseLayer = DenseLayerT<float>;

}  // namespace scvae
