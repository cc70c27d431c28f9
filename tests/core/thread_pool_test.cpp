// ThreadPool: every index runs once per run, errors come back to the caller,
// and runs work whether the workers are still spinning or already asleep;
// parallel_slices covers a range exactly once.

#include "scvae/core/thread_pool.hpp"

#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "../reliability/child_process.hpp"

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

// A pool whose threads cannot all be created stops the ones it started and
// throws ResourceError (it used to destroy its condition variables under the
// waiting workers and hang). In a child process: root drops to an ordinary
// user there (the process limit does not bind root), and an alarm turns a
// hang into a failure.
TEST(ThreadPool, FailsCleanlyWhenAThreadCannotBeCreated) {
  const testing::ChildOutcome outcome = testing::run_in_child(
      [] {
        if (::geteuid() == 0) {
          const passwd* nobody = ::getpwnam("nobody");
          if (nobody == nullptr || ::setgid(nobody->pw_gid) != 0 || ::setuid(nobody->pw_uid) != 0)
            return 77;
        }
        // This process and two more: at most two workers can start.
        const rlimit limit{3, 3};
        if (::setrlimit(RLIMIT_NPROC, &limit) != 0) return 77;
        try {
          ThreadPool pool(16);
        } catch (const ResourceError& error) {
          const std::string message = error.what();
          const bool names_counts = message.find("asked for 16 threads") != std::string::npos &&
                                    message.find("workers could be started") != std::string::npos;
          if (!names_counts) return 2;
          // The process is healthy afterwards: a pool of one still runs.
          ThreadPool single(1);
          int calls = 0;
          auto task = [&](int) { ++calls; };
          single.run(1, task);
          return calls == 1 ? 0 : 3;
        }
        return 1;  // all 15 workers started: the limit did not bind
      },
      20);
  if (outcome.exited && outcome.code == 77) GTEST_SKIP() << "cannot lower the process limit here";
  EXPECT_TRUE(outcome.exited && outcome.code == 0) << outcome.describe();
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
