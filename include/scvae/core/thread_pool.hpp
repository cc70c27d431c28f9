#pragma once
// A fixed pool that runs one task index per thread and waits for all. The
// caller's thread runs index 0, so a pool of 1 starts no thread at all.
// run() does not allocate, so it can sit inside an allocation-free step.
//
// Workers and the caller spin briefly (kSpin, 100 us) before they block: a
// train step hands the pool work every millisecond or so, and waking a
// blocked thread through the kernel cost 30-40 us per run here
// (BM_ThreadPool_Run), ~3% of a 2-thread step. 100 us outlasts the serial
// gap between two steps (the next batch is filled and checked, ~60 us in
// mnist_vae), so the workers start each step at once. The spin is short so
// that an idle or oversubscribed pool still sleeps. It is timed by the clock,
// not counted in PAUSEs, whose length varies ~10x between x86 cores.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <new>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <immintrin.h>
#endif

#include "scvae/core/error.hpp"
#include "scvae/core/slices.hpp"
#include "scvae/core/types.hpp"

namespace scvae {

namespace detail {
/// Tells the CPU this is a spin-wait loop (x86 PAUSE); elsewhere nothing.
inline void cpu_relax() {
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
  _mm_pause();
#endif
}

/// Spins until done() or `limit` has passed; returns done() then.
template <typename Done>
bool spin_until(Done&& done, std::chrono::microseconds limit) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point deadline = Clock::now() + limit;
  for (unsigned round = 1;; ++round) {
    if (done()) return true;
    cpu_relax();
    // Reading the clock costs about as much as a few pauses: every 32nd round.
    if (round % 32 == 0 && Clock::now() >= deadline) return done();
  }
}
}  // namespace detail

class ThreadPool {
 public:
  /// Starts threads - 1 workers. When the system refuses one (a process
  /// limit, no memory for a stack), the workers already started are stopped
  /// and joined, and a ResourceError says how many were asked and started.
  explicit ThreadPool(int threads) : size_(threads) {
    if (threads < 1)
      throw ArgumentError("thread count: expected at least 1, got " + std::to_string(threads));
    const std::string asked = "thread pool: asked for " + std::to_string(threads) +
                              " threads (this one and " + std::to_string(threads - 1) + " workers)";
    try {
      // Reserved first, so that emplace_back below can only fail in std::thread.
      workers_.reserve(static_cast<std::size_t>(threads - 1));
    } catch (const std::bad_alloc&) {
      throw ResourceError(asked + ", but there is no memory to hold them");
    }
    for (int i = 1; i < threads; ++i) {
      try {
        workers_.emplace_back([this, i] { worker_loop(i); });
      } catch (const std::system_error& error) {
        // Leaving the constructor with workers waiting on start_ would
        // destroy it under them (a hang in pthread_cond_destroy) or
        // terminate on a joinable std::thread: stop them first.
        const std::size_t started = workers_.size();
        stop_workers();
        throw ResourceError(asked + ", but only " + std::to_string(started) +
                            " workers could be started: " + error.what() +
                            ". Use fewer threads or raise the process limit (ulimit -u).");
      }
    }
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ~ThreadPool() { stop_workers(); }

  int size() const { return size_; }

  /// Calls task(i) for i in [0, count), count <= size(), and waits for all.
  /// The first exception thrown by any index is rethrown here.
  template <typename Task>
  void run(int count, Task& task) {
    if (count > size_) count = size_;
    if (count <= 1) {
      task(0);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      context_ = &task;
      invoke_ = [](void* context, int index) { (*static_cast<Task*>(context))(index); };
      active_ = count;
      pending_.store(count - 1, std::memory_order_relaxed);
      error_ = nullptr;
      generation_.fetch_add(1, std::memory_order_release);
    }
    start_.notify_all();
    try {
      task(0);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
    detail::spin_until([this] { return pending_.load(std::memory_order_acquire) == 0; }, kSpin);
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return pending_.load(std::memory_order_acquire) == 0; });
    if (error_) std::rethrow_exception(error_);
  }

 private:
  static constexpr std::chrono::microseconds kSpin{100};

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_.store(true, std::memory_order_release);
    }
    start_.notify_all();
    for (auto& worker : workers_) worker.join();
    workers_.clear();
  }

  void worker_loop(int index) {
    unsigned long seen = 0;
    for (;;) {
      detail::spin_until(
          [&] {
            return generation_.load(std::memory_order_acquire) != seen ||
                   stopping_.load(std::memory_order_acquire);
          },
          kSpin);
      std::unique_lock<std::mutex> lock(mutex_);
      start_.wait(lock, [&] {
        return stopping_.load(std::memory_order_relaxed) ||
               generation_.load(std::memory_order_relaxed) != seen;
      });
      if (stopping_.load(std::memory_order_relaxed)) return;
      seen = generation_.load(std::memory_order_relaxed);
      if (index >= active_) continue;
      void* context = context_;
      auto invoke = invoke_;
      lock.unlock();
      try {
        invoke(context, index);
      } catch (...) {
        lock.lock();
        if (!error_) error_ = std::current_exception();
        lock.unlock();
      }
      // The caller may be spinning on pending_ rather than waiting on done_:
      // decrement under the lock so that a blocked caller cannot miss it.
      lock.lock();
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) done_.notify_one();
    }
  }

  int size_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable start_;
  std::condition_variable done_;
  std::atomic<unsigned long> generation_{0};
  void* context_ = nullptr;
  void (*invoke_)(void*, int) = nullptr;
  int active_ = 0;
  std::atomic<int> pending_{0};
  std::atomic<bool> stopping_{false};
  std::exception_ptr error_;
};

/// Calls body(begin, end) once per slice of [0, size) split as evenly as
/// possible over the pool's threads (slices start on multiples of `align`), or
/// once for all of it without a pool. For elementwise work, whose result does
/// not depend on how it is split.
template <typename Body>
void parallel_slices(ThreadPool* pool, Index size, Index align, Body&& body) {
  const int parts =
      pool == nullptr
          ? 1
          : static_cast<int>(std::min<Index>(pool->size(), std::max<Index>(1, size / align)));
  if (parts <= 1) {
    body(Index(0), size);
    return;
  }
  auto task = [&](int part) {
    body(detail::slice_begin(size, part, parts, align),
         detail::slice_begin(size, part + 1, parts, align));
  };
  pool->run(parts, task);
}

}  // namespace scvae
