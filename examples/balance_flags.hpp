#pragma once
// --balance and --gradnorm-alpha, which scvae_table train and mnist_multitask
// --design scvae share: the options, the check between them, what they set in
// the model's spec, and the learned weights each epoch in metrics.jsonl.

#include <memory>
#include <string>
#include <vector>

#include "common.hpp"

namespace examples {

struct BalanceFlags {
  std::string method = "none";  ///< none, uncertainty or gradnorm (ModelSpec::balance).
  double gradnorm_alpha = 0.0;  ///< ModelSpec::gradnorm_alpha.
};

/// The two options; `balance_help` says what each method weighs in this
/// program's tasks.
inline void add_balance_flags(CLI::App& app, BalanceFlags& f, const std::string& balance_help) {
  app.add_option("--balance", f.method, balance_help)
      ->check(CLI::IsMember({"none", "uncertainty", "gradnorm"}))
      ->capture_default_str();
  add_real(app, "--gradnorm-alpha", f.gradnorm_alpha,
           "GradNorm's alpha: how much a task that trains slower than the others is helped "
           "(0, the default: equal gradient norms at the latent code; the paper's 1.5 "
           "measured worse on Fashion-MNIST)",
           0.0)
      ->capture_default_str();
}

/// --gradnorm-alpha tunes --balance gradnorm alone: given with another
/// balance it is a usage error (exit status 2), not silently ignored.
inline void refuse_gradnorm_alpha_without_gradnorm(const CLI::App& app, const BalanceFlags& f) {
  if (app.count("--gradnorm-alpha") > 0 && f.method != "gradnorm")
    throw scvae::ArgumentError("--gradnorm-alpha: an option of --balance gradnorm; this run has "
                               "--balance " + f.method);
}

inline void set_balance(const BalanceFlags& f, scvae::ModelSpec& spec) {
  if (f.method == "uncertainty") spec.balance = scvae::TaskBalance::Uncertainty;
  if (f.method == "gradnorm") spec.balance = scvae::TaskBalance::GradNorm;
  spec.gradnorm_alpha = f.gradnorm_alpha;
}

/// With a balance, each task's learned weight into every epoch's metrics as
/// balance_weight_<task>.
template <typename Trainer, typename Model>
void report_balance_weights(Trainer& trainer, const Model& model) {
  if (model.spec().balance == scvae::TaskBalance::None) return;
  trainer.add_callback(std::make_unique<scvae::EpochCallback>([&model](scvae::EpochReport& r) {
    const std::vector<double> weights = model.task_balance_weights();
    for (scvae::Index t = 0; t < model.task_count(); ++t)
      r.set("balance_weight_" + model.task(t).name, weights[static_cast<std::size_t>(t)]);
    return false;
  }));
}

}  // namespace examples
