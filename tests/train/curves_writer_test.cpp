// CurvesWriter (train/curves_writer.hpp): the curves redrawn every epoch
// from the reports, a resumed run's earlier epochs from metrics.jsonl.

#include "scvae/train/curves_writer.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "../io/decoded_png.hpp"
#include "../test_support.hpp"

namespace scvae {
namespace {

using testing::DecodedPng;
using testing::TempDir;

EpochReport report(Index epoch, double train_loss) {
  EpochReport r;
  r.epoch = epoch;
  r.epochs = 5;
  r.train_loss = train_loss;
  return r;
}

std::vector<std::string> names(const CurvePanel& panel) {
  std::vector<std::string> result;
  for (const CurveSeries& s : panel.series) result.push_back(s.name);
  return result;
}

CurvesOptions every_epoch() {
  CurvesOptions options;
  options.min_seconds_between_drawings = 0.0;
  return options;
}

TEST(CurvesWriter, RedrawsLossesAndAccuraciesAfterEveryEpoch) {
  const TempDir dir;
  const std::string path = (dir.path / "curves.png").string();
  CurvesWriter writer(path, every_epoch());
  writer.on_train_begin(0, 3);
  EXPECT_FALSE(std::filesystem::exists(path));  // checked, not written, before an epoch
  EpochReport first = report(1, 200.0);
  first.set("test_loss", 210.0);
  first.set("test_loss_mean_z", 205.0);  // not a "_loss" name: not drawn
  writer.on_epoch_end(first);
  DecodedPng one(path);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one.height, 300);  // no accuracy yet: one panel

  EpochReport second = report(2, 150.0);
  second.set("test_loss", 170.0);
  second.set("test_accuracy", 0.8);
  writer.on_epoch_end(second);
  const std::vector<CurvePanel> panels = writer.panels();
  ASSERT_EQ(panels.size(), 2u);
  EXPECT_EQ(names(panels[0]), (std::vector<std::string>{"train_loss", "test_loss"}));
  EXPECT_EQ(panels[0].series[0].values, (std::vector<double>{200.0, 150.0}));
  EXPECT_EQ(panels[0].series[1].values, (std::vector<double>{210.0, 170.0}));
  EXPECT_EQ(names(panels[1]), (std::vector<std::string>{"test_accuracy"}));
  EXPECT_TRUE(std::isnan(panels[1].series[0].values[0]));  // epoch 1 had none
  EXPECT_EQ(panels[1].series[0].values[1], 0.8);
  const DecodedPng two(path);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two.height, 600);
  // The training loss where epoch 2 puts it.
  const detail::PlotFrame f = detail::curves_frames({1.0, 2.0}, panels)[0];
  EXPECT_TRUE(two.near(f.x_pixel(2.0), f.y_pixel(150.0), 1, detail::class_colour(0)));
}

// A drawing costs more than an epoch of a small table: by default epochs
// that end within a second of the last drawing wait for the next one, or
// for the end of training.
TEST(CurvesWriter, QuickEpochsAreDrawnLaterAndAllAtTheEnd) {
  const TempDir dir;
  const std::string path = (dir.path / "curves.png").string();
  CurvesOptions options;
  options.min_seconds_between_drawings = 3600.0;
  CurvesWriter writer(path, options);
  writer.on_train_begin(0, 3);
  EpochReport first = report(1, 200.0);
  writer.on_epoch_end(first);
  ASSERT_TRUE(DecodedPng(path).ok());  // the first epoch is drawn at once
  EpochReport second = report(2, 150.0);
  second.set("test_accuracy", 0.8);
  writer.on_epoch_end(second);
  EXPECT_EQ(DecodedPng(path).height, 300);  // not redrawn yet: no accuracy panel
  writer.on_train_end();
  EXPECT_EQ(DecodedPng(path).height, 600);  // epoch 2, with its accuracy
}

TEST(CurvesWriter, ChosenMetricsReplaceTheSuffixRule) {
  const TempDir dir;
  CurvesOptions options;
  options.loss_metrics = {"validation_loss"};
  options.accuracy_metrics = {"validation_label_accuracy"};
  CurvesWriter writer((dir.path / "c.png").string(), options);
  writer.on_train_begin(0, 1);
  EpochReport r = report(1, 3.0);
  r.set("test_loss", 4.0);
  r.set("validation_loss", 5.0);
  r.set("test_accuracy", 0.5);
  writer.on_epoch_end(r);
  const std::vector<CurvePanel> panels = writer.panels();
  EXPECT_EQ(names(panels[0]), (std::vector<std::string>{"train_loss", "validation_loss"}));
  ASSERT_EQ(panels.size(), 1u);  // the chosen accuracy has no value
}

TEST(CurvesWriter, AResumedRunDrawsTheEarlierEpochsFromTheMetricsFile) {
  const TempDir dir;
  const std::string metrics = (dir.path / "metrics.jsonl").string();
  std::ofstream(metrics) << "{\"epoch\": 1, \"train_seconds\": 1, \"train_loss\": 9, "
                            "\"test_loss\": 10, \"test_accuracy\": null}\n"
                            "{\"epoch\": 2, \"train_loss\": 8, \"test_loss\": 9.5}\n"
                            "{\"baseline_accuracy\": 0.5}\n"
                            "{\"epoch\": 3, \"train_loss\": 99, \"test_loss\": 99}\n";
  CurvesOptions options;
  options.earlier_metrics = metrics;
  CurvesWriter writer((dir.path / "c.png").string(), options);
  writer.on_train_begin(2, 4);  // resumes after epoch 2: epoch 3 is stale
  EpochReport r = report(3, 7.0);
  r.set("test_loss", 9.0);
  writer.on_epoch_end(r);
  const std::vector<CurvePanel> panels = writer.panels();
  ASSERT_EQ(panels.size(), 1u);  // test_accuracy was null
  EXPECT_EQ(panels[0].series[0].values, (std::vector<double>{9.0, 8.0, 7.0}));
  EXPECT_EQ(panels[0].series[1].values, (std::vector<double>{10.0, 9.5, 9.0}));
  // A fresh run ignores the file.
  CurvesWriter fresh((dir.path / "d.png").string(), options);
  fresh.on_train_begin(0, 1);
  fresh.on_epoch_end(r);
  EXPECT_EQ(fresh.panels()[0].series[0].values, (std::vector<double>{7.0}));
}

TEST(CurvesWriter, AnUnwritablePathFailsBeforeTrainingNamingIt) {
  const TempDir dir;
  const std::string path = (dir.path / "missing" / "curves.png").string();
  CurvesWriter writer(path);
  try {
    writer.on_train_begin(0, 1);
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST(CurvesWriter, WatchesARealTrainingRun) {
  const TempDir dir;
  const std::string path = (dir.path / "curves.png").string();
  const Dataset data = testing::make_images();
  AutoencoderSource<float> source(data);
  VAE vae(36, {16}, 2, 3);
  Adam adam(AdamOptions{3e-3});
  TrainerOptions options;
  options.epochs = 3;
  options.batch_size = 64;
  options.seed = 7;
  options.threads = 1;
  Trainer trainer(vae, adam, options);
  auto curves = std::make_unique<CurvesWriter>(path);
  const CurvesWriter* watcher = curves.get();
  trainer.add_callback(std::move(curves));
  const TrainResult result = trainer.fit(source, source);  // validation: the same images
  const std::vector<CurvePanel> panels = watcher->panels();
  ASSERT_EQ(panels.size(), 1u);
  EXPECT_EQ(names(panels[0]), (std::vector<std::string>{"train_loss", "validation_loss"}));
  for (std::size_t e = 0; e < 3; ++e)
    EXPECT_EQ(panels[0].series[0].values[e], result.history[e].train_loss);
  EXPECT_TRUE(DecodedPng(path).ok());
}

}  // namespace
}  // namespace scvae
