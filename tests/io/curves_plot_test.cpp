// The learning-curves plot (io/curves_plot.hpp): read back, each series'
// line must be where its values put it, gaps where values are missing.

#include "scvae/io/curves_plot.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "../test_support.hpp"
#include "decoded_png.hpp"

namespace scvae {
namespace {

using testing::DecodedPng;
using testing::TempDir;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(TickStep, IsOneTwoOrFiveTimesAPowerOfTen) {
  EXPECT_DOUBLE_EQ(detail::tick_step(0, 10, 6, false), 2.0);
  EXPECT_DOUBLE_EQ(detail::tick_step(0.3, 0.36, 6, false), 0.01);
  EXPECT_DOUBLE_EQ(detail::tick_step(1, 3, 8, true), 1.0);  // epochs: never below 1
  EXPECT_DOUBLE_EQ(detail::tick_step(1, 100, 8, true), 20.0);
  EXPECT_EQ(detail::tick_label(0.35, 0.05), "0.35");
  EXPECT_EQ(detail::tick_label(-1e-17, 0.1), "0.0");
  EXPECT_EQ(detail::tick_label(250, 50), "250");
}

TEST(FittedName, IsCutToTheWidthWithATilde) {
  const std::string name = "validation_class_accuracy";
  const std::string cut = detail::fitted(name, 100, 2);
  EXPECT_LE(detail::Canvas::text_width(cut, 2), 100);
  EXPECT_EQ(cut.back(), '~');
  EXPECT_EQ(name.compare(0, cut.size() - 1, cut, 0, cut.size() - 1), 0);
  EXPECT_EQ(detail::fitted(name, 1000, 2), name);
}

TEST(CurvesPlot, EachSeriesIsDrawnWhereItsValuesPutIt) {
  const TempDir dir;
  const std::string path = (dir.path / "curves.png").string();
  const std::vector<double> epochs{1, 2, 3, 4, 5};
  const std::vector<CurvePanel> panels{
      {"loss", {{"train_loss", {300, 250, 220, 205, 200}}, {"test_loss", {310, 270, 240, 236, 235}}}},
      {"accuracy", {{"test_accuracy", {0.5, 0.7, 0.8, 0.85, 0.9}}}}};
  write_curves_plot(path, epochs, panels);
  const DecodedPng png(path);
  ASSERT_TRUE(png.ok());
  EXPECT_EQ(png.width, 900);
  EXPECT_EQ(png.height, 600);  // two panels

  const std::vector<detail::PlotFrame> frames = detail::curves_frames(epochs, panels);
  ASSERT_EQ(frames.size(), 2u);
  for (std::size_t p = 0; p < panels.size(); ++p) {
    const detail::PlotFrame& f = frames[p];
    // Every value inside the y range, which starts and ends on a tick.
    for (const CurveSeries& s : panels[p].series)
      for (const double v : s.values) {
        EXPECT_GE(v, f.y_low);
        EXPECT_LE(v, f.y_high);
      }
    for (std::size_t s = 0; s < panels[p].series.size(); ++s) {
      const auto colour = detail::class_colour(static_cast<Index>(s));
      const std::vector<double>& v = panels[p].series[s].values;
      for (std::size_t e = 0; e < epochs.size(); ++e) {
        EXPECT_TRUE(png.near(f.x_pixel(epochs[e]), f.y_pixel(v[e]), 1, colour))
            << "panel " << p << " series " << s << " epoch " << epochs[e];
        if (e + 1 == epochs.size()) continue;
        // Half way along the segment to the next epoch.
        const int x = (f.x_pixel(epochs[e]) + f.x_pixel(epochs[e + 1])) / 2;
        const int y = (f.y_pixel(v[e]) + f.y_pixel(v[e + 1])) / 2;
        EXPECT_TRUE(png.near(x, y, 2, colour))
            << "panel " << p << " series " << s << " after epoch " << epochs[e];
      }
      // The series' colour is nowhere else on the panel's left or above it.
      const int top = static_cast<int>(p) * 300;
      EXPECT_EQ(png.count(0, top, f.left, top + 300, colour), 0);
      // Its legend swatch beside the plot.
      EXPECT_GT(png.count(f.right + 1, f.top, png.width, f.bottom, colour), 40);
    }
    // A falling loss: the training line is lower on the picture (larger y)
    // at the last epoch than at the first.
    if (p == 0) {
      EXPECT_GT(f.y_pixel(200), f.y_pixel(300));
    }
  }
  // Tick labels and titles in ink, left of and above the plot areas.
  EXPECT_GT(png.count(0, 0, frames[0].left, 300, detail::kInk), 100);
  EXPECT_GT(png.count(0, 300, frames[1].left, 600, detail::kInk), 100);
}

TEST(CurvesPlot, MissingValuesLeaveAGapAndInfinitiesAreSkipped) {
  const TempDir dir;
  const std::string path = (dir.path / "gaps.png").string();
  const std::vector<double> epochs{1, 2, 3, 4};
  const std::vector<CurvePanel> panels{{"loss", {{"a", {1.0, kNaN, 3.0, kInf}}, {"b", {kNaN, kNaN, kNaN, kNaN}}}}};
  write_curves_plot(path, epochs, panels);
  const DecodedPng png(path);
  ASSERT_TRUE(png.ok());
  const detail::PlotFrame f = detail::curves_frames(epochs, panels)[0];
  const auto colour = detail::class_colour(0);
  EXPECT_TRUE(png.near(f.x_pixel(1), f.y_pixel(1.0), 1, colour));
  EXPECT_TRUE(png.near(f.x_pixel(3), f.y_pixel(3.0), 1, colour));
  // No line from epoch 1 to epoch 3 across the missing epoch 2, none to
  // the infinite epoch 4: the columns between the dots hold no line.
  const int mid_12 = (f.x_pixel(1) + f.x_pixel(2)) / 2, mid_34 = (f.x_pixel(3) + f.x_pixel(4)) / 2;
  EXPECT_EQ(png.count(mid_12, f.top, mid_12 + 1, f.bottom, colour), 0);
  EXPECT_EQ(png.count(mid_34, f.top, mid_34 + 1, f.bottom, colour), 0);
  // The range comes from the finite values alone.
  EXPECT_LE(f.y_low, 1.0);
  EXPECT_GE(f.y_high, 3.0);
  EXPECT_LT(f.y_high, 10.0);
}

TEST(CurvesPlot, ASingleEpochIsADotInTheMiddle) {
  const TempDir dir;
  const std::string path = (dir.path / "one.png").string();
  const std::vector<CurvePanel> panels{{"loss", {{"train_loss", {42.0}}}}};
  write_curves_plot(path, {1}, panels);
  const DecodedPng png(path);
  ASSERT_TRUE(png.ok());
  EXPECT_EQ(png.height, 300);
  const detail::PlotFrame f = detail::curves_frames({1}, panels)[0];
  EXPECT_NEAR(f.x_pixel(1), (f.left + f.right) / 2, 1);
  EXPECT_NEAR(f.y_pixel(42.0), (f.top + f.bottom) / 2, 1);
  EXPECT_TRUE(png.near(f.x_pixel(1), f.y_pixel(42.0), 1, detail::class_colour(0)));
  // Only values nothing finite: still a picture.
  write_curves_plot(path, {1, 2}, {{"loss", {{"x", {kNaN, -kInf}}}}});
  EXPECT_TRUE(DecodedPng(path).ok());
  write_curves_plot(path, {1, 2}, {{"loss", {{"huge", {-1e308, 1e308}}}}});
  EXPECT_TRUE(DecodedPng(path).ok());
}

TEST(CurvesPlot, BadArgumentsAndPathsAreErrorsNamingThem) {
  const TempDir dir;
  const std::string missing = (dir.path / "no_such_dir" / "curves.png").string();
  try {
    write_curves_plot(missing, {1}, {{"loss", {{"x", {1.0}}}}});
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
  }
  const std::string path = (dir.path / "c.png").string();
  EXPECT_THROW(write_curves_plot(path, {1, 2}, {{"loss", {{"x", {1.0}}}}}), ShapeError);
  EXPECT_THROW(write_curves_plot(path, {}, {{"loss", {}}}), ArgumentError);
  EXPECT_THROW(write_curves_plot(path, {1}, {}), ArgumentError);
  EXPECT_THROW(write_curves_plot(path, {kNaN}, {{"loss", {{"x", {1.0}}}}}), ArgumentError);
  EXPECT_FALSE(std::filesystem::exists(path));
}

}  // namespace
}  // namespace scvae
