#pragma once
// p(y|z): any network of modules from the latent code to the likelihood's
// parameters (logits or means), and the likelihood that scores a target
// against them. The decoder places the network's parameters in the model's
// flat buffer, the likelihood's own (a learned variance) right after.

#include <memory>

#include "scvae/core/parameters.hpp"
#include "scvae/model/spec.hpp"
#include "scvae/nn/sequential.hpp"
#include "scvae/prob/make_likelihood.hpp"

namespace scvae {

template <typename Scalar_>
class DecoderT {
 public:
  using Scalar = Scalar_;

  struct Workspace {
    std::unique_ptr<ModuleWorkspace> network;
    Matrix<Scalar> output;        ///< Logits or means, outputs x n.
    Matrix<Scalar> output_delta;  ///< dL/d(output).
    RowVector<Scalar> nll;        ///< -log p(target_i | z_i).
    RowVector<Scalar> scale;      ///< Weight of each sample's NLL in the loss.
  };

  DecoderT(SequentialT<Scalar> network, const LikelihoodSpec& likelihood, ParameterLayout& layout)
      : network_(std::move(network)),
        likelihood_(make_likelihood<Scalar>(likelihood, network_.outputs())) {
    offset_ = layout.reserve(network_.parameter_count());
    likelihood_->set_offset(layout.reserve(likelihood_->parameter_count()));
  }

  /// The MLP decoder of a TaskSpec: latent -> hidden... -> outputs.
  DecoderT(Index latent, const TaskSpec& spec, ParameterLayout& layout)
      : DecoderT(mlp(latent, spec), spec.likelihood, layout) {}

  DecoderT(const DecoderT& other)
      : network_(other.network_), likelihood_(other.likelihood_->clone()), offset_(other.offset_) {}
  DecoderT& operator=(const DecoderT& other) {
    network_ = other.network_;
    likelihood_ = other.likelihood_->clone();
    offset_ = other.offset_;
    return *this;
  }
  DecoderT(DecoderT&&) noexcept = default;
  DecoderT& operator=(DecoderT&&) noexcept = default;

  Index latent() const { return network_.inputs(); }
  Index outputs() const { return network_.outputs(); }
  const SequentialT<Scalar>& network() const { return network_; }
  const LikelihoodT<Scalar>& likelihood() const { return *likelihood_; }
  /// Where the network's slice starts in the model's flat buffer.
  Index offset() const { return offset_; }

  void initialize(Scalar* values, Rng& rng,
                  Initialization scheme = Initialization::HeGlorot) const {
    network_.initialize(values + offset_, rng, {scheme, Activation::Identity});
    likelihood_->initialize(values);
  }

  void prepare(Workspace& ws, Index columns) const {
    if (!ws.network) ws.network = network_.make_workspace();
    network_.prepare(ws.network.get(), columns);
    ws.output.resize(outputs(), columns);
    ws.output_delta.resize(outputs(), columns);
    ws.nll.resize(columns);
    ws.scale.resize(columns);
  }

  /// Decoder outputs (logits or means) for latent codes z.
  const Matrix<Scalar>& forward(const Scalar* values, const ConstMatrixRef<Scalar>& z,
                                Workspace& ws) const {
    prepare(ws, z.cols());
    network_.forward(values + offset_, z, ws.output, ws.network.get());
    return ws.output;
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
    network_.backward(values + offset_, z, ws.output, ws.output_delta, z_gradient,
                      ws.network.get());
  }

  /// The layers' parameter gradient in independent parts, placed in the
  /// model's flat buffer.
  Index part_count() const { return network_.gradient_part_count(); }
  GradientPart part(Index p) const {
    GradientPart part = network_.gradient_part(p);
    part.offset += offset_;
    return part;
  }
  /// After nll_backward() on z and ws: part p's gradient into `gradients`
  /// (the model's whole flat gradient), written over or added.
  void part_gradient(Index p, const ConstMatrixRef<Scalar>& z, Workspace& ws, Scalar* gradients,
                     GradientWrite write) const {
    network_.part_gradient(p, z, ws.output_delta, gradients + offset_, write, ws.network.get());
  }

 private:
  static SequentialT<Scalar> mlp(Index latent, const TaskSpec& spec) {
    detail::check_positive("decoder latent size", latent);
    SequentialT<Scalar> network(Shape::vector(latent));
    for (Index h : spec.hidden)
      network.template add<DenseT>(h).add(
          std::make_unique<ElementwiseT<Scalar>>(Shape::vector(h), spec.activation));
    network.template add<DenseT>(spec.outputs);
    return network;
  }

  SequentialT<Scalar> network_;
  std::unique_ptr<LikelihoodT<Scalar>> likelihood_;
  Index offset_ = 0;
};

using Decoder = DecoderT<float>;

}  // namespace scvae
