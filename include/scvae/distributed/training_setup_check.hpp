#pragma once
// The start-up check of a distributed run: what every rank must agree on
// before the first step, or the ranks would silently train different things
// (a host with another data file, a rank started with another --seed).

#include <cstdint>
#include <string>

#include "scvae/core/precision.hpp"
#include "scvae/core/types.hpp"
#include "scvae/exec/rank_group.hpp"

namespace scvae {

struct TrainingSetup {
  std::uint64_t seed = 0;
  Index parameter_count = 0;
  std::string architecture;
  Index data_size = 0;  ///< Training samples.
  Index batch_size = 0;
  int threads = 1;
  /// Of the products: a host without AVX512_BF16 falls back to fp32 in the
  /// examples, and ranks in different precisions would not give one
  /// process's bits.
  std::string precision = "fp32";
};

/// Throws RankMismatchError on every rank if any field differs between the
/// ranks, naming the field and each rank's value. Every rank must call it.
inline void check_same_training_setup(RankGroup& group, const TrainingSetup& setup) {
  group.check_same_on_every_rank("the seed", std::to_string(setup.seed));
  group.check_same_on_every_rank("the parameter count", std::to_string(setup.parameter_count));
  group.check_same_on_every_rank("the architecture", setup.architecture);
  group.check_same_on_every_rank("the training data size", std::to_string(setup.data_size));
  group.check_same_on_every_rank("the batch size", std::to_string(setup.batch_size));
  group.check_same_on_every_rank("the thread count", std::to_string(setup.threads));
  group.check_same_on_every_rank("the precision", setup.precision);
}

/// The setup of `model` trained on `data_size` samples with `options`
/// (a TrainerOptions).
template <typename Model, typename Options>
TrainingSetup training_setup(const Model& model, Index data_size, const Options& options) {
  TrainingSetup setup;
  setup.seed = options.seed;
  setup.parameter_count = static_cast<Index>(model.parameters().size());
  setup.architecture = model.architecture();
  setup.data_size = data_size;
  setup.batch_size = options.batch_size;
  setup.threads = options.threads;
  setup.precision = precision_name(options.precision);
  return setup;
}

}  // namespace scvae
