#pragma once
// Runs epochs of minibatch training: seeded shuffling, the KL warm-up, an
// optional learning-rate schedule and gradient clipping, a guard against
// NaN and infinity, and callbacks (gradient callbacks may change a step's
// gradient; callbacks with state ride along in training checkpoints).

#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "scvae/core/check.hpp"
#include "scvae/core/error.hpp"
#include "scvae/core/random.hpp"
#include "scvae/core/thread_pool.hpp"
#include "scvae/data/batch_source.hpp"
#include "scvae/eval/task_batches.hpp"
#include "scvae/optim/clip.hpp"
#include "scvae/optim/schedule.hpp"
#include "scvae/train/callback.hpp"
#include "scvae/train/gradient_callback.hpp"
#include "scvae/train/trainer_options.hpp"
#include "scvae/train/trainer_traits.hpp"
#include "scvae/train/validation.hpp"

namespace scvae {

template <typename Model, typename Optimizer>
class Trainer {
 public:
  using Scalar = typename Model::Scalar;
  /// Gives the sample order of an epoch (0-based) from the shuffling generator.
  using OrderFunction = std::function<std::vector<Index>(Rng&, Index epoch, Index size)>;

  Trainer(Model& model, Optimizer& optimizer, TrainerOptions options = {})
      : model_(model), optimizer_(optimizer), options_(options) {
    options_.validate();
  }

  const TrainerOptions& options() const { return options_; }
  Model& model() { return model_; }
  const Model& model() const { return model_; }
  Optimizer& optimizer() { return optimizer_; }
  const Optimizer& optimizer() const { return optimizer_; }

  /// The 0-based epoch fit() starts at, e.g. the epochs a loaded checkpoint
  /// holds (resume_training in train/checkpointing.hpp sets it).
  void set_first_epoch(Index epoch) {
    if (epoch < 0)
      throw ArgumentError("first epoch: expected a value >= 0, got " + std::to_string(epoch));
    options_.first_epoch = epoch;
  }

  /// Callbacks run in the order added; the trainer does not own them. A
  /// GradientCallback<Scalar> also sees each step's gradient, in that order.
  void add_callback(Callback& callback) {
    callbacks_.push_back(&callback);
    if (auto* gradient = dynamic_cast<GradientCallback<Scalar>*>(&callback))
      gradient_callbacks_.push_back(gradient);
  }
  /// A callback the trainer owns.
  void add_callback(std::unique_ptr<Callback> callback) {
    owned_.push_back(std::move(callback));
    add_callback(*owned_.back());
  }

  /// Every callback's save_state, in the order added: the extras of a
  /// training checkpoint (CheckpointEveryEpoch's add_extras).
  void save_callback_states(CheckpointExtras& extras) const {
    for (const Callback* c : callbacks_) c->save_state(extras);
  }
  /// Every callback's restore_state: load_training_checkpoint's read_extras.
  void restore_callback_states(const CheckpointExtras& extras) {
    for (Callback* c : callbacks_) c->restore_state(extras);
  }
  /// Learning rate per 0-based epoch; by default the optimizer's own is kept.
  void set_learning_rate_schedule(std::function<double(long)> schedule) {
    schedule_ = std::move(schedule);
  }
  /// A custom sample order per epoch (e.g. oversampling labelled samples).
  void set_order(OrderFunction order) { order_ = std::move(order); }

  /// As fit(source), and after each epoch (before the callbacks see its
  /// report) the validation metrics of train/validation.hpp on `validation`.
  TrainResult fit(const BatchSource<Scalar>& source, const BatchSource<Scalar>& validation) {
    detail::check_eval_source("validation data", model_, validation, options_.batch_size);
    struct Forget {
      std::function<void(EpochReport&)>& validate;
      ~Forget() { validate = nullptr; }
    } forget{validate_};
    // Set here, so that fit(source) does not ask every model for the
    // evaluators' contract (a label-only classifier has no ELBO).
    validate_ = [this, &validation](EpochReport& report) {
      report_validation(model_, validation, options_.batch_size, options_.seed, report);
    };
    return fit(source);
  }

  /// Trains on `source` for options().epochs epochs from options().first_epoch.
  TrainResult fit(const BatchSource<Scalar>& source) {
    if (source.size() < 1)
      throw ArgumentError("training data: expected at least one sample, got 0");
    if (source.task_count() != model_.task_count())
      throw ShapeError("training data: expected " + std::to_string(model_.task_count()) +
                       " task(s) per batch for this model, the source has " +
                       std::to_string(source.task_count()));
    model_.set_threads(options_.threads);
    detail::set_model_precision(model_, options_.precision);
    const KlWarmup warmup(options_.beta, static_cast<long>(options_.warmup_epochs));
    const Index last_epoch = options_.first_epoch + options_.epochs;

    TrainResult result;
    for (Callback* c : callbacks_) c->on_train_begin(options_.first_epoch, last_epoch);
    for (Index epoch = options_.first_epoch; epoch < last_epoch; ++epoch) {
      EpochReport report;
      report.epoch = epoch + 1;
      report.epochs = last_epoch;
      report.beta = warmup(static_cast<long>(epoch));
      if (schedule_) optimizer_.set_learning_rate(schedule_(static_cast<long>(epoch)));
      report.learning_rate = optimizer_.learning_rate();
      // Each epoch has its own order and noise streams, derived from the seed
      // and the epoch, so a run resumed at any epoch is bit-identical to an
      // uninterrupted one.
      Rng order_rng(stream_seed(epoch, 0));
      Rng noise_rng(stream_seed(epoch, 1));
      for (Callback* c : callbacks_) c->on_epoch_begin(epoch);
      const bool stop =
          run_epoch(source, make_order(order_rng, epoch, source.size()), noise_rng, report);
      ++result.epochs_run;
      for (Callback* c : callbacks_) c->on_epoch_trained(epoch);
      if (validate_) validate_(report);
      bool stop_after = stop;
      for (Callback* c : callbacks_) stop_after = c->on_epoch_end(report) || stop_after;
      result.history.push_back(report);
      if (stop_after) {
        result.stopped_early = epoch + 1 < last_epoch;
        break;
      }
    }
    for (Callback* c : callbacks_) c->on_train_end();
    return result;
  }

 private:
  std::uint64_t stream_seed(Index epoch, std::uint64_t stream) const {
    Rng mix(options_.seed ^
            (0x9E3779B97F4A7C15ull * (static_cast<std::uint64_t>(epoch) * 2 + stream + 1)));
    return mix.next_u64();
  }

  std::vector<Index> make_order(Rng& rng, Index epoch, Index size) {
    if (order_) return order_(rng, epoch, size);
    if (!options_.shuffle) {
      std::vector<Index> order(static_cast<std::size_t>(size));
      for (Index i = 0; i < size; ++i) order[static_cast<std::size_t>(i)] = i;
      return order;
    }
    return rng.permutation(size);
  }

  /// Buffers for one batch size, with the model's views of them made once.
  struct BatchBuffers {
    Batch<Scalar> batch;
    std::vector<TaskBatch<Scalar>> views;
    const Scalar* x_data = nullptr;
  };

  BatchBuffers& buffers_for(Index columns) {
    for (auto& b : buffers_)
      if (b->batch.x.cols() == columns) return *b;
    buffers_.push_back(std::make_unique<BatchBuffers>());
    return *buffers_.back();
  }

  bool run_epoch(const BatchSource<Scalar>& source, const std::vector<Index>& order, Rng& noise,
                 EpochReport& report) {
    using Clock = std::chrono::steady_clock;
    const Index size = static_cast<Index>(order.size());
    const Index batch_size = options_.batch_size;
    const Index steps = (size + batch_size - 1) / batch_size;
    const auto start = Clock::now();
    double loss_sum = 0.0, kl_sum = 0.0;
    Index done = 0;
    BatchReport batch_report;
    batch_report.epoch = report.epoch;
    batch_report.epochs = report.epochs;
    batch_report.steps = steps;
    batch_report.samples = size;
    for (Index step = 0; step < steps; ++step) {
      const Index begin = step * batch_size;
      const Index end = std::min(size, begin + batch_size);
      BatchBuffers& buffers = buffers_for(end - begin);
      source.fill(order, begin, end, buffers.batch);
      // Views refer to the buffers; remake them only if a buffer moved.
      if (buffers.views.empty() || buffers.x_data != buffers.batch.x.data()) {
        buffers.views = task_batches(buffers.batch);
        buffers.x_data = buffers.batch.x.data();
      }
      const LossParts parts = [&] {
        try {
          return model_.loss_and_gradient(buffers.batch.x, buffers.views, noise, report.beta);
        } catch (const SampleError& e) {
          throw_for_sample(e, order, begin, report.epoch, step + 1);
        }
      }();
      double loss = parts.total;
      if (!gradient_callbacks_.empty()) {
        GradientStep<Scalar> gradient_step{buffers.batch,        buffers.views,
                                           order,                begin,
                                           report.epoch - 1,     step + 1,
                                           noise,                model_.parameters(),
                                           model_.gradients(),   loss};
        for (GradientCallback<Scalar>* c : gradient_callbacks_) c->on_gradient(gradient_step);
      }
      if (!std::isfinite(loss) || !gradients_finite())
        check_input_finite(buffers.batch.x, order, begin, report.epoch, step + 1);
      check_finite(loss, report.epoch, step + 1);
      if (options_.clip_norm > 0.0)
        clip_gradient_norm<Scalar>(model_.gradients(), static_cast<Scalar>(options_.clip_norm));
      update_parameters();
      check_parameters_finite(loss, report.epoch, step + 1);

      const Index n = end - begin;
      loss_sum += loss * static_cast<double>(n);
      kl_sum += parts.kl_sum;
      done += n;
      batch_report.step = step + 1;
      batch_report.samples_done = done;
      batch_report.loss = loss;
      batch_report.running_loss = loss_sum / static_cast<double>(done);
      batch_report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
      bool stop = false;
      for (Callback* c : callbacks_) stop = c->on_batch_end(batch_report) || stop;
      if (stop) {
        finish_epoch(report, start, loss_sum, kl_sum, done);
        return true;
      }
    }
    finish_epoch(report, start, loss_sum, kl_sum, done);
    return false;
  }

  void finish_epoch(EpochReport& report, std::chrono::steady_clock::time_point start,
                    double loss_sum, double kl_sum, Index done) const {
    report.train_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    report.train_loss = done > 0 ? loss_sum / static_cast<double>(done) : 0.0;
    report.train_kl = done > 0 ? kl_sum / static_cast<double>(done) : 0.0;
  }

  /// The optimizer's step, on the model's threads when both support it.
  void update_parameters() {
    if constexpr (detail::has_thread_pool<Model>::value &&
                  detail::steps_on_pool<Optimizer, Scalar>::value)
      optimizer_.step(model_.parameters(), model_.gradients(), model_.thread_pool());
    else
      optimizer_.step(model_.parameters(), model_.gradients());
  }

  bool gradients_finite() const {
    // The model's own answer is about the gradient it wrote, before a
    // gradient callback changed it: then one pass over the gradient.
    if constexpr (detail::has_gradients_finite<Model>::value) {
      if (gradient_callbacks_.empty()) return model_.gradients_finite();
    }
    return detail::all_finite(model_.gradients());
  }

  /// A batch column means nothing to the user: name the sample of the data
  /// set it holds (order[begin + column]).
  [[noreturn]] static void throw_for_sample(const SampleError& e, const std::vector<Index>& order,
                                            Index begin, Index epoch, Index step) {
    const Index sample = order[static_cast<std::size_t>(begin + e.column())];
    throw SampleError("training data, sample " + std::to_string(sample) + " (epoch " +
                          std::to_string(epoch) + ", step " + std::to_string(step) +
                          "): " + e.what(),
                      e.column());
  }

  /// Run only when the loss or the gradient is not finite: a non-finite
  /// input, not the learning rate, may be the cause (the data are not
  /// scanned up front; a Dataset's bytes are always finite). ArgumentError
  /// naming the sample of the data set and the feature.
  static void check_input_finite(const Matrix<Scalar>& x, const std::vector<Index>& order,
                                 Index begin, Index epoch, Index step) {
    if (detail::all_finite(x)) return;
    Index row = 0, column = 0;
    const std::optional<RowVector<Scalar>> no_mask;
    const auto column_ok = [](const auto& col) { return detail::all_finite(col); };
    const auto ok = [](Scalar v) { return std::isfinite(static_cast<double>(v)); };
    detail::find_bad_entry(x, no_mask, column_ok, ok, row, column);
    const Index sample = order[static_cast<std::size_t>(begin + column)];
    throw SampleError("training data, sample " + std::to_string(sample) + " (epoch " +
                          std::to_string(epoch) + ", step " + std::to_string(step) +
                          "): input x: expected finite values, got " +
                          detail::value_text(static_cast<double>(x(row, column))) + " at feature " +
                          std::to_string(row) + "; the parameters were not updated",
                      column);
  }

  /// Whether every parameter is finite after the update: the optimizer's
  /// own check when it has one (ours check each block as they update it),
  /// else one pass split over the model's threads.
  bool parameters_finite() {
    if constexpr (detail::reports_parameters_finite<Optimizer>::value) {
      return optimizer_.parameters_finite();
    } else {
      const Vector<Scalar>& parameters = model_.parameters();
      ThreadPool* pool = detail::model_thread_pool(model_);
      std::atomic<bool> finite{true};
      parallel_slices(pool, parameters.size(), 16, [&](Index begin, Index end) {
        if (!detail::all_finite(parameters.segment(begin, end - begin)))
          finite.store(false, std::memory_order_relaxed);
      });
      return finite.load(std::memory_order_relaxed);
    }
  }

  /// A finite gradient can still make the parameters non-finite (a learning
  /// rate of 1e39 is infinite in float): stop there, before a callback saves
  /// them or the next step hides the cause behind a non-finite loss.
  void check_parameters_finite(double loss, Index epoch, Index step) {
    if (parameters_finite()) return;
    std::ostringstream out;
    out << "the parameters are not finite after the update at epoch " << epoch << ", step " << step
        << " (the loss, " << loss << ", and the gradient were finite; learning rate "
        << optimizer_.learning_rate() << "). Try a lower learning rate or gradient clipping.";
    throw NumericalError(out.str());
  }

  /// Stops training before a non-finite update reaches the parameters.
  void check_finite(double loss, Index epoch, Index step) const {
    const char* what = nullptr;
    if (!std::isfinite(loss))
      what = "the loss";
    else if (!gradients_finite())
      what = "the gradient";
    if (what != nullptr)
      throw NumericalError(std::string(what) + " is not finite at epoch " + std::to_string(epoch) +
                           ", step " + std::to_string(step) + " (loss " + std::to_string(loss) +
                           "); the parameters were not updated. Try a lower learning rate or "
                           "gradient clipping.");
  }

  Model& model_;
  Optimizer& optimizer_;
  TrainerOptions options_;
  std::vector<Callback*> callbacks_;
  std::vector<GradientCallback<Scalar>*> gradient_callbacks_;
  std::vector<std::unique_ptr<Callback>> owned_;
  std::function<double(long)> schedule_;
  OrderFunction order_;
  std::vector<std::unique_ptr<BatchBuffers>> buffers_;
  std::function<void(EpochReport&)> validate_;  ///< During fit(train, validation).
};

}  // namespace scvae
