#pragma once
// The header dictionary of an NPY file, parsed strictly as the Python literal
// numpy writes: {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }
// with exactly these three keys, string keys in single or double quotes,
// True/False, a tuple of non-negative integers (a Python 2 'L' suffix is
// accepted), whitespace between tokens and padding after the closing brace.
// Used by data/npy.hpp; errors name the file, the byte offset in the file and
// the header field.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "scvae/core/error.hpp"
#include "scvae/data/file_bytes.hpp"

namespace scvae {
namespace detail {

/// What an NPY header declares.
struct NpyHeader {
  std::string descr;  // the dtype, e.g. "<f8"
  bool fortran_order = false;
  std::vector<std::uint64_t> shape;
  std::size_t descr_offset = 0;  // where each value starts in the file, for messages
  std::size_t shape_offset = 0;
};

/// Parses `text`, the header found at byte `offset` of the file `source`.
class NpyHeaderParser {
 public:
  NpyHeaderParser(std::string_view text, std::size_t offset, const std::string& source)
      : text_(text), offset_(offset), source_(source) {}

  NpyHeader parse() {
    NpyHeader header;
    bool have_descr = false;
    bool have_order = false;
    bool have_shape = false;
    skip_space();
    expect('{', "the header dictionary must start with '{'");
    for (;;) {
      skip_space();
      if (peek() == '}') break;
      const std::size_t key_at = pos_;
      const std::string key = string_literal("a key");
      skip_space();
      expect(':', "expected ':' after the key '" + key + "'");
      skip_space();
      if (key == "descr") {
        once(have_descr, key, key_at);
        if (peek() == '[') {
          fail("descr is a list (a structured array); only plain numeric dtypes are read");
        }
        header.descr_offset = offset_ + pos_;
        header.descr = string_literal("the dtype of 'descr'");
      } else if (key == "fortran_order") {
        once(have_order, key, key_at);
        header.fortran_order = boolean();
      } else if (key == "shape") {
        once(have_shape, key, key_at);
        header.shape_offset = offset_ + pos_;
        header.shape = tuple();
      } else {
        fail_at(key_at, "unknown key '" + key +
                            "' (the header holds only 'descr', 'fortran_order' and 'shape')");
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != '}') fail("expected ',' or '}' after the value of '" + key + "'");
    }
    ++pos_;  // '}'
    skip_space();
    if (pos_ != text_.size()) {
      fail("unexpected " + cell_for_message(text_.substr(pos_, 20)) +
           " after the header dictionary");
    }
    for (const auto& [present, name] : {std::pair<bool, const char*>{have_descr, "descr"},
                                        {have_order, "fortran_order"},
                                        {have_shape, "shape"}}) {
      if (!present) fail_at(0, std::string("the header has no '") + name + "' key");
    }
    return header;
  }

 private:
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  [[noreturn]] void fail_at(std::size_t at, const std::string& what) const {
    throw FormatError(source_ + ": NPY header, byte " + std::to_string(offset_ + at) + ": " + what);
  }
  [[noreturn]] void fail(const std::string& what) const { fail_at(pos_, what); }

  void skip_space() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n')) {
      ++pos_;
    }
  }

  void expect(char c, const std::string& what) {
    if (peek() != c) fail(what);
    ++pos_;
  }

  void once(bool& seen, const std::string& key, std::size_t at) const {
    if (seen) fail_at(at, "the key '" + key + "' appears twice");
    seen = true;
  }

  std::string string_literal(const std::string& what) {
    const char quote = peek();
    if (pos_ == text_.size() || (quote != '\'' && quote != '"')) {
      fail("expected a quoted string for " + what);
    }
    const std::size_t start = ++pos_;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      const auto byte = static_cast<unsigned char>(text_[pos_]);
      if (byte < 0x20 || byte >= 0x7F || byte == '\\') {
        fail("unexpected byte in a string (only printable ASCII without escapes)");
      }
      ++pos_;
    }
    if (pos_ == text_.size()) fail_at(start - 1, "unterminated string");
    return std::string(text_.substr(start, pos_++ - start));
  }

  bool boolean() {
    if (text_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (text_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    fail("'fortran_order' must be True or False");
  }

  std::vector<std::uint64_t> tuple() {
    expect('(', "'shape' must be a tuple such as (3, 4) or (3,)");
    std::vector<std::uint64_t> shape;
    for (;;) {
      skip_space();
      if (peek() == ')') break;
      shape.push_back(integer());
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != ')') fail("expected ',' or ')' in 'shape'");
      if (shape.size() == 1) fail("'shape' (n) is not a tuple: a 1-D shape is written (n,)");
    }
    ++pos_;
    return shape;
  }

  std::uint64_t integer() {
    const std::size_t start = pos_;
    std::uint64_t value = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      const auto digit = static_cast<std::uint64_t>(text_[pos_] - '0');
      if (value > (UINT64_MAX - digit) / 10) fail_at(start, "a dimension of 'shape' overflows");
      value = value * 10 + digit;
      ++pos_;
    }
    if (pos_ == start) fail("expected a non-negative integer in 'shape'");
    if (text_[start] == '0' && pos_ - start > 1) {
      fail_at(start, "a dimension of 'shape' has a leading zero");
    }
    if (peek() == 'L') ++pos_;  // written by Python 2's numpy
    return value;
  }

  std::string_view text_;
  std::size_t offset_;
  const std::string& source_;
  std::size_t pos_ = 0;
};

}  // namespace detail
}  // namespace scvae
