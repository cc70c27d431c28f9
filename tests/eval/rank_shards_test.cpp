// EvaluationShards without MPI: which batches each rank computes (every
// batch on exactly one rank, in contiguous blocks), and that a model in one
// process, or a group of one rank, is not split. The split evaluations
// themselves run under mpirun in tests/distributed/distributed_evaluation_test.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "scvae/eval/rank_shards.hpp"
#include "scvae/model/scvae.hpp"
#include "shards_test_rank_group.hpp"

namespace scvae {
namespace {
using eval_testing::ShardsTestRankGroup;

TEST(EvaluationShards, EveryBatchRunsOnExactlyOneRankInContiguousBlocks) {
  for (int ranks = 2; ranks <= 5; ++ranks) {
    for (Index batches = 1; batches <= 23; ++batches) {
      std::vector<int> owners(static_cast<std::size_t>(batches), 0);
      Index previous_end = 0;
      for (int r = 0; r < ranks; ++r) {
        ShardsTestRankGroup group(r, ranks);
        const EvaluationShards shards(&group, batches);
        EXPECT_TRUE(shards.split());
        Index first = -1, last = -1;
        for (Index b = 0; b < batches; ++b) {
          if (!shards.runs(b)) continue;
          ++owners[static_cast<std::size_t>(b)];
          if (first < 0) first = b;
          EXPECT_TRUE(last < 0 || b == last + 1) << "rank " << r << " of " << ranks;
          last = b;
        }
        // Rank r's block starts where rank r - 1's ended.
        if (first >= 0) {
          EXPECT_EQ(first, previous_end) << "rank " << r << " of " << ranks;
          previous_end = last + 1;
        }
      }
      EXPECT_EQ(previous_end, batches);
      for (Index b = 0; b < batches; ++b)
        EXPECT_EQ(owners[static_cast<std::size_t>(b)], 1) << "batch " << b << " of " << batches;
    }
  }
}

TEST(EvaluationShards, OneProcessOrOneRankRunsEveryBatchAndExchangesNothing) {
  ShardsTestRankGroup alone(0, 1);
  for (RankGroup* group : {static_cast<RankGroup*>(nullptr), static_cast<RankGroup*>(&alone)}) {
    const EvaluationShards shards(group, 7);
    EXPECT_FALSE(shards.split());
    for (Index b = 0; b < 7; ++b) EXPECT_TRUE(shards.runs(b));
    double value = 3.0;
    shards.gather(&value, 1);
    EXPECT_EQ(value, 3.0);
  }
  EXPECT_EQ(alone.sums, 0);
}

TEST(EvaluationShards, TheRankGroupIsTheModelsAndNoneForAModelWithout) {
  ModelSpec spec;
  spec.inputs = 4;
  spec.latent = 2;
  spec.tasks.push_back({"x", 4, {}, LikelihoodSpec::bernoulli()});
  SCVAE model(spec, 1);
  EXPECT_EQ(evaluation_rank_group(model), nullptr);
  ShardsTestRankGroup group(1, 2);
  model.set_rank_group(&group);
  EXPECT_EQ(evaluation_rank_group(model), &group);
  struct NoRankGroup {};
  EXPECT_EQ(evaluation_rank_group(NoRankGroup{}), nullptr);
  EXPECT_EQ(evaluation_batches(37, 10), 4);
  EXPECT_EQ(evaluation_batches(40, 10), 4);
}

}  // namespace
}  // namespace scvae
