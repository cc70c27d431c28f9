#pragma once
// A stack of dense layers. Activations live in a Workspace that the caller
// keeps and reuses, so a training step allocates nothing once it is sized.

#include <string>
#include <vector>

#include "scvae/nn/dense_layer.hpp"

namespace scvae {

template <typename Scalar_>
class MlpT {
 public:
  using Scalar = Scalar_;

  /// Per-batch buffers: each layer's output and its delta.
  struct Workspace {
    std::vector<Matrix<Scalar>> outputs;
    std::vector<Matrix<Scalar>> deltas;
  };

  /// sizes = {inputs, hidden..., outputs}; `hidden` follows every layer but
  /// the last, which uses `output`.
  MlpT(const std::vector<Index>& sizes, Activation hidden, Activation output,
       ParameterLayout& layout)
      : sizes_(sizes) {
    if (sizes.size() < 2)
      throw ArgumentError("MLP sizes: expected at least {inputs, outputs}, got " +
                          std::to_string(sizes.size()) + " size(s)");
    for (std::size_t i = 0; i + 1 < sizes.size(); ++i) {
      const bool last = i + 2 == sizes.size();
      layers_.emplace_back(sizes[i], sizes[i + 1], last ? output : hidden, layout);
    }
  }

  Index inputs() const { return sizes_.front(); }
  Index outputs() const { return sizes_.back(); }
  const std::vector<Index>& sizes() const { return sizes_; }
  const std::vector<DenseLayerT<Scalar>>& layers() const { return layers_; }
  Index parameter_count() const {
    Index n = 0;
    for (const auto& layer : layers_) n += layer.parameter_count();
    return n;
  }

  void initialize(Scalar* values, Rng& rng,
                  Initialization scheme = Initialization::HeGlorot) const {
    for (const auto& layer : layers_) layer.initialize(values, rng, scheme);
  }

  /// Sizes the workspace for `columns` samples; a no-op when already sized.
  void prepare(Workspace& ws, Index columns) const {
    ws.outputs.resize(layers_.size());
    ws.deltas.resize(layers_.size());
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      ws.outputs[l].resize(layers_[l].outputs(), columns);
      ws.deltas[l].resize(layers_[l].outputs(), columns);
    }
  }

  /// Runs the stack; the result is ws.outputs.back().
  const Matrix<Scalar>& forward(const Scalar* values, const ConstMatrixRef<Scalar>& input,
                                Workspace& ws) const {
    detail::check_rows("MLP input", input.rows(), inputs());
    prepare(ws, input.cols());
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      if (l == 0)
        layers_[l].forward(values, input, ws.outputs[l]);
      else
        layers_[l].forward(values, ws.outputs[l - 1], ws.outputs[l]);
    }
    return ws.outputs.back();
  }

  /// Backward pass after forward() on the same input and workspace.
  /// `output_gradient` is dL/d(output), which may be ws.deltas.back() itself; parameter gradients
  /// accumulate into `gradients`; dL/d(input) is written (or added) to `input_gradient` if given.
  /// With ParameterGradients::Defer the deltas are left for parameter_gradient().
  void backward(const Scalar* values, Scalar* gradients, const ConstMatrixRef<Scalar>& input,
                const ConstMatrixRef<Scalar>& output_gradient, Workspace& ws,
                MatrixRef<Scalar>* input_gradient = nullptr, bool accumulate = false,
                ParameterGradients mode = ParameterGradients::Accumulate) const {
    const std::size_t last = layers_.size() - 1;
    detail::check_shape("MLP output gradient", output_gradient.rows(), output_gradient.cols(),
                        outputs(), input.cols());
    // A caller that wrote dL/d(output) straight into ws.deltas.back() (as
    // DecoderT does) saves the copy.
    if (output_gradient.data() != ws.deltas[last].data()) ws.deltas[last] = output_gradient;
    for (std::size_t l = last + 1; l-- > 0;) {
      MatrixRef<Scalar> delta(ws.deltas[l]);
      if (l == 0) {
        layers_[0].backward(values, gradients, input, ws.outputs[0], delta, input_gradient,
                            accumulate, mode);
      } else {
        MatrixRef<Scalar> below(ws.deltas[l - 1]);
        layers_[l].backward(values, gradients, ws.outputs[l - 1], ws.outputs[l], delta, &below,
                            false, mode);
      }
    }
  }

  /// After a Defer backward() on `input` and `ws`: layer `l`'s dL/dW and
  /// dL/db, written or (`accumulate`) added. Different layers may run at once.
  void parameter_gradient(std::size_t l, Scalar* gradients, const ConstMatrixRef<Scalar>& input,
                          const Workspace& ws, bool accumulate) const {
    const ConstMatrixRef<Scalar> below = l == 0 ? input : ConstMatrixRef<Scalar>(ws.outputs[l - 1]);
    layers_.at(l).parameter_gradient(gradients, below, ws.deltas[l], accumulate);
  }

 private:
  std::vector<Index> sizes_;
  std::vector<DenseLayerT<Scalar>> layers_;
};

using Mlp = MlpT<float>;

}  // namespace scvae
