#pragma once
// Progress on the terminal: one live line, rewritten in place (\r), with
// epoch, batch, samples/s, running loss and ETA, then each epoch's summary
// on that same line, and a newline only when training ends, so 300 epochs
// leave one line, not 300. When the stream is not a terminal (a log, CI):
// one plain summary line per epoch and nothing in between, so logs stay
// readable. Times under a second are shown in milliseconds.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>

#include "scvae/core/terminal_text.hpp"
#include "scvae/train/callback.hpp"

namespace scvae {

/// The summary of an epoch: "epoch 3/10  850 ms  train_loss 262.75  test_loss ...".
inline std::string format_epoch_summary(const EpochReport& r) {
  std::ostringstream line;
  line << "epoch " << r.epoch << "/" << r.epochs << "  " << format_duration(r.train_seconds)
       << "  train_loss " << std::fixed << std::setprecision(2) << r.train_loss;
  for (const auto& [name, value] : r.metrics) line << "  " << name << " " << value;
  return line.str();
}

class ProgressBar : public Callback {
 public:
  enum class Mode { Auto, Live, Lines };

  /// Mode::Auto draws the live line when `out` is std::cerr or std::cout and
  /// that stream is a terminal, plain lines otherwise.
  explicit ProgressBar(std::ostream& out = std::cerr, Mode mode = Mode::Auto)
      : out_(out),
        terminal_(mode == Mode::Live || (mode == Mode::Auto && detail::is_terminal(out))) {}

  /// Ends a live line left open (training stopped by an exception), so that
  /// the next message starts on a line of its own.
  ~ProgressBar() override {
    if (line_open_) out_ << "\n" << std::flush;
  }

  bool on_batch_end(const BatchReport& r) override {
    if (!terminal_) return false;
    const auto now = std::chrono::steady_clock::now();
    if (r.step != r.steps && now - last_draw_ < std::chrono::milliseconds(100)) return false;
    last_draw_ = now;
    const double rate = r.seconds > 0.0 ? static_cast<double>(r.samples_done) / r.seconds : 0.0;
    const double eta = rate > 0.0 ? static_cast<double>(r.samples - r.samples_done) / rate : 0.0;
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(kWidth * r.samples_done / std::max<Index>(1, r.samples));
    std::ostringstream line;
    line << "epoch " << r.epoch << "/" << r.epochs << " [" << std::string(filled, '=')
         << std::string(kWidth - filled, ' ') << "] " << r.step << "/" << r.steps << "  "
         << std::fixed << std::setprecision(0) << rate << " samples/s  loss "
         << std::setprecision(2) << r.running_loss << "  ETA " << format_duration(eta);
    draw(line.str());
    return false;
  }

  bool on_epoch_end(EpochReport& r) override {
    if (terminal_)
      draw(format_epoch_summary(r));
    else
      out_ << format_epoch_summary(r) << "\n" << std::flush;
    return false;
  }

  void on_train_end() override {
    if (line_open_) out_ << "\n" << std::flush;
    line_open_ = false;
  }

 private:
  /// Replaces the live line: back to its start, clear it, write.
  void draw(const std::string& text) {
    out_ << "\r\033[K" << text << std::flush;
    line_open_ = true;
  }

  std::ostream& out_;
  bool terminal_;
  bool line_open_ = false;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace scvae
