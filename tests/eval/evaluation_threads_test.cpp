// The evaluators on the threads of a pool: every batch computed once, in
// contiguous blocks, each from the noise one thread would give it, and the
// results (IWAE, accuracies, regression errors) with the bits of one thread.

#include "scvae/eval/evaluation_threads.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "../test_support.hpp"
#include "eval_support.hpp"
#include "scvae/eval/accuracy.hpp"
#include "scvae/eval/evaluation_progress_line.hpp"
#include "scvae/eval/iwae.hpp"
#include "scvae/eval/predictive_accuracy.hpp"
#include "scvae/eval/regression.hpp"
#include "shards_test_rank_group.hpp"

namespace scvae {
namespace {
using namespace eval_testing;

// Batch b takes b + 1 numbers from the stream; compute records the first.
void take(Index b, Rng& rng) {
  for (Index i = 0; i <= b; ++i) rng.next_u64();
}

// What one thread in one process sees: the first number of each batch, and
// the stream's next number after the last batch.
std::vector<std::uint64_t> sequential_firsts(Index batches, std::uint64_t seed,
                                             std::uint64_t& next_after) {
  Rng rng(seed);
  std::vector<std::uint64_t> firsts;
  for (Index b = 0; b < batches; ++b) {
    Rng copy = rng;
    firsts.push_back(copy.next_u64());
    take(b, rng);
  }
  next_after = rng.next_u64();
  return firsts;
}

TEST(EvaluationThreads, EachBatchRunsOnceInBlocksFromTheNoiseOneThreadGivesIt) {
  for (int threads = 1; threads <= 4; ++threads) {
    ThreadPool pool(threads);
    for (int ranks = 1; ranks <= 3; ++ranks) {
      for (Index batches = 1; batches <= 9; ++batches) {
        std::uint64_t expected_next = 0;
        const std::vector<std::uint64_t> expected = sequential_firsts(batches, 11, expected_next);
        std::vector<std::uint64_t> firsts(static_cast<std::size_t>(batches), 0);
        std::vector<int> runs(static_cast<std::size_t>(batches), 0);
        for (int rank = 0; rank < ranks; ++rank) {
          ShardsTestRankGroup group(rank, ranks);
          const EvaluationShards shards(&group, batches);
          std::vector<Index> last(static_cast<std::size_t>(threads), -1);
          Rng rng(11);
          run_evaluation_batches(
              shards, batches, &pool, &rng,
              [&](int worker, Index b, Rng* stream) {
                const auto w = static_cast<std::size_t>(worker);
                // A worker's batches follow one another.
                EXPECT_TRUE(last[w] < 0 || last[w] == b - 1) << "batch " << b;
                last[w] = b;
                ++runs[static_cast<std::size_t>(b)];
                Rng copy = *stream;
                firsts[static_cast<std::size_t>(b)] = copy.next_u64();
                take(b, *stream);
              },
              [](int, Index b, Rng& stream) { take(b, stream); });
          EXPECT_EQ(rng.next_u64(), expected_next) << threads << " threads, rank " << rank << " of "
                                                   << ranks << ", " << batches << " batches";
        }
        for (Index b = 0; b < batches; ++b) {
          EXPECT_EQ(runs[static_cast<std::size_t>(b)], 1) << "batch " << b;
          EXPECT_EQ(firsts[static_cast<std::size_t>(b)], expected[static_cast<std::size_t>(b)])
              << threads << " threads, " << ranks << " ranks, batch " << b;
        }
      }
    }
  }
}

TEST(EvaluationThreads, TheEarliestBatchsErrorIsTheOneRethrown) {
  ThreadPool pool(3);
  const EvaluationShards shards(nullptr, 9);
  const std::string message = testing::thrown_message<std::runtime_error>([&] {
    run_evaluation_batches(
        shards, 9, &pool, nullptr,
        [](int, Index b, Rng*) {
          if (b == 2 || b == 4 || b == 8) throw std::runtime_error("batch " + std::to_string(b));
        },
        [](int, Index, Rng&) {});
  });
  EXPECT_EQ(message, "batch 2");
}

TEST(EvaluationThreads, ProgressHearsOfEachBatchOnceInOrderOfFinishing) {
  for (int threads = 1; threads <= 3; ++threads) {
    ThreadPool pool(threads);
    for (int ranks = 1; ranks <= 2; ++ranks) {
      ShardsTestRankGroup group(ranks - 1, ranks);  // the last rank's share
      const EvaluationShards shards(&group, 7);
      const Index own = shards.end() - shards.first();
      std::vector<Index> heard;
      EvaluationOptions options(&pool);
      options.progress = [&](Index done, Index total) {
        EXPECT_EQ(total, own);
        heard.push_back(done);
      };
      run_evaluation_batches(
          shards, 7, options, nullptr, [](int, Index, Rng*) {}, [](int, Index, Rng&) {});
      ASSERT_EQ(static_cast<Index>(heard.size()), own) << threads << " threads";
      for (Index i = 0; i < own; ++i) EXPECT_EQ(heard[static_cast<std::size_t>(i)], i + 1);
    }
  }
  // What it throws ends the evaluation, as a batch's error does.
  ThreadPool pool(2);
  EvaluationOptions stopping(&pool);
  stopping.progress = [](Index done, Index) {
    if (done == 3) throw std::runtime_error("stopped at 3");
  };
  EXPECT_EQ(testing::thrown_message<std::runtime_error>([&] {
              run_evaluation_batches(
                  EvaluationShards(nullptr, 6), 6, stopping, nullptr, [](int, Index, Rng*) {},
                  [](int, Index, Rng&) {});
            }),
            "stopped at 3");
}

TEST(EvaluationProgressLine, DrawsALiveLineOnATerminalAndOneLineInALog) {
  std::ostringstream log;
  EvaluationProgressLine quiet("IWAE", log, EvaluationProgressLine::Mode::Lines);
  for (Index done = 1; done <= 4; ++done) quiet(done, 4);
  const std::string logged = log.str();
  EXPECT_EQ(logged.rfind("IWAE: 4 batches in ", 0), 0u) << logged;
  EXPECT_EQ(logged.find('\r'), std::string::npos);
  EXPECT_EQ(std::count(logged.begin(), logged.end(), '\n'), 1);

  std::ostringstream terminal;
  EvaluationProgressLine live("IWAE", terminal, EvaluationProgressLine::Mode::Live);
  live(1, 4);
  live(2, 4);  // within 100 ms of the first: not drawn
  live(4, 4);
  const std::string text = terminal.str();
  EXPECT_NE(text.find("\r\033[KIWAE [======                  ] 1/4 batches  ETA "),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("2/4"), std::string::npos) << text;
  EXPECT_NE(text.find("\r\033[KIWAE: 4 batches in "), std::string::npos) << text;
  EXPECT_EQ(text.back(), '\n');
}

TEST(EvaluationProgressLine, EndsALiveLineItsEvaluationLeftOpen) {
  std::ostringstream terminal;
  {
    EvaluationProgress progress =
        EvaluationProgressLine("IWAE", terminal, EvaluationProgressLine::Mode::Live);
    EvaluationProgress copy = progress;  // options are copied: one line
    copy(1, 4);                          // then the evaluation throws
    EXPECT_NE(terminal.str().back(), '\n') << terminal.str();
  }
  const std::string ended = terminal.str();
  EXPECT_EQ(ended.back(), '\n');
  EXPECT_EQ(std::count(ended.begin(), ended.end(), '\n'), 1) << ended;

  std::ostringstream finished;
  {
    EvaluationProgressLine live("IWAE", finished, EvaluationProgressLine::Mode::Live);
    live(1, 2);
    live(2, 2);
  }
  const std::string text = finished.str();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;  // no second newline
}

TEST(EvaluationThreads, AnEvaluatorTellsItsProgress) {
  const Dataset data = make_data();
  const ImageLabelSource<double> source(data, labelled_flags(data.size()));
  const SCVAET<double> model(image_label_spec(), 3);
  ThreadPool pool(2);
  EvaluationOptions options(&pool);
  Index calls = 0;
  options.progress = [&](Index, Index total) {
    EXPECT_EQ(total, 4);  // 37 samples in batches of 10
    ++calls;
  };
  Rng rng(2);
  evaluate_iwae(model, source, 3, 10, rng, {}, options);
  EXPECT_EQ(calls, 4);
  evaluate_accuracy(model, 1, source, 10, options);
  EXPECT_EQ(calls, 8);
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

TEST(EvaluationThreads, IwaeHasTheBitsOfOneThreadAndLeavesTheSameStream) {
  const Dataset data = make_data();
  const ImageLabelSource<double> source(data, labelled_flags(data.size()));
  const SCVAET<double> model(image_label_spec(), 3);
  Rng one(21);
  const IwaeResult expected = evaluate_iwae(model, source, 5, 10, one);
  for (int threads = 1; threads <= 4; ++threads) {
    ThreadPool pool(threads);
    Rng rng(21);
    const IwaeResult result = evaluate_iwae(model, source, 5, 10, rng, {}, &pool);
    EXPECT_TRUE(same_bits(result.nll, expected.nll)) << threads << " threads";
    EXPECT_TRUE(same_bits(result.elbo_loss, expected.elbo_loss)) << threads << " threads";
    Rng after = one;
    EXPECT_EQ(rng.next_u64(), after.next_u64()) << threads << " threads";
  }
}

TEST(EvaluationThreads, AccuraciesCountAsOneThreadDoes) {
  const Dataset data = make_data(9, 53);
  const ImageLabelSource<double> source(data, labelled_flags(data.size()));
  const SCVAET<double> model(image_label_spec(), 4);
  const AccuracyResult expected = evaluate_accuracy(model, 1, source, 6);
  Rng one(8);
  const double expected_predictive = predictive_accuracy(model, 1, data, 3, one, 7);
  for (int threads = 2; threads <= 4; ++threads) {
    ThreadPool pool(threads);
    const AccuracyResult result = evaluate_accuracy(model, 1, source, 6, &pool);
    EXPECT_EQ(result.correct, expected.correct) << threads << " threads";
    EXPECT_EQ(result.total, expected.total) << threads << " threads";
    Rng rng(8);
    EXPECT_TRUE(
        same_bits(predictive_accuracy(model, 1, data, 3, rng, 7, &pool), expected_predictive))
        << threads << " threads";
    Rng after = one;
    EXPECT_EQ(rng.next_u64(), after.next_u64()) << threads << " threads";
  }
}

TEST(EvaluationThreads, RegressionErrorsAddUpAsOnOneThread) {
  const Dataset data = make_data(13, 41);
  const ImageLabelSource<double> source(data, labelled_flags(data.size()));
  ModelSpec spec = image_label_spec();
  spec.tasks[0].likelihood = LikelihoodSpec::gaussian(0.1);
  const SCVAET<double> model(spec, 5);
  const RegressionResult expected = evaluate_regression(model, 0, source, 8);
  for (int threads = 2; threads <= 4; ++threads) {
    ThreadPool pool(threads);
    const RegressionResult result = evaluate_regression(model, 0, source, 8, &pool);
    EXPECT_TRUE(same_bits(result.rmse, expected.rmse)) << threads << " threads";
    EXPECT_TRUE(same_bits(result.mae, expected.mae)) << threads << " threads";
    EXPECT_EQ(result.values, expected.values);
  }
}

TEST(EvaluationThreads, PredictiveAccuracyRejectsABatchSizeBelowOne) {
  const Dataset data = make_data();
  const SCVAET<double> model(image_label_spec(), 3);
  Rng rng(1);
  EXPECT_NE(testing::thrown_message<ArgumentError>([&] {
              predictive_accuracy(model, 1, data, 2, rng, 0);
            }).find("batch size: expected at least 1, got 0"),
            std::string::npos);
}

}  // namespace
}  // namespace scvae
