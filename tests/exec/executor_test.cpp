#include "scvae/exec/executor.hpp"

#include <algorithm>
#include <atomic>
#include <limits>
#include <mutex>
#include <string>
#include <utility>
#include <stdexcept>
#include <vector>

#include "../test_support.hpp"

namespace scvae {
namespace {

/// Parts 0..P-1 over a batch of n samples: part j's gradient is, per chunk,
/// the sum of its columns' indices times (j + 1), so that the result says
/// which chunks ran each part and in which order they were written or added.
struct Recorder {
  std::vector<std::vector<int>> chunks_seen;
  std::vector<std::vector<GradientWrite>> writes;
};

std::vector<GradientPart> parts_of_one_scalar(int count) {
  std::vector<GradientPart> parts;
  // Costs that order the parts in reverse, with ties, as a model's may.
  for (int j = 0; j < count; ++j) parts.push_back({j, 1, static_cast<double>(j / 2)});
  return parts;
}

TEST(Executor, EveryPartRunsOnceOverEveryChunkInChunkOrder) {
  for (int threads : {1, 2, 3}) {
    SCOPED_TRACE("threads " + std::to_string(threads));
    ExecutorT<double> executor;
    executor.set_threads(threads);
    const int part_count = 11;
    executor.set_parts(parts_of_one_scalar(part_count));
    const Index n = 100;
    const int chunks = executor.chunk_count(n);
    EXPECT_EQ(chunks, threads);
    std::vector<Index> begin(static_cast<std::size_t>(chunks)), end(begin);
    Recorder recorder;
    recorder.chunks_seen.resize(part_count);
    recorder.writes.resize(part_count);
    std::atomic<int> calls{0};
    Vector<double> gradients = Vector<double>::Constant(part_count, -1.0);
    auto chunk = [&](int c, Index from, Index to) {
      begin[static_cast<std::size_t>(c)] = from;
      end[static_cast<std::size_t>(c)] = to;
    };
    // Part 3 is run by no chunk (as a task with no target in the batch).
    auto part = [&](std::size_t j, int c, GradientWrite write) {
      calls.fetch_add(1);
      if (j == 3) return false;
      recorder.chunks_seen[j].push_back(c);
      recorder.writes[j].push_back(write);
      double sum = 0.0;
      for (Index i = begin[static_cast<std::size_t>(c)]; i < end[static_cast<std::size_t>(c)]; ++i)
        sum += static_cast<double>(i) * static_cast<double>(j + 1);
      if (write == GradientWrite::Add)
        gradients(static_cast<Index>(j)) += sum;
      else
        gradients(static_cast<Index>(j)) = sum;
      return true;
    };
    executor.run(n, chunk, part, &gradients);
    EXPECT_EQ(calls.load(), part_count * chunks);
    for (int j = 0; j < part_count; ++j) {
      SCOPED_TRACE("part " + std::to_string(j));
      if (j == 3) {
        EXPECT_EQ(gradients(j), 0.0);  // zeroed, not left at -1
        continue;
      }
      std::vector<int> in_order;
      for (int c = 0; c < chunks; ++c) in_order.push_back(c);
      EXPECT_EQ(recorder.chunks_seen[static_cast<std::size_t>(j)], in_order);
      EXPECT_EQ(recorder.writes[static_cast<std::size_t>(j)].front(), GradientWrite::Overwrite);
      EXPECT_EQ(gradients(j), (j + 1) * (n * (n - 1) / 2.0));
    }
    EXPECT_TRUE(executor.gradients_finite());
  }
}

TEST(Executor, WithoutGradientsOnlyTheChunksRun) {
  ExecutorT<float> executor;
  executor.set_threads(2);
  executor.set_parts(parts_of_one_scalar(4));
  std::atomic<int> chunks{0}, parts{0};
  executor.run(
      64, [&](int, Index, Index) { chunks.fetch_add(1); },
      [&](std::size_t, int, GradientWrite) {
        parts.fetch_add(1);
        return true;
      },
      nullptr);
  EXPECT_EQ(chunks.load(), 2);
  EXPECT_EQ(parts.load(), 0);
}

TEST(Executor, AThrowingPartReachesTheCallerAndNonFiniteGradientsAreSeen) {
  ExecutorT<double> executor;
  executor.set_threads(2);
  executor.set_parts(parts_of_one_scalar(6));
  Vector<double> gradients = Vector<double>::Zero(6);
  auto no_chunk = [](int, Index, Index) {};
  auto throwing = [&](std::size_t j, int, GradientWrite) {
    if (j == 2) throw std::runtime_error("part 2 failed");
    return true;
  };
  EXPECT_THROW(executor.run(64, no_chunk, throwing, &gradients), std::runtime_error);
  auto non_finite = [&](std::size_t j, int, GradientWrite) {
    gradients(static_cast<Index>(j)) = j == 5 ? std::numeric_limits<double>::infinity() : 1.0;
    return true;
  };
  executor.run(64, no_chunk, non_finite, &gradients);
  EXPECT_FALSE(executor.gradients_finite());
  // Each part is checked by the thread that finished it, on one thread too,
  // and a finite run afterwards is seen as finite again.
  auto finite = [&](std::size_t j, int, GradientWrite) {
    gradients(static_cast<Index>(j)) = 1.0;
    return true;
  };
  executor.run(64, no_chunk, finite, &gradients);
  EXPECT_TRUE(executor.gradients_finite());
  executor.set_threads(1);
  executor.run(64, no_chunk, non_finite, &gradients);
  EXPECT_FALSE(executor.gradients_finite());
  executor.run(64, no_chunk, finite, &gradients);
  EXPECT_TRUE(executor.gradients_finite());
}

/// The chunks run_balanced() gives a batch whose samples cost `costs`.
std::vector<Index> balanced_chunks(int threads, const std::vector<double>& costs) {
  ExecutorT<float> executor;
  executor.set_threads(threads);
  const Index n = static_cast<Index>(costs.size());
  std::vector<Index> starts(static_cast<std::size_t>(executor.chunk_count(n)) + 1, -1);
  executor.run_balanced(
      n, [&](Index j) { return costs[static_cast<std::size_t>(j)]; },
      [&](int c, Index begin, Index end) {
        starts[static_cast<std::size_t>(c)] = begin;
        if (end == n) starts.back() = n;
      },
      [](std::size_t, int, GradientWrite) { return true; }, nullptr);
  for (int c = 0; c + 1 < static_cast<int>(starts.size()); ++c)
    EXPECT_EQ(executor.chunk_start(c), starts[static_cast<std::size_t>(c)]);
  return starts;
}

TEST(Executor, BalancedChunksShareTheCostNotTheSamples) {
  // M2's batch: 32 labelled images first (one decoder column each), then 96
  // unlabelled ones (ten each): 32 + 46 * 10 = 492 against 50 * 10 = 500.
  std::vector<double> m2(128, 10.0);
  for (int j = 0; j < 32; ++j) m2[static_cast<std::size_t>(j)] = 1.0;
  EXPECT_EQ(balanced_chunks(2, m2), (std::vector<Index>{0, 78, 128}));
  // Unit costs give run()'s chunks; so do costs that sum to nothing.
  for (int threads : {2, 3}) {
    ExecutorT<float> executor;
    executor.set_threads(threads);
    std::vector<Index> equal;
    for (int c = 0; c <= threads; ++c) equal.push_back(executor.chunk_begin(100, c, threads));
    EXPECT_EQ(balanced_chunks(threads, std::vector<double>(100, 1.0)), equal);
    EXPECT_EQ(balanced_chunks(threads, std::vector<double>(100, 0.0)), equal);
  }
  // One sample holding all the cost still leaves every chunk a sample.
  std::vector<double> lopsided(48, 0.0);
  lopsided[0] = 1.0;
  EXPECT_EQ(balanced_chunks(3, lopsided), (std::vector<Index>{0, 1, 2, 48}));
  lopsided[0] = 0.0;
  lopsided[47] = 1.0;
  EXPECT_EQ(balanced_chunks(3, lopsided), (std::vector<Index>{0, 46, 47, 48}));
}

/// A rank of three (the middle one unless told), with no transport: what
/// the executor asks of the group, recorded. What arrives from the previous
/// rank is 100 in every value.
class RecordingGroup final : public RankGroup {
 public:
  explicit RecordingGroup(int rank = 1) : rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return 3; }
  void sum_in_rank_order(float*, std::size_t) override {}
  void sum_in_rank_order(double*, std::size_t) override {}
  void receive_from_previous(float*, std::size_t, int) override {}
  void receive_from_previous(double* values, std::size_t count, int tag) override {
    std::fill(values, values + count, 100.0);
    const std::lock_guard<std::mutex> lock(mutex);  // the executor's threads call it
    received.push_back(tag);
  }
  void send_to_next(const float*, std::size_t, int) override {}
  void send_to_next(const double* values, std::size_t, int tag) override {
    const std::lock_guard<std::mutex> lock(mutex);
    sent.push_back({tag, values[0]});
  }
  void send_to_previous(const float*, std::size_t, int) override {}
  void send_to_previous(const double* values, std::size_t, int tag) override {
    sent_back.push_back({tag, values[0]});
  }
  /// The finished sum is 1000 in every value, and the gradient finite.
  void start_receive_from_next(float*, std::size_t, int) override {}
  void start_receive_from_next(double* values, std::size_t count, int tag) override {
    std::fill(values, values + count, tag == 3 ? 1.0 : 1000.0);
    started_back.push_back(tag);
  }
  void finish_receive_from_next(int tag) override { finished_back.push_back(tag); }
  void finish_sends() override { ++finished; }
  int max_tag() const override { return 32767; }
  void broadcast_from_first(float*, std::size_t) override {}
  void broadcast_from_first(double*, std::size_t) override {}
  void broadcast_from_first(std::string&) override {}
  void check_same_on_every_rank(const std::string&, const std::string&) override {}

  std::mutex mutex;
  std::vector<int> received;
  std::vector<std::pair<int, double>> sent;
  std::vector<std::pair<int, double>> sent_back;
  std::vector<int> started_back, finished_back;
  int finished = 0;

 private:
  int rank_;
};

TEST(Executor, ARankRunsItsOwnChunksAndAddsThemOntoThePreviousRanksSum) {
  RecordingGroup group;
  ExecutorT<double> executor;
  executor.set_threads(2);
  executor.set_rank_group(&group);
  const Index n = 200;
  ASSERT_EQ(executor.chunk_count(n), 6);  // 3 ranks x 2 threads
  for (int c = 0; c < 6; ++c) EXPECT_EQ(executor.runs_chunk(c), c == 2 || c == 3) << c;
  const int part_count = 3;
  executor.set_parts(parts_of_one_scalar(part_count));
  std::vector<int> chunks_run;
  std::mutex mutex;
  Vector<double> gradients = Vector<double>::Zero(part_count);
  executor.run(
      n,
      [&](int c, Index, Index) {
        const std::lock_guard<std::mutex> lock(mutex);
        chunks_run.push_back(c);
      },
      [&](std::size_t j, int c, GradientWrite write) {
        EXPECT_EQ(write, GradientWrite::Add);  // onto the previous ranks' sum
        gradients[static_cast<Index>(j)] += c;
        return true;
      },
      &gradients);
  std::sort(chunks_run.begin(), chunks_run.end());
  EXPECT_EQ(chunks_run, (std::vector<int>{2, 3}));
  EXPECT_EQ(group.received.size(), 3u);
  ASSERT_EQ(group.sent.size(), 3u);
  for (const auto& [tag, first_value] : group.sent) EXPECT_EQ(first_value, 100.0 + 2 + 3) << tag;
  EXPECT_EQ(group.finished, 1);
  // The way back: every part, largest first (part 2, then 0 and 1 of equal
  // cost), then whether the gradient is finite (tag 3), received from the
  // next rank and passed on to the previous one.
  EXPECT_EQ(group.started_back, (std::vector<int>{2, 0, 1, 3}));
  EXPECT_EQ(group.finished_back, (std::vector<int>{2, 0, 1, 3}));
  EXPECT_EQ(group.sent_back,
            (std::vector<std::pair<int, double>>{{2, 1000.0}, {0, 1000.0}, {1, 1000.0}, {3, 1.0}}));
  EXPECT_EQ(gradients, Vector<double>::Constant(part_count, 1000.0));
  EXPECT_TRUE(executor.gradients_finite());
}

TEST(Executor, TheLastRankChecksEachFinishedPartAndTellsTheOthers) {
  for (bool poisoned : {false, true}) {
    RecordingGroup group(2);  // the last of three
    ExecutorT<double> executor;
    executor.set_threads(2);
    executor.set_rank_group(&group);
    const int part_count = 3;
    executor.set_parts(parts_of_one_scalar(part_count));
    Vector<double> gradients = Vector<double>::Zero(part_count);
    executor.run(
        200, [](int, Index, Index) {},
        [&](std::size_t j, int c, GradientWrite) {
          gradients[static_cast<Index>(j)] +=
              poisoned && j == 1 && c == 5 ? std::numeric_limits<double>::infinity() : 1.0;
          return true;
        },
        &gradients);
    // Every finished part goes back, then the flag (tag 3): 0 when any part
    // is not finite.
    ASSERT_EQ(group.sent_back.size(), 4u);
    EXPECT_EQ(group.sent_back.back(), (std::pair<int, double>{3, poisoned ? 0.0 : 1.0}));
    EXPECT_EQ(executor.gradients_finite(), !poisoned);
  }
}

TEST(Executor, ARankRunsItsOwnCostBalancedChunksAtOneProcesssBounds) {
  // M2's batch: 50 labelled images first, then 150 unlabelled ones.
  const Index n = 200;
  std::vector<double> costs(static_cast<std::size_t>(n), 10.5);
  for (std::size_t j = 0; j < 50; ++j) costs[j] = 1.5;
  // One process with 6 threads, against the middle rank of 3 with 2 each.
  const std::vector<Index> one_process = balanced_chunks(6, costs);
  ASSERT_EQ(one_process.size(), 7u);
  RecordingGroup group;
  ExecutorT<double> executor;
  executor.set_threads(2);
  executor.set_rank_group(&group);
  const int part_count = 3;
  executor.set_parts(parts_of_one_scalar(part_count));
  std::vector<std::vector<Index>> chunks_run;
  std::mutex mutex;
  Vector<double> gradients = Vector<double>::Zero(part_count);
  executor.run_balanced(
      n, [&](Index j) { return costs[static_cast<std::size_t>(j)]; },
      [&](int c, Index begin, Index end) {
        const std::lock_guard<std::mutex> lock(mutex);
        chunks_run.push_back({c, begin, end});
      },
      [&](std::size_t, int, GradientWrite write) {
        EXPECT_EQ(write, GradientWrite::Add);  // onto the previous ranks' sum
        return true;
      },
      &gradients);
  std::sort(chunks_run.begin(), chunks_run.end());
  EXPECT_EQ(chunks_run, (std::vector<std::vector<Index>>{{2, one_process[2], one_process[3]},
                                                         {3, one_process[3], one_process[4]}}));
  for (int c = 0; c < 6; ++c)
    EXPECT_EQ(executor.chunk_start(c), one_process[static_cast<std::size_t>(c)]) << c;
  // Not run()'s equal chunks: the bounds follow the costs.
  EXPECT_NE(one_process[3], executor.chunk_begin(n, 3, 6));
  // The chain, as run() takes it: every part from the previous rank, on to
  // the next, and the finished gradient back.
  EXPECT_EQ(group.received.size(), 3u);
  EXPECT_EQ(group.sent.size(), 3u);
  EXPECT_EQ(group.finished, 1);
  EXPECT_EQ(gradients, Vector<double>::Constant(part_count, 1000.0));
}

}  // namespace
}  // namespace scvae
