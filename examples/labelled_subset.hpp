#pragma once
// What the semi-supervised examples share: the labelled subset of the
// training images, batches that oversample it, and the label-only MLP that
// both compare against (same split, same seed).

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "common.hpp"
#include "scvae/semisup/labelled_subset.hpp"

namespace examples {

/// `count` labelled samples, as balanced over the classes as the data allows
/// (scvae::stratified_labelled_subset from seed + 3000, the examples'
/// stream for it). 1 = labelled.
inline std::vector<std::uint8_t> choose_labelled(const scvae::Dataset& train, Index count,
                                                 std::uint64_t seed) {
  if (count > train.size())
    throw scvae::ArgumentError("--labels: expected at most the " + std::to_string(train.size()) +
                               " training images, got " + std::to_string(count));
  return scvae::stratified_labelled_subset(train, count, seed + 3000);
}

/// The label weight without --label-weight: min(weight, 10 / labelled fraction).
inline double default_label_weight(double weight, Index labels, Index training_images) {
  return scvae::default_label_weight(labels, training_images, weight);
}

/// scvae::OversamplingOrder for one epoch.
inline std::vector<Index> oversampling_order(scvae::Rng& rng, Index size, Index batch, double share,
                                             const std::vector<Index>& labelled_indices) {
  return scvae::OversamplingOrder(labelled_indices, batch, share)(rng, 0, size);
}

/// The label-only MLP inputs-hidden-classes trained with Adam on the
/// labelled images alone; returns its test accuracy.
inline double train_baseline(const scvae::Dataset& train, const std::vector<std::uint8_t>& labelled,
                             const scvae::Dataset& test, const CommonFlags& f, Index epochs) {
  using Matrix = scvae::Matrix<float>;
  scvae::ParameterLayout layout;
  const int classes = train.num_classes();
  scvae::MlpT<float> mlp({train.features(), f.hidden, classes}, scvae::Activation::ReLU,
                         scvae::Activation::Identity, layout);
  scvae::CategoricalT<float> categorical(classes);
  scvae::Vector<float> params = scvae::Vector<float>::Zero(layout.total());
  scvae::Vector<float> grads = scvae::Vector<float>::Zero(layout.total());
  scvae::Rng init(f.seed);
  mlp.initialize(params.data(), init, f.initialization());
  scvae::Adam adam(scvae::AdamOptions{f.lr});

  std::vector<Index> subset;
  for (Index i = 0; i < train.size(); ++i)
    if (labelled[static_cast<std::size_t>(i)]) subset.push_back(i);
  typename scvae::MlpT<float>::Workspace ws;
  Matrix x, y, output_gradient;
  scvae::RowVector<float> scale, nll;
  for (Index epoch = 0; epoch < epochs; ++epoch) {
    scvae::Rng rng(f.seed * 1000003 + static_cast<std::uint64_t>(epoch));
    std::vector<Index> order = subset;
    rng.shuffle(order);
    for (Index begin = 0; begin < static_cast<Index>(order.size()); begin += f.batch) {
      const Index end = std::min<Index>(begin + f.batch, static_cast<Index>(order.size()));
      const Index n = end - begin;
      train.batch(order, begin, end, x);
      train.label_batch(order, begin, end, y);
      const Matrix& logits = mlp.forward(params.data(), x, ws);
      scale.setConstant(n, 1.0f / static_cast<float>(n));
      nll.resize(n);
      output_gradient.resize(classes, n);
      scvae::MatrixRef<float> gradient_ref(output_gradient);
      categorical.evaluate(nullptr, nullptr, logits, y, scale, nll, &gradient_ref);
      grads.setZero();
      mlp.backward(params.data(), grads.data(), x, output_gradient, ws);
      adam.step(params, grads);
      check_interrupted();
    }
  }
  Index correct = 0;
  const std::vector<Index> all = test.identity_order();
  for (Index begin = 0; begin < test.size(); begin += 1000) {
    const Index end = std::min<Index>(begin + 1000, test.size());
    test.batch(all, begin, end, x);
    test.label_batch(all, begin, end, y);
    correct += scvae::count_correct(mlp.forward(params.data(), x, ws), y);
  }
  return static_cast<double>(correct) / static_cast<double>(test.size());
}

/// --labelled-share, --baseline and --baseline-epochs, as both
/// semi-supervised examples take them.
inline void add_labelled_subset_flags(CLI::App& app, double& labelled_share, bool& baseline,
                                      Index& baseline_epochs) {
  add_real(app, "--labelled-share", labelled_share,
           "Share of each batch drawn from the labelled images (0: no oversampling)", 0.0, 1.0)
      ->capture_default_str();
  app.add_flag("--baseline", baseline,
               "Also train a label-only MLP (inputs-hidden-classes) on the same labelled images");
  add_integer<Index>(app, "--baseline-epochs", baseline_epochs, "Epochs of the label-only MLP", 1,
                     kMaxEpochs)
      ->capture_default_str();
}

inline void check_baseline_epochs(Index baseline_epochs) {
  if (baseline_epochs < 1)
    throw scvae::ArgumentError("--baseline-epochs: expected a positive number");
}

/// Trains the label-only MLP and appends {"baseline_accuracy": ...} to the
/// metrics file at `metrics_path`.
inline void write_baseline(const char* program, const scvae::Dataset& train,
                           const std::vector<std::uint8_t>& labelled, const scvae::Dataset& test,
                           const CommonFlags& f, Index epochs, const std::string& metrics_path) {
  if (!f.quiet) std::cerr << program << ": training the label-only MLP baseline\n";
  const double baseline = train_baseline(train, labelled, test, f, epochs);
  std::ofstream metrics(metrics_path, std::ios::app);
  metrics << "{\"baseline_accuracy\": " << scvae::json_number(baseline) << "}\n";
  if (!metrics) throw scvae::IoError(metrics_path + ": writing the baseline accuracy failed");
  if (!f.quiet) std::cerr << program << ": baseline_accuracy " << baseline << "\n";
}

}  // namespace examples
