#pragma once
// Builds the likelihood object a LikelihoodSpec describes.

#include <memory>

#include "scvae/prob/bernoulli.hpp"
#include "scvae/prob/categorical.hpp"
#include "scvae/prob/gaussian_likelihood.hpp"

namespace scvae {

template <typename Scalar>
std::unique_ptr<LikelihoodT<Scalar>> make_likelihood(const LikelihoodSpec& spec, Index outputs) {
  using Kind = LikelihoodSpec::Kind;
  switch (spec.kind) {
    case Kind::Bernoulli: return std::make_unique<BernoulliT<Scalar>>();
    case Kind::Gaussian: return std::make_unique<GaussianT<Scalar>>(spec.variance);
    case Kind::GaussianLearnedVariance:
      return std::make_unique<GaussianLearnedVarianceT<Scalar>>(outputs);
    case Kind::Categorical:
      if (spec.classes != outputs)
        throw ArgumentError("categorical task: expected outputs equal to classes (" +
                            std::to_string(spec.classes) + "), got " + std::to_string(outputs));
      return std::make_unique<CategoricalT<Scalar>>(spec.classes);
  }
  throw ArgumentError("likelihood: unknown kind");
}

}  // namespace scvae
