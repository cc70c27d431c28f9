#pragma once
// What fixes a LabelConditionedVAE (M2), and the parts of its loss.

#include <sstream>
#include <string>
#include <vector>

#include "scvae/core/check.hpp"
#include "scvae/core/error.hpp"
#include "scvae/nn/activation.hpp"
#include "scvae/nn/initialization.hpp"

namespace scvae {

/// What fixes a LabelConditionedVAE: sizes and the weights of its loss.
struct LabelConditionedSpec {
  Index inputs = 0;
  std::vector<Index> encoder_hidden{400};  ///< The shared trunk: at least one layer.
  Index latent = 20;
  Index classes = 10;
  std::vector<Index>
      classifier_hidden{};  ///< Hidden layers of q(y|x) after the trunk (none: linear).
  std::vector<Index> decoder_hidden{400};
  bool latent_reads_label = false;  ///< q(z|x,y) instead of q(z|x).
  Activation activation = Activation::ReLU;
  double label_weight = 50.0;   ///< alpha: weight of -log q(y|x) of a labelled sample.
  double entropy_weight = 0.0;  ///< gamma: weight of -H(q(y|x)) of an unlabelled sample.
  Initialization initialization = Initialization::HeGlorot;

  /// Throws ArgumentError on a size <= 0, no trunk, fewer than 2 classes,
  /// or a weight that is negative or not finite.
  void validate() const {
    detail::check_positive("label-conditioned VAE inputs", inputs);
    detail::check_positive("label-conditioned VAE latent size", latent);
    if (classes < 2)
      throw ArgumentError("label-conditioned VAE classes: expected at least 2, got " +
                          std::to_string(classes));
    if (encoder_hidden.empty())
      throw ArgumentError(
          "label-conditioned VAE encoder: expected at least one hidden layer (the trunk that "
          "q(y|x) and q(z|x) share), got none");
    for (Index h : encoder_hidden)
      detail::check_positive("label-conditioned VAE encoder hidden size", h);
    for (Index h : classifier_hidden)
      detail::check_positive("label-conditioned VAE classifier hidden size", h);
    for (Index h : decoder_hidden)
      detail::check_positive("label-conditioned VAE decoder hidden size", h);
    detail::check_finite_nonnegative("label-conditioned VAE label weight", label_weight);
    detail::check_finite_nonnegative("label-conditioned VAE entropy weight", entropy_weight);
  }

  /// One line naming everything that fixes the parameter layout.
  std::string architecture() const {
    std::ostringstream out;
    out << "scvae-m2-v1 encoder=" << inputs;
    for (Index h : encoder_hidden) out << "-" << h;
    out << " latent=" << latent << (latent_reads_label ? "|y" : "") << " classes=" << classes
        << " classifier=" << encoder_hidden.back();
    for (Index h : classifier_hidden) out << "-" << h;
    out << "-" << classes << " decoder=" << latent << "+" << classes;
    for (Index h : decoder_hidden) out << "-" << h;
    out << "-" << inputs << " " << activation_name(activation) << " bernoulli";
    return out.str();
  }
};

/// The loss of one batch and its parts (means over the batch's samples).
struct LabelConditionedLoss {
  double total = 0.0;           ///< The loss above, batch mean.
  double reconstruction = 0.0;  ///< Mean R (for an unlabelled sample: its q-weighted mean).
  double kl = 0.0;              ///< Mean KL(q(z|x) || N(0, I)).
  double label_nll = 0.0;       ///< Mean -log q(y|x) over the labelled samples.
  Index samples = 0;
  Index labelled = 0;
};

}  // namespace scvae
