#pragma once
// A callback from a function, e.g. an evaluation that adds test metrics to
// the epoch report before the writers see it.

#include <functional>

#include "scvae/train/callback.hpp"

namespace scvae {

class EpochCallback : public Callback {
 public:
  /// `on_epoch` may add metrics to the report; returning true stops training.
  explicit EpochCallback(std::function<bool(EpochReport&)> on_epoch)
      : on_epoch_(std::move(on_epoch)) {}
  bool on_epoch_end(EpochReport& r) override { return on_epoch_(r); }

 private:
  std::function<bool(EpochReport&)> on_epoch_;
};

}  // namespace scvae
