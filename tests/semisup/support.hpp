#pragma once
// A small SC-VAE with an image task and a label task, for the semi-supervised tests.

#include "../test_support.hpp"

namespace scvae::testing {

/// 6x6 images (make_images) and 3 classes; the label head reads mu.
inline ModelSpec image_label_spec(Index label_hidden = 5) {
  ModelSpec spec;
  spec.inputs = 36;
  spec.encoder_hidden = {8};
  spec.latent = 3;
  spec.tasks.push_back({"image", 36, {8}, LikelihoodSpec::bernoulli(), 1.0, Activation::ReLU,
                        DecoderInput::Sample});
  std::vector<Index> hidden;
  if (label_hidden > 0) hidden.push_back(label_hidden);
  spec.tasks.push_back({"label", 3, hidden, LikelihoodSpec::categorical(3), 5.0, Activation::Tanh,
                        DecoderInput::Sample});
  return spec;
}

}  // namespace scvae::testing
