// The multi-task VAE on MNIST-format data: one shared encoder, an image
// decoder that sees every training image, and a label task that sees only the
// --labels labelled ones. --baseline also trains a label-only MLP on exactly
// the same labelled images, so both accuracies come from one program, one
// split and one seed.
//
// Two designs: --design m2 (the default, the best measured; m2_example.hpp),
// where the image decoder reads the class, and --design scvae (this file),
// the SC-VAE: a Bernoulli image task and a Categorical label head on z, with
// pseudo-labels for the unlabelled images. Everything here is wiring of the
// library: PartlyLabelledSource, OversamplingOrder, PseudoLabels,
// AverageParameters and VirtualAdversarialTraining on the one Trainer.

#include "common.hpp"
#include "labelled_subset.hpp"
#include "m2_example.hpp"
#include "scvae/eval/predictive_accuracy.hpp"
#include "scvae/semisup/pseudo_labels.hpp"

namespace {

using scvae::Index;
using Classifier = scvae::LabelHeadClassifier<scvae::SCVAE>;

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
};

void add_multitask_flags(CLI::App& app, MultitaskFlags& m) {
  using examples::add_integer;
  using examples::add_real;
  add_integer<Index>(app, "--labels", m.labels,
                     "Training labels kept, balanced over classes; the rest are masked "
                     "(default 1000, or all images if --limit leaves fewer)",
                     1)
      ->capture_default_str();
  add_real(app, "--label-weight", m.label_weight,
           "Weight w of the label task's NLL (default: min(50, 10 / labelled fraction))", 0.0);
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
  add_integer<Index>(app, "--pseudo-from", m.pseudo.from_epoch,
                     "From this epoch on, label confident predictions of unlabelled images (0: off)",
                     0, examples::kMaxEpochs)
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
  examples::add_labelled_subset_flags(app, m.labelled_share, m.baseline, m.baseline_epochs);
}

scvae::ModelSpec scvae_spec(const examples::CommonFlags& flags, const MultitaskFlags& m,
                            Index features, int classes) {
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
  spec.tasks.push_back(label);
  return spec;
}

}  // namespace

int main(int argc, char** argv) {
  if (examples::design_from_arguments(argc, argv) != "scvae")
    return examples::run_m2_example(
        "mnist_multitask",
        "Train the multi-task VAE (shared encoder, image decoder, label task) on MNIST-format "
        "data with only --labels labelled images, and write its metrics, pictures and model. "
        "This is --design m2 (Kingma et al.'s M2).",
        "runs/mnist_multitask", true, argc, argv);
  CLI::App app{
      "Train the shared-encoder multi-task VAE (image + label) on MNIST-format data "
      "with only --labels labelled images, and write its metrics, pictures and model. "
      "This is --design scvae (the SC-VAE: a label head on z)."};
  examples::CommonFlags flags;
  flags.out = "runs/mnist_multitask";
  examples::add_common_flags(app, flags);
  std::string design = "scvae";
  examples::add_design_option(app, design);
  MultitaskFlags m;
  add_multitask_flags(app, m);

  return examples::run_main("mnist_multitask", app, argc, argv, [&] {
    examples::validate_common_flags(flags);
    const examples::MnistData data = examples::load_data(flags, "mnist_multitask");
    // The default of 1000 shrinks to fit a small --limit; an explicit
    // --labels larger than the data is an error.
    if (app.count("--labels") == 0) m.labels = std::min(m.labels, data.train.size());
    if (app.count("--label-weight") == 0)
      m.label_weight = examples::default_label_weight(m.label_weight, m.labels, data.train.size());
    const std::vector<std::uint8_t> labelled =
        examples::choose_labelled(data.train, m.labels, flags.seed);
    const examples::OutputLock lock(flags.out);
    examples::check_scvae_size(flags, data.train.features(), data.train.num_classes(),
                               m.encoder_layers, m.label_hidden, m.label_layers,
                               m.average_weights > 0.0);

    scvae::SCVAE model(
        scvae_spec(flags, m, data.train.features(), data.train.num_classes()), flags.seed);
    scvae::Adam adam(scvae::AdamOptions{flags.lr});
    const bool soft = m.pseudo_targets == "soft" || m.label_smoothing > 0.0;
    scvae::PartlyLabelledSource<float> train_source(
        data.train, labelled,
        soft ? scvae::LabelTargets::Probabilities : scvae::LabelTargets::Classes,
        m.label_smoothing);
    const scvae::ImageLabelSource<float> test_source(data.test);
    scvae::Trainer trainer(model, adam, examples::trainer_options(flags, 0));
    if (m.lr_cosine && flags.epochs > 0)
      trainer.set_learning_rate_schedule(
          scvae::CosineSchedule(flags.lr, static_cast<long>(flags.epochs)));
    if (m.labelled_share > 0.0)
      trainer.set_order(scvae::OversamplingOrder(scvae::labelled_indices(labelled), flags.batch,
                                                 m.labelled_share));
    // The average first: the evaluation, pseudo-labels and checkpoints
    // after it see the averaged model.
    if (m.average_weights > 0.0)
      trainer.add_callback(
          std::make_unique<scvae::AverageParameters<scvae::SCVAE>>(model, m.average_weights));
    Classifier classifier(model, 1);
    scvae::VirtualAdversarialOptions adversarial;
    adversarial.epsilon = m.adversarial_epsilon;
    adversarial.xi = m.adversarial_xi;
    adversarial.weight = m.label_weight;
    if (m.adversarial_epsilon > 0.0)
      trainer.add_callback(
          std::make_unique<scvae::VirtualAdversarialTraining<Classifier>>(classifier, adversarial));
    trainer.add_callback(std::make_unique<examples::StopOnSignal>());
    auto evaluate = [&](scvae::EpochReport& r) {
      scvae::Rng rng(flags.seed + 1000);
      const scvae::LossParts sampled = scvae::evaluate_loss(model, test_source, 500, rng);
      const scvae::LossParts mean_z = scvae::evaluate_loss(model, test_source, 500, rng, 1.0, true);
      // The image task's nats per sample, comparable with mnist_vae's test_loss.
      r.set("test_loss", sampled.task_nll[0] + sampled.kl);
      r.set("test_loss_mean_z", mean_z.task_nll[0] + mean_z.kl);
      r.set("test_kl", sampled.kl);
      r.set("test_label_nll", sampled.task_nll[1]);
      r.set("test_accuracy", scvae::accuracy(model, 1, test_source, 500));
      r.set("label_weight", model.task(1).weight);
      scvae::Rng draws(flags.seed + 4000);
      r.set("test_accuracy_sampled", scvae::predictive_accuracy(model, 1, data.test, 16, draws));
      if (flags.iwae > 0 && r.epoch == r.epochs) {
        scvae::Rng iwae_rng(flags.seed + 2000);
        r.set("test_nll_iwae",
              scvae::evaluate_iwae(model, test_source, flags.iwae, 100, iwae_rng, {0}).nll);
      }
      return false;
    };
    trainer.add_callback(std::make_unique<scvae::EpochCallback>(evaluate));
    if (m.pseudo.from_epoch > 0) {
      auto pseudo = std::make_unique<scvae::PseudoLabels<Classifier>>(classifier, train_source,
                                                                      m.pseudo);
      auto* labels = pseudo.get();
      trainer.add_callback(std::move(pseudo));
      trainer.add_callback(std::make_unique<scvae::EpochCallback>([&, labels](scvae::EpochReport& r) {
        if (r.has("pseudo_labels"))
          r.set("pseudo_label_accuracy", labels->accuracy(data.train.labels()));
        return false;
      }));
    }
    if (!flags.quiet) trainer.add_callback(std::make_unique<scvae::ProgressBar>());
    Index first_epoch = 0;
    if (!flags.load.empty()) first_epoch = scvae::resume_training(flags.load, trainer);
    if (!flags.quiet)
      std::cerr << "mnist_multitask: " << data.train.size() << " training images, " << m.labels
                << " labelled; " << data.test.size() << " test images from " << flags.data << "; "
                << model.architecture() << "; " << flags.threads << " thread(s)\n";
    const std::string metrics_path = (std::filesystem::path(flags.out) / "metrics.jsonl").string();
    // Every callback's state (average, pseudo-labels) rides along, so a
    // resumed run is the same run; the metrics line comes after it.
    trainer.add_callback(
        std::make_unique<scvae::CheckpointEveryEpoch<scvae::SCVAE, scvae::Adam>>(flags.save,
                                                                                 trainer));
    trainer.add_callback(std::make_unique<examples::RecordCheckpoint>(flags.save));
    trainer.add_callback(std::make_unique<scvae::MetricsWriter>(metrics_path, first_epoch > 0));

    examples::train_or_evaluate(trainer, train_source, flags.epochs, first_epoch, evaluate);
    if (m.baseline)
      examples::write_baseline("mnist_multitask", data.train, labelled, data.test, flags,
                               m.baseline_epochs, metrics_path);
    examples::write_pictures(model, data.test, flags.out, flags.seed);
    if (!flags.quiet)
      std::cerr << "mnist_multitask: wrote metrics.jsonl, pictures and " << flags.save << "\n";
    return 0;
  });
}
