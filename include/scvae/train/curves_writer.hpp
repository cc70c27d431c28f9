#pragma once
// Redraws the learning curves (io/curves_plot.hpp) as epochs end, so a long
// run can be watched: the training loss and the losses the epoch
// report carries (test_loss, validation_loss, ...) on one panel, and the
// accuracies, when there are any, on a second panel below. Add it after the
// callbacks that put metrics in the report (the evaluation, validation).

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "scvae/core/error.hpp"
#include "scvae/core/types.hpp"
#include "scvae/io/atomic_file.hpp"
#include "scvae/io/curves_plot.hpp"
#include "scvae/train/callback.hpp"

namespace scvae {

struct CurvesOptions {
  /// The metrics drawn beside train_loss on the loss panel; empty: every
  /// metric whose name ends in "_loss".
  std::vector<std::string> loss_metrics;
  /// The metrics of the accuracy panel; empty: every metric whose name ends
  /// in "_accuracy". The panel is left out while none has a value.
  std::vector<std::string> accuracy_metrics;
  /// A resumed run draws the epochs before it from this metrics.jsonl
  /// (train/metrics_writer.hpp) too; empty: only the epochs it runs.
  std::string earlier_metrics;
  /// Redraw after an epoch only when this many seconds have passed since the
  /// last drawing (the first epoch and the end of training always draw): a
  /// drawing costs about 50 ms, more than a whole epoch of a small table.
  /// 0: after every epoch.
  double min_seconds_between_drawings = 1.0;
};

namespace detail {

inline bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// The "name": number pairs of a metrics line as MetricsWriter writes it
/// (null is NaN); empty when the line is not one.
inline std::vector<std::pair<std::string, double>> parse_metrics_line(const std::string& line) {
  std::vector<std::pair<std::string, double>> values;
  std::size_t at = line.find('{');
  if (at == std::string::npos) return {};
  for (;;) {
    const std::size_t open = line.find('"', at);
    if (open == std::string::npos) break;
    const std::size_t close = line.find('"', open + 1);
    const std::size_t colon = close == std::string::npos ? close : line.find(':', close);
    if (colon == std::string::npos) return {};
    const char* start = line.c_str() + colon + 1;
    while (*start == ' ') ++start;
    double value = std::numeric_limits<double>::quiet_NaN();
    const char* end = start;
    if (std::string(start, 4) == "null") {
      end = start + 4;
    } else {
      char* parsed = nullptr;
      value = std::strtod(start, &parsed);
      if (parsed == start) return {};
      end = parsed;
    }
    values.emplace_back(line.substr(open + 1, close - open - 1), value);
    at = static_cast<std::size_t>(end - line.c_str());
  }
  return values;
}

}  // namespace detail

class CurvesWriter : public Callback {
 public:
  /// Writes the curves to `path` (a PNG) as epochs end and when training ends.
  explicit CurvesWriter(std::string path, CurvesOptions options = {})
      : path_(std::move(path)), options_(std::move(options)) {}

  const std::string& path() const { return path_; }

  /// Fails now, not after an epoch of training, when `path` cannot be
  /// written (IoError naming it); the file itself is left as it is.
  void on_train_begin(Index first_epoch, Index) override {
    { detail::AtomicFile probe(path_, "curves plot"); }  // destroyed uncommitted: no trace
    epochs_.clear();
    rows_.clear();
    drawn_ = 0;
    if (first_epoch > 0 && !options_.earlier_metrics.empty()) read_earlier(first_epoch);
  }

  bool on_epoch_end(EpochReport& r) override {
    std::vector<std::pair<std::string, double>> row = r.metrics;
    row.emplace_back("train_loss", r.train_loss);
    add(static_cast<double>(r.epoch), std::move(row));
    const auto now = std::chrono::steady_clock::now();
    if (drawn_ == 0 ||
        std::chrono::duration<double>(now - last_drawing_).count() >=
            options_.min_seconds_between_drawings)
      draw();
    return false;
  }

  /// Draws the epochs the last drawing lacks.
  void on_train_end() override {
    if (drawn_ != epochs_.size()) draw();
  }

  /// The panels as they would be drawn now: "loss" (train_loss first), and
  /// "accuracy" when some accuracy has a value.
  std::vector<CurvePanel> panels() const {
    std::vector<CurvePanel> result;
    result.push_back({"loss", {series("train_loss")}});
    for (const std::string& name : chosen(options_.loss_metrics, "_loss"))
      if (name != "train_loss") result[0].series.push_back(series(name));
    CurvePanel accuracy{"accuracy", {}};
    for (const std::string& name : chosen(options_.accuracy_metrics, "_accuracy"))
      accuracy.series.push_back(series(name));
    bool any = false;
    for (const CurveSeries& s : accuracy.series)
      for (const double v : s.values) any = any || std::isfinite(v);
    if (any) result.push_back(std::move(accuracy));
    return result;
  }

 private:
  void draw() {
    write_curves_plot(path_, epochs_, panels());
    drawn_ = epochs_.size();
    last_drawing_ = std::chrono::steady_clock::now();
  }

  void add(double epoch, std::vector<std::pair<std::string, double>> row) {
    epochs_.push_back(epoch);
    rows_.push_back(std::move(row));
  }

  /// The earlier run's lines up to `first_epoch`; a file that is missing or
  /// has no such lines adds nothing.
  void read_earlier(Index first_epoch) {
    std::ifstream in(options_.earlier_metrics, std::ios::binary);
    std::string line;
    while (std::getline(in, line)) {
      std::vector<std::pair<std::string, double>> row = detail::parse_metrics_line(line);
      if (row.empty() || row.front().first != "epoch") continue;
      const double epoch = row.front().second;
      if (!(epoch >= 1.0) || epoch > static_cast<double>(first_epoch)) continue;
      if (!epochs_.empty() && epoch <= epochs_.back()) continue;  // out of order: skip
      add(epoch, std::move(row));
    }
  }

  /// `names`, or when empty every name seen so far ending in `suffix`, in
  /// the order they first appeared.
  std::vector<std::string> chosen(const std::vector<std::string>& names,
                                  const std::string& suffix) const {
    if (!names.empty()) return names;
    std::vector<std::string> seen;
    for (const auto& row : rows_)
      for (const auto& entry : row)
        if (detail::ends_with(entry.first, suffix) &&
            std::find(seen.begin(), seen.end(), entry.first) == seen.end())
          seen.push_back(entry.first);
    return seen;
  }

  /// `name`'s value per epoch, NaN where an epoch lacks it.
  CurveSeries series(const std::string& name) const {
    CurveSeries s{name, std::vector<double>(epochs_.size(),
                                            std::numeric_limits<double>::quiet_NaN())};
    for (std::size_t e = 0; e < rows_.size(); ++e)
      for (const auto& entry : rows_[e])
        if (entry.first == name) s.values[e] = entry.second;
    return s;
  }

  std::string path_;
  CurvesOptions options_;
  std::vector<double> epochs_;
  std::vector<std::vector<std::pair<std::string, double>>> rows_;
  std::size_t drawn_ = 0;  ///< How many epochs the file shows.
  std::chrono::steady_clock::time_point last_drawing_{};
};

}  // namespace scvae
