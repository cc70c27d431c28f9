#pragma once
// What the MNIST examples share: their common flags (every number parsed by
// scvae::parse_integer / parse_real, so no value is clamped, wrapped or NaN),
// a size check before a model is allocated, the lock on the output folder,
// stopping cleanly on SIGINT/SIGTERM, loading the data with clear errors, and
// exit codes (0 done, 1 a data, file or numerical error, 2 a bad command
// line, 130/143 interrupted).

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <limits>
#include <sstream>
#include <string>
#include <thread>

#include "scvae/scvae.hpp"
#include "scvae/util/parse.hpp"
#include "precision_flag.hpp"

namespace examples {

using scvae::Index;

/// Epoch counts beyond this are refused: no run needs more, and sums of
/// epochs stay far from overflowing.
inline constexpr Index kMaxEpochs = 1000000;

/// --threads above this are refused: 4 per hardware thread is already far
/// past any speed-up, and a pool of 2^31 threads cannot be made.
inline int max_threads() {
  return 4 * static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

/// The help's text for a range: "in [1, 100]", ">= 0" when unbounded above.
template <typename Number>
std::string range_text(Number min, Number max, bool open_min = false) {
  std::ostringstream text;
  text.precision(10);
  if (max == std::numeric_limits<Number>::max()) {
    text << (open_min ? "> " : ">= ") << +min;
  } else {
    text << "in " << (open_min ? "(" : "[") << +min << ", " << +max << "]";
  }
  return text.str();
}

/// An option taking whole integers in [min, max] (`Value` is the integer or
/// a vector of them): scvae::parse_integer checks the text before CLI11
/// converts it, so a value out of range or beyond the type is an error
/// naming the flag (exit status 2), never clamped or wrapped.
template <typename Integer, typename Value>
CLI::Option* add_integer(CLI::App& app, const std::string& name, Value& value,
                         const std::string& help, Integer min,
                         Integer max = std::numeric_limits<Integer>::max()) {
  const std::string range = range_text(min, max);
  return app.add_option(name, value, help)
      ->check(CLI::Validator(
          [min, max](std::string& text) {
            try {
              scvae::parse_integer<Integer>("", text, min, max);
              return std::string();
            } catch (const scvae::ArgumentError& e) {
              return std::string(e.what());
            }
          },
          ""))
      ->type_name("INT " + range);
}

/// An option taking finite numbers in [min, max] ((min, max] with
/// `open_min`): NaN, infinities and overflowing values are refused, naming
/// the flag (exit status 2).
inline CLI::Option* add_real(CLI::App& app, const std::string& name, double& value,
                             const std::string& help, double min,
                             double max = std::numeric_limits<double>::max(),
                             bool open_min = false) {
  const scvae::Bound lower = open_min ? scvae::Bound::Open : scvae::Bound::Closed;
  return app.add_option(name, value, help)
      ->check(CLI::Validator(
          [min, max, lower](std::string& text) {
            try {
              scvae::parse_real("", text, min, max, lower);
              return std::string();
            } catch (const scvae::ArgumentError& e) {
              return std::string(e.what());
            }
          },
          ""))
      ->type_name("FLOAT " + range_text(min, max, open_min));
}

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
  Index test_limit = 0;
  Index iwae = 0;
  std::string out;
  std::string save;
  std::string load;
  std::string init = "pytorch";
  std::string precision = "fp32";
  scvae::Precision precision_used = scvae::Precision::Fp32;  ///< After validation.
  bool quiet = false;

  scvae::Initialization initialization() const {
    return init == "he-glorot" ? scvae::Initialization::HeGlorot : scvae::Initialization::PyTorch;
  }
};

inline void add_common_flags(CLI::App& app, CommonFlags& f) {
  app.add_option("--data", f.data, "Directory with MNIST-format IDX files, plain or .gz")
      ->capture_default_str();
  add_integer<Index>(app, "--epochs", f.epochs, "Training epochs (0 only with --load: evaluate)", 0,
                     kMaxEpochs)
      ->capture_default_str();
  add_integer<Index>(app, "--batch", f.batch,
                     "Batch size (larger than the training images: one batch of all of them)", 1)
      ->capture_default_str();
  add_integer<Index>(app, "--hidden", f.hidden,
                     "Hidden units of encoder and decoder (a model too large for this machine's "
                     "memory is refused before it is allocated)",
                     1)
      ->capture_default_str();
  add_integer<Index>(app, "--latent", f.latent, "Latent dimensions", 1)->capture_default_str();
  add_real(app, "--lr", f.lr, "Adam learning rate", 0.0, std::numeric_limits<double>::max(), true)
      ->capture_default_str();
  add_real(app, "--beta", f.beta, "KL weight beta (after the warm-up)", 0.0)->capture_default_str();
  add_integer<Index>(app, "--warmup", f.warmup, "Epochs of linear KL warm-up (0: none)", 0,
                     kMaxEpochs)
      ->capture_default_str();
  add_integer<std::uint64_t>(app, "--seed", f.seed,
                             "Random seed: initial weights, shuffling, noise", 0)
      ->capture_default_str();
  add_integer<int>(app, "--threads", f.threads,
                   "Threads per batch (0: all cores; at most 4 per hardware thread, " +
                       std::to_string(max_threads()) + " here). Same seed and threads: same bits",
                   0, max_threads())
      ->capture_default_str();
  add_integer<Index>(app, "--limit", f.limit, "Use only the first N training images (0: all)", 0)
      ->capture_default_str();
  add_integer<Index>(app, "--test-limit", f.test_limit,
                     "Use only the first N test images (0: all)", 0)
      ->capture_default_str();
  add_integer<Index>(app, "--iwae", f.iwae,
                     "After training, the IWAE bound with K samples (0: skip)", 0, 100000)
      ->capture_default_str();
  app.add_option("--out", f.out, "Output directory for metrics, pictures and the model")
      ->capture_default_str();
  app.add_option("--save", f.save, "Model checkpoint path (default: <out>/model.scvae)");
  app.add_option("--load", f.load, "Resume from a checkpoint written by --save");
  app.add_option("--init", f.init,
                 "Initial weights: pytorch (torch.nn.Linear's U(+-1/sqrt(fan_in))) or he-glorot")
      ->check(CLI::IsMember({"pytorch", "he-glorot"}))
      ->capture_default_str();
  add_precision_flag(app, f.precision);
  app.add_flag("--quiet", f.quiet, "No progress output");
}

/// Checks what the options' own ranges cannot; throws scvae::ArgumentError
/// (exit status 2).
inline void validate_common_flags(CommonFlags& f, const char* program) {
  if (f.epochs == 0 && f.load.empty())
    throw scvae::ArgumentError("--epochs: expected a positive number (0 only with --load), got 0");
  if (f.threads == 0)
    f.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (f.save.empty()) f.save = (std::filesystem::path(f.out) / "model.scvae").string();
  f.precision_used = chosen_precision(f.precision, program, f.quiet);
}

struct MnistData {
  scvae::Dataset train;
  scvae::Dataset test;
};

/// Loads the data; a --batch larger than the training set becomes one batch
/// of all of it (said unless --quiet), so that no step's bounds overflow.
inline MnistData load_data(CommonFlags& f, const char* program) {
  MnistData data{scvae::load_mnist(f.data, "train", f.limit),
                 scvae::load_mnist(f.data, "t10k", f.test_limit)};
  scvae::check_same_image_size(data.train, data.test);
  if (f.batch > data.train.size()) {
    if (!f.quiet)
      std::cerr << program << ": --batch " << f.batch << " is more than the " << data.train.size()
                << " training images: one batch of all of them\n";
    f.batch = data.train.size();
  }
  return data;
}

/// The lock on an output folder: `<out>/.lock`, held (flock, not blocking)
/// while the run lives, so a second run on the same --out fails at once
/// (exit status 1) before it truncates or overwrites anything of the first.
class OutputLock {
 public:
  explicit OutputLock(const std::string& out) {
    std::filesystem::create_directories(out);
    const std::string path = (std::filesystem::path(out) / ".lock").string();
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0)
      throw scvae::IoError(path +
                           ": cannot open the output folder's lock: " + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      ::close(fd_);
      if (error == EWOULDBLOCK)
        throw scvae::IoError(out + ": another run is writing to this output folder (" + path +
                             " is locked); wait for it to finish or choose another --out");
      throw scvae::IoError(path + ": cannot lock the output folder: " + std::strerror(error));
    }
  }
  ~OutputLock() { ::close(fd_); }  // closing releases the lock
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;

 private:
  int fd_ = -1;
};

/// SIGINT/SIGTERM: the handler only records the signal; training polls it
/// at each step (StopOnSignal, or check_interrupted in a loop of its own)
/// and unwinds with Interrupted, so no file is left half written and
/// run_main can say which checkpoint is the last one.
inline volatile std::sig_atomic_t g_signal = 0;

/// The last checkpoint this run wrote, for the message on interruption.
struct LastCheckpoint {
  std::string path;
  Index epoch = -1;  // -1: none written by this run
};
inline LastCheckpoint g_last_checkpoint;

struct Interrupted {
  int signal;
};

inline void install_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = [](int signal) { g_signal = signal; };
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESETHAND;  // a second signal ends the program at once
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

inline void check_interrupted() {
  if (g_signal != 0) throw Interrupted{static_cast<int>(g_signal)};
}

/// Stops training at the next step boundary after SIGINT/SIGTERM; an epoch
/// cut short is neither evaluated, nor saved, nor written to the metrics.
class StopOnSignal final : public scvae::Callback {
 public:
  bool on_batch_end(const scvae::BatchReport&) override {
    check_interrupted();
    return false;
  }
};

/// Records each checkpoint the callback before it has written.
class RecordCheckpoint final : public scvae::Callback {
 public:
  explicit RecordCheckpoint(std::string path) : path_(std::move(path)) {}
  bool on_epoch_end(scvae::EpochReport& r) override {
    g_last_checkpoint = {path_, r.epoch};
    return false;
  }

 private:
  std::string path_;
};

inline scvae::TrainerOptions trainer_options(const CommonFlags& f, Index first_epoch) {
  scvae::TrainerOptions options;
  options.epochs = f.epochs;
  options.batch_size = f.batch;
  options.seed = f.seed;
  options.threads = f.threads;
  options.precision = f.precision_used;
  options.beta = f.beta;
  options.warmup_epochs = f.warmup;
  options.first_epoch = first_epoch;
  return options;
}

/// Trains for `epochs` epochs, or with 0 (a loaded model) evaluates once
/// and prints the metrics to `metrics_out` (nullptr: nowhere, e.g. on a
/// rank other than 0 of a distributed run, which still has to evaluate).
template <typename Trainer, typename Source, typename Evaluate>
void train_or_evaluate(Trainer& trainer, const Source& source, Index epochs, Index first_epoch,
                       Evaluate& evaluate, std::ostream* metrics_out = &std::cout) {
  if (epochs > 0) {
    trainer.fit(source);
    return;
  }
  // Evaluated in the products and on the threads it would have trained on
  // (fit() sets them).
  trainer.model().set_threads(trainer.options().threads);
  scvae::detail::set_model_precision(trainer.model(), trainer.options().precision);
  scvae::EpochReport report;
  report.epoch = report.epochs = first_epoch;
  evaluate(report);
  if (metrics_out == nullptr) return;
  for (const auto& [name, value] : report.metrics) *metrics_out << name << " " << value << "\n";
}

/// The last epoch's IWAE (--iwae K): on the model's threads, with a progress
/// line on stderr unless --quiet or on a rank that does not write (it runs
/// for minutes at K = 5000).
inline scvae::EvaluationOptions iwae_options(scvae::ThreadPool* pool, const CommonFlags& f,
                                             bool writes) {
  scvae::EvaluationOptions options(pool);
  if (!f.quiet && writes)
    options.progress = scvae::EvaluationProgressLine("IWAE, " + std::to_string(f.iwae) + " draws");
  return options;
}

/// Runs `body` and turns errors into one line on stderr and an exit status;
/// SIGINT/SIGTERM end it at a step boundary with status 128 + the signal.
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
  install_signal_handlers();
  try {
    return body();
  } catch (const Interrupted& i) {
    std::cerr << program << ": interrupted by " << (i.signal == SIGINT ? "SIGINT" : "SIGTERM")
              << "; "
              << (g_last_checkpoint.epoch < 0
                      ? std::string("no checkpoint written by this run")
                      : "the last checkpoint is " + g_last_checkpoint.path + " (epoch " +
                            std::to_string(g_last_checkpoint.epoch) + ")")
              << "\n";
    return 128 + i.signal;
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
