#pragma once
// q(z|x) = N(mu(x), diag(exp(logvar(x)))): any network of modules that ends
// in a GaussianHeadT, whose output is [mu; logvar] (latent rows each), placed
// in the model's flat buffer.

#include <vector>

#include "scvae/model/network.hpp"
#include "scvae/nn/gaussian_head.hpp"

namespace scvae {

template <typename Scalar_>
class EncoderT {
 public:
  using Scalar = Scalar_;
  /// ws.output is [mu; logvar], 2*latent x n; ws.output_delta dL/d[mu; logvar].
  using Workspace = typename PlacedNetworkT<Scalar>::Workspace;

  /// A network of modules ending in a GaussianHeadT.
  EncoderT(SequentialT<Scalar> network, ParameterLayout& layout)
      : placed_(std::move(network), layout), latent_(head_latent(placed_.network())) {}

  /// The MLP encoder: inputs -> hidden... (each followed by `activation`) -> the head.
  EncoderT(Index inputs, const std::vector<Index>& hidden, Index latent, Activation activation,
           ParameterLayout& layout)
      : EncoderT(mlp(inputs, hidden, latent, activation), layout) {}

  Index inputs() const { return placed_.inputs(); }
  Index latent() const { return latent_; }
  const SequentialT<Scalar>& network() const { return placed_.network(); }
  /// Where the network's slice starts in the model's flat buffer.
  Index offset() const { return placed_.offset(); }

  void initialize(Scalar* values, Rng& rng,
                  Initialization scheme = Initialization::HeGlorot) const {
    placed_.initialize(values, rng, scheme);
  }
  void set_precision(Precision precision) { placed_.set_precision(precision); }
  void prepare(Workspace& ws, Index columns) const { placed_.prepare(ws, columns); }

  /// Fills ws.output with [mu; logvar].
  void forward(const Scalar* values, const ConstMatrixRef<Scalar>& x, Workspace& ws) const {
    detail::check_rows("encoder input", x.rows(), inputs());
    placed_.forward_view(values, x, ws);
  }

  static auto mu(Workspace& ws) { return ws.output.topRows(ws.output.rows() / 2); }
  static auto mu(const Workspace& ws) { return ws.output.topRows(ws.output.rows() / 2); }
  static auto logvar(Workspace& ws) { return ws.output.bottomRows(ws.output.rows() / 2); }
  static auto mu_delta(Workspace& ws) { return ws.output_delta.topRows(ws.output.rows() / 2); }
  static auto logvar_delta(Workspace& ws) {
    return ws.output_delta.bottomRows(ws.output.rows() / 2);
  }

  /// Backward from dL/d[mu; logvar] (mu_delta, logvar_delta) to every
  /// layer's output gradient, and to dL/dx where `input_gradient` asks; the
  /// parameter gradient comes from part_gradient() or add_parameter_gradients().
  void backward(const Scalar* values, const ConstMatrixRef<Scalar>& x, Workspace& ws,
                InputGradient<Scalar> input_gradient = {}) const {
    placed_.backward(values, x, ws, input_gradient);
  }

  /// The parameter gradient's independent parts (one per layer), placed in
  /// the model's flat buffer.
  Index part_count() const { return placed_.part_count(); }
  GradientPart part(Index p) const { return placed_.part(p); }
  /// After backward() on x and ws: part p's gradient into `gradients` (the
  /// model's whole flat gradient), written over or added.
  void part_gradient(Index p, const ConstMatrixRef<Scalar>& x, Workspace& ws, Scalar* gradients,
                     GradientWrite write) const {
    placed_.part_gradient(p, x, ws, gradients, write);
  }
  /// Every part, added: for a training loop that sums its own gradients.
  void add_parameter_gradients(const ConstMatrixRef<Scalar>& x, Workspace& ws,
                               Scalar* gradients) const {
    placed_.add_parameter_gradients(x, ws, gradients);
  }

 private:
  static SequentialT<Scalar> mlp(Index inputs, const std::vector<Index>& hidden, Index latent,
                                 Activation activation) {
    SequentialT<Scalar> network = make_mlp<Scalar>(inputs, hidden, activation, activation);
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

  PlacedNetworkT<Scalar> placed_;
  Index latent_;
};

using Encoder = EncoderT<float>;

}  // namespace scvae
