// The multi-task VAE on MNIST-format data: one shared encoder, an image
// decoder that sees every training image, and a label task that sees only the
// --labels labelled ones. --baseline also trains a label-only classifier of
// the same trunk (the MLP, or the conv trunk with --arch conv) on exactly
// the same labelled images, so both accuracies come from one program, one
// split and one seed.
//
// Two designs: --design m2 (the default, the best measured; m2_example.hpp),
// where the image decoder reads the class, and --design scvae (this file),
// the SC-VAE: a Bernoulli image task and a Categorical label head on z, with
// pseudo-labels for the unlabelled images. Everything here is wiring of the
// library: PartlyLabelledSource, OversamplingOrder, PseudoLabels,
// AverageParameters and VirtualAdversarialTraining on the one Trainer. Under
// mpirun, --distributed trains on every rank, with either design
// (examples/distributed_run.hpp; --design m2's in m2_example.hpp).

#include "distributed_run.hpp"
#include "labelled_subset.hpp"
#include "m2_example.hpp"
#include "multitask_flags.hpp"
#include "pictures_wiring.hpp"
#include "scvae/eval/predictive_accuracy.hpp"
#include "scvae/semisup/pseudo_labels.hpp"

namespace {

using scvae::Index;
using Classifier = scvae::LabelHeadClassifier<scvae::SCVAE>;

}  // namespace

int main(int argc, char** argv) {
  if (examples::design_from_arguments(argc, argv) != "scvae") {
    try {
      examples::refuse_balance_for_m2(argc, argv);
    } catch (const scvae::ArgumentError& e) {
      std::cerr << "mnist_multitask: " << e.what() << "\n";
      return 2;
    }
    return examples::run_m2_example(
        "mnist_multitask",
        "Train the multi-task VAE (shared encoder, image decoder, label task) on MNIST-format "
        "data with only --labels labelled images, and write its metrics, pictures and model. "
        "This is --design m2 (Kingma et al.'s M2).",
        "runs/mnist_multitask", true, argc, argv);
  }
  examples::DistributedRun distributed(argc, argv);
  CLI::App app{
      "Train the shared-encoder multi-task VAE (image + label) on MNIST-format data "
      "with only --labels labelled images, and write its metrics, pictures and model. "
      "This is --design scvae (the SC-VAE: a label head on z)."};
  examples::CommonFlags flags;
  flags.out = "runs/mnist_multitask";
  examples::add_common_flags(app, flags);
  std::string design = "scvae";
  examples::add_design_option(app, design);
  examples::MultitaskFlags m;
  examples::add_multitask_flags(app, m);
  distributed.add_flag(app);

  const std::string program = distributed.program("mnist_multitask");
  return distributed.finish(examples::run_main(program.c_str(), app, argc, argv, [&] {
    distributed.check_available();
    examples::validate_common_flags(flags, "mnist_multitask");
    examples::refuse_gradnorm_alpha_without_gradnorm(app, m.balance);
    const examples::MnistData data = examples::load_data(flags, "mnist_multitask");
    // The default of 1000 shrinks to fit a small --limit; an explicit
    // --labels larger than the data is an error.
    if (app.count("--labels") == 0) m.labels = std::min(m.labels, data.train.size());
    const scvae::Shape image_shape(1, data.train.image_rows(), data.train.image_cols());
    const auto check_augmentation = [&](const char* flag, const scvae::ImageAugmentation& a) {
      try {
        scvae::check_image_augmentation(a, image_shape);
      } catch (const scvae::ArgumentError& e) {
        throw scvae::ArgumentError(std::string(flag) + ": " + e.what());
      }
    };
    scvae::ImageAugmentation moves_only = m.augment;
    moves_only.erase_size = 0;
    check_augmentation("--augment-shift", moves_only);
    check_augmentation("--augment-erase", m.augment);
    // With learned weights nothing is tuned by hand: the label's w_t is 1.
    if (app.count("--label-weight") == 0)
      m.label_weight = m.balance.method != "none"
                           ? 1.0
                           : examples::default_label_weight(m.label_weight, m.labels,
                                                            data.train.size());
    const std::vector<std::uint8_t> labelled =
        examples::choose_labelled(data.train, m.labels, flags.seed);
    const auto lock = distributed.lock_output(flags.out);
    if (m.prior == "classes" && (app.count("--label-hidden") > 0 || app.count("--label-layers") > 0 ||
                                 app.count("--label-input") > 0))
      throw scvae::ArgumentError(
          "--label-hidden, --label-layers, --label-input: --prior classes reads the label from mu "
          "by its distance to each class's centre, with no hidden layer");
    if (m.arch == "conv" && (app.count("--hidden") > 0 || app.count("--encoder-layers") > 0))
      throw scvae::ArgumentError("--hidden, --encoder-layers: the MLP's; --arch conv has its own");
    examples::ModelSize size;
    const scvae::ModelSpec spec = examples::scvae_spec(flags, m, data.train, size);
    examples::check_scvae_size(flags, data.train.features(), data.train.num_classes(),
                               m.encoder_layers, m.label_hidden, m.label_layers,
                               m.average_weights > 0.0, size);
    scvae::SCVAE model(spec, flags.seed);
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
    const Index batch = examples::test_batch(model.spec(), flags);
    auto evaluate = [&](scvae::EpochReport& r) {
      scvae::Rng rng(flags.seed + 1000);
      const scvae::LossParts sampled = scvae::evaluate_loss(model, test_source, batch, rng);
      const scvae::LossParts mean_z = scvae::evaluate_loss(model, test_source, batch, rng, 1.0, true);
      // The image task's nats per sample, comparable with mnist_vae's test_loss.
      r.set("test_loss", sampled.task_nll[0] + sampled.kl);
      r.set("test_loss_mean_z", mean_z.task_nll[0] + mean_z.kl);
      r.set("test_kl", sampled.kl);
      r.set("test_label_nll", sampled.task_nll[1]);
      r.set("test_accuracy", scvae::accuracy(model, 1, test_source, batch, model.thread_pool()));
      r.set("label_weight", model.task(1).weight);
      scvae::Rng draws(flags.seed + 4000);
      // Each thread holds a batch's activations: a conv model's at 1,000
      // images take about 45 MB, so its threads take 500 each (as much as
      // one thread took before; the noise follows the batch size).
      const Index draws_batch = m.arch == "conv" ? 500 : 1000;
      r.set("test_accuracy_sampled", scvae::predictive_accuracy(model, 1, data.test, 16, draws,
                                                                draws_batch, model.thread_pool()));
      if (flags.iwae > 0 && r.epoch == r.epochs) {
        scvae::Rng iwae_rng(flags.seed + 2000);
        const scvae::EvaluationOptions threads =
            examples::iwae_options(model.thread_pool(), flags, distributed.writes());
        r.set(
            "test_nll_iwae",
            scvae::evaluate_iwae(model, test_source, flags.iwae, 100, iwae_rng, {0}, threads).nll);
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
    examples::report_balance_weights(trainer, model);
    if (!flags.quiet && distributed.writes())
      trainer.add_callback(std::make_unique<scvae::ProgressBar>());
    Index first_epoch = 0;
    if (!flags.load.empty()) first_epoch = scvae::resume_training(flags.load, trainer);
    // Pseudo-labels, averages and adversarial terms are computed alike on
    // every rank from the same parameters, so they need no exchange.
    distributed.start(model, adam, data.train.size(), examples::trainer_options(flags, first_epoch),
                      first_epoch);
    if (!flags.quiet && distributed.writes())
      std::cerr << "mnist_multitask: " << data.train.size() << " training images, " << m.labels
                << " labelled; " << data.test.size() << " test images from " << flags.data << "; "
                << model.architecture() << "; " << flags.threads << " thread(s), "
                << scvae::precision_name(flags.precision_used)
                << distributed.ranks_text() << "\n";
    const std::string metrics_path = (std::filesystem::path(flags.out) / "metrics.jsonl").string();
    // Every callback's state (average, pseudo-labels) rides along, so a
    // resumed run is the same run; the metrics line comes after it.
    if (distributed.writes()) {
      trainer.add_callback(
          std::make_unique<scvae::CheckpointEveryEpoch<scvae::SCVAE, scvae::Adam>>(flags.save,
                                                                                   trainer));
      trainer.add_callback(std::make_unique<examples::RecordCheckpoint>(flags.save));
      trainer.add_callback(std::make_unique<scvae::MetricsWriter>(metrics_path, first_epoch > 0));
      examples::add_curves(trainer, flags.out, first_epoch);
    }

    // Only the training batches move; pseudo-labels and evaluation read the images as they are.
    const scvae::AugmentedImageSource<float> augmented(
        train_source, image_shape, m.augment, flags.seed + 5000);
    const scvae::BatchSource<float>& training = m.augment.any()
                                                    ? static_cast<const scvae::BatchSource<float>&>(augmented)
                                                    : train_source;
    examples::train_or_evaluate(trainer, training, flags.epochs, first_epoch, evaluate,
                                distributed.writes() ? &std::cout : nullptr);
    if (!distributed.writes()) return 0;
    if (m.baseline)
      examples::write_baseline(
          "mnist_multitask", data.train, labelled, data.test, flags, m.baseline_epochs,
          metrics_path,
          m.arch == "conv" ? examples::conv_classifier_network(data.train.num_classes()) : "");
    examples::write_pictures(model, data.test, flags.out, flags.seed);
    examples::write_latent_png(model, test_source, batch, flags.out,
                               examples::class_numbers(data.test));
    if (!flags.quiet)
      std::cerr << "mnist_multitask: wrote metrics.jsonl, " << (flags.epochs > 0 ? "curves.png, " : "")
                << "latent.png, samples.png, reconstructions.png, interpolation.png and "
                << flags.save << "\n";
    return 0;
  }));
}
