#pragma once
// Learning-rate schedules and the KL warm-up, as small value types.
//
// Every schedule is a function of the 0-based EPOCH (not of the optimizer
// step): `double operator()(long epoch) const`, epoch 0 being the first one.
// A trainer sets the learning rate once at the start of each epoch:
//   optimizer.set_learning_rate(schedule(epoch));
// A negative epoch throws ArgumentError, as do invalid constructor arguments.

#include <cmath>
#include <sstream>

#include "scvae/core/error.hpp"

namespace scvae {

namespace detail {

[[noreturn]] inline void throw_schedule_argument(const char* what, const char* expected,
                                                 double got) {
  std::ostringstream out;
  out << what << ": expected " << expected << ", got " << got;
  throw ArgumentError(out.str());
}

inline void check_non_negative(const char* what, double value) {
  if (!(value >= 0.0 && std::isfinite(value))) {
    throw_schedule_argument(what, "a finite value >= 0", value);
  }
}

inline void check_epoch(const char* what, long epoch) {
  if (epoch < 0) throw_schedule_argument(what, "an epoch >= 0", static_cast<double>(epoch));
}

}  // namespace detail

/// The same learning rate at every epoch.
class ConstantSchedule {
 public:
  explicit ConstantSchedule(double base) : base_(base) {
    detail::check_non_negative("ConstantSchedule: base", base);
  }
  double operator()(long epoch) const {
    detail::check_epoch("ConstantSchedule: epoch", epoch);
    return base_;
  }
  double base() const { return base_; }

 private:
  double base_;
};

/// base * gamma^floor(epoch / step_size), as torch.optim.lr_scheduler.StepLR.
class StepSchedule {
 public:
  StepSchedule(double base, long step_size, double gamma)
      : base_(base), step_size_(step_size), gamma_(gamma) {
    detail::check_non_negative("StepSchedule: base", base);
    if (step_size <= 0) {
      detail::throw_schedule_argument("StepSchedule: step_size", "a positive number of epochs",
                                      static_cast<double>(step_size));
    }
    detail::check_non_negative("StepSchedule: gamma", gamma);
  }
  double operator()(long epoch) const {
    detail::check_epoch("StepSchedule: epoch", epoch);
    return base_ * std::pow(gamma_, static_cast<double>(epoch / step_size_));
  }
  double base() const { return base_; }
  long step_size() const { return step_size_; }
  double gamma() const { return gamma_; }

 private:
  double base_;
  long step_size_;
  double gamma_;
};

/// Cosine annealing from base at epoch 0 down to min at epoch total:
/// min + (base - min) * (1 + cos(pi * epoch / total)) / 2, and min after total
/// (PyTorch's CosineAnnealingLR with T_max = total, without its restart).
class CosineSchedule {
 public:
  CosineSchedule(double base, long total, double min = 0.0)
      : base_(base), total_(total), min_(min) {
    detail::check_non_negative("CosineSchedule: base", base);
    if (total <= 0) {
      detail::throw_schedule_argument("CosineSchedule: total", "a positive number of epochs",
                                      static_cast<double>(total));
    }
    detail::check_non_negative("CosineSchedule: min", min);
    if (min > base) detail::throw_schedule_argument("CosineSchedule: min", "min <= base", min);
  }
  double operator()(long epoch) const {
    detail::check_epoch("CosineSchedule: epoch", epoch);
    if (epoch >= total_) return min_;
    constexpr double kPi = 3.14159265358979323846;
    const double progress = static_cast<double>(epoch) / static_cast<double>(total_);
    return min_ + (base_ - min_) * (1.0 + std::cos(kPi * progress)) / 2.0;
  }
  double base() const { return base_; }
  long total() const { return total_; }
  double min() const { return min_; }

 private:
  double base_;
  long total_;
  double min_;
};

/// The weight of the KL term: beta * min(1, (epoch + 1) / warmup_epochs) for
/// the 0-based epoch, so that it rises linearly, reaching beta at epoch
/// warmup_epochs - 1 and staying there; with warmup_epochs = 10 and beta = 1,
/// epoch 0 uses 0.1 (never 0, so the encoder is never free of the prior).
/// warmup_epochs = 0 means no warm-up: always beta.
class KlWarmup {
 public:
  KlWarmup(double beta, long warmup_epochs) : beta_(beta), warmup_epochs_(warmup_epochs) {
    detail::check_non_negative("KlWarmup: beta", beta);
    if (warmup_epochs < 0) {
      detail::throw_schedule_argument("KlWarmup: warmup_epochs", "a number of epochs >= 0",
                                      static_cast<double>(warmup_epochs));
    }
  }
  double operator()(long epoch) const {
    detail::check_epoch("KlWarmup: epoch", epoch);
    if (warmup_epochs_ == 0 || epoch + 1 >= warmup_epochs_) return beta_;
    return beta_ * static_cast<double>(epoch + 1) / static_cast<double>(warmup_epochs_);
  }
  double beta() const { return beta_; }
  long warmup_epochs() const { return warmup_epochs_; }

 private:
  double beta_;
  long warmup_epochs_;
};

}  // namespace scvae
