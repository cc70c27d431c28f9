#pragma once
// q(z|x) = N(mu(x), diag(exp(logvar(x)))): any network of modules that ends
// in a GaussianHeadT, whose output is [mu; logvar] (latent rows each). The
// encoder places the network's parameters in the model's flat buffer.

#include <memory>
#include <vector>

#include "scvae/core/parameters.hpp"
#include "scvae/nn/gaussian_head.hpp"
#include "scvae/nn/sequential.hpp"

namespace scvae {

template <typename Scalar_>
class EncoderT {
 public:
  using Scalar = Scalar_;

  struct Workspace {
    std::unique_ptr<ModuleWorkspace> network;
    Matrix<Scalar> head;        ///< [mu; logvar], 2*latent x n.
    Matrix<Scalar> head_delta;  ///< dL/d[mu; logvar], filled by the caller.
  };

  /// A network of modules ending in a GaussianHeadT.
  EncoderT(SequentialT<Scalar> network, ParameterLayout& layout)
      : network_(std::move(network)), latent_(head_latent(network_)) {
    offset_ = layout.reserve(network_.parameter_count());
  }

  /// The MLP encoder: inputs -> hidden... (each followed by `activation`) -> the head.
  EncoderT(Index inputs, const std::vector<Index>& hidden, Index latent, Activation activation,
           ParameterLayout& layout)
      : EncoderT(mlp(inputs, hidden, latent, activation), layout) {}

  Index inputs() const { return network_.inputs(); }
  Index latent() const { return latent_; }
  const SequentialT<Scalar>& network() const { return network_; }
  /// Where the network's slice starts in the model's flat buffer.
  Index offset() const { return offset_; }

  void initialize(Scalar* values, Rng& rng,
                  Initialization scheme = Initialization::HeGlorot) const {
    network_.initialize(values + offset_, rng, {scheme, Activation::Identity});
  }

  void prepare(Workspace& ws, Index columns) const {
    if (!ws.network) ws.network = network_.make_workspace();
    ws.head.resize(2 * latent_, columns);
    ws.head_delta.resize(2 * latent_, columns);
    network_.prepare(ws.network.get(), columns);
  }

  /// Fills ws.head with [mu; logvar].
  void forward(const Scalar* values, const ConstMatrixRef<Scalar>& x, Workspace& ws) const {
    detail::check_rows("encoder input", x.rows(), inputs());
    prepare(ws, x.cols());
    network_.forward(values + offset_, x, ws.head, ws.network.get());
  }

  static auto mu(Workspace& ws) { return ws.head.topRows(ws.head.rows() / 2); }
  static auto mu(const Workspace& ws) { return ws.head.topRows(ws.head.rows() / 2); }
  static auto logvar(Workspace& ws) { return ws.head.bottomRows(ws.head.rows() / 2); }
  static auto mu_delta(Workspace& ws) { return ws.head_delta.topRows(ws.head.rows() / 2); }
  static auto logvar_delta(Workspace& ws) { return ws.head_delta.bottomRows(ws.head.rows() / 2); }

  /// Backward from ws.head_delta to every layer's output gradient, and to
  /// dL/dx where `input_gradient` asks; parameter gradients come from
  /// part_gradient() or add_parameter_gradients() afterwards.
  void backward(const Scalar* values, const ConstMatrixRef<Scalar>& x, Workspace& ws,
                InputGradient<Scalar> input_gradient = {}) const {
    network_.backward(values + offset_, x, ws.head, ws.head_delta, input_gradient,
                      ws.network.get());
  }

  /// The parameter gradient's independent parts (one per layer), placed in
  /// the model's flat buffer.
  Index part_count() const { return network_.gradient_part_count(); }
  GradientPart part(Index p) const {
    GradientPart part = network_.gradient_part(p);
    part.offset += offset_;
    return part;
  }
  /// After backward() on x and ws: part p's gradient into `gradients` (the
  /// model's whole flat gradient), written over or added.
  void part_gradient(Index p, const ConstMatrixRef<Scalar>& x, Workspace& ws, Scalar* gradients,
                     GradientWrite write) const {
    network_.part_gradient(p, x, ws.head_delta, gradients + offset_, write, ws.network.get());
  }
  /// Every part, added: for a training loop that sums its own gradients.
  void add_parameter_gradients(const ConstMatrixRef<Scalar>& x, Workspace& ws,
                               Scalar* gradients) const {
    for (Index p = 0; p < part_count(); ++p) part_gradient(p, x, ws, gradients, GradientWrite::Add);
  }

 private:
  static SequentialT<Scalar> mlp(Index inputs, const std::vector<Index>& hidden, Index latent,
                                 Activation activation) {
    detail::check_positive("encoder inputs", inputs);
    SequentialT<Scalar> network(Shape::vector(inputs));
    for (Index h : hidden)
      network.template add<DenseT>(h).add(
          std::make_unique<ElementwiseT<Scalar>>(Shape::vector(h), activation));
    network.template add<GaussianHeadT>(latent);
    return network;
  }

  static Index head_latent(const SequentialT<Scalar>& network) {
    const auto* head = network.empty() ? nullptr
                                       : dynamic_cast<const GaussianHeadT<Scalar>*>(
                                             &network.module(network.size() - 1));
    if (head == nullptr)
      throw ArgumentError("encoder: expected a network that ends in a gaussian head, got " +
                          network.token());
    return head->latent();
  }

  SequentialT<Scalar> network_;
  Index latent_;
  Index offset_ = 0;
};

using Encoder = EncoderT<float>;

}  // namespace scvae
