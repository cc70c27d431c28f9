// Same seed and thread count: bit-identical parameters, optimizer state,
// checkpoint files and metrics.jsonl (apart from the train_seconds timings).

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "../test_support.hpp"
#include "scvae/scvae.hpp"

namespace scvae {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

/// metrics.jsonl without the values of train_seconds (wall-clock timings).
std::string without_timings(const std::string& jsonl) {
  static const std::regex timing("\"train_seconds\": [^,}]*");
  return std::regex_replace(jsonl, timing, "\"train_seconds\": _");
}

struct TrainingRun {
  Vector<float> parameters;
  Vector<float> first_moment, second_moment;
  std::string metrics;     ///< without timings
  std::string checkpoint;  ///< the file's bytes
  std::vector<double> losses;
};

/// A short training with evaluation on held-out data, as the examples do.
TrainingRun train(const fs::path& dir, const std::string& name, std::uint64_t seed, int threads,
                  Precision precision = Precision::Fp32) {
  const Dataset train_data = testing::make_images(150, 5);
  const Dataset test_data = testing::make_images(40, 6);
  AutoencoderSource<float> source(train_data);
  AutoencoderSource<float> test_source(test_data);
  VAET<float> vae(36, {12}, 2, seed);
  Adam adam(AdamOptions{3e-3});
  TrainerOptions options;
  options.epochs = 3;
  options.batch_size = 32;  // the last batch is partial
  options.seed = seed;
  options.threads = threads;
  options.precision = precision;
  options.warmup_epochs = 2;
  Trainer trainer(vae, adam, options);
  trainer.add_callback(std::make_unique<EpochCallback>([&](EpochReport& r) {
    Rng rng(seed + 1000);
    r.set("test_loss", evaluate_loss(vae, test_source, 16, rng).total);
    return false;
  }));
  const fs::path metrics = dir / (name + ".jsonl");
  const fs::path checkpoint = dir / (name + ".scvae");
  trainer.add_callback(std::make_unique<MetricsWriter>(metrics.string()));
  trainer.add_callback(
      std::make_unique<CheckpointEveryEpoch<VAET<float>, Adam>>(checkpoint.string(), vae, adam));
  const TrainResult result = trainer.fit(source);
  TrainingRun run;
  run.parameters = vae.parameters();
  run.first_moment = adam.first_moment();
  run.second_moment = adam.second_moment();
  run.metrics = without_timings(read_text(metrics));
  run.checkpoint = read_text(checkpoint);
  for (const EpochReport& r : result.history) run.losses.push_back(r.train_loss);
  return run;
}

TEST(Determinism, SameSeedAndThreadsGiveBitIdenticalRuns) {
  testing::TempDir dir("scvae_determinism_test");
  for (const int threads : {1, 2}) {
    SCOPED_TRACE(std::to_string(threads) + " thread(s)");
    const TrainingRun a = train(dir.path, "a" + std::to_string(threads), 42, threads);
    const TrainingRun b = train(dir.path, "b" + std::to_string(threads), 42, threads);
    EXPECT_TRUE(testing::bit_identical(a.parameters, b.parameters));
    EXPECT_TRUE(testing::bit_identical(a.first_moment, b.first_moment));
    EXPECT_TRUE(testing::bit_identical(a.second_moment, b.second_moment));
    EXPECT_EQ(a.losses, b.losses);
    ASSERT_FALSE(a.metrics.empty());
    EXPECT_EQ(std::count(a.metrics.begin(), a.metrics.end(), '\n'), 3);
    EXPECT_NE(a.metrics.find("\"test_loss\": "), std::string::npos) << a.metrics;
    EXPECT_EQ(a.metrics, b.metrics);
    ASSERT_FALSE(a.checkpoint.empty());
    EXPECT_TRUE(a.checkpoint == b.checkpoint) << "checkpoint files differ";
  }
}

// The bf16 products sum in a fixed order whether the CPU has the instruction
// or not, so a seed, a thread count and the precision fix every bit.
TEST(Determinism, SameSeedThreadsAndBf16GiveBitIdenticalRuns) {
  testing::TempDir dir("scvae_determinism_test");
  const TrainingRun fp32 = train(dir.path, "fp32", 42, 1);
  for (const int threads : {1, 2}) {
    SCOPED_TRACE(std::to_string(threads) + " thread(s)");
    const std::string tag = std::to_string(threads);
    const TrainingRun a = train(dir.path, "bf16a" + tag, 42, threads, Precision::Bf16);
    const TrainingRun b = train(dir.path, "bf16b" + tag, 42, threads, Precision::Bf16);
    EXPECT_TRUE(testing::bit_identical(a.parameters, b.parameters));
    EXPECT_TRUE(testing::bit_identical(a.second_moment, b.second_moment));
    EXPECT_EQ(a.losses, b.losses);
    EXPECT_EQ(a.metrics, b.metrics);
    EXPECT_TRUE(a.checkpoint == b.checkpoint) << "checkpoint files differ";
    // The products did run in bf16.
    EXPECT_FALSE(testing::bit_identical(a.parameters, fp32.parameters));
  }
}

TEST(Determinism, AnotherSeedGivesAnotherRun) {
  // Guards the test above against comparing runs that ignore the seed.
  testing::TempDir dir("scvae_determinism_test");
  const TrainingRun a = train(dir.path, "a", 42, 1);
  const TrainingRun b = train(dir.path, "b", 43, 1);
  EXPECT_FALSE(testing::bit_identical(a.parameters, b.parameters));
  EXPECT_NE(a.metrics, b.metrics);
}

TEST(Determinism, TimingsAreTheOnlyPartRemoved) {
  EXPECT_EQ(without_timings("{\"epoch\": 1, \"train_seconds\": 0.0123, \"train_loss\": 5}\n"),
            "{\"epoch\": 1, \"train_seconds\": _, \"train_loss\": 5}\n");
}

}  // namespace
}  // namespace scvae
