#include "scvae/train/metrics_writer.hpp"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "../test_support.hpp"

namespace scvae {
namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("scvae_metrics_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

EpochReport report(Index epoch) {
  EpochReport r;
  r.epoch = epoch;
  r.epochs = 5;
  return r;
}

const std::string kThreeEpochs =
    "{\"epoch\": 1, \"x\": 1}\n{\"epoch\": 2, \"x\": 2}\n{\"baseline_accuracy\": 0.5}\n"
    "{\"epoch\": 3, \"x\": 3}\n";

TEST(MetricsLineEpoch, ReadsTheLeadingEpoch) {
  EXPECT_EQ(metrics_line_epoch("{\"epoch\": 12, \"a\": 1}"), 12);
  EXPECT_EQ(metrics_line_epoch("{\"baseline_accuracy\": 0.5}"), -1);
  EXPECT_EQ(metrics_line_epoch(""), -1);
}

TEST(TruncateMetrics, DropsEverythingFromTheFirstLaterEpochOn) {
  const std::string path = temp_path("truncate");
  write(path, kThreeEpochs);
  EXPECT_EQ(truncate_metrics(path, 1), 3);
  EXPECT_EQ(read(path), "{\"epoch\": 1, \"x\": 1}\n");
  write(path, kThreeEpochs);
  EXPECT_EQ(truncate_metrics(path, 2), 1);
  EXPECT_EQ(read(path),
            "{\"epoch\": 1, \"x\": 1}\n{\"epoch\": 2, \"x\": 2}\n"
            "{\"baseline_accuracy\": 0.5}\n");
  EXPECT_EQ(truncate_metrics(path, 7), 0);
  EXPECT_EQ(truncate_metrics(temp_path("absent"), 1), 0);
  std::filesystem::remove(path);
}

TEST(MetricsWriter, FreshRunKeepsTheOldFileUntilItsFirstLine) {
  const std::string path = temp_path("fresh");
  write(path, kThreeEpochs);
  MetricsWriter writer(path);
  writer.on_train_begin(0, 5);
  EXPECT_EQ(read(path), kThreeEpochs) << "nothing is truncated before the first epoch ends";
  EpochReport r = report(1);
  writer.on_epoch_end(r);
  writer.on_train_end();
  const std::string text = read(path);
  EXPECT_EQ(metrics_line_epoch(text), 1);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1);
  std::filesystem::remove(path);
}

TEST(MetricsWriter, ResumedRunCutsLinesAfterItsCheckpointAndAppends) {
  // A run killed after writing epoch 3's line but before its checkpoint:
  // the checkpoint holds 2 epochs, and epoch 3 is trained again.
  const std::string path = temp_path("resume");
  write(path, kThreeEpochs);
  MetricsWriter writer(path, /*append=*/true);
  writer.on_train_begin(2, 5);
  EpochReport r = report(3);
  writer.on_epoch_end(r);
  writer.on_train_end();
  const std::string text = read(path);
  EXPECT_EQ(text.find("\"x\": 3"), std::string::npos) << text;
  EXPECT_EQ(text.rfind("{\"epoch\": 3, \"train_seconds\""), text.find("{\"epoch\": 3")) << text;
  EXPECT_EQ(text.find("{\"epoch\": 1, \"x\": 1}\n{\"epoch\": 2, \"x\": 2}\n"), 0u) << text;
  std::filesystem::remove(path);
}

TEST(MetricsWriter, UnwritablePathFailsAtTrainBegin) {
  MetricsWriter writer("/nonexistent-dir/metrics.jsonl");
  EXPECT_THROW(writer.on_train_begin(0, 1), IoError);
}

}  // namespace
}  // namespace scvae
