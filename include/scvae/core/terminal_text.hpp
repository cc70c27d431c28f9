#pragma once
// Text for people at a terminal, shared by the training progress bar and
// the evaluations' progress line: durations, and whether a stream is one.

#include <unistd.h>

#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>

namespace scvae {

/// A duration for people: "850 ms" under a second, "2.35 s" under a
/// minute, "m:ss" above ("0.00 s" said nothing about a short epoch).
inline std::string format_duration(double seconds) {
  std::ostringstream text;
  if (!(seconds >= 0.0)) seconds = 0.0;
  if (seconds < 0.9995) {
    text << static_cast<long>(seconds * 1000.0 + 0.5) << " ms";
  } else if (seconds < 59.995) {
    text << std::fixed << std::setprecision(2) << seconds << " s";
  } else {
    const long s = static_cast<long>(seconds + 0.5);
    text << s / 60 << ":" << std::setw(2) << std::setfill('0') << s % 60;
  }
  return text.str();
}

namespace detail {

/// Whether `out` is std::cerr, std::clog or std::cout writing to a
/// terminal (anything else, a file or a string, is not).
inline bool is_terminal(const std::ostream& out) {
  if (&out == &std::cerr || &out == &std::clog) return isatty(fileno(stderr)) != 0;
  if (&out == &std::cout) return isatty(fileno(stdout)) != 0;
  return false;
}

}  // namespace detail

}  // namespace scvae
