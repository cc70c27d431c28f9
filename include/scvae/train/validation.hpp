#pragma once
// The metrics of a model on validation data, added to an epoch's report by
// Trainer::fit(train, validation): "validation_loss" and "validation_kl"
// (the negative ELBO per sample, beta 1, the same noise every epoch), and per
// task "validation_<task>_nll", with "validation_<task>_accuracy" for a
// categorical task and "validation_<task>_rmse" and "_mae" for a Gaussian one.

#include <cstdint>
#include <string>

#include "scvae/core/random.hpp"
#include "scvae/data/batch_source.hpp"
#include "scvae/eval/accuracy.hpp"
#include "scvae/eval/loss.hpp"
#include "scvae/eval/regression.hpp"
#include "scvae/train/report.hpp"
#include "scvae/train/trainer_traits.hpp"

namespace scvae {

template <typename Model>
void report_validation(Model& model, const BatchSource<typename Model::Scalar>& validation,
                       Index batch_size, std::uint64_t seed, EpochReport& report) {
  using Kind = LikelihoodSpec::Kind;
  Rng rng(seed ^ 0x76616C6964617465ull);  // "validate": a stream of its own
  const LossParts loss = evaluate_loss(model, validation, batch_size, rng);
  report.set("validation_loss", loss.total);
  report.set("validation_kl", loss.kl);
  for (Index t = 0; t < model.task_count(); ++t) {
    const TaskSpec& task = model.task(t);
    const std::string prefix = "validation_" + task.name + "_";
    const auto ts = static_cast<std::size_t>(t);
    // A task whose every validation target is masked has no metrics.
    if (loss.task_count[ts] == 0) continue;
    report.set(prefix + "nll", loss.task_nll[ts]);
    if (task.likelihood.kind == Kind::Categorical) {
      report.set(prefix + "accuracy",
                 accuracy(model, t, validation, batch_size, detail::model_thread_pool(model)));
    } else if (task.likelihood.kind == Kind::Gaussian ||
               task.likelihood.kind == Kind::GaussianLearnedVariance) {
      const RegressionResult r =
          evaluate_regression(model, t, validation, batch_size, detail::model_thread_pool(model));
      report.set(prefix + "rmse", r.rmse);
      report.set(prefix + "mae", r.mae);
    }
  }
}

}  // namespace scvae
