#pragma once
// What the trainer tells its callbacks after each batch and each epoch.

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "scvae/core/error.hpp"
#include "scvae/core/types.hpp"

namespace scvae {

struct BatchReport {
  Index epoch = 0;  ///< 1-based.
  Index epochs = 0;
  Index step = 0;             ///< 1-based step within the epoch.
  Index steps = 0;            ///< Steps in this epoch.
  Index samples_done = 0;     ///< Samples seen so far in this epoch.
  Index samples = 0;          ///< Samples in this epoch.
  double loss = 0.0;          ///< This batch's loss (nats per sample).
  double running_loss = 0.0;  ///< Mean loss per sample so far in this epoch.
  double seconds = 0.0;       ///< Training time so far in this epoch.
};

/// One epoch's figures. `metrics` keeps insertion order, so a metrics file
/// lists them in the order callbacks added them.
struct EpochReport {
  Index epoch = 0;  ///< 1-based.
  Index epochs = 0;
  double train_seconds = 0.0;  ///< Training time of this epoch alone (no evaluation).
  double train_loss = 0.0;     ///< Mean training loss per sample, as optimised (beta, weights).
  double train_kl = 0.0;
  double beta = 1.0;
  double learning_rate = 0.0;
  std::vector<std::pair<std::string, double>> metrics;

  void set(const std::string& name, double value) {
    for (auto& entry : metrics)
      if (entry.first == name) {
        entry.second = value;
        return;
      }
    metrics.emplace_back(name, value);
  }
  bool has(const std::string& name) const {
    for (const auto& entry : metrics)
      if (entry.first == name) return true;
    return false;
  }
  double get(const std::string& name) const {
    for (const auto& entry : metrics)
      if (entry.first == name) return entry.second;
    if (name == "train_loss") return train_loss;
    throw ArgumentError("epoch metric: no metric called '" + name + "'");
  }
};

}  // namespace scvae
