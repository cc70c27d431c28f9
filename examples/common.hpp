#pragma once
// What the MNIST examples share: their common flags, loading the data with
// clear errors, the per-epoch evaluation, and exit codes (0 done, 1 a data,
// file or numerical error, 2 a bad command line).

#include <CLI/CLI.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>

#include "scvae/scvae.hpp"

namespace examples {

using scvae::Index;

struct CommonFlags {
  std::string data = "/usr/share/datasets/fashion-mnist";
  Index epochs = 10;
  Index batch = 128;
  Index hidden = 400;
  Index latent = 20;
  double lr = 1e-3;
  double beta = 1.0;
  Index warmup = 0;
  std::uint64_t seed = 1;
  int threads = 0;
  Index limit = 0;
  Index iwae = 0;
  std::string out;
  std::string save;
  std::string load;
  std::string init = "pytorch";
  bool quiet = false;

  scvae::Initialization initialization() const {
    return init == "he-glorot" ? scvae::Initialization::HeGlorot : scvae::Initialization::PyTorch;
  }
};

inline void add_common_flags(CLI::App& app, CommonFlags& f) {
  app.add_option("--data", f.data, "Directory with MNIST-format IDX files, plain or .gz")
      ->capture_default_str();
  app.add_option("--epochs", f.epochs, "Training epochs (0 only with --load: evaluate)")
      ->capture_default_str();
  app.add_option("--batch", f.batch, "Batch size")->capture_default_str();
  app.add_option("--hidden", f.hidden, "Hidden units of encoder and decoder")
      ->capture_default_str();
  app.add_option("--latent", f.latent, "Latent dimensions")->capture_default_str();
  app.add_option("--lr", f.lr, "Adam learning rate")->capture_default_str();
  app.add_option("--beta", f.beta, "KL weight beta (after the warm-up)")->capture_default_str();
  app.add_option("--warmup", f.warmup, "Epochs of linear KL warm-up (0: none)")
      ->capture_default_str();
  app.add_option("--seed", f.seed, "Random seed: initial weights, shuffling, noise")
      ->capture_default_str();
  app.add_option("--threads", f.threads,
                 "Threads per batch (0: all cores). Same seed and threads: same bits")
      ->capture_default_str();
  app.add_option("--limit", f.limit, "Use only the first N training images (0: all)")
      ->capture_default_str();
  app.add_option("--iwae", f.iwae, "After training, the IWAE bound with K samples (0: skip)")
      ->capture_default_str();
  app.add_option("--out", f.out, "Output directory for metrics, pictures and the model")
      ->capture_default_str();
  app.add_option("--save", f.save, "Model checkpoint path (default: <out>/model.scvae)");
  app.add_option("--load", f.load, "Resume from a checkpoint written by --save");
  app.add_option("--init", f.init,
                 "Initial weights: pytorch (torch.nn.Linear's U(+-1/sqrt(fan_in))) or he-glorot")
      ->check(CLI::IsMember({"pytorch", "he-glorot"}))
      ->capture_default_str();
  app.add_flag("--quiet", f.quiet, "No progress output");
}

/// Checks flag values; throws scvae::ArgumentError (exit status 2).
inline void validate_common_flags(CommonFlags& f) {
  auto positive = [](const char* flag, Index value) {
    if (value <= 0)
      throw scvae::ArgumentError(std::string(flag) + ": expected a positive number, got " +
                                 std::to_string(value));
  };
  if (f.epochs < 0 || (f.epochs == 0 && f.load.empty()))
    throw scvae::ArgumentError("--epochs: expected a positive number (0 only with --load), got " +
                               std::to_string(f.epochs));
  positive("--batch", f.batch);
  positive("--hidden", f.hidden);
  positive("--latent", f.latent);
  if (!(f.lr > 0.0))
    throw scvae::ArgumentError("--lr: expected a positive number, got " + std::to_string(f.lr));
  if (!(f.beta >= 0.0))
    throw scvae::ArgumentError("--beta: expected a number >= 0, got " + std::to_string(f.beta));
  if (f.warmup < 0)
    throw scvae::ArgumentError("--warmup: expected a number >= 0, got " + std::to_string(f.warmup));
  if (f.threads < 0)
    throw scvae::ArgumentError("--threads: expected a number >= 0, got " +
                               std::to_string(f.threads));
  if (f.limit < 0)
    throw scvae::ArgumentError("--limit: expected a number >= 0, got " + std::to_string(f.limit));
  if (f.iwae < 0)
    throw scvae::ArgumentError("--iwae: expected a number >= 0, got " + std::to_string(f.iwae));
  if (f.threads == 0)
    f.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (f.save.empty()) f.save = (std::filesystem::path(f.out) / "model.scvae").string();
}

struct MnistData {
  scvae::Dataset train;
  scvae::Dataset test;
};

inline MnistData load_data(const CommonFlags& f) {
  MnistData data{scvae::load_mnist(f.data, "train", f.limit), scvae::load_mnist(f.data, "t10k")};
  scvae::check_same_image_size(data.train, data.test);
  return data;
}

inline scvae::TrainerOptions trainer_options(const CommonFlags& f, Index first_epoch) {
  scvae::TrainerOptions options;
  options.epochs = f.epochs;
  options.batch_size = f.batch;
  options.seed = f.seed;
  options.threads = f.threads;
  options.beta = f.beta;
  options.warmup_epochs = f.warmup;
  options.first_epoch = first_epoch;
  return options;
}

/// Trains for `epochs` epochs, or with 0 (a loaded model) evaluates once
/// and prints the metrics.
template <typename Trainer, typename Source, typename Evaluate>
void train_or_evaluate(Trainer& trainer, const Source& source, Index epochs, Index first_epoch,
                       Evaluate& evaluate) {
  if (epochs > 0) {
    trainer.fit(source);
    return;
  }
  scvae::EpochReport report;
  report.epoch = report.epochs = first_epoch;
  evaluate(report);
  for (const auto& [name, value] : report.metrics) std::cout << name << " " << value << "\n";
}

/// Runs `body` and turns errors into one line on stderr and an exit status.
template <typename Body>
int run_main(const char* program, CLI::App& app, int argc, char** argv, Body&& body) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << program << ": " << e.what() << " (see --help)\n";
    return 2;
  }
  try {
    return body();
  } catch (const scvae::ArgumentError& e) {
    std::cerr << program << ": " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << program << ": error: " << e.what() << "\n";
    return 1;
  }
}

/// The first `count` test images of distinct-enough content: simply the first ones.
inline scvae::Matrix<float> first_images(const scvae::Dataset& data, Index count) {
  const Index n = std::min(count, data.size());
  scvae::Matrix<float> images;
  data.batch(data.identity_order(), 0, n, images);
  return images;
}

/// samples.png, reconstructions.png and interpolation.png for task 0.
template <typename Model>
void write_pictures(const Model& model, const scvae::Dataset& test, const std::string& out,
                    std::uint64_t seed) {
  const Index rows = test.image_rows(), cols = test.image_cols();
  scvae::Rng rng(seed + 7777);
  scvae::write_prior_samples((std::filesystem::path(out) / "samples.png").string(), model, 0, 64,
                             rows, cols, 8, rng);
  scvae::write_reconstructions((std::filesystem::path(out) / "reconstructions.png").string(), model,
                               0, first_images(test, 32), rows, cols, 4);
  // Walk between test images of different classes where labels exist: up to
  // 4 pairs, as many as the test split holds (a tiny split has fewer).
  const scvae::Matrix<float> images = first_images(test, 16);
  const Index pairs = std::min<Index>(4, images.cols() / 2);
  if (pairs == 0) return;
  scvae::Matrix<float> from(images.rows(), pairs), to(images.rows(), pairs);
  for (Index r = 0; r < pairs; ++r) {
    from.col(r) = images.col(2 * r);
    to.col(r) = images.col(2 * r + 1);
  }
  scvae::write_interpolations((std::filesystem::path(out) / "interpolation.png").string(), model, 0,
                              from, to, rows, cols, 10);
}

}  // namespace examples
