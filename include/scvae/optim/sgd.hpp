#pragma once
// Stochastic gradient descent with momentum, Nesterov and weight decay, on one
// flat buffer, with the semantics of torch.optim.SGD (dampening 0):
//   d <- g + wd * p                  (coupled weight decay, only when wd != 0)
//   b <- d at the first step, else b <- mu * b + d      (only when mu != 0)
//   d <- d + mu * b if nesterov, else d <- b            (only when mu != 0)
//   p <- p - lr * d

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <utility>

#include "scvae/core/check.hpp"
#include "scvae/core/error.hpp"
#include "scvae/core/thread_pool.hpp"
#include "scvae/core/types.hpp"

namespace scvae {

/// Hyperparameters of SGD; the defaults are PyTorch's.
struct SgdOptions {
  double learning_rate = 1e-3;
  double momentum = 0.0;
  /// Nesterov momentum; needs momentum > 0.
  bool nesterov = false;
  /// Coupled L2 decay: wd * p is added to the gradient.
  double weight_decay = 0.0;
};

/// SGD over a flat parameter buffer. With momentum, the buffer is allocated at
/// the first step (or by reset(size)) and reused: later steps allocate nothing.
template <typename Scalar>
class SgdT {
 public:
  using Options = SgdOptions;

  explicit SgdT(const Options& options = Options()) : options_(options) { validate(options_); }

  /// One update of params in place from grads (both of the state's size).
  /// With a pool, its threads update one slice each (same bits: elementwise).
  void step(Eigen::Ref<Vector<Scalar>> params, const Eigen::Ref<const Vector<Scalar>>& grads,
            ThreadPool* pool = nullptr) {
    detail::check_size("SgdT::step: grads", grads.size(), params.size());
    if (options_.momentum != 0.0) {
      if (step_ == 0 && buffer_.size() == 0) reset(params.size());  // first step
      detail::check_size("SgdT::step: params", params.size(), buffer_.size());
    }
    // Block by block, so that the momentum pass and the parameter pass find
    // their operands in L1: one pass over memory.
    // Each block is checked for NaN and infinity while it is in L1
    // (parameters_finite()).
    const Scalar weight_decay = static_cast<Scalar>(options_.weight_decay);
    finite_.reset();
    parallel_slices(pool, params.size(), kBlock, [&](Index begin, Index end) {
      Scalar check = 0;
      for (Index start = begin; start < end; start += kBlock) {
        const Index n = std::min(kBlock, end - start);
        auto p = params.segment(start, n).array();
        auto g = grads.segment(start, n).array();
        if (options_.weight_decay != 0.0) {
          update(start, p, g + weight_decay * p);
        } else {
          update(start, p, g);
        }
        check += (p * Scalar(0)).sum();  // 0 for finite values, NaN otherwise
      }
      if (check != Scalar(0)) finite_.mark_not_finite();
    });
    ++step_;
  }

  /// Whether every parameter was finite after the last step().
  bool parameters_finite() const { return finite_.get(); }

  /// Zeroes the momentum buffer (sized for size parameters when momentum is
  /// used, empty otherwise) and sets the step count to 0.
  void reset(Index size) {
    if (size < 0)
      detail::throw_argument("SgdT::reset: size", "a size >= 0", static_cast<double>(size));
    buffer_.setZero(options_.momentum != 0.0 ? size : 0);
    step_ = 0;
  }

  /// Sets the state saved from momentum_buffer() and step_count().
  void restore_state(Vector<Scalar> momentum_buffer, long step) {
    if (step < 0)
      detail::throw_argument("SgdT::restore_state: step", "a step >= 0", static_cast<double>(step));
    if (options_.momentum == 0.0)
      detail::check_size("SgdT::restore_state: momentum buffer (momentum 0)",
                         momentum_buffer.size(), 0);
    buffer_ = std::move(momentum_buffer);
    step_ = step;
  }

  void set_learning_rate(double learning_rate) {
    detail::check_finite_nonnegative("SgdT::set_learning_rate: learning_rate", learning_rate);
    options_.learning_rate = learning_rate;
  }
  double learning_rate() const { return options_.learning_rate; }
  const Options& options() const { return options_; }

  /// Steps taken so far.
  long step_count() const { return step_; }
  /// PyTorch's momentum_buffer; empty without momentum or before the first step.
  const Vector<Scalar>& momentum_buffer() const { return buffer_; }

 private:
  // d is the (possibly decayed) gradient as an array expression.
  template <typename ParamArray, typename Direction>
  void update(Index start, ParamArray& p, const Direction& d) {
    const Scalar lr = static_cast<Scalar>(options_.learning_rate);
    if (options_.momentum == 0.0) {
      p = p - lr * d;
      return;
    }
    const Scalar mu = static_cast<Scalar>(options_.momentum);
    auto b = buffer_.segment(start, p.size()).array();
    if (step_ == 0) {
      b = d;
    } else {
      b = mu * b + d;
    }
    if (options_.nesterov) {
      p = p - lr * (d + mu * b);
    } else {
      p = p - lr * b;
    }
  }

  static void validate(const Options& o) {
    detail::check_finite_nonnegative("SgdT: learning_rate", o.learning_rate);
    detail::check_finite_nonnegative("SgdT: momentum", o.momentum);
    if (o.nesterov && o.momentum == 0.0) {
      detail::throw_argument("SgdT: momentum", "momentum > 0 with nesterov", o.momentum);
    }
    detail::check_finite_nonnegative("SgdT: weight_decay", o.weight_decay);
  }

  static constexpr Index kBlock = 256;  // elements per block

  Options options_;
  Vector<Scalar> buffer_;
  long step_ = 0;
  detail::FiniteFlag finite_;
};

using Sgd = SgdT<float>;

}  // namespace scvae
