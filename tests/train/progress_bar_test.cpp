#include "scvae/train/progress_bar.hpp"

#include <algorithm>
#include <sstream>
#include <string>

#include "../test_support.hpp"

namespace scvae {
namespace {

EpochReport epoch_report(Index epoch, Index epochs, double seconds) {
  EpochReport r;
  r.epoch = epoch;
  r.epochs = epochs;
  r.train_seconds = seconds;
  r.train_loss = 262.754;
  r.set("test_loss", 250.5);
  return r;
}

BatchReport batch_report(Index epoch, Index step) {
  BatchReport r;
  r.epoch = epoch;
  r.epochs = 3;
  r.step = step;
  r.steps = 2;
  r.samples = 100;
  r.samples_done = 50 * step;
  r.seconds = 0.01 * static_cast<double>(step);
  r.running_loss = 300.0;
  return r;
}

Index count(const std::string& text, char c) {
  return static_cast<Index>(std::count(text.begin(), text.end(), c));
}

TEST(FormatDuration, MillisecondsSecondsAndMinutes) {
  EXPECT_EQ(format_duration(0.0), "0 ms");
  EXPECT_EQ(format_duration(0.0042), "4 ms");
  EXPECT_EQ(format_duration(0.85), "850 ms");
  EXPECT_EQ(format_duration(2.346), "2.35 s");
  EXPECT_EQ(format_duration(59.0), "59.00 s");
  EXPECT_EQ(format_duration(61.0), "1:01");
  EXPECT_EQ(format_duration(-1.0), "0 ms");
}

TEST(FormatEpochSummary, NamesEpochTimeAndMetrics) {
  EXPECT_EQ(format_epoch_summary(epoch_report(2, 10, 0.0123)),
            "epoch 2/10  12 ms  train_loss 262.75  test_loss 250.50");
}

TEST(ProgressBar, LinesModePrintsOneLinePerEpochAndNothingPerBatch) {
  std::ostringstream out;
  {
    ProgressBar bar(out, ProgressBar::Mode::Lines);
    for (Index epoch = 1; epoch <= 3; ++epoch) {
      bar.on_batch_end(batch_report(epoch, 1));
      bar.on_batch_end(batch_report(epoch, 2));
      EpochReport r = epoch_report(epoch, 3, 0.5);
      bar.on_epoch_end(r);
    }
    bar.on_train_end();
  }
  EXPECT_EQ(count(out.str(), '\n'), 3);
  EXPECT_EQ(count(out.str(), '\r'), 0);
  EXPECT_NE(out.str().find("epoch 3/3  500 ms"), std::string::npos) << out.str();
}

TEST(ProgressBar, LiveModeRewritesOneLineAndEndsItOnce) {
  std::ostringstream out;
  {
    ProgressBar bar(out, ProgressBar::Mode::Live);
    for (Index epoch = 1; epoch <= 3; ++epoch) {
      bar.on_batch_end(batch_report(epoch, 2));
      EpochReport r = epoch_report(epoch, 3, 0.5);
      bar.on_epoch_end(r);
    }
    EXPECT_EQ(count(out.str(), '\n'), 0) << "no permanent line per epoch";
    bar.on_train_end();
  }
  const std::string text = out.str();
  EXPECT_EQ(count(text, '\n'), 1);
  EXPECT_EQ(text.back(), '\n');
  // The last thing drawn is the last epoch's summary.
  EXPECT_NE(text.rfind("\r\033[Kepoch 3/3  500 ms  train_loss"), std::string::npos) << text;
}

TEST(ProgressBar, LiveLineLeftOpenByAnErrorIsEndedByTheDestructor) {
  std::ostringstream out;
  {
    ProgressBar bar(out, ProgressBar::Mode::Live);
    bar.on_batch_end(batch_report(1, 2));
  }
  EXPECT_EQ(out.str().back(), '\n');
}

}  // namespace
}  // namespace scvae
