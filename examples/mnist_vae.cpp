// Trains the pytorch/examples VAE (784-400-20-400-784, ReLU, Bernoulli
// decoder, Adam 1e-3, batch 128, 10 epochs, seed 1) on MNIST-format data and
// writes metrics.jsonl, pictures (curves.png, redrawn every epoch, and
// latent.png among them) and the model to --out. --arch conv trains
// the convolutional VAE of examples::conv_vae_spec instead. Under mpirun,
// --distributed trains on every rank (examples/distributed_run.hpp).

#include "distributed_run.hpp"
#include "model_presets.hpp"
#include "pictures_wiring.hpp"

using scvae::Index;

int main(int argc, char** argv) {
  examples::DistributedRun distributed(argc, argv);
  CLI::App app{
      "Train a VAE on MNIST-format images (default: Fashion-MNIST) and write its "
      "metrics, pictures and model."};
  examples::CommonFlags flags;
  flags.out = "runs/mnist_vae";
  examples::add_common_flags(app, flags);
  std::string arch = "mlp";
  examples::add_arch_option(app, arch);
  distributed.add_flag(app);

  const std::string program = distributed.program("mnist_vae");
  return distributed.finish(examples::run_main(program.c_str(), app, argc, argv, [&] {
    distributed.check_available();
    examples::validate_common_flags(flags, "mnist_vae");
    const examples::MnistData data = examples::load_data(flags, "mnist_vae");
    const auto lock = distributed.lock_output(flags.out);
    const Index inputs = data.train.features();
    const bool loading = !flags.load.empty();
    const bool conv = arch == "conv";
    if (conv && app.count("--hidden") > 0)
      throw scvae::ArgumentError("--hidden: the MLP's width; --arch conv has fixed widths");
    if (!loading && !conv)
      examples::ModelSize()
          .dense(inputs, flags.hidden, "--hidden", flags.hidden)
          .dense(flags.hidden, flags.latent, "--latent", flags.latent, 2)
          .dense(flags.latent, flags.hidden, "--hidden", flags.hidden)
          .dense(flags.hidden, inputs, "--hidden", flags.hidden)
          .check(flags.batch, 6);
    // A checkpoint records its architecture: --load needs no size flags.
    scvae::VAE vae = loading ? examples::load_recorded_vae(app, flags, inputs)
                     : conv  ? scvae::VAE(examples::conv_vae_spec(data.train, flags), flags.seed)
                             : scvae::VAE(inputs, {flags.hidden}, flags.latent, flags.seed,
                                          scvae::LikelihoodSpec::bernoulli(),
                                          scvae::Activation::ReLU, flags.initialization());
    if (loading && app.count("--arch") > 0 && conv == vae.spec().encoder_network.empty())
      throw scvae::CheckpointError(flags.load + ": --arch " + arch +
                                   " differs from the checkpoint's model (with --load the "
                                   "architecture comes from the checkpoint: leave --arch out)");
    scvae::Adam adam(scvae::AdamOptions{flags.lr});
    scvae::Index first_epoch = 0;
    if (!flags.load.empty()) first_epoch = scvae::load_training_checkpoint(flags.load, vae, adam);
    distributed.start(vae, adam, data.train.size(), examples::trainer_options(flags, first_epoch),
                      first_epoch);
    if (!flags.quiet && distributed.writes())
      std::cerr << "mnist_vae: " << data.train.size() << " training and " << data.test.size()
                << " test images from " << flags.data << "; " << vae.architecture() << "; "
                << flags.threads << " thread(s), " << scvae::precision_name(flags.precision_used)
                << distributed.ranks_text() << "\n";

    const scvae::AutoencoderSource<float> train_source(data.train);
    const scvae::AutoencoderSource<float> test_source(data.test);
    scvae::Trainer trainer(vae, adam, examples::trainer_options(flags, first_epoch));
    const scvae::Index test_batch = examples::test_batch(vae.spec(), flags);
    auto evaluate = [&](scvae::EpochReport& r) {
      // The same noise every epoch, so epochs compare like for like.
      scvae::Rng rng(flags.seed + 1000);
      const scvae::LossParts sampled = scvae::evaluate_loss(vae, test_source, test_batch, rng);
      const scvae::LossParts mean_z =
          scvae::evaluate_loss(vae, test_source, test_batch, rng, 1.0, true);
      r.set("test_loss", sampled.total);
      r.set("test_loss_mean_z", mean_z.total);
      r.set("test_kl", sampled.kl);
      if (flags.iwae > 0 && r.epoch == r.epochs) {
        scvae::Rng iwae_rng(flags.seed + 2000);
        const scvae::EvaluationOptions threads =
            examples::iwae_options(vae.thread_pool(), flags, distributed.writes());
        r.set("test_nll_iwae",
              scvae::evaluate_iwae(vae, test_source, flags.iwae, 100, iwae_rng, {}, threads).nll);
      }
      return false;
    };
    trainer.add_callback(std::make_unique<examples::StopOnSignal>());
    trainer.add_callback(std::make_unique<scvae::EpochCallback>(evaluate));
    if (!flags.quiet && distributed.writes())
      trainer.add_callback(std::make_unique<scvae::ProgressBar>());
    // The metrics line after the checkpoint: a run killed between the two
    // repeats no epoch when resumed.
    if (distributed.writes()) {
      trainer.add_callback(std::make_unique<scvae::CheckpointEveryEpoch<scvae::VAE, scvae::Adam>>(
          flags.save, vae, adam));
      trainer.add_callback(std::make_unique<examples::RecordCheckpoint>(flags.save));
      trainer.add_callback(std::make_unique<scvae::MetricsWriter>(
          (std::filesystem::path(flags.out) / "metrics.jsonl").string(), first_epoch > 0));
      examples::add_curves(trainer, flags.out, first_epoch);
    }

    examples::train_or_evaluate(trainer, train_source, flags.epochs, first_epoch, evaluate,
                                distributed.writes() ? &std::cout : nullptr);
    if (!distributed.writes()) return 0;
    examples::write_pictures(vae, data.test, flags.out, flags.seed);
    examples::write_latent_png(vae, test_source, test_batch, flags.out, data.test);
    if (!flags.quiet)
      std::cerr << "mnist_vae: wrote metrics.jsonl, " << (flags.epochs > 0 ? "curves.png, " : "")
                << "latent.png, samples.png, reconstructions.png, interpolation.png to "
                << flags.out << " and the model to " << flags.save << "\n";
    return 0;
  }));
}
