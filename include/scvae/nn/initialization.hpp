#pragma once
// How modules draw their initial parameters.

#include "scvae/nn/activation.hpp"

namespace scvae {

/// How dense layers draw their initial weights.
enum class Initialization {
  HeGlorot,  ///< He-uniform before ReLU, Glorot-uniform otherwise; zero bias.
  PyTorch,   ///< torch.nn.Linear's default: U(+-1/sqrt(fan_in)) for W and b.
};

/// What a module's initialize() is told: the scheme, and the activation that
/// follows it in its network (He-uniform suits a layer before a ReLU).
struct InitOptions {
  Initialization scheme = Initialization::HeGlorot;
  Activation followed_by = Activation::Identity;
};

}  // namespace scvae
