#pragma once
// A fixed pool that runs one task index per thread and waits for all. The
// caller's thread runs index 0, so a pool of 1 starts no thread at all.
// run() does not allocate, so it can sit inside an allocation-free step.

#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "scvae/core/error.hpp"

namespace scvae {

class ThreadPool {
 public:
  explicit ThreadPool(int threads) : size_(threads) {
    if (threads < 1)
      throw ArgumentError("thread count: expected at least 1, got " + std::to_string(threads));
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    start_.notify_all();
    for (auto& worker : workers_) worker.join();
  }

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
      pending_ = count - 1;
      error_ = nullptr;
      ++generation_;
    }
    start_.notify_all();
    try {
      task(0);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return pending_ == 0; });
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void worker_loop(int index) {
    unsigned long seen = 0;
    for (;;) {
      std::unique_lock<std::mutex> lock(mutex_);
      start_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
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
      lock.lock();
      if (--pending_ == 0) done_.notify_one();
    }
  }

  int size_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable start_;
  std::condition_variable done_;
  unsigned long generation_ = 0;
  void* context_ = nullptr;
  void (*invoke_)(void*, int) = nullptr;
  int active_ = 0;
  int pending_ = 0;
  bool stopping_ = false;
  std::exception_ptr error_;
};

}  // namespace scvae
