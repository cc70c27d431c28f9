#pragma once
// scvae_table's flags: what `train` and `predict` read from the command line,
// the text of --target NAME:KIND and of comma lists, and the size check of
// the table's SC-VAE before it is built.

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "balance_flags.hpp"
#include "model_presets.hpp"

namespace examples {

struct TableTrainFlags {
  std::string data;
  std::vector<std::string> targets;  ///< NAME:KIND, as given.
  std::vector<std::string> weights;  ///< NAME=WEIGHT, as given.
  BalanceFlags balance;
  std::vector<std::string> features;
  std::vector<std::string> ignore;
  std::string test;
  double test_split = 0.2;
  Index epochs = 300;
  Index batch = 64;
  Index latent = 8;
  std::vector<Index> hidden{64};
  double lr = 1e-3;
  double beta = scvae::kTableKlWeight;
  std::string prior = "auto";
  std::string init = "pytorch";
  std::uint64_t seed = 1;
  int threads = 0;
  std::string precision = "fp32";
  std::string out;
  bool quiet = false;
};

struct TablePredictFlags {
  std::string model;
  std::string data;
  std::string out;
  bool distributed = false;  ///< Given only to be refused (train's flag).
};

/// The kind a --target names: categorical, gaussian (or real), bernoulli
/// (or binary). ArgumentError naming the flag otherwise (exit status 2).
inline scvae::TargetColumn parse_target_flag(const std::string& text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0)
    throw scvae::ArgumentError("--target " + scvae::detail::quoted_text(text) +
                               ": expected NAME:KIND (KIND categorical, gaussian or bernoulli)");
  const std::string name = text.substr(0, colon), kind = text.substr(colon + 1);
  if (kind == "categorical") return {name, scvae::TargetKind::Categorical};
  if (kind == "gaussian" || kind == "real") return {name, scvae::TargetKind::Real};
  if (kind == "bernoulli" || kind == "binary") return {name, scvae::TargetKind::Binary};
  throw scvae::ArgumentError("--target " + scvae::detail::quoted_text(text) + ": unknown kind " +
                             scvae::detail::quoted_text(kind) +
                             " (expected categorical, gaussian or bernoulli)");
}

inline void add_table_train_flags(CLI::App& app, TableTrainFlags& f) {
  app.add_option("--data", f.data, "Training table: CSV with a header row")->required();
  app.add_option("--target", f.targets,
                 "A target column and its kind, NAME:categorical, NAME:gaussian or "
                 "NAME:bernoulli (repeat for more; at least one)")
      ->required();
  app.add_option("--features", f.features, "Feature columns (default: every other column)")
      ->delimiter(',');
  app.add_option("--ignore", f.ignore, "Columns neither target nor feature")->delimiter(',');
  app.add_option("--weight", f.weights,
                 "A task's weight in the loss, NAME=W (a target, or 'features' for the "
                 "reconstruction of the features); default 1 (repeat for more)");
  add_balance_flags(app, f.balance,
                    "Task balancing: none (the --weight values), uncertainty (learned "
                    "per-task weights exp(-s_t) times --weight, Kendall et al. 2018) or "
                    "gradnorm (the features' weight fixed, each target's learned from gradient "
                    "norms, Chen et al. 2018)");
  auto* test = app.add_option("--test", f.test, "Test table (default: --test-split of --data)");
  add_real(app, "--test-split", f.test_split,
           "Fraction of --data held out for testing, stratified by the first categorical target",
           0.0, 1.0, true)
      ->capture_default_str()
      ->excludes(test);
  add_integer<Index>(app, "--epochs", f.epochs, "Training epochs", 1, kMaxEpochs)
      ->capture_default_str();
  add_integer<Index>(app, "--batch", f.batch, "Batch size", 1, 1 << 20)->capture_default_str();
  add_integer<Index>(app, "--latent", f.latent, "Latent dimensions", 1, 4096)
      ->capture_default_str();
  add_integer<Index>(app, "--hidden", f.hidden,
                     "Hidden layer sizes of the encoder (the decoders reverse them), N,N,...", 1,
                     1 << 16)
      ->delimiter(',')
      ->capture_default_str();
  add_real(app, "--lr", f.lr, "Adam learning rate", 0.0, std::numeric_limits<double>::max(), true)
      ->capture_default_str();
  add_real(app, "--beta", f.beta, "KL weight beta (tables train below 1: docs/data.md)", 0.0)
      ->capture_default_str();
  app.add_option("--prior", f.prior,
                 "The latent code's prior: classes (one unit Gaussian per class of the first "
                 "categorical target, its centres the target's read-out; the rows without a "
                 "label then shape the classes too), standard (N(0, I)) or auto (classes when a "
                 "target is categorical)")
      ->check(CLI::IsMember({"auto", "standard", "classes"}))
      ->capture_default_str();
  app.add_option("--init", f.init,
                 "Initial weights: pytorch (torch.nn.Linear's U(+-1/sqrt(fan_in))) or he-glorot")
      ->check(CLI::IsMember({"pytorch", "he-glorot"}))
      ->capture_default_str();
  add_integer<std::uint64_t>(app, "--seed", f.seed, "Random seed: split, weights, shuffling", 0)
      ->capture_default_str();
  add_integer<int>(app, "--threads", f.threads,
                   "Threads per batch (0: all cores). Same seed and threads: same bits", 0,
                   max_threads())
      ->capture_default_str();
  add_precision_flag(app, f.precision);
  app.add_option("--out", f.out, "Output directory: model.scvae, metrics.jsonl, latent.png")
      ->required();
  app.add_flag("--quiet", f.quiet, "No progress output");
}

inline void add_table_predict_flags(CLI::App& app, TablePredictFlags& f) {
  app.add_option("--model", f.model, "A model.scvae written by scvae_table train")->required();
  app.add_option("--data", f.data, "Rows to predict: CSV with the training feature columns")
      ->required();
  app.add_option("--out", f.out, "Predictions CSV: the input columns and the targets'")
      ->required();
  // Not in --help: taken only to say that it belongs to train.
  app.add_flag("--distributed", f.distributed)->group("");
}

/// `predict --distributed`: ArgumentError (exit status 2) naming the flag.
inline void refuse_distributed_predict(const TablePredictFlags& f) {
  if (f.distributed)
    throw scvae::ArgumentError(
        "--distributed: an option of scvae_table train; predict runs in one process (leave "
        "--distributed out, and mpirun too)");
}

/// Sets the weight of each task named by a --weight NAME=W. ArgumentError
/// (exit status 2) naming the flag for a malformed text, a weight that is not
/// finite and >= 0, or a name that is no task of `spec`.
inline void apply_weight_flags(const std::vector<std::string>& texts, scvae::ModelSpec& spec) {
  for (const std::string& text : texts) {
    const std::size_t equals = text.rfind('=');
    const std::string flag = "--weight " + scvae::detail::quoted_text(text);
    if (equals == std::string::npos || equals == 0)
      throw scvae::ArgumentError(flag + ": expected NAME=WEIGHT");
    const std::string name = text.substr(0, equals), number = text.substr(equals + 1);
    char* end = nullptr;
    const double weight = std::strtod(number.c_str(), &end);
    if (number.empty() || end != number.c_str() + number.size() || !std::isfinite(weight) ||
        weight < 0.0)
      throw scvae::ArgumentError(flag + ": expected a finite weight >= 0, got " +
                                 scvae::detail::quoted_text(number));
    std::string names;
    bool found = false;
    for (scvae::TaskSpec& task : spec.tasks) {
      names += (names.empty() ? "" : ", ") + task.name;
      if (task.name == name) {
        task.weight = weight;
        found = true;
      }
    }
    if (!found)
      throw scvae::ArgumentError(flag + ": no task called " + scvae::detail::quoted_text(name) +
                                 " (tasks: " + names + ")");
  }
}

/// Refuses (exit status 2) an SC-VAE of make_table_spec's shape whose
/// parameters and a batch's activations would not fit in memory.
inline void check_table_model_size(const scvae::TableData& data, const TableTrainFlags& f) {
  ModelSize size;
  Index from = data.feature_count();
  for (const Index h : f.hidden) {
    size.dense(from, h, "--hidden", h);
    from = h;
  }
  size.dense(from, f.latent, "--latent", f.latent, 2);
  for (Index task = 0; task <= data.target_count(); ++task) {
    from = f.latent;
    for (auto h = f.hidden.rbegin(); h != f.hidden.rend(); ++h) {
      size.dense(from, *h, "--hidden", *h);
      from = *h;
    }
    const Index outputs = task == 0 ? data.feature_count()
                          : data.target(task - 1).kind == scvae::TargetKind::Categorical
                              ? data.target(task - 1).classes()
                              : data.target(task - 1).values.rows();
    size.dense(from, outputs, "--hidden", f.hidden.back());
  }
  size.check(f.batch, 6);
}

}  // namespace examples
