// ThreadPool: every index runs once per run, errors come back to the caller,
// and runs work whether the workers are still spinning or already asleep;
// parallel_slices covers a range exactly once.

#include "scvae/core/thread_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

namespace scvae {
namespace {

TEST(ThreadPool, RunsEveryIndexOncePerRun) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> calls(3);
  auto task = [&](int i) { calls[static_cast<std::size_t>(i)].fetch_add(1); };
  for (int run = 0; run < 1000; ++run) pool.run(3, task);  // back to back: spinning workers
  for (auto& c : calls) EXPECT_EQ(c.load(), 1000);
}

TEST(ThreadPool, RunsAfterTheWorkersFellAsleep) {
  ThreadPool pool(2);
  std::atomic<int> calls{0};
  auto task = [&](int) { calls.fetch_add(1); };
  for (int run = 0; run < 3; ++run) {
    // Far longer than the spin: the workers block on the condition variable.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    pool.run(2, task);
  }
  EXPECT_EQ(calls.load(), 6);
}

TEST(SpinUntil, StopsWhenDoneOrWhenTheTimeIsUp) {
  int polls = 0;
  EXPECT_TRUE(detail::spin_until([&] { return ++polls == 5; }, std::chrono::seconds(10)));
  EXPECT_EQ(polls, 5);

  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(detail::spin_until([] { return false; }, std::chrono::microseconds(2000)));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::microseconds(2000));
}

TEST(ThreadPool, FewerTasksThanThreadsRunOnlyThose) {
  ThreadPool pool(4);
  std::vector<std::atomic<int>> calls(4);
  auto task = [&](int i) { calls[static_cast<std::size_t>(i)].fetch_add(1); };
  pool.run(2, task);
  pool.run(9, task);  // capped at the pool's size
  EXPECT_EQ(calls[0].load(), 2);
  EXPECT_EQ(calls[1].load(), 2);
  EXPECT_EQ(calls[2].load(), 1);
  EXPECT_EQ(calls[3].load(), 1);
}

TEST(ThreadPool, AWorkersExceptionReachesTheCallerAndThePoolGoesOn) {
  ThreadPool pool(2);
  auto failing = [](int i) {
    if (i == 1) throw std::runtime_error("worker failed");
  };
  EXPECT_THROW(pool.run(2, failing), std::runtime_error);
  std::atomic<int> calls{0};
  auto task = [&](int) { calls.fetch_add(1); };
  pool.run(2, task);
  EXPECT_EQ(calls.load(), 2);
}

TEST(ThreadPool, RejectsFewerThanOneThread) { EXPECT_THROW(ThreadPool(0), ArgumentError); }

TEST(ParallelSlices, CoverTheRangeOnceOnAlignedStarts) {
  ThreadPool pool(3);
  for (Index size : {0, 1, 15, 16, 17, 100, 1000, 4099}) {
    for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
      std::vector<std::atomic<int>> hits(static_cast<std::size_t>(size));
      std::atomic<int> slices{0};
      parallel_slices(p, size, 16, [&](Index begin, Index end) {
        slices.fetch_add(1);
        EXPECT_EQ(begin % 16, 0) << size;
        for (Index i = begin; i < end; ++i) hits[static_cast<std::size_t>(i)].fetch_add(1);
      });
      for (auto& h : hits) EXPECT_EQ(h.load(), 1) << size;
      // One slice without a pool or below 2 * align; at most the pool's size.
      EXPECT_LE(slices.load(), p == nullptr ? 1 : 3) << size;
    }
  }
}

}  // namespace
}  // namespace scvae
