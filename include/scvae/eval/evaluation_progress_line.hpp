#pragma once
// Progress of a long evaluation for people (an IWAE of 5,000 draws runs
// for minutes): an EvaluationProgress (eval/evaluation_threads.hpp) that
// draws one live line on a terminal, and writes one summary line to a log.

#include <algorithm>
#include <chrono>
#include <iostream>
#include <sstream>
#include <string>
#include <utility>

#include "scvae/core/terminal_text.hpp"
#include "scvae/core/types.hpp"

namespace scvae {

/// On a terminal (std::cerr or std::cout at one), "IWAE [=====     ]
/// 37/100 batches  ETA 1:20", rewritten in place at most every 100 ms and
/// ended by a newline at the last batch; on any other stream, only
/// "IWAE: 100 batches in 2:41" at the end. Times count from construction:
/// make it just before the evaluation.
class EvaluationProgressLine {
 public:
  enum class Mode { Auto, Live, Lines };

  explicit EvaluationProgressLine(std::string what, std::ostream& out = std::cerr,
                                  Mode mode = Mode::Auto)
      : what_(std::move(what)),
        out_(&out),
        live_(mode == Mode::Live || (mode == Mode::Auto && detail::is_terminal(out))),
        start_(std::chrono::steady_clock::now()) {}

  void operator()(Index done, Index total) {
    const auto now = std::chrono::steady_clock::now();
    const double seconds = std::chrono::duration<double>(now - start_).count();
    if (done >= total) {
      if (live_) *out_ << "\r\033[K";
      *out_ << what_ << ": " << total << " batches in " << format_duration(seconds) << "\n"
            << std::flush;
      return;
    }
    if (!live_ || now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    constexpr Index kWidth = 24;
    const Index filled = kWidth * done / std::max<Index>(1, total);
    const double eta = seconds / static_cast<double>(done) * static_cast<double>(total - done);
    std::ostringstream line;
    line << "\r\033[K" << what_ << " [" << std::string(static_cast<std::size_t>(filled), '=')
         << std::string(static_cast<std::size_t>(kWidth - filled), ' ') << "] " << done << "/"
         << total << " batches  ETA " << format_duration(eta);
    *out_ << line.str() << std::flush;
  }

 private:
  std::string what_;
  std::ostream* out_;
  bool live_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace scvae
