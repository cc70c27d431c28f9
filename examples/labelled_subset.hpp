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

namespace examples {

/// `count` labelled samples, as balanced over the classes as the data allows
/// (the first ones of each class in a seeded shuffle). 1 = labelled.
inline std::vector<std::uint8_t> choose_labelled(const scvae::Dataset& train, Index count,
                                                 std::uint64_t seed) {
  if (count > train.size())
    throw scvae::ArgumentError("--labels: expected at most the " + std::to_string(train.size()) +
                               " training images, got " + std::to_string(count));
  const int classes = train.num_classes();
  scvae::Rng rng(seed + 3000);
  const std::vector<Index> order = rng.permutation(train.size());
  std::vector<std::vector<Index>> by_class(static_cast<std::size_t>(classes));
  for (Index i : order) by_class[train.labels()[static_cast<std::size_t>(i)]].push_back(i);
  std::vector<std::uint8_t> labelled(static_cast<std::size_t>(train.size()), 0);
  // Round robin over classes: equal shares, the remainder to the first classes,
  // and a class that runs out leaves its share to the others.
  Index taken = 0;
  std::vector<std::size_t> next(static_cast<std::size_t>(classes), 0);
  while (taken < count) {
    for (int c = 0; c < classes && taken < count; ++c) {
      auto& pool = by_class[static_cast<std::size_t>(c)];
      auto& k = next[static_cast<std::size_t>(c)];
      if (k < pool.size()) {
        labelled[static_cast<std::size_t>(pool[k++])] = 1;
        ++taken;
      }
    }
  }
  return labelled;
}

/// The label weight without --label-weight: min(50, 10 / labelled fraction),
/// 50 up to a fifth of the training images labelled and 10 with all of them,
/// where 50 cost the SC-VAE's image test_loss 5 nats and 10 less than 1, and
/// M2's 1.2 nats and 0.5 (examples/RESULTS-multitask.md).
inline double default_label_weight(double weight, Index labels, Index training_images) {
  const double fraction = static_cast<double>(labels) / static_cast<double>(training_images);
  return std::min(weight, 10.0 / fraction);
}

/// An epoch order in which every batch of `batch` samples starts with
/// round(share * batch) labelled samples (cycling through them in a fresh
/// shuffle) followed by samples from a shuffle of all images: labelled images
/// are oversampled without changing the epoch's length.
inline std::vector<Index> oversampling_order(scvae::Rng& rng, Index size, Index batch, double share,
                                             const std::vector<Index>& labelled_indices) {
  const std::vector<Index> all = rng.permutation(size);
  std::vector<Index> labelled = labelled_indices;
  rng.shuffle(labelled);
  const Index per_batch =
      std::min<Index>(batch, static_cast<Index>(std::lround(share * static_cast<double>(batch))));
  std::vector<Index> order;
  order.reserve(static_cast<std::size_t>(size));
  std::size_t next_all = 0, next_labelled = 0;
  while (static_cast<Index>(order.size()) < size) {
    const Index room = std::min<Index>(batch, size - static_cast<Index>(order.size()));
    const Index from_labelled = labelled.empty() ? 0 : std::min(per_batch, room);
    for (Index k = 0; k < from_labelled; ++k) {
      if (next_labelled == labelled.size()) {
        rng.shuffle(labelled);
        next_labelled = 0;
      }
      order.push_back(labelled[next_labelled++]);
    }
    for (Index k = from_labelled; k < room; ++k) order.push_back(all[next_all++]);
  }
  return order;
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
