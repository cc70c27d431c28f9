#pragma once
// Kingma et al.'s M2 on MNIST-format data (scvae::LabelConditionedVAE): one
// encoder trunk shared by the classifier q(y|x) and q(z|x), an image decoder
// that reads [z; y]. Only --labels training images keep their label; every
// other image is decoded once per class and teaches the classifier which
// class explains it best. It predicts with q(y|x) weighted by the decoder's
// evidence for each class. --arch conv makes the trunk and the image decoder
// the conv VAE's (examples/model_presets.hpp). --baseline trains the
// label-only classifier of the same trunk on the same labelled images.
// mnist_m2 runs it, and mnist_multitask by default (--design m2). Wiring
// only: flags -> spec -> model -> the Trainer with the semi-supervised
// callbacks (semisup/, train/) -> the evaluators (eval/) -> the pictures
// (io/pictures.hpp). Under mpirun, --distributed trains on
// every rank (examples/distributed_run.hpp); rank 0 alone writes.

#include <cmath>
#include <memory>

#include "distributed_run.hpp"
#include "labelled_subset.hpp"
#include "model_presets.hpp"
#include "pictures_wiring.hpp"
#include "scvae/semisup/labelled_subset.hpp"
#include "scvae/semisup/virtual_adversarial.hpp"
#include "scvae/train/parameter_averaging.hpp"

namespace examples {
namespace m2 {

using Matrix = scvae::Matrix<float>;
using RowVector = scvae::RowVector<float>;

/// M2's trunk and decoder width, wider than the VAE's 400: at 1,000 labels,
/// 600 units gave M2 0.24 points more (seeds 1-8), the label-only MLP 0.11
/// (examples/RESULTS-multitask.md). --baseline's MLP takes the same width.
inline constexpr Index kDefaultHidden = 600;

struct M2Flags {
  Index labels = 1000;
  double label_weight = 50.0;
  double entropy_weight = 0.0;
  double labelled_share = 0.25;
  bool baseline = false;
  Index baseline_epochs = 100;
  std::vector<Index> classifier_hidden;
  bool latent_reads_label = true;
  double adversarial_epsilon = 0.0;
  double adversarial_xi = 1.0;
  double adversarial_weight = 50.0;
  double average_weights = 0.999;
  bool lr_cosine = false;
  std::string arch = "mlp";
};

/// The labelled images (1 = labelled), part of a run's identity: a run
/// resumed with another --labels, --limit or --seed would train another
/// model under the same name. Saved in each checkpoint, checked on resume.
class LabelledSubsetRecord final : public scvae::Callback {
 public:
  static constexpr const char* kLabelled = "m2.labelled";
  explicit LabelledSubsetRecord(const std::vector<std::uint8_t>& labelled) : labelled_(labelled) {}
  void save_state(scvae::CheckpointExtras& extras) const override {
    extras.set_bytes(kLabelled, labelled_);
  }
  void restore_state(const scvae::CheckpointExtras& extras) override {
    if (extras.contains(kLabelled) && extras.bytes(kLabelled) != labelled_)
      throw scvae::ArgumentError(std::string("checkpoint extra '") + kLabelled +
                                 "': the labelled images differ from this run's (another "
                                 "--labels, --limit or --seed?); resume with the same ones");
  }

 private:
  const std::vector<std::uint8_t>& labelled_;
};

/// M2 that the checkpoint `f.load` records, built from its architecture
/// alone (scvae::load_label_conditioned_model): --load with --epochs 0 needs
/// no size flags. Size flags given must agree with it (CheckpointError
/// naming the flag), as examples::load_recorded_vae does for mnist_vae.
inline scvae::LabelConditionedVAE load_recorded_m2(const CLI::App& app, const CommonFlags& f,
                                                   const scvae::LabelConditionedSpec& flags_spec) {
  scvae::LabelConditionedVAE model = scvae::load_label_conditioned_model<float>(f.load);
  const scvae::LabelConditionedSpec& spec = model.spec();
  auto refuse = [&](const std::string& what) {
    throw scvae::CheckpointError(f.load + ": " + what + " differs from the model's; the " +
                                 "checkpoint holds " +
                                 scvae::detail::printable(spec.architecture()) +
                                 " (with --load the sizes come from the checkpoint: leave them out)");
  };
  if (spec.inputs != flags_spec.inputs)
    throw scvae::CheckpointError(f.load + ": the model reads " + std::to_string(spec.inputs) +
                                 " features, the data have " + std::to_string(flags_spec.inputs));
  if (app.count("--arch") > 0 && spec.trunk_network != flags_spec.trunk_network)
    refuse("--arch " + std::string(flags_spec.trunk_network.empty() ? "mlp" : "conv"));
  if (app.count("--hidden") > 0 && (spec.encoder_hidden != flags_spec.encoder_hidden ||
                                    spec.decoder_hidden != flags_spec.decoder_hidden))
    refuse("--hidden " + std::to_string(f.hidden));
  if (app.count("--latent") > 0 && spec.latent != flags_spec.latent)
    refuse("--latent " + std::to_string(f.latent));
  if (app.count("--classifier-hidden") > 0 &&
      spec.classifier_hidden != flags_spec.classifier_hidden)
    refuse("--classifier-hidden");
  if ((app.count("--latent-reads-label") > 0 || app.count("--no-latent-reads-label") > 0) &&
      spec.latent_reads_label != flags_spec.latent_reads_label)
    refuse(flags_spec.latent_reads_label ? "--latent-reads-label" : "--no-latent-reads-label");
  if (spec.classes != flags_spec.classes)
    throw scvae::CheckpointError(f.load + ": the model has " + std::to_string(spec.classes) +
                                 " classes, the data " + std::to_string(flags_spec.classes));
  model.set_entropy_weight(flags_spec.entropy_weight);
  return model;
}

/// M2's bound on -log p(x) of the test images, labels unused:
/// sum_y q(y|x) R(x, z, y) + KL(q(z|x) || p(z)) + KL(q(y|x) || uniform),
/// which is the model's loss of an unlabelled image with the entropy weight
/// at 1 (M2's bound) plus log(classes).
inline double test_bound(scvae::LabelConditionedVAE& model,
                         const scvae::BatchSource<float>& unlabelled, Index batch,
                         scvae::Rng& rng) {
  const double gamma = model.spec().entropy_weight;
  model.set_entropy_weight(1.0);
  const double loss = scvae::evaluate_loss(model, unlabelled, batch, rng).total;
  model.set_entropy_weight(gamma);
  return loss + std::log(static_cast<double>(model.classes()));
}

}  // namespace m2

/// mnist_multitask's --design option, as both of its designs declare it.
inline void add_design_option(CLI::App& app, std::string& design) {
  app.add_option("--design", design,
                 "m2: Kingma et al.'s M2, the image decoder reads the class (the best design "
                 "measured, examples/RESULTS-multitask.md); scvae: the SC-VAE, a label head on z "
                 "with pseudo-labels (see --design scvae --help for its options)")
      ->check(CLI::IsMember({"m2", "scvae"}))
      ->capture_default_str();
}

/// --design's value on the command line (--design X or --design=X), or m2.
/// An unknown value is left for the option's own check to reject.
inline std::string design_from_arguments(int argc, char** argv) {
  std::string design = "m2";
  for (int i = 1; i < argc; ++i) {
    const std::string argument = argv[i];
    if (argument == "--design" && i + 1 < argc) design = argv[i + 1];
    if (argument.rfind("--design=", 0) == 0) design = argument.substr(9);
  }
  return design;
}

/// Parses the M2 example's flags (and --design when `takes_design`) and runs
/// it; returns the exit status.
inline int run_m2_example(const char* program_name, const std::string& description,
                          const std::string& default_out, bool takes_design, int argc,
                          char** argv) {
  examples::DistributedRun distributed(argc, argv);
  const std::string program_text = distributed.program(program_name);
  const char* program = program_text.c_str();
  CLI::App app{description};
  examples::CommonFlags flags;
  flags.out = default_out;
  flags.hidden = m2::kDefaultHidden;
  examples::add_common_flags(app, flags);
  m2::M2Flags m;
  bool no_latent_reads_label = false;
  std::string design = "m2";
  if (takes_design) add_design_option(app, design);
  examples::add_arch_option(app, m.arch);
  add_integer<Index>(app, "--labels", m.labels,
                     "Training labels kept, balanced over classes (default 1000, or all images "
                     "if --limit leaves fewer)",
                     1)
      ->capture_default_str();
  add_real(app, "--label-weight", m.label_weight,
           "Weight alpha of -log q(y|x) of a labelled image (default: min(50, 10 / labelled "
           "fraction), 50 up to a fifth of the images labelled)",
           0.0);
  add_real(app, "--entropy-weight", m.entropy_weight,
           "Weight of -H(q(y|x)) of an unlabelled image (1: M2's bound, 0: left out)", 0.0)
      ->capture_default_str();
  add_integer<Index>(app, "--classifier-hidden", m.classifier_hidden,
                     "Hidden layers of the classifier q(y|x) after the shared trunk (none: "
                     "linear)",
                     1);
  // Two flags, not CLI11's "--a,!--no-a": its help showed "{false}" beside
  // a description saying it is the default.
  app.add_flag("--latent-reads-label", m.latent_reads_label,
               "q(z|x,y) as in the paper (on by default): the latent code reads the class (one "
               "code per class for an unlabelled image)");
  app.add_flag("--no-latent-reads-label", no_latent_reads_label,
               "q(z|x) instead: the latent code does not read the class")
      ->excludes("--latent-reads-label");
  add_real(app, "--adversarial-epsilon", m.adversarial_epsilon,
           "Virtual adversarial training: L2 norm of the perturbation of each image that the "
           "classifier must not change its prediction for (0: off)",
           0.0)
      ->capture_default_str();
  add_real(app, "--adversarial-xi", m.adversarial_xi,
           "L2 norm of the random probe that finds the adversarial direction", 0.0,
           std::numeric_limits<double>::max(), true)
      ->capture_default_str();
  add_real(app, "--adversarial-weight", m.adversarial_weight,
           "Weight of the cross-entropy between the predictions for an image and for its "
           "adversarial perturbation",
           0.0)
      ->capture_default_str();
  add_real(app, "--average-weights", m.average_weights,
           "Evaluate, save and keep an exponential moving average of the parameters over the "
           "steps (bias-corrected), with this decay per step (0: the parameters themselves)",
           0.0, 0.99999)
      ->capture_default_str();
  app.add_flag("--lr-cosine", m.lr_cosine,
               "Cosine annealing of the learning rate from --lr to 0 over the epochs");
  examples::add_labelled_subset_flags(app, m.labelled_share, m.baseline, m.baseline_epochs);
  distributed.add_flag(app);

  // The SC-VAE's options reach this design as extras, to be named in one line.
  if (takes_design) app.allow_extras();
  return distributed.finish(examples::run_main(program, app, argc, argv, [&] {
    if (!app.remaining().empty())
      throw scvae::ArgumentError(app.remaining().front() +
                                 ": not an option of --design m2, the default (see --help); "
                                 "the SC-VAE's options need --design scvae");
    distributed.check_available();
    examples::validate_common_flags(flags, program);
    if (no_latent_reads_label) m.latent_reads_label = false;
    if (flags.iwae > 0 || flags.warmup > 0 || flags.init != "pytorch")
      throw scvae::ArgumentError(
          "--iwae, --warmup and --init are mnist_vae's and mnist_multitask's "
          "options; this example does not take them");
    examples::check_baseline_epochs(m.baseline_epochs);
    const examples::MnistData data = examples::load_data(flags, program);
    if (data.train.labels().empty() || data.test.labels().empty())
      throw scvae::FormatError(flags.data +
                               ": expected label files for the training and test images");
    const bool conv = m.arch == "conv";
    if (conv && app.count("--hidden") > 0)
      throw scvae::ArgumentError("--hidden: the MLP's; --arch conv has its own");
    if (conv) examples::check_conv_images(data.train, flags);
    const auto lock = distributed.lock_output(flags.out);
    if (app.count("--labels") == 0) m.labels = std::min(m.labels, data.train.size());
    if (app.count("--label-weight") == 0)
      m.label_weight = examples::default_label_weight(m.label_weight, m.labels, data.train.size());
    const std::vector<std::uint8_t> labelled =
        examples::choose_labelled(data.train, m.labels, flags.seed);
    const Index classes = data.train.num_classes();
    scvae::LabelConditionedSpec spec;
    spec.inputs = data.train.features();
    spec.encoder_hidden = {flags.hidden};
    spec.latent = flags.latent;
    spec.classes = classes;
    spec.classifier_hidden = m.classifier_hidden;
    spec.latent_reads_label = m.latent_reads_label;
    spec.decoder_hidden = {flags.hidden};
    if (conv) {
      spec.encoder_hidden.clear();
      spec.decoder_hidden.clear();
      spec.input_shape = scvae::Shape(1, 28, 28);
      spec.trunk_network = std::string("[") + examples::kConvTrunk + "]";
      spec.decoder_network = examples::kConvDecoder;
    }
    spec.label_weight = m.label_weight;
    spec.entropy_weight = m.entropy_weight;
    spec.initialization = flags.initialization();
    // --load with --epochs 0 evaluates the recorded model; a resumed run
    // trains the flags' model (its loss weights) from the checkpoint.
    const bool evaluating = !flags.load.empty() && flags.epochs == 0;
    if (!evaluating) {
      // The conv networks' dense layers; their convolutions keep ~16x a dense
      // layer's activations (as the SC-VAE's check counts them).
      const Index features = conv ? 256 : flags.hidden;
      const std::string width_flag = conv ? "--arch conv" : "--hidden";
      examples::ModelSize size;
      if (conv)
        size.dense(3136, 256, width_flag, 256);
      else
        size.dense(spec.inputs, flags.hidden, "--hidden", flags.hidden);
      Index width = features;
      for (Index units : m.classifier_hidden) {
        size.dense(width, units, "--classifier-hidden", units);
        width = units;
      }
      size.dense(width, classes, "--classifier-hidden", width)
          .dense(features + classes, flags.latent, "--latent", flags.latent, 2)
          .dense(flags.latent + classes, features, "--latent", flags.latent);
      if (conv)
        size.dense(256, 3136, width_flag, 256);
      else
        size.dense(flags.hidden, spec.inputs, "--hidden", flags.hidden);
      size.check(flags.batch * classes * (conv ? 16 : 1), 8);
    }
    scvae::LabelConditionedVAE model = evaluating ? m2::load_recorded_m2(app, flags, spec)
                                                  : scvae::LabelConditionedVAE(spec, flags.seed);
    scvae::Adam adam(scvae::AdamOptions{flags.lr});
    scvae::Trainer trainer(model, adam, examples::trainer_options(flags, 0));
    trainer.set_order(scvae::OversamplingOrder(scvae::labelled_indices(labelled), flags.batch,
                                               m.labelled_share));
    Index last_epoch = flags.epochs;  // the first epoch added once known
    if (m.lr_cosine)
      trainer.set_learning_rate_schedule([&flags, &last_epoch](long epoch) {
        return scvae::CosineSchedule(flags.lr, std::max<long>(1, static_cast<long>(last_epoch)))(
            epoch);
      });

    // A conv model keeps ~40x an MLP's activations per sample, decoded once
    // per class: its test batches are its training batches (as the SC-VAE's).
    const Index test_batch = model.spec().trunk_network.empty() ? 500 : flags.batch;
    const scvae::PartlyLabelledSource<float> train_source(data.train, labelled);
    const scvae::ImageLabelSource<float> test_source(data.test);
    const scvae::ImageLabelSource<float> test_unlabelled(
        data.test, std::vector<std::uint8_t>(static_cast<std::size_t>(data.test.size()), 0));
    auto evaluate = [&](scvae::EpochReport& r) {
      scvae::Rng rng(flags.seed + 7000);  // the same noise every epoch
      r.set("test_loss", m2::test_bound(model, test_unlabelled, test_batch, rng));
      r.set("test_accuracy",
            scvae::evaluate_accuracy(model, 1, test_source, test_batch, model.thread_pool())
                .accuracy);
      r.set("test_accuracy_classifier",
            scvae::evaluate_accuracy(
                model, 1, test_source, test_batch,
                [&](const m2::Matrix& x, m2::Matrix& q) { model.class_probabilities(x, q); },
                model.thread_pool())
                .accuracy);
      return false;
    };
    // Order matters: the average is in the model when the evaluation, the
    // checkpoint and the metrics see it.
    trainer.add_callback(std::make_unique<examples::StopOnSignal>());
    trainer.add_callback(std::make_unique<m2::LabelledSubsetRecord>(labelled));
    if (m.adversarial_epsilon > 0.0)
      trainer.add_callback(
          std::make_unique<scvae::VirtualAdversarialTraining<scvae::LabelConditionedVAE>>(
              model, scvae::VirtualAdversarialOptions{m.adversarial_epsilon, m.adversarial_xi,
                                                      m.adversarial_weight}));
    if (m.average_weights > 0.0)
      trainer.add_callback(std::make_unique<scvae::AverageParameters<scvae::LabelConditionedVAE>>(
          model, m.average_weights));
    // Every rank evaluates (the loss crosses the ranks chunk by chunk, the
    // accuracies split their batches across them); rank 0 alone writes.
    trainer.add_callback(std::make_unique<scvae::EpochCallback>(evaluate));
    if (!flags.quiet && distributed.writes())
      trainer.add_callback(std::make_unique<scvae::ProgressBar>());
    if (distributed.writes()) {
      trainer.add_callback(std::make_unique<scvae::CheckpointEveryEpoch<
                               scvae::LabelConditionedVAE, scvae::Adam>>(flags.save, trainer));
      trainer.add_callback(std::make_unique<examples::RecordCheckpoint>(flags.save));
    }
    Index first_epoch = 0;
    if (!flags.load.empty() && flags.epochs > 0)
      first_epoch = scvae::resume_training(flags.load, trainer);
    // The average and the adversarial terms are computed alike on every
    // rank from the same parameters and batch, so they need no exchange.
    distributed.start(model, adam, data.train.size(), examples::trainer_options(flags, first_epoch),
                      first_epoch);
    last_epoch += first_epoch;
    const std::string metrics_path = (std::filesystem::path(flags.out) / "metrics.jsonl").string();
    if (distributed.writes()) {
      trainer.add_callback(std::make_unique<scvae::MetricsWriter>(metrics_path, first_epoch > 0));
      examples::add_curves(trainer, flags.out, first_epoch);
    }
    if (!flags.quiet && distributed.writes())
      std::cerr << program_name << ": " << data.train.size() << " training images, "
                << scvae::labelled_indices(labelled).size() << " labelled; "
                << model.parameter_count() << " parameters; " << model.architecture()
                << distributed.ranks_text() << "\n";

    examples::train_or_evaluate(trainer, train_source, flags.epochs, first_epoch, evaluate,
                                distributed.writes() ? &std::cout : nullptr);
    if (!distributed.writes()) return 0;
    if (m.baseline)
      examples::write_baseline(
          program_name, data.train, labelled, data.test, flags, m.baseline_epochs, metrics_path,
          conv ? examples::conv_classifier_network(static_cast<int>(classes)) : "");
    const std::string samples = (std::filesystem::path(flags.out) / "class_samples.png").string();
    scvae::Rng picture_rng(flags.seed + 9000);
    scvae::write_class_samples(samples, model, 10, data.test.image_rows(), data.test.image_cols(),
                               picture_rng);
    // q(z|x) at the class q(y|x) finds most probable: the model contract's encode().
    examples::write_latent_png(model, test_source, 500, flags.out,
                               examples::class_numbers(data.test));
    if (!flags.quiet)
      std::cerr << program_name << ": wrote metrics.jsonl, "
                << (flags.epochs > 0 ? "curves.png, " : "") << "latent.png and " << samples
                << (flags.epochs > 0 ? ", the model to " + flags.save : std::string()) << "\n";
    return 0;
  }));
}

}  // namespace examples
