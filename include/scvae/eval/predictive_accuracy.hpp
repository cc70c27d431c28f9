#pragma once
// The accuracy of an SC-VAE's categorical task under its predictive
// distribution p(y|x) = E_q(z|x)[p(y|z)], estimated with `draws` samples of
// z per input (accuracy() in eval/accuracy.hpp predicts from z = mu).

#include <algorithm>
#include <vector>

#include "scvae/core/random.hpp"
#include "scvae/data/dataset.hpp"
#include "scvae/eval/accuracy.hpp"
#include "scvae/eval/rank_shards.hpp"
#include "scvae/prob/gaussian.hpp"

namespace scvae {

/// `Model` is an SCVAEBaseT: encode(), predict(t, z, mean), task(t).outputs.
/// The share of `data`'s samples whose most probable class (summed over the
/// draws) is their label; z noise from `rng`. For a model in a rank group
/// the batches are split across the ranks (eval/rank_shards.hpp).
template <typename Model>
double predictive_accuracy(const Model& model, Index task, const Dataset& data, Index draws,
                           Rng& rng, Index batch_size = 1000) {
  using Scalar = typename Model::Scalar;
  if (draws < 1)
    throw ArgumentError("predictive accuracy: draws: expected at least 1, got " +
                        std::to_string(draws));
  if (data.empty()) throw ArgumentError(data.name() + ": predictive accuracy of no samples");
  const std::vector<Index> order = data.identity_order();
  Matrix<Scalar> x, y, mu, logvar, z, eps, probabilities, sum;
  Index correct = 0;
  const EvaluationShards shards(evaluation_rank_group(model),
                                evaluation_batches(data.size(), batch_size));
  for (Index begin = 0, b = 0; begin < data.size(); begin += batch_size, ++b) {
    const Index end = std::min<Index>(begin + batch_size, data.size());
    if (!shards.runs(b)) {
      shards.skip_draws(rng, eps, model.latent(), end - begin, draws);
      continue;
    }
    data.batch(order, begin, end, x);
    data.label_batch(order, begin, end, y);
    model.encode(x, mu, logvar);
    sum.setZero(model.task(task).outputs, mu.cols());
    eps.resize(mu.rows(), mu.cols());
    z.resize(mu.rows(), mu.cols());
    for (Index d = 0; d < draws; ++d) {
      rng.fill_normal(eps);
      reparameterize<Scalar>(mu, logvar, eps, z);
      model.predict(task, z, probabilities);
      sum += probabilities;
    }
    correct += count_correct(sum, y);
  }
  if (shards.split()) {
    double count = static_cast<double>(correct);  // exact below 2^53
    shards.gather(&count, 1);
    correct = static_cast<Index>(count);
  }
  return static_cast<double>(correct) / static_cast<double>(data.size());
}

}  // namespace scvae
