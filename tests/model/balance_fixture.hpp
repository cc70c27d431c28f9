#pragma once
// The small multi-task model and masked batch that the task-balancing tests
// share (task_balance_test.cpp, gradnorm_test.cpp): an image task reading a
// sample of z, a label task reading the mean (its target masked in every
// third sample) and, when asked, a third Gaussian task reading a sample (its
// target masked in every other sample).

#include <cstdint>
#include <vector>

#include "../test_support.hpp"
#include "scvae/model/scvae.hpp"

namespace scvae::testing {

inline ModelSpec balance_test_spec(TaskBalance balance, int tasks,
                                   const LikelihoodSpec& measurement_likelihood) {
  ModelSpec spec;
  spec.inputs = 6;
  spec.encoder_hidden = {7};
  spec.latent = 3;
  spec.balance = balance;
  spec.tasks.push_back(
      {"image", 6, {5}, LikelihoodSpec::bernoulli(), 1.0, Activation::Tanh, DecoderInput::Sample});
  spec.tasks.push_back({"label", 4, {5}, LikelihoodSpec::categorical(4), 2.5,
                        Activation::Softplus, DecoderInput::Mean});
  if (tasks == 3)
    spec.tasks.push_back({"measurement", 3, {}, measurement_likelihood, 0.7, Activation::Tanh,
                          DecoderInput::Sample});
  return spec;
}

/// n samples for balance_test_spec's first `tasks` tasks; the inputs, the
/// measurements and eps drawn from seeds seed, seed + 1 and seed + 2.
struct BalanceBatch {
  BalanceBatch(Index n, int tasks, std::uint64_t seed)
      : x(random_uniform(6, n, seed)),
        labels(1, n),
        label_mask(1, n),
        measurement(random_matrix(3, n, seed + 1)),
        measurement_mask(1, n),
        eps(random_matrix(3, n, seed + 2)),
        tasks(tasks) {
    for (Index i = 0; i < n; ++i) {
      label_mask(i) = i % 3 == 0 ? 0.0 : 1.0;
      labels(0, i) = label_mask(i) == 0.0 ? -1.0 : static_cast<double>(i % 4);
      measurement_mask(i) = i % 2 == 0 ? 0.0 : 1.0;
    }
  }
  void mask_every_label() {
    label_mask.setZero();
    labels.setConstant(-1.0);
  }
  std::vector<TaskBatch<double>> targets() const {
    std::vector<TaskBatch<double>> out{TaskBatch<double>(x), TaskBatch<double>(labels, label_mask)};
    if (tasks == 3) out.emplace_back(measurement, measurement_mask);
    return out;
  }
  Matrix<double> x, labels;
  RowVector<double> label_mask;
  Matrix<double> measurement;
  RowVector<double> measurement_mask;
  Matrix<double> eps;
  int tasks;
};

}  // namespace scvae::testing
