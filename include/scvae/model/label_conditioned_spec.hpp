#pragma once
// What fixes a LabelConditionedVAE (M2), and the parts of its loss. The
// trunk and the image decoder are MLPs of hidden sizes (the 0.1.0 model, whose
// "scvae-m2-v1" line checkpoints record) or networks of modules written as
// text (nn/parse.hpp), e.g. a convolutional trunk on 1x28x28 images, which
// the "scvae-m2-v2" line names.

#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "scvae/core/check.hpp"
#include "scvae/core/error.hpp"
#include "scvae/model/network_text.hpp"
#include "scvae/nn/activation.hpp"
#include "scvae/nn/initialization.hpp"
#include "scvae/nn/shape.hpp"

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
  /// The trunk as a network of modules on input_shape, ending in the vector
  /// q(y|x) and q(z|x) read, e.g. "[conv2d(32,4,2,1) relu flatten dense(256)
  /// relu]". Empty: the MLP of encoder_hidden (which must be empty otherwise).
  std::string trunk_network{};
  /// The shape of one sample the trunk network reads, with `inputs`
  /// features. Unset: a vector of `inputs`. Only a trunk_network reads a shape.
  std::optional<Shape> input_shape{};
  /// The image decoder as a network of modules on [z; one-hot y] (latent +
  /// classes values) giving `inputs` Bernoulli logits. Empty: the MLP of
  /// decoder_hidden (which must be empty otherwise).
  std::string decoder_network{};

  Shape trunk_input_shape() const { return input_shape ? *input_shape : Shape::vector(inputs); }
  /// True when a network is module text: the architecture is a scvae-m2-v2 line.
  bool has_network_text() const { return !trunk_network.empty() || !decoder_network.empty(); }

  /// The trunk's network text, canonical: trunk_network, or the MLP's expansion.
  std::string trunk_network_text() const {
    if (!trunk_network.empty())
      return detail::canonical_network_text(trunk_network, "M2 trunk_network");
    if (encoder_hidden.empty()) return "[]";
    // The MLP's last layer has the activation too: the shorthand's last module.
    const std::vector<Index> before_last(encoder_hidden.begin(), encoder_hidden.end() - 1);
    std::string last = "dense(" + std::to_string(encoder_hidden.back()) + ")";
    if (activation != Activation::Identity) last += std::string(" ") + activation_name(activation);
    return detail::mlp_network_text(before_last, activation, last);
  }
  /// The image decoder's network text, canonical: decoder_network, or the MLP's expansion.
  std::string decoder_network_text() const {
    if (!decoder_network.empty())
      return detail::canonical_network_text(decoder_network, "M2 decoder_network");
    return detail::mlp_network_text(decoder_hidden, activation,
                                    "dense(" + std::to_string(inputs) + ")");
  }

  /// Throws ArgumentError on a size <= 0, no trunk, fewer than 2 classes,
  /// a weight that is negative or not finite, a network given both as
  /// hidden sizes and as text, text that is not a network, or an input_shape
  /// without a trunk_network or not of `inputs` features. Whether a text's
  /// modules build is checked when the model is built.
  void validate() const {
    detail::check_positive("label-conditioned VAE inputs", inputs);
    detail::check_positive("label-conditioned VAE latent size", latent);
    if (classes < 2)
      throw ArgumentError("label-conditioned VAE classes: expected at least 2, got " +
                          std::to_string(classes));
    if (input_shape)
      detail::check_spec_input_shape("M2 input_shape", *input_shape, inputs, trunk_network,
                                     "a trunk_network", "trunk");
    if (!trunk_network.empty()) {
      if (!encoder_hidden.empty())
        throw ArgumentError("M2 trunk: expected encoder_hidden or trunk_network, got both");
      trunk_network_text();  // throws for text that is not a network
    } else if (encoder_hidden.empty())
      throw ArgumentError(
          "label-conditioned VAE encoder: expected at least one hidden layer (the trunk that "
          "q(y|x) and q(z|x) share), got none");
    for (Index h : encoder_hidden)
      detail::check_positive("label-conditioned VAE encoder hidden size", h);
    for (Index h : classifier_hidden)
      detail::check_positive("label-conditioned VAE classifier hidden size", h);
    for (Index h : decoder_hidden)
      detail::check_positive("label-conditioned VAE decoder hidden size", h);
    if (!decoder_network.empty()) {
      if (!decoder_hidden.empty())
        throw ArgumentError("M2 decoder: expected decoder_hidden or decoder_network, got both");
      decoder_network_text();
    }
    detail::check_finite_nonnegative("label-conditioned VAE label weight", label_weight);
    detail::check_finite_nonnegative("label-conditioned VAE entropy weight", entropy_weight);
  }

  /// One line naming everything that fixes the parameter layout: with
  /// hidden sizes only, the 0.1.0 line
  ///   scvae-m2-v1 encoder=I-H... latent=L[|y] classes=K classifier=H-C...-K
  ///   decoder=L+K-D...-I ACT bernoulli
  /// and with a network text
  ///   scvae-m2-v2 input=SHAPE trunk=NETWORK latent=L[|y] classes=K
  ///   classifier=C...-K decoder=NETWORK ACT bernoulli
  /// with both networks in canonical text (an MLP written as its modules).
  std::string architecture() const {
    if (has_network_text()) return network_architecture();
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

 private:
  std::string network_architecture() const {
    std::ostringstream out;
    out << "scvae-m2-v2 input=" << trunk_input_shape().text() << " trunk=" << trunk_network_text()
        << " latent=" << latent << (latent_reads_label ? "|y" : "") << " classes=" << classes
        << " classifier=";
    for (Index h : classifier_hidden) out << h << "-";
    out << classes << " decoder=" << decoder_network_text() << " " << activation_name(activation)
        << " bernoulli";
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
