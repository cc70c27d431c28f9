#pragma once
// Checked parsing of numbers from text (command lines, config files): the
// whole text must be the number, and a value out of range, NaN, infinite or
// too large for its type is an ArgumentError naming the argument, never a
// silently clamped or wrapped value: std::stoull("-1") is 2^64 - 1, and NaN
// fails every comparison, so a check written `if (x < 0 || x > 1) reject`
// lets it through.

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <sstream>
#include <string>
#include <type_traits>

#include "scvae/core/error.hpp"

namespace scvae {

namespace detail {

/// The text as it may be shown in a message: printable ASCII kept, anything
/// else escaped, and cut short, so a hostile argument cannot reach the
/// terminal as control sequences.
inline std::string quoted_text(const std::string& text) {
  std::string out = "'";
  const std::size_t limit = 64;
  for (std::size_t i = 0; i < text.size() && i < limit; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
      out += static_cast<char>(c);
    } else {
      static const char* digits = "0123456789abcdef";
      out += "\\x";
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
  if (text.size() > limit) out += "...";
  return out + "'";
}

inline std::string argument_prefix(const std::string& name) {
  return name.empty() ? std::string() : name + ": ";
}

template <typename Number>
std::string number_text(Number value) {
  std::ostringstream out;
  out.precision(10);
  out << value;
  return out.str();
}

}  // namespace detail

/// The whole of `text` as a decimal integer of type Integer in [min, max]:
/// an optional sign and digits only (no spaces, no fraction, no exponent).
/// Throws ArgumentError "<name>: expected an integer in [min, max], got <text>"
/// for anything else, including values beyond the type's range.
template <typename Integer>
Integer parse_integer(const std::string& name, const std::string& text,
                      Integer min = std::numeric_limits<Integer>::min(),
                      Integer max = std::numeric_limits<Integer>::max()) {
  static_assert(std::is_integral_v<Integer> && !std::is_same_v<Integer, bool>,
                "parse_integer needs an integer type");
  const std::string range =
      "[" + detail::number_text(+min) + ", " + detail::number_text(+max) + "]";
  const auto fail = [&] {
    return ArgumentError(detail::argument_prefix(name) + "expected an integer in " + range +
                         ", got " + detail::quoted_text(text));
  };
  std::size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) negative = text[i++] == '-';
  if (i == text.size()) throw fail();
  // The magnitude in 64 unsigned bits, stopping at the first overflow.
  std::uint64_t magnitude = 0;
  for (; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') throw fail();
    const auto digit = static_cast<std::uint64_t>(text[i] - '0');
    if (magnitude > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) throw fail();
    magnitude = magnitude * 10 + digit;
  }
  if (negative && magnitude != 0) {
    if constexpr (std::is_unsigned_v<Integer>) {
      throw fail();
    } else {
      // -2^63 is the one magnitude a signed type holds negated only.
      const auto limit = static_cast<std::uint64_t>(std::numeric_limits<Integer>::max()) + 1;
      if (magnitude > limit) throw fail();
      const Integer value = magnitude == limit
                                ? std::numeric_limits<Integer>::min()
                                : static_cast<Integer>(-static_cast<Integer>(magnitude));
      if (value < min || value > max) throw fail();
      return value;
    }
  }
  if (magnitude > static_cast<std::uint64_t>(std::numeric_limits<Integer>::max())) throw fail();
  const auto value = static_cast<Integer>(magnitude);
  if (value < min || value > max) throw fail();
  return value;
}

/// How parse_real treats an end of its range.
enum class Bound { Closed, Open };

/// The whole of `text` as a finite double in [min, max] (an Open bound
/// excludes that end). NaN, infinities, values that overflow a double,
/// trailing characters and empty text throw ArgumentError
/// "<name>: expected a number in [min, max], got <text>" (or "a number >= min"
/// when `max` is the largest double).
inline double parse_real(const std::string& name, const std::string& text, double min, double max,
                         Bound lower = Bound::Closed, Bound upper = Bound::Closed) {
  // "> 0" rather than "(0, 1.797693135e+308]" when only the lower end matters.
  const std::string range =
      max == std::numeric_limits<double>::max()
          ? std::string(lower == Bound::Open ? "> " : ">= ") + detail::number_text(min)
          : std::string(lower == Bound::Open ? "in (" : "in [") + detail::number_text(min) + ", " +
                detail::number_text(max) + (upper == Bound::Open ? ")" : "]");
  const auto fail = [&] {
    return ArgumentError(detail::argument_prefix(name) + "expected a number " + range + ", got " +
                         detail::quoted_text(text));
  };
  // strtod skips leading spaces and takes "nan", "inf" and hex: refuse what
  // is not a plain decimal number before asking it.
  if (text.empty() || text.find_first_not_of("0123456789+-.eE") != std::string::npos) throw fail();
  errno = 0;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(value)) throw fail();
  if (errno == ERANGE && std::fabs(value) > 1.0) throw fail();  // overflow; underflow is ~0
  const bool above_min = lower == Bound::Open ? value > min : value >= min;
  const bool below_max = upper == Bound::Open ? value < max : value <= max;
  if (!(above_min && below_max)) throw fail();
  return value;
}

}  // namespace scvae
