#pragma once
// The accuracy of an SC-VAE's categorical task under its predictive
// distribution p(y|x) = E_q(z|x)[p(y|z)], estimated with `draws` samples of
// z per input (accuracy() in eval/accuracy.hpp predicts from z = mu).

#include <algorithm>
#include <vector>

#include "scvae/core/random.hpp"
#include "scvae/data/dataset.hpp"
#include "scvae/eval/accuracy.hpp"
#include "scvae/eval/evaluation_threads.hpp"
#include "scvae/eval/rank_shards.hpp"
#include "scvae/prob/gaussian.hpp"

namespace scvae {

/// `Model` is an SCVAEBaseT: encode(), predict(t, z, mean), task(t).outputs.
/// The share of `data`'s samples whose most probable class (summed over the
/// draws) is their label; z noise from `rng`. With options.pool the batches are
/// split across its threads, and for a model in a rank group across the
/// ranks, with the result of one thread in one process
/// (eval/evaluation_threads.hpp, eval/rank_shards.hpp).
template <typename Model>
double predictive_accuracy(const Model& model, Index task, const Dataset& data, Index draws,
                           Rng& rng, Index batch_size = 1000,
                           const EvaluationOptions& options = {}) {
  using Scalar = typename Model::Scalar;
  if (draws < 1)
    throw ArgumentError("predictive accuracy: draws: expected at least 1, got " +
                        std::to_string(draws));
  if (batch_size < 1)
    throw ArgumentError("predictive accuracy: batch size: expected at least 1, got " +
                        std::to_string(batch_size));
  if (data.empty()) throw ArgumentError(data.name() + ": predictive accuracy of no samples");
  const std::vector<Index> order = data.identity_order();
  // One thread's buffers and count; counts are exact in any order.
  struct Scratch {
    Matrix<Scalar> x, y, mu, logvar, z, eps, probabilities, sum;
    Index correct = 0;
  };
  std::vector<Scratch> scratch(evaluation_threads(options));
  const Index batches = evaluation_batches(data.size(), batch_size);
  const EvaluationShards shards(evaluation_rank_group(model), batches);
  auto batch_end = [&](Index b) { return std::min<Index>((b + 1) * batch_size, data.size()); };
  auto compute = [&](int worker, Index b, Rng* stream) {
    Scratch& s = scratch[static_cast<std::size_t>(worker)];
    const Index begin = b * batch_size;
    const Index end = batch_end(b);
    data.batch(order, begin, end, s.x);
    data.label_batch(order, begin, end, s.y);
    model.encode(s.x, s.mu, s.logvar);
    s.sum.setZero(model.task(task).outputs, s.mu.cols());
    s.eps.resize(s.mu.rows(), s.mu.cols());
    s.z.resize(s.mu.rows(), s.mu.cols());
    for (Index d = 0; d < draws; ++d) {
      stream->fill_normal(s.eps);
      reparameterize<Scalar>(s.mu, s.logvar, s.eps, s.z);
      model.predict(task, s.z, s.probabilities);
      s.sum += s.probabilities;
    }
    s.correct += count_correct(s.sum, s.y);
  };
  auto skip = [&](int worker, Index b, Rng& stream) {
    shards.skip_draws(stream, scratch[static_cast<std::size_t>(worker)].eps, model.latent(),
                      batch_end(b) - b * batch_size, draws);
  };
  run_evaluation_batches(shards, batches, options, &rng, compute, skip);
  Index correct = 0;
  for (const Scratch& s : scratch) correct += s.correct;
  if (shards.split()) {
    double count = static_cast<double>(correct);  // exact below 2^53
    shards.gather(&count, 1);
    correct = static_cast<Index>(count);
  }
  return static_cast<double>(correct) / static_cast<double>(data.size());
}

}  // namespace scvae
