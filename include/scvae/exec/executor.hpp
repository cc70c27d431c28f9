#pragma once
// The data-parallel executor: the one place that knows about threads. A model
// hands it a batch as two kinds of work:
//   - chunk(c, begin, end): the forward and backward pass over the columns
//     [begin, end) of the batch, down to every module's output gradient, with
//     no parameter gradient yet;
//   - part(j, c, write): the parameter gradient of part j (one layer, or a
//     likelihood's own parameters) from chunk c's buffers, written over or
//     added to the model's gradient buffer; false when chunk c did not run
//     that part (e.g. a task with no target in the chunk).
// The executor splits the batch into chunks, runs them on its pool, and then
// has each thread compute whole parts over the whole batch, chunk after chunk
// in chunk order. So no thread keeps a gradient buffer of its own to zero and
// sum, no two threads pack the same matrices, and the bits of a result depend
// only on the batch size and the thread count. The threads meet at barriers
// inside one pool run: a second run would cost another wake-up.
//
// Which thread computes a part does not change its bits, so the threads take
// the parts as they come free, largest first, rather than by a fixed
// assignment: a part's declared cost is per sample, and a model whose
// decoder runs on more columns than the batch has samples (M2: about one per
// class) makes the declared costs wrong by that factor.
//
// Given a RankGroup (exec/rank_group.hpp), the executor splits the batch
// into ranks x threads chunks, as one process with that many threads would
// (equal ones with run(), ones of about equal cost with run_balanced()),
// and runs only this rank's: rank r owns chunks [r * threads, (r + 1) *
// threads). A part's gradient then goes along the ranks' chain: rank r
// receives it summed over the chunks before its own, adds its chunks in
// chunk order exactly as one process adds its next chunks, and passes it
// on; the last rank's sum goes back along the chain to every rank, each
// part as soon as it is finished. So R ranks x T threads give
// the bits of 1 process x R*T threads. (Summing each rank's own total
// afterwards would not: a dense layer adds a chunk's columns one by one
// onto the sum so far, and GEMM adds onto it block by block.)

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "scvae/core/check.hpp"
#include "scvae/core/slices.hpp"
#include "scvae/core/thread_pool.hpp"
#include "scvae/exec/rank_group.hpp"
#include "scvae/kernels/gemm.hpp"
#include "scvae/nn/module.hpp"

namespace scvae {

template <typename Scalar_>
class ExecutorT {
 public:
  using Scalar = Scalar_;

  ExecutorT() = default;
  ExecutorT(const ExecutorT& other) : threads_(other.threads_), group_(other.group_) {}
  ExecutorT& operator=(const ExecutorT& other) {
    if (this != &other) {
      threads_ = other.threads_;
      group_ = other.group_;
      pool_.reset();
    }
    return *this;
  }
  ExecutorT(ExecutorT&&) noexcept = default;
  ExecutorT& operator=(ExecutorT&&) noexcept = default;

  /// Splits each batch across `threads`. The chunks and the order in which
  /// their gradients are summed depend only on the batch size and the thread
  /// count, so a seed and a thread count fix every bit.
  void set_threads(int threads) {
    if (threads < 1)
      throw ArgumentError("threads: expected at least 1, got " + std::to_string(threads));
    if (threads != threads_) pool_.reset();
    threads_ = threads;
  }
  int threads() const { return threads_; }

  /// The pool the batches run on (nullptr with one thread). An optimizer may
  /// borrow it between steps.
  ThreadPool* thread_pool() {
    if (threads_ <= 1) return nullptr;
    if (!pool_) pool_ = std::make_unique<ThreadPool>(threads_);
    return pool_.get();
  }

  /// Runs each batch across the ranks of `group` too (nullptr: this process
  /// alone). The group is not owned and must outlive the executor's runs;
  /// every rank then has to run the same batches, as the results are summed
  /// across the ranks.
  void set_rank_group(RankGroup* group) { group_ = group; }
  RankGroup* rank_group() const { return group_; }

  /// How many chunks a batch of n samples is split into, over all ranks: one
  /// per thread of every rank, but at least 16 samples each, below which a
  /// chunk's GEMMs run inefficiently.
  int chunk_count(Index n) const {
    const Index by_size = std::max<Index>(1, n / 16);
    const Index workers = static_cast<Index>(threads_) * (group_ ? group_->size() : 1);
    return static_cast<int>(std::min<Index>(workers, by_size));
  }

  /// Whether this rank runs chunk c (always, without a rank group): a model
  /// sums the loss parts of these chunks only, then sum_across_ranks().
  bool runs_chunk(int c) const {
    if (!group_) return true;
    const int first = group_->rank() * threads_;
    return c >= first && c < first + threads_;
  }

  /// Replaces values[0, count) by their sum over the ranks in rank order;
  /// nothing without a rank group. Every rank must call it.
  void sum_across_ranks(double* values, std::size_t count) {
    if (group_) group_->sum_in_rank_order(values, count);
  }

  /// Column range of chunk c of `chunks` over n samples.
  static Index chunk_begin(Index n, int c, int chunks) { return detail::slice_begin(n, c, chunks, 1); }

  /// Sets the parameter parts of the model (their offsets in the model's flat
  /// buffer); call when they change.
  void set_parts(std::vector<GradientPart> parts) {
    parts_ = std::move(parts);
    part_finite_.assign(parts_.size(), 1);
    order_.resize(parts_.size());
    for (std::size_t j = 0; j < parts_.size(); ++j) order_[j] = j;
    // Largest first, so that the last parts taken are small ones.
    std::stable_sort(order_.begin(), order_.end(), [&](std::size_t a, std::size_t b) {
      return parts_[a].cost > parts_[b].cost;
    });
  }
  const std::vector<GradientPart>& parts() const { return parts_; }

  /// Runs one batch of n samples. With `gradients`, also computes the
  /// parameter parts into it and checks it for non-finite values
  /// (gradients_finite()); without, only the chunks run.
  template <typename Chunk, typename Part>
  void run(Index n, Chunk&& chunk, Part&& part, Vector<Scalar>* gradients) {
    const int chunks = chunk_count(n);
    set_bounds(chunks);
    for (int c = 0; c <= chunks; ++c)
      bounds_[static_cast<std::size_t>(c)] = chunk_begin(n, c, chunks);
    run_chunks(chunks, chunk, part, gradients);
  }

  /// Runs one batch as run() does, with chunk boundaries that give the
  /// chunks about equal sums of sample_cost(j) (>= 0, for each sample j of
  /// the batch) rather than equal numbers of samples: for a model whose work
  /// varies from sample to sample (M2 decodes an unlabelled image once per
  /// class and a labelled one once, and its batches put the labelled images
  /// first). The boundaries depend only on the costs and the chunk count,
  /// so the same batch and thread count still give the same bits; costs that
  /// are all 1 (or whose sum is not finite and positive) give run()'s chunks.
  /// In a rank group every rank has the whole batch, so every rank computes
  /// the same ranks x threads boundaries from the costs of all n samples,
  /// runs its own chunks and joins the chain as run() does: R ranks x T
  /// threads give the bits of one process with R*T threads here too.
  /// sample_cost(j) must then be the same on every rank.
  template <typename Cost, typename Chunk, typename Part>
  void run_balanced(Index n, Cost&& sample_cost, Chunk&& chunk, Part&& part,
                    Vector<Scalar>* gradients) {
    const int chunks = chunk_count(n);
    set_bounds(chunks);
    double total = 0.0;
    for (Index j = 0; j < n; ++j) total += static_cast<double>(sample_cost(j));
    bounds_[0] = 0;
    bounds_[static_cast<std::size_t>(chunks)] = n;
    Index j = 0;
    double before = 0.0;  // the cost of samples [0, j)
    for (int c = 1; c < chunks; ++c) {
      if (!(total > 0.0) || total == HUGE_VAL) {
        bounds_[static_cast<std::size_t>(c)] = chunk_begin(n, c, chunks);
        continue;
      }
      // The last boundary at or below the c-th share, leaving every chunk a sample.
      const double target = total * c / chunks;
      for (;;) {
        if (j >= n - (chunks - c)) break;
        const double cost = static_cast<double>(sample_cost(j));
        if (j >= bounds_[static_cast<std::size_t>(c - 1)] + 1 && before + cost > target) break;
        before += cost;
        ++j;
      }
      bounds_[static_cast<std::size_t>(c)] = j;
    }
    run_chunks(chunks, chunk, part, gradients);
  }

  /// Column range of chunk c in the last run: [chunk_start(c), chunk_start(c + 1)).
  Index chunk_start(int c) const { return bounds_.at(static_cast<std::size_t>(c)); }

  /// Whether every value of the gradient was finite after the last run()
  /// with gradients: each part is checked by the thread that finished it,
  /// while it is in that core's cache, so the check costs no pass of its own.
  bool gradients_finite() const { return gradients_finite_; }

 private:
  static bool all_set(const std::vector<char>& flags) {
    return std::all_of(flags.begin(), flags.end(), [](char f) { return f != 0; });
  }

  void set_bounds(int chunks) {
    if (bounds_.size() < static_cast<std::size_t>(chunks) + 1)
      bounds_.resize(static_cast<std::size_t>(chunks) + 1);
  }

  template <typename Chunk, typename Part>
  void run_chunks(int chunks, Chunk& chunk, Part& part, Vector<Scalar>* gradients) {
    // This rank's chunks are [first, first + local): all of them alone.
    const int first = group_ ? std::min(chunks, group_->rank() * threads_) : 0;
    const int local = group_ ? std::min(chunks, first + threads_) - first : chunks;
    const int workers = std::max(local, 1);
    if (group_ && gradients != nullptr && static_cast<Index>(parts_.size()) > group_->max_tag())
      throw ArgumentError("rank group: " + std::to_string(parts_.size()) +
                          " gradient parts, more than the " + std::to_string(group_->max_tag()) +
                          " message tags this MPI library has");
    std::atomic<int> arrived{0};
    std::atomic<std::size_t> next_part{0};
    std::atomic<bool> failed{false};
    auto barrier = [&](int round) {
      arrived.fetch_add(1, std::memory_order_acq_rel);
      while (arrived.load(std::memory_order_acquire) < round * workers) std::this_thread::yield();
    };
    gradients_finite_ = true;
    auto work = [&](int w) {
      const int c = first + w;
      std::exception_ptr error;
      if (w < local) {
        try {
          chunk(c, bounds_[static_cast<std::size_t>(c)], bounds_[static_cast<std::size_t>(c) + 1]);
        } catch (...) {
          error = std::current_exception();
          failed.store(true);
        }
      }
      if (gradients != nullptr) {
        // Every thread reaches each barrier, thrown or not: no one waits forever.
        if (workers > 1) barrier(1);
        if (!failed.load()) {
          try {
            compute_parts(next_part, first, first + local, part, *gradients);
          } catch (...) {
            if (!error) error = std::current_exception();
            failed.store(true);
          }
        }
        if (workers > 1) {
          barrier(2);
          // Parts go to whichever thread is free, so the thread that ran a
          // layer's largest product may differ from step to step: every
          // thread now takes its GEMM scratch to the largest any has used,
          // so that no later step allocates it (kernels/gemm.hpp).
          detail::gemm_scratch<Scalar>(0);
        }
      }
      if (error) std::rethrow_exception(error);
    };
    if (workers > 1)
      thread_pool()->run(workers, work);
    else
      work(0);
    if (gradients == nullptr) return;
    if (group_)
      receive_finished_gradient(*gradients);
    else
      gradients_finite_ = all_set(part_finite_);
  }

  /// The way back: the last rank sent each part to the rank before it as
  /// soon as it was finished (compute_parts); every other rank receives the
  /// parts in that order and passes each on to the rank before, and then
  /// whether the gradient is finite, a tag after the parts'. A rank thus
  /// waits only for the last rank's last part, not for one broadcast of the
  /// whole buffer after it, and receives the others while the last rank
  /// still adds. (One MPI_Ibcast of the whole buffer at the end took
  /// 0.4-0.5 ms for the MLP VAE's 650k floats, and on loaded cores a
  /// collective's progress waits for both ranks' turns on a core.)
  void receive_finished_gradient(Vector<Scalar>& gradients) {
    const int finite_tag = static_cast<int>(parts_.size());
    if (group_->is_last()) {
      finite_flag_ = all_set(part_finite_) ? 1.0 : 0.0;
      if (group_->size() > 1) group_->send_to_previous(&finite_flag_, 1, finite_tag);
    } else {
      for (const std::size_t j : order_)
        group_->start_receive_from_next(gradients.data() + parts_[j].offset,
                                        static_cast<std::size_t>(parts_[j].size),
                                        static_cast<int>(j));
      group_->start_receive_from_next(&finite_flag_, 1, finite_tag);
      const bool passes_back = group_->rank() > 0;
      for (const std::size_t j : order_) {
        group_->finish_receive_from_next(static_cast<int>(j));
        if (passes_back)
          group_->send_to_previous(gradients.data() + parts_[j].offset,
                                   static_cast<std::size_t>(parts_[j].size), static_cast<int>(j));
      }
      group_->finish_receive_from_next(finite_tag);
      if (passes_back) group_->send_to_previous(&finite_flag_, 1, finite_tag);
    }
    group_->finish_sends();
    gradients_finite_ = finite_flag_ != 0.0;
  }

  /// Takes the next part not yet taken (largest first) and computes it over
  /// chunks [first, end), in chunk order, until none is left; a part that no
  /// chunk ran gets a zero gradient. In a rank group the part starts from
  /// the previous rank's sum (the chunks before this rank's) and goes on to
  /// the next rank; the last rank sends it back, finished. (Where no chunk before ran the part, the previous rank
  /// sends zeros, and zero plus this rank's first chunk has its bits, but
  /// for the sign of a zero: -0 becomes +0, which no optimizer step tells
  /// apart.)
  template <typename Part>
  void compute_parts(std::atomic<std::size_t>& next_part, int first, int end, Part& part,
                     Vector<Scalar>& gradients) {
    const bool receives = group_ && group_->rank() > 0;
    const bool sends = group_ && !group_->is_last();
    const bool finishes = !group_ || group_->is_last();
    for (;;) {
      const std::size_t taken = next_part.fetch_add(1, std::memory_order_relaxed);
      if (taken >= order_.size()) return;
      const std::size_t j = order_[taken];
      Scalar* segment = gradients.data() + parts_[j].offset;
      const auto size = static_cast<std::size_t>(parts_[j].size);
      const int tag = static_cast<int>(j);
      bool written = false;
      if (receives) {
        group_->receive_from_previous(segment, size, tag);
        written = true;
      }
      for (int c = first; c < end; ++c)
        if (part(j, c, written ? GradientWrite::Add : GradientWrite::Overwrite)) written = true;
      if (!written) gradients.segment(parts_[j].offset, parts_[j].size).setZero();
      if (sends) group_->send_to_next(segment, size, tag);
      if (finishes) {
        // Checked while the part is in cache, not in a pass over the whole
        // gradient after the last part: that pass delayed every rank's step
        // (3.5% of the last rank's time for the MLP VAE on 2 ranks), and in
        // one process read what the other threads had just written.
        part_finite_[j] = detail::all_finite(gradients.segment(parts_[j].offset, parts_[j].size));
        if (group_ && group_->size() > 1) group_->send_to_previous(segment, size, tag);
      }
    }
  }

  int threads_ = 1;
  std::unique_ptr<ThreadPool> pool_;
  RankGroup* group_ = nullptr;
  std::vector<GradientPart> parts_;
  std::vector<std::size_t> order_;
  std::vector<Index> bounds_;  ///< Chunk c is [bounds_[c], bounds_[c + 1]).
  /// Each finished part's check, by the process that finished it (alone,
  /// or the last rank of a group).
  std::vector<char> part_finite_;
  bool gradients_finite_ = true;
  double finite_flag_ = 1.0;  ///< Sent and received on the way back: lives past the run.
};

}  // namespace scvae
