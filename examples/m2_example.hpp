#pragma once
// Kingma et al.'s M2 on MNIST-format data (scvae::LabelConditionedVAE): one
// encoder trunk shared by the classifier q(y|x) and q(z|x), an image decoder
// that reads [z; y]. Only --labels training images keep their label; every
// other image is decoded once per class and teaches the classifier which
// class explains it best. It predicts with q(y|x) weighted by the decoder's
// evidence for each class. --baseline trains the label-only MLP on the same
// labelled images. mnist_m2 runs it, and mnist_multitask by default
// (--design m2).

#include <chrono>
#include <fstream>

#include "common.hpp"
#include "labelled_subset.hpp"

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
};

/// The generator of one training epoch (shuffling, z noise, the VAT probe),
/// drawn from the seed and the epoch alone, as the Trainer's are: a run
/// resumed from a checkpoint draws what an uninterrupted one would.
inline std::uint64_t epoch_seed(std::uint64_t seed, Index epoch) {
  scvae::Rng mix((seed * 7919 + 11) ^ (0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(epoch)));
  return mix.next_u64();
}

/// Checkpoint extras of a run with averaged parameters. The checkpoint's
/// parameters are the average (the model the metrics describe, which --load
/// with --epochs 0 evaluates); the training parameters and the number of
/// updates behind the average ride along so that training can go on.
inline constexpr const char* kTrainingParameters = "m2.training_parameters";
inline constexpr const char* kAverageSteps = "m2.average_steps";
inline constexpr const char* kAverageDecay = "m2.average_decay";

/// The labelled images (1 = labelled), part of a run's identity: a run
/// resumed with another --labels, --limit or --seed would train another
/// model under the same name.
inline constexpr const char* kLabelled = "m2.labelled";

inline void check_labelled(const scvae::CheckpointExtras& extras,
                           const std::vector<std::uint8_t>& labelled) {
  if (!extras.contains(kLabelled)) return;  // a checkpoint from before it was saved
  if (extras.bytes(kLabelled) != labelled)
    throw scvae::ArgumentError(std::string("checkpoint extra '") + kLabelled +
                               "': the labelled images differ from this run's (another --labels, "
                               "--limit or --seed?); resume with the same ones");
}

/// What a checkpoint holds besides the model and Adam.
struct AverageState {
  scvae::Vector<float> training_parameters;  // empty: the checkpoint has no average
  long steps = 0;
  double decay = 0.0;
};

inline AverageState read_average_state(const scvae::CheckpointExtras& extras, Index parameters) {
  AverageState state;
  if (!extras.contains(kTrainingParameters)) return state;
  state.training_parameters = extras.vector<float>(kTrainingParameters);
  if (state.training_parameters.size() != parameters)
    throw scvae::ShapeError(std::string("checkpoint extra '") + kTrainingParameters + "' holds " +
                            std::to_string(state.training_parameters.size()) +
                            " values, the model has " + std::to_string(parameters) + " parameters");
  state.steps = static_cast<long>(scvae::checkpoint_count(extras, kAverageSteps));
  if (state.steps < 1)
    throw scvae::ArgumentError(std::string("checkpoint extra '") + kAverageSteps +
                               "' is 0: an average of no update");
  state.decay = extras.scalar(kAverageDecay);
  if (!(state.decay >= 0.0 && state.decay < 1.0))
    throw scvae::ArgumentError(std::string("checkpoint extra '") + kAverageDecay +
                               "' is not a decay in [0, 1): " + std::to_string(state.decay));
  return state;
}

struct TestMetrics {
  double loss = 0.0;      // -ELBO of the image alone, y marginalised: a bound on -log p(x)
  double accuracy = 0.0;  // argmax of the evidence-weighted q(y|x)
  double classifier_accuracy = 0.0;  // argmax of q(y|x) alone
};

/// The test metrics as the end of a metrics.jsonl line.
inline std::string metrics_text(const TestMetrics& test) {
  return ", \"test_loss\": " + scvae::json_number(test.loss) +
         ", \"test_accuracy\": " + scvae::json_number(test.accuracy) +
         ", \"test_accuracy_classifier\": " + scvae::json_number(test.classifier_accuracy);
}

/// Accuracy of argmax q(y|x), alone and weighted by the decoder's evidence,
/// and the bound sum_y q(y|x) R(x, z, y) + KL(q(z|x) || p(z)) + KL(q(y|x) || uniform).
inline TestMetrics evaluate(scvae::LabelConditionedVAE& model, const scvae::Dataset& test,
                            std::uint64_t seed) {
  const std::vector<Index> order = test.identity_order();
  scvae::Rng rng(seed + 7000);
  Matrix x, y, q, weighted, eps;
  double loss_sum = 0.0;
  Index correct = 0, classifier_correct = 0;
  const double gamma = model.spec().entropy_weight;
  const double log_classes = std::log(static_cast<double>(model.classes()));
  for (Index begin = 0; begin < test.size(); begin += 500) {
    const Index end = std::min<Index>(begin + 500, test.size());
    const Index n = end - begin;
    test.batch(order, begin, end, x);
    test.label_batch(order, begin, end, y);
    const RowVector unlabelled = RowVector::Zero(n);
    eps.resize(model.latent(), n);
    rng.fill_normal(eps);
    const scvae::LabelConditionedLoss parts = model.loss(x, y.row(0), unlabelled, eps);
    loss_sum += parts.total * static_cast<double>(n);
    model.class_probabilities(x, q);
    classifier_correct += scvae::count_correct(q, y);
    model.evidence_weighted_class_probabilities(x, weighted);
    correct += scvae::count_correct(weighted, y);
    for (Index j = 0; j < n; ++j) {
      // The model's loss carries gamma * sum q log q; the bound carries it once.
      const auto p = q.col(j).array().cast<double>().max(1e-300);
      loss_sum += (1.0 - gamma) * (p * p.log()).sum() + log_classes;
    }
  }
  const double size = static_cast<double>(test.size());
  return {loss_sum / size, static_cast<double>(correct) / size,
          static_cast<double>(classifier_correct) / size};
}

/// One style z ~ N(0, I) per column, drawn in every class (one class per row).
inline void write_class_samples(const scvae::LabelConditionedVAE& model, const scvae::Dataset& test,
                                const std::string& path, std::uint64_t seed) {
  const Index styles = 10, classes = model.classes();
  scvae::Rng rng(seed + 9000);
  Matrix style(model.latent(), styles);
  rng.fill_normal(style);
  Matrix z(model.latent(), styles * classes);
  RowVector labels(styles * classes);
  for (Index k = 0; k < classes; ++k)
    for (Index s = 0; s < styles; ++s) {
      z.col(k * styles + s) = style.col(s);
      labels(k * styles + s) = static_cast<float>(k);
    }
  Matrix pixels;
  model.decode(z, labels, pixels);
  scvae::write_image_grid(path, pixels, test.image_rows(), test.image_cols(), styles);
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
inline int run_m2_example(const char* program, const std::string& description,
                          const std::string& default_out, bool takes_design, int argc,
                          char** argv) {
  CLI::App app{description};
  examples::CommonFlags flags;
  flags.out = default_out;
  flags.hidden = m2::kDefaultHidden;
  examples::add_common_flags(app, flags);
  m2::M2Flags m;
  bool no_latent_reads_label = false;
  std::string design = "m2";
  if (takes_design) add_design_option(app, design);
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

  // The SC-VAE's options reach this design as extras, to be named in one line.
  if (takes_design) app.allow_extras();
  return examples::run_main(program, app, argc, argv, [&] {
    if (!app.remaining().empty())
      throw scvae::ArgumentError(app.remaining().front() +
                                 ": not an option of --design m2, the default (see --help); "
                                 "the SC-VAE's options need --design scvae");
    examples::validate_common_flags(flags);
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
    const examples::OutputLock lock(flags.out);
    if (app.count("--labels") == 0) m.labels = std::min(m.labels, data.train.size());
    if (app.count("--label-weight") == 0)
      m.label_weight = examples::default_label_weight(m.label_weight, m.labels, data.train.size());
    const std::vector<std::uint8_t> labelled =
        examples::choose_labelled(data.train, m.labels, flags.seed);
    std::vector<Index> labelled_indices;
    for (Index i = 0; i < data.train.size(); ++i)
      if (labelled[static_cast<std::size_t>(i)]) labelled_indices.push_back(i);

    const Index classes = data.train.num_classes();
    examples::ModelSize size;
    size.dense(data.train.features(), flags.hidden, "--hidden", flags.hidden);
    Index width = flags.hidden;
    for (Index units : m.classifier_hidden) {
      size.dense(width, units, "--classifier-hidden", units);
      width = units;
    }
    size.dense(width, classes, "--classifier-hidden", width)
        .dense(flags.hidden + classes, flags.latent, "--latent", flags.latent, 2)
        .dense(flags.latent + classes, flags.hidden, "--hidden", flags.hidden)
        .dense(flags.hidden, data.train.features(), "--hidden", flags.hidden)
        .check(flags.batch * classes, 8);

    scvae::LabelConditionedSpec spec;
    spec.inputs = data.train.features();
    spec.encoder_hidden = {flags.hidden};
    spec.latent = flags.latent;
    spec.classes = data.train.num_classes();
    spec.classifier_hidden = m.classifier_hidden;
    spec.latent_reads_label = m.latent_reads_label;
    spec.decoder_hidden = {flags.hidden};
    spec.label_weight = m.label_weight;
    spec.entropy_weight = m.entropy_weight;
    spec.initialization = flags.initialization();
    scvae::LabelConditionedVAE model(spec, flags.seed);
    model.set_threads(flags.threads);
    scvae::Adam adam(scvae::AdamOptions{flags.lr});
    scvae::ParameterAverage average(m.average_weights);
    const bool averaging = m.average_weights > 0.0;
    Index first_epoch = 0;
    if (!flags.load.empty() && flags.epochs == 0) scvae::load_model(flags.load, model);
    if (!flags.load.empty() && flags.epochs > 0) {
      m2::AverageState saved;
      first_epoch = scvae::load_training_checkpoint(
          flags.load, model, adam, [&](const scvae::CheckpointExtras& extras) {
            m2::check_labelled(extras, labelled);
            saved = m2::read_average_state(extras, model.parameter_count());
          });
      if (averaging && saved.steps > 0 && saved.decay != m.average_weights)
        throw scvae::ArgumentError(flags.load + ": its parameter average has decay " +
                                   scvae::json_number(saved.decay) + ", not --average-weights " +
                                   scvae::json_number(m.average_weights) +
                                   "; resume with the same decay");
      if (saved.steps > 0) {
        // The loaded parameters are the average; training goes on from the
        // training parameters.
        if (averaging) average.restore(model.parameters(), saved.steps);
        model.parameters() = saved.training_parameters;
      }
    }
    const Index last_epoch = first_epoch + flags.epochs;
    const std::string metrics_path = (std::filesystem::path(flags.out) / "metrics.jsonl").string();
    // A resumed run goes on writing the metrics of the run it resumes, cut
    // back to its checkpoint; nothing changes before the first line.
    scvae::MetricsFile metrics(metrics_path, first_epoch > 0, first_epoch > 0 ? first_epoch : -1);
    metrics.check_writable();
    if (!flags.quiet)
      std::cerr << program << ": " << data.train.size() << " training images, "
                << labelled_indices.size() << " labelled; " << model.parameter_count()
                << " parameters; " << model.architecture() << "\n";

    m2::Matrix x, y, adversarial, targets;
    m2::RowVector labels, mask;
    const scvae::CosineSchedule cosine(flags.lr, std::max<long>(1, static_cast<long>(last_epoch)));
    for (Index epoch = first_epoch + 1; epoch <= last_epoch; ++epoch) {
      const auto start = std::chrono::steady_clock::now();
      scvae::Rng rng(m2::epoch_seed(flags.seed, epoch));
      if (m.lr_cosine) adam.set_learning_rate(cosine(static_cast<long>(epoch - 1)));
      const std::vector<Index> order = examples::oversampling_order(
          rng, data.train.size(), flags.batch, m.labelled_share, labelled_indices);
      double loss_sum = 0.0;
      Index batches = 0;
      for (Index begin = 0; begin < data.train.size(); begin += flags.batch) {
        const Index end = std::min<Index>(begin + flags.batch, data.train.size());
        data.train.batch(order, begin, end, x);
        data.train.label_batch(order, begin, end, y);
        mask.resize(end - begin);
        for (Index j = begin; j < end; ++j)
          mask(j - begin) =
              labelled[static_cast<std::size_t>(order[static_cast<std::size_t>(j)])] ? 1.0f : 0.0f;
        labels = y.row(0).cwiseProduct(mask);  // an unlabelled image's class is never read
        double loss = model.loss_and_gradient(x, labels, mask, rng, flags.beta).total;
        if (m.adversarial_epsilon > 0.0) {
          model.virtual_adversarial(x, m.adversarial_epsilon, m.adversarial_xi, rng, adversarial,
                                    targets);
          loss +=
              model.add_classifier_loss_and_gradient(adversarial, targets, m.adversarial_weight);
        }
        if (!std::isfinite(loss))
          throw scvae::NumericalError("the loss is not finite at epoch " + std::to_string(epoch));
        adam.step(model.parameters(), model.gradients(), model.thread_pool());
        if (averaging) average.update(model.parameters());
        loss_sum += loss;
        ++batches;
        examples::check_interrupted();
      }
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      // The averaged parameters are evaluated and saved, and after the last
      // epoch kept (for the pictures).
      if (averaging) average.swap(model.parameters());
      const m2::TestMetrics test = m2::evaluate(model, data.test, flags.seed);
      scvae::CheckpointExtras own;
      own.set_bytes(m2::kLabelled, labelled);
      if (averaging) {
        own.set_vector(m2::kTrainingParameters, average.average());
        own.set_scalar(m2::kAverageSteps, static_cast<double>(average.steps()));
        own.set_scalar(m2::kAverageDecay, average.decay());
      }
      scvae::save_training_checkpoint(flags.save, model, adam, epoch, std::move(own));
      examples::g_last_checkpoint = {flags.save, epoch};
      if (averaging && epoch < last_epoch) average.swap(model.parameters());
      metrics.write("{\"epoch\": " + std::to_string(epoch) +
                    ", \"train_seconds\": " + scvae::json_number(seconds) + ", \"train_loss\": " +
                    scvae::json_number(loss_sum / static_cast<double>(batches)) +
                    m2::metrics_text(test) + "}\n");
      if (!flags.quiet)
        std::cerr << program << ": epoch " << epoch << "/" << last_epoch << "  train_loss "
                  << loss_sum / static_cast<double>(batches) << "  test_loss " << test.loss
                  << "  test_accuracy " << test.accuracy << " (q(y|x) alone "
                  << test.classifier_accuracy << ")  (" << seconds << " s)\n";
    }
    if (flags.epochs == 0) {
      const m2::TestMetrics test = m2::evaluate(model, data.test, flags.seed);
      metrics.write("{\"epoch\": 0" + m2::metrics_text(test) + "}\n");
      if (!flags.quiet)
        std::cerr << program << ": " << flags.load << ": test_loss " << test.loss
                  << "  test_accuracy " << test.accuracy << " (q(y|x) alone "
                  << test.classifier_accuracy << ")\n";
    }
    metrics.close();
    if (m.baseline)
      examples::write_baseline(program, data.train, labelled, data.test, flags, m.baseline_epochs,
                               metrics_path);
    const std::string samples = (std::filesystem::path(flags.out) / "class_samples.png").string();
    m2::write_class_samples(model, data.test, samples, flags.seed);
    if (!flags.quiet)
      std::cerr << program << ": wrote metrics.jsonl and " << samples
                << (flags.epochs > 0 ? ", the model to " + flags.save : std::string()) << "\n";
    return 0;
  });
}

}  // namespace examples
