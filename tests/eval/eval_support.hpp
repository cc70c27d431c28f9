#pragma once
// Small generated data and a two-task model shared by the eval tests.

#include <vector>

#include "scvae/data/dataset.hpp"
#include "scvae/model/spec.hpp"

namespace scvae::eval_testing {

// 37 random 4x4 images with labels 0..2: batches of 10 leave a partial one.
inline Dataset make_data(std::uint64_t seed = 5, Index count = 37) {
  Rng rng(seed);
  std::vector<std::uint8_t> pixels(static_cast<std::size_t>(16 * count));
  for (auto& p : pixels) p = static_cast<std::uint8_t>(rng.uniform_index(256));
  std::vector<std::uint8_t> labels(static_cast<std::size_t>(count));
  for (auto& l : labels) l = static_cast<std::uint8_t>(rng.uniform_index(3));
  return Dataset(4, 4, std::move(pixels), std::move(labels), 3, "eval test data");
}

inline ModelSpec image_label_spec() {
  ModelSpec spec;
  spec.inputs = 16;
  spec.encoder_hidden = {8};
  spec.latent = 3;
  TaskSpec image;
  image.name = "image";
  image.outputs = 16;
  image.hidden = {8};
  spec.tasks.push_back(image);
  TaskSpec label;
  label.name = "label";
  label.outputs = 3;
  label.likelihood = LikelihoodSpec::categorical(3);
  label.weight = 0.7;
  spec.tasks.push_back(label);
  return spec;
}

// Every third sample unlabelled.
inline std::vector<std::uint8_t> labelled_flags(Index count) {
  std::vector<std::uint8_t> flags(static_cast<std::size_t>(count));
  for (Index i = 0; i < count; ++i) flags[static_cast<std::size_t>(i)] = i % 3 != 1;
  return flags;
}

}  // namespace scvae::eval_testing
