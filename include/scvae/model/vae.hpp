#pragma once
// The plain VAE: the one-task SC-VAE whose target is its own input. It adds
// convenience, not a second code path.

#include "scvae/model/scvae.hpp"

namespace scvae {

template <typename Scalar_>
class VAET : public SCVAET<Scalar_> {
 public:
  using Scalar = Scalar_;
  using Base = SCVAET<Scalar>;

  /// The spec of a VAE inputs-hidden-latent-reversed(hidden)-inputs.
  static ModelSpec make_spec(Index inputs, const std::vector<Index>& hidden, Index latent,
                             const LikelihoodSpec& likelihood = LikelihoodSpec::bernoulli(),
                             Activation activation = Activation::ReLU,
                             Initialization initialization = Initialization::HeGlorot) {
    ModelSpec spec;
    spec.initialization = initialization;
    spec.inputs = inputs;
    spec.encoder_hidden = hidden;
    spec.latent = latent;
    spec.activation = activation;
    TaskSpec task;
    task.name = "input";
    task.outputs = inputs;
    task.hidden.assign(hidden.rbegin(), hidden.rend());
    task.likelihood = likelihood;
    task.activation = activation;
    spec.tasks.push_back(task);
    return spec;
  }

  VAET(Index inputs, const std::vector<Index>& hidden, Index latent, std::uint64_t seed = 1,
       const LikelihoodSpec& likelihood = LikelihoodSpec::bernoulli(),
       Activation activation = Activation::ReLU,
       Initialization initialization = Initialization::HeGlorot)
      : Base(make_spec(inputs, hidden, latent, likelihood, activation, initialization), seed) {}

  /// A VAE from a one-task spec (e.g. read back from a checkpoint's spec).
  explicit VAET(const ModelSpec& spec, std::uint64_t seed = 1) : Base(spec, seed) {
    if (spec.tasks.size() != 1 || spec.tasks[0].outputs != spec.inputs)
      throw ArgumentError("VAE spec: expected one task with as many outputs as inputs (" +
                          std::to_string(spec.inputs) + ")");
  }

  using Base::loss;
  using Base::loss_and_gradient;

  LossParts loss_and_gradient(const ConstMatrixRef<Scalar>& x, Rng& rng, double beta = 1.0) {
    return Base::loss_and_gradient(x, self_target(x), rng, beta);
  }
  LossParts loss_and_gradient(const ConstMatrixRef<Scalar>& x, const ConstMatrixRef<Scalar>& eps,
                              double beta = 1.0) {
    return Base::loss_and_gradient(x, self_target(x), eps, beta);
  }
  LossParts loss(const ConstMatrixRef<Scalar>& x, const ConstMatrixRef<Scalar>& eps,
                 double beta = 1.0) {
    return Base::loss(x, self_target(x), eps, beta);
  }

 private:
  /// {TaskBatch(x)}, rebuilt in a kept vector so that a step allocates nothing.
  const std::vector<TaskBatch<Scalar>>& self_target(const ConstMatrixRef<Scalar>& x) {
    targets_.clear();
    targets_.emplace_back(x);
    return targets_;
  }

  std::vector<TaskBatch<Scalar>> targets_;
};

using VAE = VAET<float>;

}  // namespace scvae
