#pragma once
// The batches of an evaluation on the threads of a pool. This process's
// batches (all of them, or its rank's block: eval/rank_shards.hpp) are cut
// into contiguous blocks, one per thread, and each thread computes its
// block's batches whole. The evaluators keep each sample's terms apart and
// add them in sample order afterwards (or count exactly), so their results
// have the bits of one thread whatever the thread count.
//
// Noise: batch b takes its draws from the stream where batch b - 1 left it,
// as on one thread. A thread therefore starts from a copy of the caller's
// Rng and draws, without using them, the noise of the batches before its
// block (as a rank skips the batches of the ranks before it); the caller's
// Rng ends past every batch, where one thread's would.

#include <algorithm>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <vector>

#include "scvae/core/random.hpp"
#include "scvae/core/slices.hpp"
#include "scvae/core/thread_pool.hpp"
#include "scvae/core/types.hpp"
#include "scvae/data/batch_source.hpp"
#include "scvae/eval/rank_shards.hpp"

namespace scvae {

/// Told after each batch an evaluation computes: the batches done so far
/// and the batches this process computes (a rank's share on several
/// ranks). One call at a time, from whichever thread computed the batch;
/// what it throws ends the evaluation as a batch's error does.
using EvaluationProgress = std::function<void(Index done, Index total)>;

/// How an evaluator runs: on the threads of `pool` (none: the calling
/// thread), telling `progress` (if set) as batches finish.
struct EvaluationOptions {
  /// Implicit, so that a pool alone (e.g. model.thread_pool()) is the options.
  EvaluationOptions(ThreadPool* threads = nullptr) : pool(threads) {}  // NOLINT
  ThreadPool* pool = nullptr;
  EvaluationProgress progress;
};

/// The threads an evaluation may run on, so the per-thread scratch it
/// needs: the pool's size, or 1 on the calling thread.
inline std::size_t evaluation_threads(const EvaluationOptions& options) {
  return static_cast<std::size_t>(options.pool != nullptr ? options.pool->size() : 1);
}

/// BatchSource::fill for the threads of an evaluation, one at a time: a
/// source may keep scratch buffers between calls (its fill() is const, not
/// thread-safe), and filling is a copy, short beside computing a batch.
class SerialFill {
 public:
  template <typename Scalar>
  void operator()(const BatchSource<Scalar>& source, const std::vector<Index>& order, Index begin,
                  Index end, Batch<Scalar>& batch) {
    const std::lock_guard<std::mutex> lock(mutex_);
    source.fill(order, begin, end, batch);
  }

 private:
  std::mutex mutex_;
};

/// Runs compute(worker, b, rng) for every batch b that `shards` gives this
/// process, batches [first, end) of `batches`, split into contiguous blocks
/// across min(pool->size(), batches of this process) threads of
/// options.pool (on the calling thread without a pool), telling
/// options.progress after each; `worker` (0-based) names the block,
/// for per-thread scratch. With an `rng`, skip(worker, b, rng) must take
/// from it the noise that computing batch b takes; compute gets a stream positioned at
/// its batch, and *rng ends past every batch. Without one, rng is nullptr
/// everywhere and skip is never called. When batches throw, the error of the
/// earliest batch is rethrown, as on one thread; later blocks may have run.
template <typename Compute, typename Skip>
void run_evaluation_batches(const EvaluationShards& shards, Index batches,
                            const EvaluationOptions& options, Rng* rng, Compute&& compute,
                            Skip&& skip) {
  ThreadPool* pool = options.pool;
  const Index first = shards.first();
  const Index count = shards.end() - first;
  const int workers =
      pool == nullptr || count < 2 ? 1 : static_cast<int>(std::min<Index>(pool->size(), count));
  std::vector<Rng> streams(static_cast<std::size_t>(workers), rng != nullptr ? *rng : Rng());
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(workers));
  std::mutex progress_mutex;
  Index done = 0;
  auto work = [&](int worker) {
    const auto w = static_cast<std::size_t>(worker);
    Rng* stream = rng != nullptr ? &streams[w] : nullptr;
    const Index begin = first + detail::slice_begin(count, worker, workers, 1);
    const Index end = first + detail::slice_begin(count, worker + 1, workers, 1);
    try {
      if (stream != nullptr)
        for (Index b = 0; b < begin; ++b) skip(worker, b, *stream);
      for (Index b = begin; b < end; ++b) {
        compute(worker, b, stream);
        if (!options.progress) continue;
        const std::lock_guard<std::mutex> lock(progress_mutex);
        options.progress(++done, count);
      }
    } catch (...) {
      errors[w] = std::current_exception();
    }
  };
  if (workers == 1)
    work(0);
  else
    pool->run(workers, work);
  for (const std::exception_ptr& error : errors)
    if (error) std::rethrow_exception(error);
  if (rng == nullptr) return;
  // The last block ended at this process's last batch; the rest are other ranks'.
  *rng = streams.back();
  for (Index b = shards.end(); b < batches; ++b) skip(0, b, *rng);
}

}  // namespace scvae
