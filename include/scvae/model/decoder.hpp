#pragma once
// p(y|z): an MLP from the latent code to the likelihood's parameters (logits
// or means), and the likelihood that scores a target against them.

#include <memory>

#include "scvae/model/spec.hpp"
#include "scvae/nn/mlp.hpp"
#include "scvae/prob/make_likelihood.hpp"

namespace scvae {

template <typename Scalar_>
class DecoderT {
 public:
  using Scalar = Scalar_;

  struct Workspace {
    typename MlpT<Scalar>::Workspace mlp;
    RowVector<Scalar> nll;
    RowVector<Scalar> scale;
  };

  DecoderT(Index latent, const TaskSpec& spec, ParameterLayout& layout)
      : mlp_(sizes(latent, spec), spec.activation, Activation::Identity, layout),
        likelihood_(make_likelihood<Scalar>(spec.likelihood, spec.outputs)) {
    likelihood_->set_offset(layout.reserve(likelihood_->parameter_count()));
  }
  DecoderT(const DecoderT& other) : mlp_(other.mlp_), likelihood_(other.likelihood_->clone()) {}
  DecoderT& operator=(const DecoderT& other) {
    mlp_ = other.mlp_;
    likelihood_ = other.likelihood_->clone();
    return *this;
  }
  DecoderT(DecoderT&&) noexcept = default;
  DecoderT& operator=(DecoderT&&) noexcept = default;

  Index latent() const { return mlp_.inputs(); }
  Index outputs() const { return mlp_.outputs(); }
  const MlpT<Scalar>& mlp() const { return mlp_; }
  const LikelihoodT<Scalar>& likelihood() const { return *likelihood_; }

  void initialize(Scalar* values, Rng& rng,
                  Initialization scheme = Initialization::HeGlorot) const {
    mlp_.initialize(values, rng, scheme);
    likelihood_->initialize(values);
  }

  void prepare(Workspace& ws, Index columns) const {
    mlp_.prepare(ws.mlp, columns);
    ws.nll.resize(columns);
    ws.scale.resize(columns);
  }

  /// Decoder outputs (logits or means) for latent codes z.
  const Matrix<Scalar>& forward(const Scalar* values, const ConstMatrixRef<Scalar>& z,
                                Workspace& ws) const {
    prepare(ws, z.cols());
    return mlp_.forward(values, z, ws.mlp);
  }

  /// After forward(): per-sample NLL into ws.nll; with `gradients`, also the
  /// gradient of sum_i ws.scale(i) * nll(i), whose dL/dz goes to (or, with
  /// `accumulate`, is added to) z_gradient.
  /// With ParameterGradients::Defer only the likelihood's own parameters get
  /// their gradient here; parameter_gradient() adds the layers' later.
  void score(const Scalar* values, Scalar* gradients, const ConstMatrixRef<Scalar>& z,
             const ConstMatrixRef<Scalar>& target, Workspace& ws,
             MatrixRef<Scalar>* z_gradient = nullptr, bool accumulate = false,
             ParameterGradients mode = ParameterGradients::Accumulate) const {
    const Matrix<Scalar>& output = ws.mlp.outputs.back();
    if (gradients == nullptr) {
      likelihood_->evaluate(values, nullptr, output, target, ws.scale, ws.nll, nullptr);
      return;
    }
    // dL/d(output) goes straight into the last layer's delta: no copy.
    Matrix<Scalar>& delta = ws.mlp.deltas.back();
    MatrixRef<Scalar> output_gradient(delta);
    likelihood_->evaluate(values, gradients, output, target, ws.scale, ws.nll, &output_gradient);
    mlp_.backward(values, gradients, z, delta, ws.mlp, z_gradient, accumulate, mode);
  }

  /// After a Defer score() on z and ws: layer `l`'s parameter gradient,
  /// written or (`accumulate`) added. Different layers may run at once.
  void parameter_gradient(std::size_t l, Scalar* gradients, const ConstMatrixRef<Scalar>& z,
                          const Workspace& ws, bool accumulate) const {
    mlp_.parameter_gradient(l, gradients, z, ws.mlp, accumulate);
  }

 private:
  static std::vector<Index> sizes(Index latent, const TaskSpec& spec) {
    std::vector<Index> s{latent};
    s.insert(s.end(), spec.hidden.begin(), spec.hidden.end());
    s.push_back(spec.outputs);
    return s;
  }

  MlpT<Scalar> mlp_;
  std::unique_ptr<LikelihoodT<Scalar>> likelihood_;
};

using Decoder = DecoderT<float>;

}  // namespace scvae
