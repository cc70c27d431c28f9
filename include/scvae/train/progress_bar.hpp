#pragma once
// Progress on the terminal: a live bar with epoch, batch, samples/s, running
// loss and ETA; when the stream is not a terminal (a log, CI), one plain line
// per epoch instead, so logs stay readable.

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "scvae/train/callback.hpp"

namespace scvae {

class ProgressBar : public Callback {
 public:
  enum class Mode { Auto, Live, Lines };

  /// Mode::Auto draws the live bar when `out` is std::cerr or std::cout and
  /// that stream is a terminal, plain lines otherwise.
  explicit ProgressBar(std::ostream& out = std::cerr, Mode mode = Mode::Auto)
      : out_(out), terminal_(mode == Mode::Live || (mode == Mode::Auto && is_terminal(out))) {}

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
    line << "\repoch " << r.epoch << "/" << r.epochs << " [" << std::string(filled, '=')
         << std::string(kWidth - filled, ' ') << "] " << r.step << "/" << r.steps << "  "
         << std::fixed << std::setprecision(0) << rate << " samples/s  loss "
         << std::setprecision(2) << r.running_loss << "  ETA " << clock_text(eta) << "   ";
    out_ << line.str() << std::flush;
    return false;
  }

  bool on_epoch_end(EpochReport& r) override {
    std::ostringstream line;
    if (terminal_) line << "\r\033[K";
    line << "epoch " << r.epoch << "/" << r.epochs << "  " << std::fixed << std::setprecision(2)
         << r.train_seconds << " s  train_loss " << r.train_loss;
    for (const auto& [name, value] : r.metrics) line << "  " << name << " " << value;
    out_ << line.str() << "\n" << std::flush;
    return false;
  }

 private:
  static bool is_terminal(const std::ostream& out) {
    if (&out == &std::cerr || &out == &std::clog) return isatty(fileno(stderr)) != 0;
    if (&out == &std::cout) return isatty(fileno(stdout)) != 0;
    return false;
  }

  static std::string clock_text(double seconds) {
    const long s = static_cast<long>(seconds + 0.5);
    std::ostringstream text;
    text << s / 60 << ":" << std::setw(2) << std::setfill('0') << s % 60;
    return text.str();
  }

  std::ostream& out_;
  bool terminal_;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace scvae
