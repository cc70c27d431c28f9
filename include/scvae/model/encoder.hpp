#pragma once
// q(z|x) = N(mu(x), diag(exp(logvar(x)))): an MLP trunk and one dense head
// whose first `latent` rows are mu and the rest logvar (one GEMM, not two).

#include <optional>

#include "scvae/nn/mlp.hpp"
#include "scvae/prob/gaussian.hpp"

namespace scvae {

template <typename Scalar_>
class EncoderT {
 public:
  using Scalar = Scalar_;

  struct Workspace {
    typename MlpT<Scalar>::Workspace trunk;
    Matrix<Scalar> head;        ///< [mu; logvar], 2*latent x n.
    Matrix<Scalar> head_delta;  ///< dL/d[mu; logvar], filled by the caller.
    Matrix<Scalar> trunk_delta;
  };

  EncoderT(Index inputs, const std::vector<Index>& hidden, Index latent, Activation activation,
           ParameterLayout& layout)
      : inputs_(inputs),
        latent_(latent),
        trunk_(make_trunk(inputs, hidden, activation, layout)),
        head_(hidden.empty() ? inputs : hidden.back(), 2 * latent, Activation::Identity, layout) {}

  Index inputs() const { return inputs_; }
  Index latent() const { return latent_; }

  void initialize(Scalar* values, Rng& rng,
                  Initialization scheme = Initialization::HeGlorot) const {
    if (trunk_) trunk_->initialize(values, rng, scheme);
    head_.initialize(values, rng, scheme);
  }

  void prepare(Workspace& ws, Index columns) const {
    ws.head.resize(2 * latent_, columns);
    ws.head_delta.resize(2 * latent_, columns);
    if (trunk_) {
      trunk_->prepare(ws.trunk, columns);
      ws.trunk_delta.resize(trunk_->outputs(), columns);
    }
  }

  /// Fills ws.head with [mu; logvar], logvar clamped to [kLogVarMin, kLogVarMax].
  void forward(const Scalar* values, const ConstMatrixRef<Scalar>& x, Workspace& ws) const {
    detail::check_rows("encoder input", x.rows(), inputs_);
    prepare(ws, x.cols());
    if (trunk_)
      head_.forward(values, trunk_->forward(values, x, ws.trunk), ws.head);
    else
      head_.forward(values, x, ws.head);
    ws.head.bottomRows(latent_) = ws.head.bottomRows(latent_)
                                      .cwiseMax(static_cast<Scalar>(kLogVarMin))
                                      .cwiseMin(static_cast<Scalar>(kLogVarMax));
  }

  static auto mu(Workspace& ws) { return ws.head.topRows(ws.head.rows() / 2); }
  static auto mu(const Workspace& ws) { return ws.head.topRows(ws.head.rows() / 2); }
  static auto logvar(Workspace& ws) { return ws.head.bottomRows(ws.head.rows() / 2); }
  static auto mu_delta(Workspace& ws) { return ws.head_delta.topRows(ws.head.rows() / 2); }
  static auto logvar_delta(Workspace& ws) { return ws.head_delta.bottomRows(ws.head.rows() / 2); }

  /// Backward from ws.head_delta. With ParameterGradients::Defer,
  /// parameter_gradient() adds the parameter gradients later. dL/dx is
  /// written to `input_gradient` only if given (training needs none).
  void backward(const Scalar* values, Scalar* gradients, const ConstMatrixRef<Scalar>& x,
                Workspace& ws, ParameterGradients mode = ParameterGradients::Accumulate,
                MatrixRef<Scalar>* input_gradient = nullptr) const {
    // A clamped logvar does not move with the weights: its gradient is 0.
    const auto lo = static_cast<Scalar>(kLogVarMin);
    const auto hi = static_cast<Scalar>(kLogVarMax);
    auto lv = logvar(ws).array();
    logvar_delta(ws) = (lv > lo && lv < hi).select(logvar_delta(ws).array(), Scalar(0)).matrix();
    MatrixRef<Scalar> delta(ws.head_delta);
    if (trunk_) {
      MatrixRef<Scalar> below(ws.trunk_delta);
      head_.backward(values, gradients, ws.trunk.outputs.back(), ws.head, delta, &below, false,
                     mode);
      trunk_->backward(values, gradients, x, ws.trunk_delta, ws.trunk, input_gradient, false, mode);
    } else {
      head_.backward(values, gradients, x, ws.head, delta, input_gradient, false, mode);
    }
  }

  /// Dense layers: the trunk's, then the head.
  std::size_t layer_count() const { return (trunk_ ? trunk_->layers().size() : 0) + 1; }
  const DenseLayerT<Scalar>& layer(std::size_t l) const {
    return l + 1 == layer_count() ? head_ : trunk_->layers().at(l);
  }

  /// After a Defer backward() on x and ws: layer `l`'s parameter gradient,
  /// written or (`accumulate`) added. Different layers may run at once.
  void parameter_gradient(std::size_t l, Scalar* gradients, const ConstMatrixRef<Scalar>& x,
                          const Workspace& ws, bool accumulate) const {
    if (l + 1 < layer_count())
      trunk_->parameter_gradient(l, gradients, x, ws.trunk, accumulate);
    else
      head_.parameter_gradient(gradients,
                               trunk_ ? ConstMatrixRef<Scalar>(ws.trunk.outputs.back()) : x,
                               ws.head_delta, accumulate);
  }

 private:
  static std::optional<MlpT<Scalar>> make_trunk(Index inputs, const std::vector<Index>& hidden,
                                                Activation activation, ParameterLayout& layout) {
    detail::check_positive("encoder inputs", inputs);
    if (hidden.empty()) return std::nullopt;
    std::vector<Index> sizes{inputs};
    sizes.insert(sizes.end(), hidden.begin(), hidden.end());
    return MlpT<Scalar>(sizes, activation, activation, layout);
  }

  Index inputs_;
  Index latent_;
  std::optional<MlpT<Scalar>> trunk_;
  DenseLayerT<Scalar> head_;
};

using Encoder = EncoderT<float>;

}  // namespace scvae
