#pragma once
// mnist_multitask's flags for --design scvae (the SC-VAE: a label head on z)
// and the model they describe.

#include <string>

#include "balance_flags.hpp"
#include "labelled_subset.hpp"
#include "model_presets.hpp"
#include "scvae/data/image_augmentation.hpp"
#include "scvae/semisup/pseudo_labels.hpp"

namespace examples {

struct MultitaskFlags {
  Index labels = 1000;
  double label_weight = 50.0;
  Index label_hidden = 400, label_layers = 1, encoder_layers = 1;
  std::string label_input = "sample";
  // The defaults are the best design measured (examples/RESULTS-multitask.md).
  double labelled_share = 0.25;
  scvae::PseudoLabelOptions pseudo;  // from epoch 3, threshold 0.9, average 0.6
  std::string pseudo_targets = "soft";
  double average_weights = 0.0, label_smoothing = 0.0, adversarial_epsilon = 0.0;
  double adversarial_xi = 1.0;
  bool lr_cosine = false, baseline = false;
  Index baseline_epochs = 100;
  std::string arch = "mlp";
  std::string prior = "standard";
  BalanceFlags balance;
  scvae::ImageAugmentation augment;
};

inline void add_multitask_flags(CLI::App& app, MultitaskFlags& m) {
  add_integer<Index>(app, "--labels", m.labels,
                     "Training labels kept, balanced over classes; the rest are masked "
                     "(default 1000, or all images if --limit leaves fewer)",
                     1)
      ->capture_default_str();
  add_real(app, "--label-weight", m.label_weight,
           "Weight w of the label task's NLL (default: min(50, 10 / labelled fraction); 1 "
           "with --balance uncertainty or gradnorm)",
           0.0);
  add_integer<Index>(app, "--label-hidden", m.label_hidden,
                     "Hidden units of the label head (0: linear head)", 0)
      ->capture_default_str();
  add_integer<Index>(app, "--label-layers", m.label_layers,
                     "Hidden layers of --label-hidden units in the label head", 1, 1000)
      ->capture_default_str();
  add_integer<Index>(app, "--encoder-layers", m.encoder_layers,
                     "Hidden layers of --hidden units in the shared encoder", 1, 1000)
      ->capture_default_str();
  app.add_option("--label-input", m.label_input, "The label head reads the sampled z or the mean mu")
      ->check(CLI::IsMember({"sample", "mean"}))
      ->capture_default_str();
  app.add_option("--prior", m.prior,
                 "The latent code's prior: standard (N(0, I)) or classes (one unit Gaussian per "
                 "class, its centres the label head's, read from mu; docs/API.md)")
      ->check(CLI::IsMember({"standard", "classes"}))
      ->capture_default_str();
  add_integer<Index>(app, "--augment-shift", m.augment.max_shift,
                     "Move each training image by up to N pixels along each axis, drawn anew "
                     "every time it is trained on (0: off)",
                     0, 64)
      ->capture_default_str();
  app.add_flag("--augment-flip", m.augment.horizontal_flip,
               "Mirror each training image left to right with probability 1/2");
  add_integer<Index>(app, "--augment-erase", m.augment.erase_size,
                     "Erase an N x N square at a random place of each training image's input "
                     "(the image task still reconstructs the whole image; 0: off)",
                     0, 64)
      ->capture_default_str();
  add_integer<Index>(app, "--pseudo-from", m.pseudo.from_epoch,
                     "From this epoch on, label confident predictions of unlabelled images (0: off)",
                     0, kMaxEpochs)
      ->capture_default_str();
  add_real(app, "--pseudo-threshold", m.pseudo.threshold,
           "Class probability a prediction needs to become a pseudo-label", 0.0, 1.0)
      ->capture_default_str();
  app.add_option("--pseudo-targets", m.pseudo_targets,
                 "Pseudo-labels are the predicted class probabilities (soft) or the class (hard)")
      ->check(CLI::IsMember({"soft", "hard"}))
      ->capture_default_str();
  add_real(app, "--pseudo-average", m.pseudo.average,
           "Pseudo-labels from a moving average of each image's predictions over epochs, with "
           "this decay (0: the last epoch's predictions only)",
           0.0, 0.999)
      ->capture_default_str();
  add_real(app, "--adversarial-epsilon", m.adversarial_epsilon,
           "Virtual adversarial training: L2 norm of each image's perturbation, whose prediction "
           "is trained towards the clean image's with the label weight (0: off)",
           0.0, 100.0)
      ->capture_default_str();
  add_real(app, "--adversarial-xi", m.adversarial_xi,
           "L2 norm of the random probe that finds the adversarial direction", 1e-6, 100.0)
      ->capture_default_str();
  add_real(app, "--average-weights", m.average_weights,
           "Evaluate, save and pseudo-label with a moving average of the parameters over steps "
           "with this decay (0: off)",
           0.0, 0.99999)
      ->capture_default_str();
  add_real(app, "--label-smoothing", m.label_smoothing,
           "True labels as class probabilities: 1 - X on the class, X spread over all classes "
           "(implies soft targets)",
           0.0, 1.0)
      ->capture_default_str();
  app.add_flag("--lr-cosine", m.lr_cosine,
               "Cosine annealing of the learning rate from --lr to 0 over the epochs");
  add_labelled_subset_flags(app, m.labelled_share, m.baseline, m.baseline_epochs);
  add_arch_option(app, m.arch);
  add_balance_flags(app, m.balance,
                    "Task balancing: none (--label-weight), uncertainty (learned per-task "
                    "weights exp(-s_t), Kendall et al. 2018) or gradnorm (the image's weight "
                    "fixed, the label's learned from gradient norms, Chen et al. 2018); with "
                    "either, times --label-weight, 1 unless given");
}

/// --balance is the SC-VAE's: with --design m2 it is a usage error naming
/// the design that has it (M2's flags do not know it).
inline void refuse_balance_for_m2(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string argument = argv[i];
    if (argument == "--balance" || argument.rfind("--balance=", 0) == 0)
      throw scvae::ArgumentError(
          "--balance: task balancing is an option of --design scvae; --design m2 weighs its "
          "label term by --label-weight alone");
  }
}

inline scvae::ModelSpec scvae_spec(const CommonFlags& flags, const MultitaskFlags& m,
                            const scvae::Dataset& data, ModelSize& size) {
  const Index features = data.features();
  const int classes = data.num_classes();
  scvae::ModelSpec spec;
  spec.inputs = features;
  spec.encoder_hidden.assign(static_cast<std::size_t>(m.encoder_layers), flags.hidden);
  spec.latent = flags.latent;
  spec.initialization = flags.initialization();
  scvae::TaskSpec image;  // Bernoulli, weight 1, reads a sample of z
  image.name = "image";
  image.outputs = features;
  image.hidden = {flags.hidden};
  spec.tasks.push_back(image);
  scvae::TaskSpec label;
  label.name = "label";
  label.outputs = classes;
  if (m.label_hidden > 0)
    label.hidden.assign(static_cast<std::size_t>(m.label_layers), m.label_hidden);
  label.likelihood = scvae::LikelihoodSpec::categorical(classes);
  label.weight = m.label_weight;
  label.input = m.label_input == "mean" ? scvae::DecoderInput::Mean : scvae::DecoderInput::Sample;
  if (m.prior == "classes") {  // the head is the prior's centres, read from the mean
    label.hidden.clear();
    label.network = "[centres(" + std::to_string(classes) + ")]";
    label.input = scvae::DecoderInput::Mean;
    spec.class_prior = label.name;
  }
  spec.tasks.push_back(label);
  set_balance(m.balance, spec);
  if (m.arch == "conv") use_conv_trunk(spec, data, flags, size);
  return spec;
}

}  // namespace examples
