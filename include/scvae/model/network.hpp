#pragma once
// A network of modules placed in a model's flat parameter buffer, with the
// buffers one chunk of a batch needs: what a model composes its encoder
// trunk, classifier and decoders from.

#include <memory>
#include <vector>

#include "scvae/core/parameters.hpp"
#include "scvae/nn/column_buffer.hpp"
#include "scvae/nn/sequential.hpp"

namespace scvae {

/// inputs -> sizes[0] -> ... -> sizes.back(): dense layers, each followed by
/// `hidden` except the last, followed by `last` (nothing for Identity).
template <typename Scalar>
SequentialT<Scalar> make_mlp(Index inputs, const std::vector<Index>& sizes, Activation hidden,
                             Activation last) {
  detail::check_positive("network inputs", inputs);
  SequentialT<Scalar> network(Shape::vector(inputs));
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    network.template add<DenseT>(sizes[i]);
    const Activation activation = i + 1 == sizes.size() ? last : hidden;
    if (activation != Activation::Identity)
      network.add(std::make_unique<ElementwiseT<Scalar>>(network.output_shape(), activation));
  }
  return network;
}

template <typename Scalar_>
class PlacedNetworkT {
 public:
  using Scalar = Scalar_;

  /// Its buffers keep the capacity of the largest chunk met, so that a step
  /// with fewer columns than an earlier one allocates nothing.
  struct Workspace {
    std::unique_ptr<ModuleWorkspace> network;
    ColumnBufferT<Scalar> output;
    ColumnBufferT<Scalar> output_delta;  ///< dL/d(output), filled by the caller.
  };

  PlacedNetworkT(SequentialT<Scalar> network, ParameterLayout& layout)
      : network_(std::move(network)), offset_(layout.reserve(network_.parameter_count())) {}

  Index inputs() const { return network_.inputs(); }
  Index outputs() const { return network_.outputs(); }
  const SequentialT<Scalar>& network() const { return network_; }
  Index offset() const { return offset_; }

  void initialize(Scalar* values, Rng& rng, Initialization scheme) const {
    network_.initialize(values + offset_, rng, {scheme, Activation::Identity});
  }

  /// The precision of the network's products (core/precision.hpp).
  void set_precision(Precision precision) { network_.set_precision(precision); }

  void prepare(Workspace& ws, Index columns) const {
    if (!ws.network) ws.network = network_.make_workspace();
    network_.prepare(ws.network.get(), columns);
    ws.output.resize(outputs(), columns);
    ws.output_delta.resize(outputs(), columns);
  }

  /// The forward pass into ws.output, returned: outputs x n, a view of the
  /// workspace's buffer (no copy).
  const ColumnBufferT<Scalar>& forward_view(const Scalar* values,
                                            const ConstMatrixRef<Scalar>& input,
                                            Workspace& ws) const {
    // Not prepare(): the network's gradient buffers wait for a backward pass,
    // so that a forward pass alone (encoding, an evaluation) allocates none.
    if (!ws.network) ws.network = network_.make_workspace();
    ws.output.resize(outputs(), input.cols());
    ws.output_delta.resize(outputs(), input.cols());
    network_.forward(values + offset_, input, ws.output, ws.network.get());
    return ws.output;
  }
  /// forward_view()'s result as a Matrix of its own (a copy), for callers
  /// that need a Matrix; a training step calls forward_view().
  Matrix<Scalar> forward(const Scalar* values, const ConstMatrixRef<Scalar>& input,
                         Workspace& ws) const {
    return forward_view(values, input, ws);
  }

  /// Backward from ws.output_delta to every layer's output gradient and to
  /// dL/d(input) where asked; the parameter gradient comes from the parts.
  void backward(const Scalar* values, const ConstMatrixRef<Scalar>& input, Workspace& ws,
                InputGradient<Scalar> input_gradient = {}) const {
    network_.backward(values + offset_, input, ws.output, ws.output_delta, input_gradient,
                      ws.network.get());
  }

  Index part_count() const { return network_.gradient_part_count(); }
  GradientPart part(Index p) const {
    GradientPart part = network_.gradient_part(p);
    part.offset += offset_;
    return part;
  }
  /// After backward(): part p's gradient into `gradients` (the model's flat buffer).
  void part_gradient(Index p, const ConstMatrixRef<Scalar>& input, Workspace& ws,
                     Scalar* gradients, GradientWrite write) const {
    network_.part_gradient(p, input, ws.output_delta, gradients + offset_, write,
                           ws.network.get());
  }
  void add_parameter_gradients(const ConstMatrixRef<Scalar>& input, Workspace& ws,
                               Scalar* gradients) const {
    for (Index p = 0; p < part_count(); ++p)
      part_gradient(p, input, ws, gradients, GradientWrite::Add);
  }

 private:
  SequentialT<Scalar> network_;
  Index offset_ = 0;
};

}  // namespace scvae
