#pragma once
// Learning curves: named series of one value per epoch as lines on panels
// stacked one above the other (e.g. losses above accuracies, whose scales
// differ), each panel with numbered axis ticks, grid lines and a legend. An
// RGB PNG drawn on the canvas of io/canvas.hpp and written atomically
// (io/png_file.hpp), so a run can redraw it every epoch while someone
// watches it.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "scvae/core/error.hpp"
#include "scvae/core/types.hpp"
#include "scvae/io/atomic_file.hpp"
#include "scvae/io/canvas.hpp"
#include "scvae/io/png_file.hpp"

namespace scvae {

/// One line: a value per epoch; NaN or infinity leaves a gap.
struct CurveSeries {
  std::string name;
  std::vector<double> values;
};

/// One panel of the plot: its title and the lines on its shared y axis.
struct CurvePanel {
  std::string title;
  std::vector<CurveSeries> series;
};

namespace detail {

/// Steps of 1, 2 or 5 times a power of ten, at most about `most` of them
/// over [low, high]; with `whole`, never below 1 (epochs).
inline double tick_step(double low, double high, int most, bool whole) {
  const double span = high - low;
  if (!(span > 0.0) || !std::isfinite(span)) return 1.0;
  const double rough = span / most;
  const double power = std::pow(10.0, std::floor(std::log10(rough)));
  double step = 10.0 * power;
  for (const double m : {1.0, 2.0, 5.0})
    if (m * power >= rough) {
      step = m * power;
      break;
    }
  return whole ? std::max(step, 1.0) : step;
}

/// A tick's label: as many decimals as the step needs, no "-0".
inline std::string tick_label(double value, double step) {
  char text[32];
  if (std::abs(value) < step * 1e-6) value = 0.0;
  const int decimals = static_cast<int>(std::max(0.0, -std::floor(std::log10(step) + 1e-9)));
  if (std::abs(value) >= 1e6 || decimals > 6)
    std::snprintf(text, sizeof text, "%.3g", value);
  else
    std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

/// Where one panel's plot area is on the canvas and which values it shows.
/// Values map into the area less an inset, so markers at the ends show.
struct PlotFrame {
  static constexpr int kInset = 6;
  int left = 0, top = 0, right = 0, bottom = 0;  ///< The plot area [left, right) x [top, bottom).
  double x_low = 0, x_high = 1, x_step = 1;
  double y_low = 0, y_high = 1, y_step = 1;

  int x_pixel(double x) const { return pixel(x, x_low, x_high, left + kInset, right - 1 - kInset); }
  int y_pixel(double y) const { return pixel(y, y_low, y_high, bottom - 1 - kInset, top + kInset); }

 private:
  static int pixel(double v, double low, double high, int at_low, int at_high) {
    double fraction = (v - low) / (high - low);
    if (!std::isfinite(fraction)) fraction = 0.5;  // a range wider than double: middle
    fraction = std::clamp(fraction, 0.0, 1.0);
    return static_cast<int>(std::lround(at_low + fraction * (at_high - at_low)));
  }
};

inline constexpr int kCurvesWidth = 900, kCurvesPanelHeight = 300;
inline constexpr int kCurvesLeft = 88, kCurvesRight = 572, kCurvesLegend = 588;
inline constexpr int kCurvesTitle = 32, kCurvesBelow = 50, kCurvesScale = 2;

/// The frames of `panels` over `epochs`: the x range the epochs' (one
/// more on each side for a single epoch), each panel's y range its finite
/// values' widened by 5% and rounded out to its ticks.
inline std::vector<PlotFrame> curves_frames(const std::vector<double>& epochs,
                                            const std::vector<CurvePanel>& panels) {
  double x_low = *std::min_element(epochs.begin(), epochs.end());
  double x_high = *std::max_element(epochs.begin(), epochs.end());
  if (x_high == x_low) {
    x_low -= 1.0;
    x_high += 1.0;
  }
  std::vector<PlotFrame> frames;
  for (std::size_t p = 0; p < panels.size(); ++p) {
    PlotFrame f;
    f.left = kCurvesLeft;
    f.right = kCurvesRight;
    f.top = static_cast<int>(p) * kCurvesPanelHeight + kCurvesTitle;
    f.bottom = static_cast<int>(p + 1) * kCurvesPanelHeight - kCurvesBelow;
    f.x_low = x_low;
    f.x_high = x_high;
    f.x_step = tick_step(x_low, x_high, 8, true);
    double low = std::numeric_limits<double>::infinity(), high = -low;
    for (const CurveSeries& s : panels[p].series)
      for (const double v : s.values)
        if (std::isfinite(v)) {
          low = std::min(low, v);
          high = std::max(high, v);
        }
    if (low > high) {  // nothing finite to show
      low = 0.0;
      high = 1.0;
    } else if (low == high) {
      const double pad = low == 0.0 ? 1.0 : 0.05 * std::abs(low);
      low -= pad;
      high += pad;
    } else {
      const double pad = 0.05 * (high - low);
      low -= pad;
      high += pad;
    }
    f.y_step = tick_step(low, high, 6, false);
    if (std::isfinite(high - low)) {
      low = std::floor(low / f.y_step) * f.y_step;
      high = std::ceil(high / f.y_step) * f.y_step;
    }
    f.y_low = low;
    f.y_high = high;
    frames.push_back(f);
  }
  return frames;
}

/// Ticks at the multiples of `step` in [low, high] (at most 50).
inline std::vector<double> tick_values(double low, double high, double step) {
  std::vector<double> ticks;
  if (!std::isfinite(high - low)) return ticks;
  for (double k = std::ceil(low / step - 1e-9); k * step <= high + step * 1e-9 && ticks.size() < 50;
       k += 1.0)
    ticks.push_back(k * step);
  return ticks;
}

inline void draw_axes(Canvas& canvas, const PlotFrame& f, const std::string& title) {
  const int label_height = 7 * kCurvesScale;
  canvas.text(f.left, f.top - kCurvesTitle + 8, title, kInk, kCurvesScale);
  for (const double y : tick_values(f.y_low, f.y_high, f.y_step)) {
    const int py = f.y_pixel(y);
    canvas.fill(f.left, py, f.right, py + 1, kGridGrey);
    canvas.fill(f.left - 5, py, f.left, py + 1, kInk);
    const std::string label = tick_label(y, f.y_step);
    canvas.text(f.left - 8 - Canvas::text_width(label, kCurvesScale), py - label_height / 2, label,
                kInk, kCurvesScale);
  }
  for (const double x : tick_values(f.x_low, f.x_high, f.x_step)) {
    const int px = f.x_pixel(x);
    canvas.fill(px, f.top, px + 1, f.bottom, kGridGrey);
    canvas.fill(px, f.bottom, px + 1, f.bottom + 5, kInk);
    const std::string label = tick_label(x, f.x_step);
    canvas.text(px - Canvas::text_width(label, kCurvesScale) / 2, f.bottom + 8, label, kInk,
                kCurvesScale);
  }
  canvas.frame(f.left, f.top, f.right, f.bottom, kFrameGrey);
  canvas.text((f.left + f.right - Canvas::text_width("epoch", kCurvesScale)) / 2, f.bottom + 28,
              "epoch", kInk, kCurvesScale);
}

}  // namespace detail

/// Writes `panels` (each series one value per entry of `epochs`) to `path`
/// as a PNG, 900 pixels wide and 300 high per panel: lines between
/// consecutive finite values, a dot at each, series j of a panel in colour
/// j (detail::class_colour), and beside each panel a legend of its series.
/// ArgumentError without epochs or panels, or for a non-finite epoch;
/// ShapeError when a series has not one value per epoch; IoError naming
/// the path when it cannot be written.
inline void write_curves_plot(const std::string& path, const std::vector<double>& epochs,
                              const std::vector<CurvePanel>& panels) {
  const std::string where = "write_curves_plot " + detail::quoted_path(path);
  if (epochs.empty() || panels.empty())
    throw ArgumentError(where + ": expected at least one epoch and one panel, got " +
                        std::to_string(epochs.size()) + " and " + std::to_string(panels.size()));
  for (const double e : epochs)
    if (!std::isfinite(e)) throw ArgumentError(where + ": an epoch is not finite");
  for (const CurvePanel& panel : panels)
    for (const CurveSeries& s : panel.series)
      if (s.values.size() != epochs.size())
        throw ShapeError(where + ": series '" + s.name + "' has " +
                         std::to_string(s.values.size()) + " values for " +
                         std::to_string(epochs.size()) + " epochs");
  if (panels.size() > 64) throw ArgumentError(where + ": more than 64 panels");

  const std::vector<detail::PlotFrame> frames = detail::curves_frames(epochs, panels);
  detail::Canvas canvas(detail::kCurvesWidth,
                        static_cast<int>(panels.size()) * detail::kCurvesPanelHeight);
  for (std::size_t p = 0; p < panels.size(); ++p) {
    const detail::PlotFrame& f = frames[p];
    detail::draw_axes(canvas, f, panels[p].title);
    const std::array<int, 4> clip{{f.left, f.top, f.right, f.bottom}};
    for (std::size_t s = 0; s < panels[p].series.size(); ++s) {
      const std::vector<double>& values = panels[p].series[s].values;
      const detail::Rgb colour = detail::class_colour(static_cast<Index>(s));
      for (std::size_t e = 0; e < epochs.size(); ++e) {
        if (!std::isfinite(values[e])) continue;
        const int x = f.x_pixel(epochs[e]), y = f.y_pixel(values[e]);
        canvas.fill(x - 2, y - 2, x + 3, y + 3, colour);
        if (e + 1 < epochs.size() && std::isfinite(values[e + 1]))
          canvas.line(x, y, f.x_pixel(epochs[e + 1]), f.y_pixel(values[e + 1]), colour, 2, clip);
      }
      const int top = f.top + static_cast<int>(s) * 22;
      if (top + 16 > f.bottom) continue;  // more series than the legend holds
      canvas.fill(detail::kCurvesLegend, top + 6, detail::kCurvesLegend + 18, top + 9, colour);
      canvas.text(detail::kCurvesLegend + 24, top + 1,
                  detail::fitted(panels[p].series[s].name,
                                 detail::kCurvesWidth - detail::kCurvesLegend - 30,
                                 detail::kCurvesScale),
                  detail::kInk,
                  detail::kCurvesScale);
    }
  }
  detail::write_png_file(path, "curves plot", canvas.width(), canvas.height(), 3,
                         canvas.pixels().data());
}

}  // namespace scvae
