#pragma once
// What the semi-supervised examples share: their flags for the labelled
// subset and the label-only baseline, and the baseline's line in the
// metrics; the subset, the oversampling order and the baseline's model and
// source are the library's (semisup/).

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "common.hpp"
#include "scvae/nn/parse.hpp"
#include "scvae/semisup/label_only_baseline.hpp"
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

/// The label-only classifier (the MLP inputs-hidden-classes, or `network`
/// on 1 x rows x cols images when given) trained by the Trainer with
/// Adam on the labelled images alone; returns its test accuracy.
inline double train_baseline(const scvae::Dataset& train, const std::vector<std::uint8_t>& labelled,
                             const scvae::Dataset& test, const CommonFlags& f, Index epochs,
                             const std::string& network = "") {
  const scvae::LabelledSubsetSource<float> source(train, labelled);
  scvae::LabelOnlyClassifier mlp =
      network.empty()
          ? scvae::LabelOnlyClassifier(train.features(), f.hidden, train.num_classes(), f.seed,
                                       f.initialization())
          : scvae::LabelOnlyClassifier(
                *scvae::parse_network<float>(
                    network, scvae::Shape(1, train.image_rows(), train.image_cols())),
                train.num_classes(), f.seed, f.initialization());
  scvae::Adam adam(scvae::AdamOptions{f.lr});
  scvae::TrainerOptions options;
  options.epochs = epochs;
  options.batch_size = std::min(f.batch, source.size());
  options.seed = f.seed;
  scvae::Trainer trainer(mlp, adam, options);
  trainer.add_callback(std::make_unique<StopOnSignal>());
  trainer.fit(source);
  return mlp.accuracy(test);
}

/// --labelled-share, --baseline and --baseline-epochs, as both
/// semi-supervised examples take them.
inline void add_labelled_subset_flags(CLI::App& app, double& labelled_share, bool& baseline,
                                      Index& baseline_epochs) {
  add_real(app, "--labelled-share", labelled_share,
           "Share of each batch drawn from the labelled images (0: no oversampling)", 0.0, 1.0)
      ->capture_default_str();
  app.add_flag("--baseline", baseline,
               "Also train a label-only classifier of the same trunk on the same labelled images "
               "(the MLP inputs-hidden-classes; with --arch conv the conv trunk)");
  add_integer<Index>(app, "--baseline-epochs", baseline_epochs, "Epochs of the label-only classifier", 1,
                     kMaxEpochs)
      ->capture_default_str();
}

inline void check_baseline_epochs(Index baseline_epochs) {
  if (baseline_epochs < 1)
    throw scvae::ArgumentError("--baseline-epochs: expected a positive number");
}

/// Trains the label-only classifier (train_baseline) and appends {"baseline_accuracy": ...} to the
/// metrics file at `metrics_path`.
inline void write_baseline(const char* program, const scvae::Dataset& train,
                           const std::vector<std::uint8_t>& labelled, const scvae::Dataset& test,
                           const CommonFlags& f, Index epochs, const std::string& metrics_path,
                           const std::string& network = "") {
  if (!f.quiet)
    std::cerr << program << ": training the label-only baseline ("
              << (network.empty() ? "MLP" : network) << ")\n";
  const double baseline = train_baseline(train, labelled, test, f, epochs, network);
  std::ofstream metrics(metrics_path, std::ios::app);
  metrics << "{\"baseline_accuracy\": " << scvae::json_number(baseline) << "}\n";
  if (!metrics) throw scvae::IoError(metrics_path + ": writing the baseline accuracy failed");
  if (!f.quiet) std::cerr << program << ": baseline_accuracy " << baseline << "\n";
}

}  // namespace examples
