#pragma once
// The shared-encoder multi-task VAE. For sample i the loss to minimise is
//   sum_t w_t * m_ti * (-log p_t(y_ti | z_i)) + beta * KL_i,
// averaged over the batch. One call computes it and writes its gradient into
// the model's flat gradient buffer. A plain VAE is the one-task case.

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <exception>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "scvae/core/random.hpp"
#include "scvae/core/thread_pool.hpp"
#include "scvae/model/decoder.hpp"
#include "scvae/model/encoder.hpp"

namespace scvae {

/// A batch's target for one task, with an optional per-sample mask of 0/1
/// (0 = target missing, e.g. an unlabelled image). Targets are features x n;
/// class labels are a 1 x n row of class indices.
template <typename Scalar>
struct TaskBatch {
  explicit TaskBatch(const ConstMatrixRef<Scalar>& target_) : target(target_) {}
  TaskBatch(const ConstMatrixRef<Scalar>& target_, const ConstRowVectorRef<Scalar>& mask_)
      : target(target_), mask(mask_) {}

  ConstMatrixRef<Scalar> target;
  std::optional<ConstRowVectorRef<Scalar>> mask;
};

/// One value per task, like a std::vector but with up to N values stored
/// inline, so that a LossParts returned from every train step allocates
/// nothing (more tasks than N fall back to the heap). It converts to and
/// compares with std::vector.
template <typename T, std::size_t N = 8>
class TaskArray {
 public:
  using value_type = T;
  using size_type = std::size_t;
  using reference = T&;
  using const_reference = const T&;
  using iterator = T*;
  using const_iterator = const T*;

  TaskArray() = default;
  TaskArray(std::initializer_list<T> values) { assign(values.begin(), values.end()); }
  TaskArray(const std::vector<T>& values) { assign(values.begin(), values.end()); }  // NOLINT
  TaskArray(size_type count, const T& value) { assign(count, value); }

  size_type size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T* data() { return size_ > N ? heap_.data() : inline_.data(); }
  const T* data() const { return size_ > N ? heap_.data() : inline_.data(); }
  T& operator[](size_type i) { return data()[i]; }
  const T& operator[](size_type i) const { return data()[i]; }
  T& front() { return data()[0]; }
  const T& front() const { return data()[0]; }
  T& back() { return data()[size_ - 1]; }
  const T& back() const { return data()[size_ - 1]; }
  iterator begin() { return data(); }
  iterator end() { return data() + size_; }
  const_iterator begin() const { return data(); }
  const_iterator end() const { return data() + size_; }

  void clear() { resize(0); }
  void assign(size_type count, const T& value) {
    resize(0);
    resize(count, value);
  }
  template <typename It>
  void assign(It first, It last) {
    resize(0);
    for (; first != last; ++first) push_back(*first);
  }
  void push_back(const T& value) { resize(size_ + 1, value); }
  void resize(size_type count, const T& value = T()) {
    if (count <= N) {
      if (size_ > N)
        std::copy(heap_.begin(), heap_.begin() + static_cast<std::ptrdiff_t>(count),
                  inline_.begin());
      for (size_type i = size_; i < count; ++i) inline_[i] = value;
      heap_.clear();
    } else {
      if (size_ <= N)
        heap_.assign(inline_.begin(), inline_.begin() + static_cast<std::ptrdiff_t>(size_));
      heap_.resize(count, value);
    }
    size_ = count;
  }

  operator std::vector<T>() const { return std::vector<T>(begin(), end()); }  // NOLINT

  friend bool operator==(const TaskArray& a, const TaskArray& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }
  friend bool operator!=(const TaskArray& a, const TaskArray& b) { return !(a == b); }
  friend bool operator==(const TaskArray& a, const std::vector<T>& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }
  friend bool operator==(const std::vector<T>& a, const TaskArray& b) { return b == a; }
  friend bool operator!=(const TaskArray& a, const std::vector<T>& b) { return !(a == b); }
  friend bool operator!=(const std::vector<T>& a, const TaskArray& b) { return !(b == a); }

 private:
  std::array<T, N> inline_{};
  std::vector<T> heap_;  // holds the values when there are more than N
  size_type size_ = 0;
};

/// The loss of one batch and its parts.
struct LossParts {
  double total = 0.0;          ///< Mean over samples of the weighted, masked loss with beta * KL.
  double kl = 0.0;             ///< Mean KL per sample.
  TaskArray<double> task_nll;  ///< Per task: mean NLL over its unmasked samples.
  // Sums, so that parts of several batches combine exactly.
  Index samples = 0;
  double total_sum = 0.0;
  double kl_sum = 0.0;
  TaskArray<double> task_nll_sum;
  TaskArray<Index> task_count;

  /// Adds another batch's sums and recomputes the means.
  void merge(const LossParts& other) {
    if (task_nll_sum.empty()) {
      task_nll_sum.assign(other.task_nll_sum.size(), 0.0);
      task_count.assign(other.task_count.size(), 0);
    }
    samples += other.samples;
    total_sum += other.total_sum;
    kl_sum += other.kl_sum;
    for (std::size_t t = 0; t < task_nll_sum.size(); ++t) {
      task_nll_sum[t] += other.task_nll_sum[t];
      task_count[t] += other.task_count[t];
    }
    finish();
  }

  void finish() {
    const double n = samples > 0 ? static_cast<double>(samples) : 1.0;
    total = total_sum / n;
    kl = kl_sum / n;
    task_nll.resize(task_nll_sum.size());
    for (std::size_t t = 0; t < task_nll_sum.size(); ++t)
      task_nll[t] = task_count[t] > 0 ? task_nll_sum[t] / static_cast<double>(task_count[t]) : 0.0;
  }
};

template <typename Scalar_>
class SCVAET {
 public:
  using Scalar = Scalar_;

  /// Builds the model and initialises its parameters from `seed`.
  explicit SCVAET(const ModelSpec& spec, std::uint64_t seed = 1)
      : spec_((spec.validate(), spec)),
        encoder_(make_encoder(spec_, layout_)),
        decoders_(make_decoders(spec_, layout_)) {
    parameters_.setZero(layout_.total());
    gradients_.setZero(layout_.total());
    Rng rng(seed);
    encoder_.initialize(parameters_.data(), rng, spec_.initialization);
    for (const auto& decoder : decoders_)
      decoder.initialize(parameters_.data(), rng, spec_.initialization);
  }

  SCVAET(const SCVAET& other)
      : spec_(other.spec_),
        layout_(other.layout_),
        encoder_(other.encoder_),
        decoders_(other.decoders_),
        parameters_(other.parameters_),
        gradients_(other.gradients_),
        gradient_jobs_(other.gradient_jobs_),
        threads_(other.threads_) {}
  SCVAET& operator=(const SCVAET& other) {
    if (this != &other) {
      SCVAET copy(other);
      *this = std::move(copy);
    }
    return *this;
  }
  SCVAET(SCVAET&&) noexcept = default;
  SCVAET& operator=(SCVAET&&) noexcept = default;

  const ModelSpec& spec() const { return spec_; }
  std::string architecture() const { return spec_.architecture(); }
  Index inputs() const { return spec_.inputs; }
  Index latent() const { return spec_.latent; }
  Index task_count() const { return static_cast<Index>(spec_.tasks.size()); }
  const TaskSpec& task(Index t) const { return spec_.tasks.at(static_cast<std::size_t>(t)); }
  const DecoderT<Scalar>& decoder(Index t) const {
    return decoders_.at(static_cast<std::size_t>(t));
  }
  const EncoderT<Scalar>& encoder() const { return encoder_; }

  /// Index of the task called `name`; ArgumentError if there is none.
  Index task_index(const std::string& name) const {
    for (Index t = 0; t < task_count(); ++t)
      if (task(t).name == name) return t;
    throw ArgumentError("task name: no task called '" + name + "' in " + architecture());
  }

  /// Changes w_t (e.g. for a weight schedule); the architecture is unchanged.
  void set_task_weight(Index t, double weight) {
    if (!(weight >= 0.0))
      throw ArgumentError("task weight: expected a value >= 0, got " + std::to_string(weight));
    spec_.tasks.at(static_cast<std::size_t>(t)).weight = weight;
  }

  /// All parameters, one flat vector; layers are views into it.
  Vector<Scalar>& parameters() { return parameters_; }
  const Vector<Scalar>& parameters() const { return parameters_; }
  /// The gradient the last loss_and_gradient() call wrote, same layout.
  Vector<Scalar>& gradients() { return gradients_; }
  const Vector<Scalar>& gradients() const { return gradients_; }
  Index parameter_count() const { return parameters_.size(); }

  /// Splits each batch across `threads` (data parallel). The chunks and the
  /// order in which their gradients are summed depend only on the batch size
  /// and the thread count, so a seed and a thread count fix every bit.
  void set_threads(int threads) {
    if (threads < 1)
      throw ArgumentError("threads: expected at least 1, got " + std::to_string(threads));
    if (threads != threads_) pool_.reset();
    threads_ = threads;
  }
  int threads() const { return threads_; }

  /// The pool the batches run on (nullptr with one thread). An optimizer may
  /// borrow it between steps, e.g. `adam.step(p, g, model.thread_pool())`.
  ThreadPool* thread_pool() {
    if (threads_ <= 1) return nullptr;
    if (!pool_) pool_ = std::make_unique<ThreadPool>(threads_);
    return pool_.get();
  }

  /// Whether every value of gradients() is finite after the last
  /// loss_and_gradient(). With several threads each checks its slice of the
  /// gradient inside the same pool run, so the check costs no serial pass.
  bool gradients_finite() const { return gradients_finite_; }

  /// Loss and gradient with the noise eps (latent x n) given, e.g. held fixed
  /// for a gradient check. The gradient (of the batch mean) replaces gradients().
  LossParts loss_and_gradient(const ConstMatrixRef<Scalar>& x,
                              const std::vector<TaskBatch<Scalar>>& targets,
                              const ConstMatrixRef<Scalar>& eps, double beta = 1.0) {
    return run(x, targets, eps, beta, true);
  }

  /// Loss and gradient, drawing eps from `rng` (column by column).
  LossParts loss_and_gradient(const ConstMatrixRef<Scalar>& x,
                              const std::vector<TaskBatch<Scalar>>& targets, Rng& rng,
                              double beta = 1.0) {
    Matrix<Scalar>& eps = batch_workspace(x.cols()).eps;
    rng.fill_normal(eps);
    return run(x, targets, eps, beta, true);
  }

  /// The loss alone; gradients() is left as it was.
  LossParts loss(const ConstMatrixRef<Scalar>& x, const std::vector<TaskBatch<Scalar>>& targets,
                 const ConstMatrixRef<Scalar>& eps, double beta = 1.0) {
    return run(x, targets, eps, beta, false);
  }

  /// mu and logvar of q(z|x), latent x n each.
  void encode(const ConstMatrixRef<Scalar>& x, Matrix<Scalar>& mu, Matrix<Scalar>& logvar) const {
    typename EncoderT<Scalar>::Workspace ws;
    encoder_.forward(parameters_.data(), x, ws);
    mu = EncoderT<Scalar>::mu(ws);
    logvar = EncoderT<Scalar>::logvar(ws);
  }

  /// Raw decoder outputs (logits or means) of task t for latent codes z.
  void decode(Index t, const ConstMatrixRef<Scalar>& z, Matrix<Scalar>& output) const {
    check_task(t);
    detail::check_rows("decode z", z.rows(), latent());
    typename DecoderT<Scalar>::Workspace ws;
    output = decoder(t).forward(parameters_.data(), z, ws);
  }

  /// The expected target of task t given z: pixel probabilities, Gaussian
  /// means or class probabilities.
  void predict(Index t, const ConstMatrixRef<Scalar>& z, Matrix<Scalar>& mean) const {
    Matrix<Scalar> output;
    decode(t, z, output);
    mean.resize(output.rows(), output.cols());
    decoder(t).likelihood().mean(output, mean);
  }

  /// The gradient with respect to x of sum_i -log p_t(target_i | z_i = mu(x_i))
  /// (task t at the posterior mean; no mask, weight or KL), written to dx:
  /// how each input value moves the task's loss, e.g. for saliency maps or
  /// adversarial perturbations of the input.
  void task_input_gradient(Index t, const ConstMatrixRef<Scalar>& x,
                           const ConstMatrixRef<Scalar>& target, Matrix<Scalar>& dx) const {
    check_task(t);
    detail::check_rows("input x", x.rows(), inputs());
    decoder(t).likelihood().validate_target(target, std::nullopt, decoder(t).outputs());
    detail::check_shape("task target", target.rows(), target.cols(), target.rows(), x.cols());
    using Enc = EncoderT<Scalar>;
    const Scalar* values = parameters_.data();
    typename Enc::Workspace encoder_ws;
    encoder_.forward(values, x, encoder_ws);
    const Matrix<Scalar> mu = Enc::mu(encoder_ws);
    typename DecoderT<Scalar>::Workspace decoder_ws;
    decoder(t).forward(values, mu, decoder_ws);
    decoder_ws.scale.setOnes();
    // The deferred backward leaves the layers' parameter gradients out; only
    // a likelihood's own parameters (a learned variance) get one, at their
    // offset in the flat layout: room up to there, not a whole gradient.
    const LikelihoodT<Scalar>& likelihood = decoder(t).likelihood();
    const Index written =
        likelihood.parameter_count() > 0 ? likelihood.offset() + likelihood.parameter_count() : 1;
    Vector<Scalar> unused = Vector<Scalar>::Zero(written);
    MatrixRef<Scalar> mu_gradient(Enc::mu_delta(encoder_ws));
    decoder(t).score(values, unused.data(), mu, target, decoder_ws, &mu_gradient, false,
                     ParameterGradients::Defer);
    Enc::logvar_delta(encoder_ws).setZero();
    dx.resize(x.rows(), x.cols());
    MatrixRef<Scalar> input_gradient(dx);
    encoder_.backward(values, nullptr, x, encoder_ws, ParameterGradients::Defer, &input_gradient);
  }

  /// Per-sample -log p_t(target | z) of task t (no mask, no weight).
  void task_nll(Index t, const ConstMatrixRef<Scalar>& z, const ConstMatrixRef<Scalar>& target,
                RowVector<Scalar>& nll) const {
    check_task(t);
    detail::check_rows("task z", z.rows(), latent());
    decoder(t).likelihood().validate_target(target, std::nullopt, decoder(t).outputs());
    detail::check_shape("task target", target.rows(), target.cols(), target.rows(), z.cols());
    typename DecoderT<Scalar>::Workspace ws;
    decoder(t).forward(parameters_.data(), z, ws);
    ws.scale.setZero();
    decoder(t).score(parameters_.data(), nullptr, z, target, ws);
    nll = ws.nll;
  }

 private:
  struct ChunkWorkspace {
    typename EncoderT<Scalar>::Workspace encoder;
    Matrix<Scalar> z;
    Matrix<Scalar> z_delta;
    RowVector<Scalar> kl;
    RowVector<Scalar> kl_scale;
    std::vector<typename DecoderT<Scalar>::Workspace> decoders;
    // Chunks after the first: gradients of the likelihoods' own parameters.
    Vector<Scalar> gradients;
    bool reduced_finite = true;  // whether slice c of gradients_ is all finite
    // Sums of this chunk, combined in chunk order.
    double kl_sum = 0.0;
    std::vector<double> task_nll_sum;
    std::vector<Index> task_count;
  };
  struct BatchWorkspace {
    Index columns = 0;
    Matrix<Scalar> eps;
    std::vector<ChunkWorkspace> chunks;
  };

  static EncoderT<Scalar> make_encoder(const ModelSpec& spec, ParameterLayout& layout) {
    return EncoderT<Scalar>(spec.inputs, spec.encoder_hidden, spec.latent, spec.activation, layout);
  }
  static std::vector<DecoderT<Scalar>> make_decoders(const ModelSpec& spec,
                                                     ParameterLayout& layout) {
    std::vector<DecoderT<Scalar>> decoders;
    for (const TaskSpec& task : spec.tasks) decoders.emplace_back(spec.latent, task, layout);
    return decoders;
  }

  void check_task(Index t) const {
    if (t < 0 || t >= task_count())
      throw ArgumentError("task index: expected 0.." + std::to_string(task_count() - 1) + ", got " +
                          std::to_string(t));
  }

  /// Chunks a batch of n samples is split into: at least 16 samples each.
  int chunk_count(Index n) const {
    const Index by_size = std::max<Index>(1, n / 16);
    return static_cast<int>(std::min<Index>(threads_, by_size));
  }

  BatchWorkspace& batch_workspace(Index columns) {
    for (auto& ws : batch_workspaces_)
      if (ws.columns == columns) return ws;
    BatchWorkspace& ws = batch_workspaces_.emplace_back();
    ws.columns = columns;
    ws.eps.resize(latent(), columns);
    return ws;
  }

  void validate(const ConstMatrixRef<Scalar>& x, const std::vector<TaskBatch<Scalar>>& targets,
                const ConstMatrixRef<Scalar>& eps, double beta) const {
    detail::check_rows("input x", x.rows(), inputs());
    if (x.cols() <= 0) throw ShapeError("input x: expected at least one column, got 0");
    detail::check_shape("noise eps", eps.rows(), eps.cols(), latent(), x.cols());
    if (static_cast<Index>(targets.size()) != task_count())
      throw ShapeError("targets: expected one per task (" + std::to_string(task_count()) +
                       "), got " + std::to_string(targets.size()));
    if (!(beta >= 0.0) || beta == HUGE_VAL)
      throw ArgumentError("beta: expected a finite value >= 0, got " + std::to_string(beta));
    for (Index t = 0; t < task_count(); ++t) {
      const TaskBatch<Scalar>& batch = targets[static_cast<std::size_t>(t)];
      // Built only for a message: a long task name would allocate every step.
      auto name = [&] { return "task '" + task(t).name + "'"; };
      if (batch.target.cols() != x.cols())
        throw ShapeError(name() + " target: expected " + std::to_string(x.cols()) +
                         " columns (one per sample), got " + std::to_string(batch.target.cols()));
      if (batch.mask) {
        if (batch.mask->cols() != x.cols())
          throw ShapeError(name() + " mask: expected length " + std::to_string(x.cols()) +
                           ", got " + std::to_string(batch.mask->cols()));
        const auto m = batch.mask->array();
        if (!((m == Scalar(0)) || (m == Scalar(1))).all())
          throw ArgumentError(name() + " mask: expected only 0 and 1");
      }
      decoder(t).likelihood().validate_target(batch.target, batch.mask, decoder(t).outputs());
    }
  }

  LossParts run(const ConstMatrixRef<Scalar>& x, const std::vector<TaskBatch<Scalar>>& targets,
                const ConstMatrixRef<Scalar>& eps, double beta, bool with_gradient) {
    validate(x, targets, eps, beta);
    const Index n = x.cols();
    BatchWorkspace& batch = batch_workspace(n);
    const int chunks = chunk_count(n);
    if (static_cast<int>(batch.chunks.size()) < chunks) batch.chunks.resize(chunks);
    const Scalar inv_n = Scalar(1) / static_cast<Scalar>(n);

    // With several chunks, each runs its forward pass and its backward pass
    // down to every layer's delta (ParameterGradients::Defer). Once all are
    // there, each thread computes the parameter gradients of whole layers
    // (assign_gradient_jobs) over the whole batch, chunk after chunk,
    // straight into gradients_: the bits depend only on the chunk count, and
    // no per-thread gradient buffer is zeroed or summed. The threads meet at
    // barriers in the same pool run: a second run would cost another wake-up.
    std::atomic<int> arrived{0};
    std::atomic<bool> failed{false};
    auto barrier = [&](int round) {
      arrived.fetch_add(1, std::memory_order_acq_rel);
      while (arrived.load(std::memory_order_acquire) < round * chunks) std::this_thread::yield();
    };
    auto work = [&](int c) {
      std::exception_ptr error;
      ChunkWorkspace& ws = batch.chunks[static_cast<std::size_t>(c)];
      const Index begin = detail::slice_begin(n, c, chunks, 1);
      const Index end = detail::slice_begin(n, c + 1, chunks, 1);
      try {
        Scalar* grads = nullptr;
        if (with_gradient) {
          if (chunks == 1) {
            grads = gradients_.data();
            gradients_.setZero();
          } else {
            // Only the likelihoods' own parameters get gradients per chunk.
            if (c > 0) ws.gradients.resize(gradients_.size());
            grads = c == 0 ? gradients_.data() : ws.gradients.data();
            zero_likelihood_gradients(grads);
          }
        }
        // One chunk computes its parameter gradients as it goes.
        run_chunk(ws, x.middleCols(begin, end - begin), targets, begin,
                  eps.middleCols(begin, end - begin), static_cast<Scalar>(beta), inv_n, grads,
                  chunks == 1 ? ParameterGradients::Accumulate : ParameterGradients::Defer);
      } catch (...) {
        error = std::current_exception();
        failed.store(true);
      }
      if (with_gradient && chunks > 1) {
        // Every chunk reaches each barrier, thrown or not: no one waits forever.
        barrier(1);
        if (!failed.load()) {
          try {
            parameter_gradients(batch, x, chunks, c);
          } catch (...) {
            if (!error) error = std::current_exception();
            failed.store(true);
          }
        }
        barrier(2);
      }
      if (with_gradient) {
        const Index size = gradients_.size();
        const Index from = detail::slice_begin(size, c, chunks, 16);
        ws.reduced_finite = detail::all_finite(
            gradients_.segment(from, detail::slice_begin(size, c + 1, chunks, 16) - from));
      }
      if (error) std::rethrow_exception(error);
    };
    if (chunks > 1) {
      assign_gradient_jobs(chunks);
      thread_pool()->run(chunks, work);
    } else {
      work(0);
    }
    if (with_gradient) {
      gradients_finite_ = true;
      for (int c = 0; c < chunks; ++c)
        gradients_finite_ =
            gradients_finite_ && batch.chunks[static_cast<std::size_t>(c)].reduced_finite;
    }

    LossParts parts;
    parts.samples = n;
    parts.task_nll_sum.assign(decoders_.size(), 0.0);
    parts.task_count.assign(decoders_.size(), 0);
    for (int c = 0; c < chunks; ++c) {
      const ChunkWorkspace& ws = batch.chunks[static_cast<std::size_t>(c)];
      parts.kl_sum += ws.kl_sum;
      for (std::size_t t = 0; t < decoders_.size(); ++t) {
        parts.task_nll_sum[t] += ws.task_nll_sum[t];
        parts.task_count[t] += ws.task_count[t];
      }
    }
    parts.total_sum = beta * parts.kl_sum;
    for (std::size_t t = 0; t < decoders_.size(); ++t)
      parts.total_sum += spec_.tasks[t].weight * parts.task_nll_sum[t];
    parts.finish();
    return parts;
  }

  /// What decoder t reads in a chunk: mu or the sampled z (its TaskSpec).
  ConstMatrixRef<Scalar> decoder_input(const ChunkWorkspace& ws, std::size_t t) const {
    if (spec_.tasks[t].input == DecoderInput::Mean)
      return ConstMatrixRef<Scalar>(EncoderT<Scalar>::mu(ws.encoder));
    return ConstMatrixRef<Scalar>(ws.z);
  }

  void zero_likelihood_gradients(Scalar* grads) const {
    for (const auto& decoder : decoders_) {
      const LikelihoodT<Scalar>& likelihood = decoder.likelihood();
      if (likelihood.parameter_count() > 0)
        VectorMap<Scalar>(grads + likelihood.offset(), likelihood.parameter_count()).setZero();
    }
  }

  /// One dense layer whose parameter gradient one thread computes for the
  /// whole batch; decoder -1 is the encoder.
  struct GradientJob {
    int decoder = -1;
    std::size_t layer = 0;
    double cost = 0.0;  ///< multiply-adds per sample
  };

  /// Every dense layer, largest first (the order of equals is fixed).
  std::vector<GradientJob> make_gradient_jobs() const {
    std::vector<GradientJob> jobs;
    auto add = [&](int decoder, std::size_t layer, const DenseLayerT<Scalar>& dense) {
      jobs.push_back({decoder, layer, static_cast<double>(dense.inputs() * dense.outputs())});
    };
    for (std::size_t l = 0; l < encoder_.layer_count(); ++l) add(-1, l, encoder_.layer(l));
    for (std::size_t t = 0; t < decoders_.size(); ++t)
      for (std::size_t l = 0; l < decoders_[t].mlp().layers().size(); ++l)
        add(static_cast<int>(t), l, decoders_[t].mlp().layers()[l]);
    std::stable_sort(jobs.begin(), jobs.end(),
                     [](const GradientJob& a, const GradientJob& b) { return a.cost > b.cost; });
    return jobs;
  }

  /// Gives each layer to the part with the least work so far, largest layer
  /// first: whole layers, so no two threads pack the same matrices, and a
  /// fixed assignment for a given part count.
  void assign_gradient_jobs(int parts) {
    part_load_.resize(static_cast<std::size_t>(std::max(threads_, parts)));
    std::fill(part_load_.begin(), part_load_.begin() + parts, 0.0);
    job_owner_.resize(gradient_jobs_.size());
    for (std::size_t j = 0; j < gradient_jobs_.size(); ++j) {
      int best = 0;
      for (int p = 1; p < parts; ++p)
        if (part_load_[static_cast<std::size_t>(p)] < part_load_[static_cast<std::size_t>(best)])
          best = p;
      job_owner_[j] = best;
      part_load_[static_cast<std::size_t>(best)] += gradient_jobs_[j].cost;
    }
  }

  /// Part `part` of `parts`: the parameter gradients of the layers it owns,
  /// over the whole batch, chunk after chunk; part 0 also sums the
  /// likelihoods' own parameter gradients over the chunks.
  void parameter_gradients(BatchWorkspace& batch, const ConstMatrixRef<Scalar>& x, int chunks,
                           int part) {
    Scalar* grads = gradients_.data();
    const Index n = x.cols();
    for (std::size_t j = 0; j < gradient_jobs_.size(); ++j) {
      if (job_owner_[j] != part) continue;
      const GradientJob& job = gradient_jobs_[j];
      if (job.decoder < 0) {
        for (int c = 0; c < chunks; ++c) {
          const Index begin = detail::slice_begin(n, c, chunks, 1);
          const Index end = detail::slice_begin(n, c + 1, chunks, 1);
          encoder_.parameter_gradient(job.layer, grads, x.middleCols(begin, end - begin),
                                      batch.chunks[static_cast<std::size_t>(c)].encoder, c > 0);
        }
        continue;
      }
      const auto t = static_cast<std::size_t>(job.decoder);
      bool written = false;
      for (int c = 0; c < chunks; ++c) {
        const ChunkWorkspace& ws = batch.chunks[static_cast<std::size_t>(c)];
        if (ws.task_count[t] == 0) continue;  // the decoder did not run on this chunk
        const ConstMatrixRef<Scalar> input = decoder_input(ws, t);
        decoders_[t].parameter_gradient(job.layer, grads, input, ws.decoders[t], written);
        written = true;
      }
      if (!written) {
        const DenseLayerT<Scalar>& layer = decoders_[t].mlp().layers()[job.layer];
        VectorMap<Scalar>(grads + layer.offset(), layer.parameter_count()).setZero();
      }
    }
    if (part != 0) return;
    for (const auto& decoder : decoders_) {
      const LikelihoodT<Scalar>& likelihood = decoder.likelihood();
      if (likelihood.parameter_count() == 0) continue;
      auto total = gradients_.segment(likelihood.offset(), likelihood.parameter_count());
      for (int c = 1; c < chunks; ++c)
        total += batch.chunks[static_cast<std::size_t>(c)].gradients.segment(
            likelihood.offset(), likelihood.parameter_count());
    }
  }

  void run_chunk(ChunkWorkspace& ws, const ConstMatrixRef<Scalar>& x,
                 const std::vector<TaskBatch<Scalar>>& targets, Index begin,
                 const ConstMatrixRef<Scalar>& eps, Scalar beta, Scalar inv_n, Scalar* grads,
                 ParameterGradients mode) const {
    const Index n = x.cols();
    const Scalar* values = parameters_.data();
    const Index latent_size = latent();
    using Enc = EncoderT<Scalar>;

    encoder_.forward(values, x, ws.encoder);
    ws.z.resize(latent_size, n);
    ws.z_delta.resize(latent_size, n);
    ws.kl.resize(n);
    reparameterize<Scalar>(Enc::mu(ws.encoder), Enc::logvar(ws.encoder), eps, ws.z);
    gaussian_kl<Scalar>(Enc::mu(ws.encoder), Enc::logvar(ws.encoder), ws.kl);
    ws.kl_sum = ws.kl.template cast<double>().sum();

    ws.decoders.resize(decoders_.size());
    ws.task_nll_sum.assign(decoders_.size(), 0.0);
    ws.task_count.assign(decoders_.size(), 0);
    if (grads != nullptr) Enc::mu_delta(ws.encoder).setZero();
    bool z_delta_written = false;
    for (std::size_t t = 0; t < decoders_.size(); ++t) {
      const TaskBatch<Scalar>& batch = targets[t];
      const auto target = batch.target.middleCols(begin, n);
      auto& dws = ws.decoders[t];
      decoders_[t].prepare(dws, n);
      if (batch.mask)
        dws.scale = batch.mask->middleCols(begin, n);
      else
        dws.scale.setOnes();
      const Index count = static_cast<Index>(dws.scale.sum());
      if (count == 0) continue;  // nothing to score: skip the decoder entirely
      const bool from_mean = spec_.tasks[t].input == DecoderInput::Mean;
      const ConstMatrixRef<Scalar> input = decoder_input(ws, t);
      decoders_[t].forward(values, input, dws);
      if (grads != nullptr) {
        // From here on scale is mask * w_t / n: the weight of each sample's
        // NLL in the batch-mean loss.
        dws.scale *= static_cast<Scalar>(spec_.tasks[t].weight) * inv_n;
        if (from_mean) {
          auto mu_delta = Enc::mu_delta(ws.encoder);
          MatrixRef<Scalar> mu_gradient(mu_delta);
          decoders_[t].score(values, grads, input, target, dws, &mu_gradient, true, mode);
        } else {
          MatrixRef<Scalar> z_gradient(ws.z_delta);
          decoders_[t].score(values, grads, input, target, dws, &z_gradient, z_delta_written, mode);
          z_delta_written = true;
        }
      } else {
        decoders_[t].score(values, nullptr, input, target, dws);
      }
      if (batch.mask)
        ws.task_nll_sum[t] = (dws.nll.array() * batch.mask->middleCols(begin, n).array())
                                 .template cast<double>()
                                 .sum();
      else
        ws.task_nll_sum[t] = dws.nll.template cast<double>().sum();
      ws.task_count[t] = count;
    }
    if (grads == nullptr) return;

    if (!z_delta_written) ws.z_delta.setZero();
    auto mu_delta = Enc::mu_delta(ws.encoder);
    auto logvar_delta = Enc::logvar_delta(ws.encoder);
    logvar_delta.setZero();
    ws.kl_scale.setConstant(n, beta * inv_n);
    reparameterize_backward<Scalar>(Enc::logvar(ws.encoder), eps, ws.z_delta, mu_delta,
                                    logvar_delta);
    gaussian_kl_backward<Scalar>(Enc::mu(ws.encoder), Enc::logvar(ws.encoder), ws.kl_scale,
                                 mu_delta, logvar_delta);
    encoder_.backward(values, grads, x, ws.encoder, mode);
  }

  ModelSpec spec_;
  ParameterLayout layout_;
  EncoderT<Scalar> encoder_;
  std::vector<DecoderT<Scalar>> decoders_;
  Vector<Scalar> parameters_;
  Vector<Scalar> gradients_;
  std::vector<GradientJob> gradient_jobs_ = make_gradient_jobs();
  std::vector<int> job_owner_;
  std::vector<double> part_load_;
  int threads_ = 1;
  bool gradients_finite_ = true;
  std::unique_ptr<ThreadPool> pool_;
  std::vector<BatchWorkspace> batch_workspaces_;
};

using SCVAE = SCVAET<float>;

}  // namespace scvae
