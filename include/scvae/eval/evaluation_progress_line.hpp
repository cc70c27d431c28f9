#pragma once
// Progress of a long evaluation for people (an IWAE of 5,000 draws runs
// for minutes): an EvaluationProgress (eval/evaluation_threads.hpp) that
// draws one live line on a terminal, and writes one summary line to a log.

#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>
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
/// make it just before the evaluation. Copies (an EvaluationOptions holds
/// one) share one line: when the last of them goes with a live line still
/// open, because the evaluation threw, it ends the line, so that the error
/// is not printed after the bar.
class EvaluationProgressLine {
 public:
  enum class Mode { Auto, Live, Lines };

  explicit EvaluationProgressLine(std::string what, std::ostream& out = std::cerr,
                                  Mode mode = Mode::Auto)
      : line_(std::make_shared<Line>(
            std::move(what), out,
            mode == Mode::Live || (mode == Mode::Auto && detail::is_terminal(out)))) {}

  void operator()(Index done, Index total) {
    Line& line = *line_;
    const auto now = std::chrono::steady_clock::now();
    const double seconds = std::chrono::duration<double>(now - line.start).count();
    if (done >= total) {
      if (line.live) *line.out << "\r\033[K";
      *line.out << line.what << ": " << total << " batches in " << format_duration(seconds) << "\n"
                << std::flush;
      line.open = false;
      return;
    }
    if (!line.live || now - line.last_draw < std::chrono::milliseconds(100)) return;
    line.last_draw = now;
    constexpr Index kWidth = 24;
    const Index filled = kWidth * done / std::max<Index>(1, total);
    const double eta = seconds / static_cast<double>(done) * static_cast<double>(total - done);
    std::ostringstream text;
    text << "\r\033[K" << line.what << " [" << std::string(static_cast<std::size_t>(filled), '=')
         << std::string(static_cast<std::size_t>(kWidth - filled), ' ') << "] " << done << "/"
         << total << " batches  ETA " << format_duration(eta);
    *line.out << text.str() << std::flush;
    line.open = true;
  }

 private:
  struct Line {
    Line(std::string what_, std::ostream& out_, bool live_)
        : what(std::move(what_)), out(&out_), live(live_) {}
    Line(const Line&) = delete;
    Line& operator=(const Line&) = delete;
    /// A live line left open (the evaluation ended early) gets its newline.
    ~Line() {
      if (!open) return;
      try {
        *out << "\n" << std::flush;
      } catch (...) {  // a stream that throws while unwinding: nothing to add
      }
    }

    std::string what;
    std::ostream* out;
    bool live;
    bool open = false;  ///< a bar drawn and not yet ended
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point last_draw{};
  };

  std::shared_ptr<Line> line_;
};

}  // namespace scvae
