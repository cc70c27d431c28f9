#pragma once
// A table read from a CSV file (data/csv.hpp): column names and the cells as
// text, one vector per column, with the line each row starts on so that a
// later conversion can name the cell it refuses. Cells become numbers only on
// request (numeric_column), strictly: the whole cell must be a decimal
// number or one of the missing-value spellings, else a FormatError names the
// file, line and column.

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_set>
#include <utility>
#include <vector>

#include "scvae/core/error.hpp"
#include "scvae/core/types.hpp"
#include "scvae/data/file_bytes.hpp"

namespace scvae {
namespace detail {

inline std::string_view trim_blanks(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

inline bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const char x = (a[i] >= 'A' && a[i] <= 'Z') ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    if (x != b[i]) return false;
  }
  return true;
}

enum class CellValue { number, missing, not_a_number, out_of_range };

/// True when `text` is [+-]digits[.digits][(e|E)[+-]digits] with at least one
/// mantissa digit (".5" and "5." too): no hex, no inf, no spaces inside.
inline bool is_decimal_number(std::string_view text) {
  std::size_t i = 0;
  const auto digits_from = [&](std::size_t& at) {
    const std::size_t start = at;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') ++at;
    return at - start;
  };
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
  std::size_t mantissa_digits = digits_from(i);
  if (i < text.size() && text[i] == '.') {
    ++i;
    mantissa_digits += digits_from(i);
  }
  if (mantissa_digits == 0) return false;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    if (digits_from(i) == 0) return false;
  }
  return i == text.size();
}

}  // namespace detail

/// True when a cell marks a missing value: empty or blank, or (ignoring case
/// and surrounding blanks) NA, N/A, NaN, NULL, None, #N/A or <NA>.
inline bool is_missing(std::string_view cell) {
  const std::string_view text = detail::trim_blanks(cell);
  if (text.empty()) return true;
  for (const std::string_view token : {"na", "n/a", "nan", "null", "none", "#n/a", "<na>"}) {
    if (detail::equals_ignoring_case(text, token)) return true;
  }
  return false;
}

namespace detail {

/// Classifies a cell and, for a number, stores it in `value` (NaN when missing).
inline CellValue parse_cell(std::string_view cell, double& value) {
  value = std::numeric_limits<double>::quiet_NaN();
  if (is_missing(cell)) return CellValue::missing;
  std::string_view text = trim_blanks(cell);
  if (!is_decimal_number(text)) return CellValue::not_a_number;
  if (text.front() == '+') text.remove_prefix(1);  // from_chars takes no '+'
  const std::from_chars_result result =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (result.ec == std::errc::result_out_of_range) return CellValue::out_of_range;
  if (result.ec != std::errc() || result.ptr != text.data() + text.size()) {
    return CellValue::not_a_number;
  }
  return CellValue::number;
}

}  // namespace detail

/// A CSV file's contents: named columns of text cells, all of one length.
/// Row r of the data is the (r+2)-th record of the file (the header is the
/// first); line_of_row(r) is the line it starts on, for messages.
class CsvTable {
 public:
  CsvTable() = default;
  /// Throws ArgumentError unless there are as many columns as names, every
  /// column holds row_lines.size() cells, and the names are unique.
  CsvTable(std::string source, std::vector<std::string> names,
           std::vector<std::vector<std::string>> columns, std::vector<std::size_t> row_lines)
      : source_(std::move(source)),
        names_(std::move(names)),
        columns_(std::move(columns)),
        row_lines_(std::move(row_lines)) {
    if (columns_.size() != names_.size()) {
      throw ArgumentError(source_ + ": " + std::to_string(names_.size()) + " column names for " +
                          std::to_string(columns_.size()) + " columns");
    }
    for (std::size_t c = 0; c < columns_.size(); ++c) {
      if (columns_[c].size() != row_lines_.size()) {
        throw ArgumentError(source_ + ": column \"" + names_[c] + "\" holds " +
                            std::to_string(columns_[c].size()) + " cells, expected " +
                            std::to_string(row_lines_.size()));
      }
    }
    std::unordered_set<std::string_view> seen;
    for (const std::string& name : names_) {
      if (!seen.insert(name).second) {
        throw ArgumentError(source_ + ": duplicate column name \"" + name + "\"");
      }
    }
  }

  /// The file (or the name given to parse_csv) the table came from.
  const std::string& source() const { return source_; }
  Index rows() const { return static_cast<Index>(row_lines_.size()); }
  Index cols() const { return static_cast<Index>(names_.size()); }
  const std::vector<std::string>& column_names() const { return names_; }
  /// The 1-based line of the file on which data row `row` (0-based) starts.
  std::size_t line_of_row(Index row) const { return row_lines_.at(checked_row(row)); }

  bool has_column(const std::string& name) const { return find(name) < names_.size(); }
  /// The index of the column called `name`; ArgumentError listing the names if none is.
  Index column_index(const std::string& name) const {
    const std::size_t found = find(name);
    if (found == names_.size()) {
      std::string known;
      for (const std::string& each : names_) known += (known.empty() ? "\"" : ", \"") + each + "\"";
      throw ArgumentError(source_ + ": no column named \"" + name + "\" (columns: " + known + ")");
    }
    return static_cast<Index>(found);
  }

  const std::vector<std::string>& column(Index index) const { return columns_[checked(index)]; }
  const std::vector<std::string>& column(const std::string& name) const {
    return column(column_index(name));
  }

  /// True when every cell of the column is a number or missing and at least
  /// one is a number (a column of missing values only is not numeric).
  bool is_numeric_column(Index index) const {
    bool any_number = false;
    for (const std::string& cell : columns_[checked(index)]) {
      double value = 0;
      const detail::CellValue kind = detail::parse_cell(cell, value);
      if (kind == detail::CellValue::number) {
        any_number = true;
      } else if (kind != detail::CellValue::missing) {
        return false;
      }
    }
    return any_number;
  }
  bool is_numeric_column(const std::string& name) const {
    return is_numeric_column(column_index(name));
  }

  /// The column as numbers, NaN where a cell is missing (see is_missing).
  /// FormatError naming the file, line and column for a cell that is neither
  /// a decimal number nor missing, or whose value is beyond a double's range.
  std::vector<double> numeric_column(Index index) const {
    const std::size_t c = checked(index);
    std::vector<double> values(columns_[c].size());
    for (std::size_t r = 0; r < values.size(); ++r) {
      const detail::CellValue kind = detail::parse_cell(columns_[c][r], values[r]);
      if (kind == detail::CellValue::not_a_number || kind == detail::CellValue::out_of_range) {
        throw FormatError(
            source_ + ": line " + std::to_string(row_lines_[r]) + ", column " +
            std::to_string(c + 1) + " (\"" + names_[c] +
            "\"): " + detail::cell_for_message(columns_[c][r]) +
            (kind == detail::CellValue::out_of_range
                 ? " is beyond the range of a double"
                 : " is neither a number nor a missing value (empty, NA, N/A, NaN, NULL, None)"));
      }
    }
    return values;
  }
  std::vector<double> numeric_column(const std::string& name) const {
    return numeric_column(column_index(name));
  }

 private:
  std::size_t find(const std::string& name) const {
    std::size_t c = 0;
    while (c < names_.size() && names_[c] != name) ++c;
    return c;
  }
  std::size_t checked(Index index) const {
    if (index < 0 || index >= cols()) {
      throw ArgumentError(source_ + ": column index " + std::to_string(index) +
                          " is out of range: the table has " + std::to_string(cols()) + " columns");
    }
    return static_cast<std::size_t>(index);
  }
  std::size_t checked_row(Index row) const {
    if (row < 0 || row >= rows()) {
      throw ArgumentError(source_ + ": row " + std::to_string(row) +
                          " is out of range: the table has " + std::to_string(rows()) + " rows");
    }
    return static_cast<std::size_t>(row);
  }

  std::string source_;
  std::vector<std::string> names_;
  std::vector<std::vector<std::string>> columns_;
  std::vector<std::size_t> row_lines_;
};

}  // namespace scvae
