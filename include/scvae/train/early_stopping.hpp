#pragma once
// Stops training when a monitored metric (e.g. a validation loss) has not
// improved by more than min_delta for `patience` epochs; with
// restore_best(model), training ends on the parameters of the best epoch.

#include <functional>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "scvae/core/error.hpp"
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

  /// Keeps a copy of `model`'s parameters at each new best epoch and puts it
  /// back when training ends (stopped early or not). The model must outlive
  /// the training.
  template <typename Model>
  EarlyStopping& restore_best(Model& model) {
    keep_ = [&model](std::vector<double>& copy) {
      const auto& p = model.parameters();
      copy.assign(p.data(), p.data() + p.size());
    };
    restore_ = [&model](const std::vector<double>& copy) {
      auto& p = model.parameters();
      if (static_cast<std::size_t>(p.size()) != copy.size())
        throw ShapeError("early stopping: the model's parameters changed size during training");
      for (Index i = 0; i < p.size(); ++i)
        p.data()[i] = static_cast<typename std::decay_t<decltype(p)>::Scalar>(
            copy[static_cast<std::size_t>(i)]);
    };
    return *this;
  }

  bool on_epoch_end(EpochReport& r) override {
    const double value = r.get(metric_);
    if (value < best_ - min_delta_) {
      best_ = value;
      best_epoch_ = r.epoch;
      waited_ = 0;
      if (keep_) keep_(best_parameters_);
      return false;
    }
    return ++waited_ >= patience_;
  }

  void on_train_end() override {
    if (restore_ && best_epoch_ > 0) restore_(best_parameters_);
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
  std::function<void(std::vector<double>&)> keep_;
  std::function<void(const std::vector<double>&)> restore_;
  std::vector<double> best_parameters_;  ///< Exact: every float is a double.
};

}  // namespace scvae
