#pragma once
// Stops training when a monitored metric (e.g. a validation loss) has not
// improved by more than min_delta for `patience` epochs.

#include <limits>
#include <string>

#include "scvae/train/callback.hpp"

namespace scvae {

class EarlyStopping : public Callback {
 public:
  explicit EarlyStopping(std::string metric = "test_loss", Index patience = 3,
                         double min_delta = 0.0)
      : metric_(std::move(metric)), patience_(patience), min_delta_(min_delta) {
    if (patience < 1)
      throw ArgumentError("early stopping patience: expected at least 1, got " +
                          std::to_string(patience));
  }

  bool on_epoch_end(EpochReport& r) override {
    const double value = r.get(metric_);
    if (value < best_ - min_delta_) {
      best_ = value;
      best_epoch_ = r.epoch;
      waited_ = 0;
      return false;
    }
    return ++waited_ >= patience_;
  }

  double best() const { return best_; }
  Index best_epoch() const { return best_epoch_; }

 private:
  std::string metric_;
  Index patience_;
  double min_delta_;
  double best_ = std::numeric_limits<double>::infinity();
  Index best_epoch_ = 0;
  Index waited_ = 0;
};

}  // namespace scvae
