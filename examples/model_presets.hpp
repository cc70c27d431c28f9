#pragma once
// The examples' models before they are built: their size checks, the
// convolutional trunk of --arch conv, and the VAE a checkpoint records.

#include <unistd.h>

#include <sstream>
#include <string>
#include <vector>

#include "common.hpp"

namespace examples {

/// Adds up a model's parameters before it is built, in 64 bits with overflow
/// checks, and refuses (exit status 2) one whose count overflows or whose
/// parameters, gradients and optimizer state would not fit in this machine's
/// memory, naming the flag that made it so: the model's own constructor
/// would overflow, throw std::bad_alloc or be killed for memory instead.
class ModelSize {
 public:
  /// A dense layer from `in` to `out` * `factor` units; `flag` ("--hidden")
  /// and `value` are what set its size, for the message.
  ModelSize& dense(Index in, Index out, const std::string& flag, Index value, Index factor = 1) {
    Index outputs = 0, weights = 0, count = 0;
    if (__builtin_mul_overflow(out, factor, &outputs) ||
        __builtin_mul_overflow(in, outputs, &weights) ||
        __builtin_add_overflow(weights, outputs, &count) ||
        __builtin_add_overflow(parameters_, count, &parameters_) ||
        __builtin_add_overflow(units_, outputs, &units_))
      throw scvae::ArgumentError(flag + " " + std::to_string(value) +
                                 ": the model's parameter count overflows 64 bits");
    if (count > largest_) {
      largest_ = count;
      blame_ = flag + " " + std::to_string(value);
    }
    return *this;
  }

  /// Refuses the model if its memory (`copies` float buffers of the
  /// parameters: values, gradients, Adam's two moments, averages) with the
  /// activations of a `batch` exceeds the machine's physical memory or 32 GB,
  /// whichever is less: far above any MNIST model, and a fixed cap keeps a
  /// typo like --hidden 1000000 from being tried on a large machine.
  void check(Index batch, double copies) const {
    const double parameter_bytes = 4.0 * copies * static_cast<double>(parameters_);
    const double activation_bytes =
        4.0 * 4.0 * static_cast<double>(batch) * static_cast<double>(units_);
    const double limit = std::min(32e9, static_cast<double>(sysconf(_SC_PHYS_PAGES)) *
                                            static_cast<double>(sysconf(_SC_PAGESIZE)));
    if (!(limit > 0.0) || parameter_bytes + activation_bytes <= limit) return;
    std::ostringstream message;
    message.precision(3);
    if (activation_bytes > parameter_bytes)
      message << "--batch " << batch << " with " << blame_ << ": a batch's activations";
    else
      message << blame_ << ": the model's " << parameters_
              << " parameters, with their gradients and optimizer state,";
    message << " need " << (parameter_bytes + activation_bytes) / 1e9 << " GB, more than the "
            << limit / 1e9 << " GB allowed (this machine's memory, at most 32 GB)";
    throw scvae::ArgumentError(message.str());
  }

  Index parameters() const { return parameters_; }

 private:
  Index parameters_ = 0;
  Index units_ = 0;
  Index largest_ = -1;
  std::string blame_;
};

/// The VAE that the checkpoint `f.load` records, built from its architecture
/// alone (scvae::load_vae), so that --load needs no size flags. --hidden and
/// --latent, when given, must agree with it (CheckpointError, exit 1, naming
/// the flag); its size is checked as a new model's is.
inline scvae::VAE load_recorded_vae(const CLI::App& app, const CommonFlags& f, Index inputs) {
  scvae::VAE vae = scvae::load_vae<float>(f.load);
  const scvae::ModelSpec& spec = vae.spec();
  auto mismatch = [&](const std::string& what) {
    throw scvae::CheckpointError(f.load + ": " + what + "; the checkpoint holds " +
                                 scvae::detail::printable(spec.architecture()) +
                                 " (with --load the sizes come from the checkpoint: leave them out)");
  };
  if (spec.inputs != inputs)
    mismatch("the model reads " + std::to_string(spec.inputs) + " features, the data have " +
             std::to_string(inputs));
  if (app.count("--hidden") > 0 && spec.encoder_hidden != std::vector<Index>{f.hidden})
    mismatch("--hidden " + std::to_string(f.hidden) + " differs from the model's");
  if (app.count("--latent") > 0 && spec.latent != f.latent)
    mismatch("--latent " + std::to_string(f.latent) + " differs from the model's " +
             std::to_string(spec.latent));
  ModelSize size;
  Index width = inputs;
  for (Index h : spec.encoder_hidden) size.dense(width, h, "--load", h), width = h;
  size.dense(width, spec.latent, "--load", spec.latent, 2);
  width = spec.latent;
  for (Index h : spec.tasks[0].hidden) size.dense(width, h, "--load", h), width = h;
  size.dense(width, inputs, "--load", inputs).check(f.batch, 6);
  return vae;
}

/// --arch: the trunk of the encoder and image decoder.
inline void add_arch_option(CLI::App& app, std::string& arch) {
  app.add_option("--arch", arch,
                 "mlp: 784-H-L-H-784 (the pytorch/examples VAE); conv: Conv 1-32-64 (kernel 4, "
                 "stride 2) and Dense 256 to L, and back through ConvTranspose (28x28 images)")
      ->check(CLI::IsMember({"mlp", "conv"}))
      ->capture_default_str();
}

/// Makes `spec`'s encoder and its task 0 (the image) the convolutional trunk
/// of the convolution issue for 28x28 images: Conv 1->32 and 32->64 (kernel
/// 4, stride 2, padding 1), Dense 3136->256 and the Gaussian head to
/// --latent; back through Dense 256 and 3136, Reshape 64x7x7, ConvTranspose
/// 64->32 and 32->1 to Bernoulli logits. `size` gets its dense layers.
/// The convolutional trunk up to its 256 features (modules of nn/parse.hpp).
inline const char* const kConvTrunk =
    "conv2d(32,4,2,1) relu conv2d(64,4,2,1) relu flatten dense(256) relu";

/// The conv decoder from its 256 features back to 1x28x28 logits, after a
/// first dense layer to 256 from what it reads (z, or [z; y] in M2).
inline const char* const kConvDecoder =
    "[dense(256) relu dense(3136) relu reshape(64x7x7) conv_transpose2d(32,4,2,1) relu "
    "conv_transpose2d(1,4,2,1)]";

/// The label-only baseline of the conv design: the same trunk, then a
/// linear layer to the classes' logits.
inline std::string conv_classifier_network(int classes) {
  return std::string("[") + kConvTrunk + " dense(" + std::to_string(classes) + ")]";
}

/// ArgumentError naming --arch conv unless the images are 28x28.
inline void check_conv_images(const scvae::Dataset& data, const CommonFlags& f) {
  if (data.image_rows() != 28 || data.image_cols() != 28)
    throw scvae::ArgumentError("--arch conv: expected 28x28 images, " + f.data + " holds " +
                               std::to_string(data.image_rows()) + "x" +
                               std::to_string(data.image_cols()));
}

inline void use_conv_trunk(scvae::ModelSpec& spec, const scvae::Dataset& data, const CommonFlags& f,
                           ModelSize& size) {
  check_conv_images(data, f);
  size.dense(3136, 256, "--arch conv", 256).dense(256, f.latent, "--latent", f.latent, 2)
      .dense(f.latent, 256, "--latent", f.latent).dense(256, 3136, "--arch conv", 256);
  spec.encoder_hidden.clear();
  spec.input_shape = scvae::Shape(1, 28, 28);
  spec.encoder_network =
      std::string("[") + kConvTrunk + " gaussian(" + std::to_string(f.latent) + ")]";
  spec.tasks[0].hidden.clear();
  spec.tasks[0].network = kConvDecoder;
}

/// The batch in which a model is evaluated: 500 for an MLP; a conv model
/// keeps about 40x an MLP's activations per sample, so its test batches are
/// its training batches and do not set the peak memory.
inline Index test_batch(const scvae::ModelSpec& spec, const CommonFlags& f) {
  return spec.encoder_network.empty() ? 500 : f.batch;
}

/// The conv VAE of `mnist_vae --arch conv` (use_conv_trunk).
inline scvae::ModelSpec conv_vae_spec(const scvae::Dataset& data, const CommonFlags& f) {
  scvae::ModelSpec spec = scvae::VAE::make_spec(data.features(), {}, f.latent);
  ModelSize size;
  use_conv_trunk(spec, data, f, size);
  size.check(f.batch * 16, 6);  // the convolutions' activations: ~16x a dense layer's
  spec.initialization = f.initialization();
  return spec;
}

/// ModelSize's check of mnist_multitask's SC-VAE: `encoder_layers` of
/// --hidden and the image decoder (or the conv trunk already in `size`), and
/// a label head of `label_layers` of `label_hidden` units (0: linear) on z.
inline void check_scvae_size(const CommonFlags& f, Index inputs, Index classes,
                             Index encoder_layers, Index label_hidden, Index label_layers,
                             bool averaging, ModelSize size = {}) {
  const bool conv = size.parameters() > 0;
  Index width = inputs;
  for (Index layer = 0; !conv && layer < encoder_layers; ++layer, width = f.hidden)
    size.dense(width, f.hidden, "--hidden", f.hidden);
  if (!conv)
    size.dense(width, f.latent, "--latent", f.latent, 2)
        .dense(f.latent, f.hidden, "--hidden", f.hidden)
        .dense(f.hidden, inputs, "--hidden", f.hidden);
  width = f.latent;
  for (Index layer = 0; label_hidden > 0 && layer < label_layers; ++layer, width = label_hidden)
    size.dense(width, label_hidden, "--label-hidden", label_hidden);
  size.dense(width, classes, "--label-hidden", label_hidden)
      .check(conv ? f.batch * 16 : f.batch, averaging ? 8 : 6);
}

}  // namespace examples
