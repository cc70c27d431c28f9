#pragma once
// p(y|z): any network of modules from the latent code to the likelihood's
// parameters (logits or means), and the likelihood that scores a target
// against them. The network's parameters are placed in the model's flat
// buffer, the likelihood's own (a learned variance) right after.

#include <memory>

#include "scvae/model/network.hpp"
#include "scvae/model/spec.hpp"
#include "scvae/prob/make_likelihood.hpp"

namespace scvae {

template <typename Scalar_>
class DecoderT {
 public:
  using Scalar = Scalar_;

  /// The network's buffers (ws.output: logits or means, outputs x n), and:
  struct Workspace : PlacedNetworkT<Scalar>::Workspace {
    RowBufferT<Scalar> nll;    ///< -log p(target_i | z_i).
    RowBufferT<Scalar> scale;  ///< Weight of each sample's NLL in the loss.
  };

  DecoderT(SequentialT<Scalar> network, const LikelihoodSpec& likelihood, ParameterLayout& layout)
      : placed_(std::move(network), layout),
        likelihood_(make_likelihood<Scalar>(likelihood, placed_.outputs())) {
    likelihood_->set_offset(layout.reserve(likelihood_->parameter_count()));
  }

  /// The MLP decoder of a TaskSpec: latent -> hidden... -> outputs.
  DecoderT(Index latent, const TaskSpec& spec, ParameterLayout& layout)
      : DecoderT(make_mlp<Scalar>(latent, sizes(spec), spec.activation, Activation::Identity),
                 spec.likelihood, layout) {}

  DecoderT(const DecoderT& other)
      : placed_(other.placed_), likelihood_(other.likelihood_->clone()) {}
  DecoderT& operator=(const DecoderT& other) {
    placed_ = other.placed_;
    likelihood_ = other.likelihood_->clone();
    return *this;
  }
  DecoderT(DecoderT&&) noexcept = default;
  DecoderT& operator=(DecoderT&&) noexcept = default;

  Index latent() const { return placed_.inputs(); }
  Index outputs() const { return placed_.outputs(); }
  const SequentialT<Scalar>& network() const { return placed_.network(); }
  const LikelihoodT<Scalar>& likelihood() const { return *likelihood_; }
  /// Where the network's slice starts in the model's flat buffer.
  Index offset() const { return placed_.offset(); }

  void initialize(Scalar* values, Rng& rng,
                  Initialization scheme = Initialization::HeGlorot) const {
    placed_.initialize(values, rng, scheme);
    likelihood_->initialize(values);
  }

  /// The precision of the network's products; the likelihood stays in Scalar.
  void set_precision(Precision precision) { placed_.set_precision(precision); }

  void prepare(Workspace& ws, Index columns) const {
    placed_.prepare(ws, columns);
    ws.nll.resize(columns);
    ws.scale.resize(columns);
  }

  /// Decoder outputs (logits or means) for latent codes z: ws.output, a view
  /// of the workspace's buffer (no copy).
  const ColumnBufferT<Scalar>& forward_view(const Scalar* values,
                                            const ConstMatrixRef<Scalar>& z,
                                            Workspace& ws) const {
    prepare(ws, z.cols());
    return placed_.forward_view(values, z, ws);
  }
  /// forward_view()'s result as a Matrix of its own (a copy), for callers
  /// that need a Matrix; a training step calls forward_view().
  Matrix<Scalar> forward(const Scalar* values, const ConstMatrixRef<Scalar>& z,
                         Workspace& ws) const {
    return forward_view(values, z, ws);
  }

  /// After forward(): -log p(target_i | z_i) for every sample into ws.nll.
  void evaluate_nll(const Scalar* values, const ConstMatrixRef<Scalar>& target,
                    Workspace& ws) const {
    likelihood_->evaluate(values, nullptr, ws.output, target, ws.scale, ws.nll, nullptr);
  }

  /// After forward(): ws.nll as evaluate_nll() does, then the backward pass of
  /// sum_i ws.scale(i) * nll(i): the likelihood's own parameter gradient
  /// (added into `likelihood_gradients`, the model's flat layout), every
  /// layer's output gradient, and dL/dz where `z_gradient` asks. The layers'
  /// parameter gradients come from part_gradient() afterwards.
  void nll_backward(const Scalar* values, Scalar* likelihood_gradients,
                    const ConstMatrixRef<Scalar>& z, const ConstMatrixRef<Scalar>& target,
                    Workspace& ws, InputGradient<Scalar> z_gradient) const {
    MatrixRef<Scalar> output_gradient(ws.output_delta);
    likelihood_->evaluate(values, likelihood_gradients, ws.output, target, ws.scale, ws.nll,
                          &output_gradient);
    placed_.backward(values, z, ws, z_gradient);
  }

  /// The layers' parameter gradient in independent parts, placed in the
  /// model's flat buffer.
  Index part_count() const { return placed_.part_count(); }
  GradientPart part(Index p) const { return placed_.part(p); }
  /// After nll_backward() on z and ws: part p's gradient into `gradients`
  /// (the model's whole flat gradient), written over or added.
  void part_gradient(Index p, const ConstMatrixRef<Scalar>& z, Workspace& ws, Scalar* gradients,
                     GradientWrite write) const {
    placed_.part_gradient(p, z, ws, gradients, write);
  }

 private:
  static std::vector<Index> sizes(const TaskSpec& spec) {
    std::vector<Index> s = spec.hidden;
    s.push_back(spec.outputs);
    return s;
  }

  PlacedNetworkT<Scalar> placed_;
  std::unique_ptr<LikelihoodT<Scalar>> likelihood_;
};

using Decoder = DecoderT<float>;

}  // namespace scvae
