#pragma once
// Reading CSV files (RFC 4180) into a CsvTable (data/csv_table.hpp), strictly:
// a header row of unique, non-empty column names; fields quoted with '"' may
// hold separators, line breaks and "" for a quote; the separator is a comma,
// semicolon or tab, detected from the header line unless given; LF or CRLF
// line ends, an optional UTF-8 byte-order mark, an optional final line break,
// blank lines at the end ignored. Every row has exactly as many fields as the
// header. Anything else (a ragged row, an unterminated quote, text after a
// closing quote, a quote inside an unquoted field, a bare CR, a NUL byte, a
// field over the size limit, no data rows) is a FormatError naming the file,
// the 1-based line and the 1-based column. The file's size is checked before
// it is read, each field's before it is stored.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "scvae/core/error.hpp"
#include "scvae/data/csv_table.hpp"
#include "scvae/data/file_bytes.hpp"

namespace scvae {

/// The field separator of a CSV file; `automatic` picks the one of comma,
/// semicolon and tab that occurs most often in the header line (outside
/// quotes), and refuses a tie.
enum class CsvDelimiter { automatic, comma, semicolon, tab };

struct CsvOptions {
  CsvDelimiter delimiter = CsvDelimiter::automatic;
  /// Longest field accepted, in bytes (after removing quotes).
  std::size_t max_field_bytes = std::size_t{1} << 20;
  /// Largest file read_csv reads (the whole file is held in memory, and each
  /// cell costs a std::string on top of its text).
  std::uint64_t max_file_bytes = std::uint64_t{1} << 30;
};

namespace detail {

inline const char* delimiter_name(char delimiter) {
  return delimiter == ',' ? "comma" : delimiter == ';' ? "semicolon" : "tab";
}

/// Splits CSV text into records. Lines and columns are 1-based; a record's
/// line is the line it starts on.
class CsvRecordReader {
 public:
  struct Record {
    std::vector<std::string> fields;
    std::size_t line = 0;
    bool blank = false;  // an empty line: one empty, unquoted field
  };

  CsvRecordReader(std::string_view text, const std::string& source, const CsvOptions& options)
      : text_(text), source_(source), max_field_bytes_(options.max_field_bytes) {
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") text_.remove_prefix(3);
    delimiter_ = options.delimiter == CsvDelimiter::comma       ? ','
                 : options.delimiter == CsvDelimiter::semicolon ? ';'
                 : options.delimiter == CsvDelimiter::tab       ? '\t'
                                                                : detect_delimiter();
  }

  char delimiter() const { return delimiter_; }
  bool delimiter_detected() const { return detected_; }

  /// Reads the next record into `record`; false at the end of the text.
  bool next(Record& record) {
    record.fields.clear();
    record.line = line_;
    record.blank = false;
    if (pos_ == text_.size()) return false;
    bool quoted_first = false;
    for (;;) {
      const std::size_t column = record.fields.size() + 1;
      std::string field;
      const bool quoted = text_[pos_] == '"';
      if (record.fields.empty()) quoted_first = quoted;
      if (quoted) {
        read_quoted(field, column);
      } else {
        read_unquoted(field, column);
      }
      record.fields.push_back(std::move(field));
      if (pos_ == text_.size()) break;
      const char c = text_[pos_];
      if (c == delimiter_) {
        ++pos_;
        if (pos_ == text_.size()) {  // "a,b," at the very end: an empty last field
          record.fields.emplace_back();
          break;
        }
        continue;
      }
      if (c == '\r') {
        if (pos_ + 1 == text_.size() || text_[pos_ + 1] != '\n') {
          fail(line_, column, "a carriage return (CR) not followed by a line feed (LF)");
        }
        ++pos_;
      }
      ++pos_;  // the LF
      ++line_;
      break;
    }
    record.blank = record.fields.size() == 1 && record.fields[0].empty() && !quoted_first;
    return true;
  }

  [[noreturn]] void fail(std::size_t line, std::size_t column, const std::string& what) const {
    throw FormatError(source_ + ": line " + std::to_string(line) + ", column " +
                      std::to_string(column) + ": " + what);
  }

 private:
  static bool ends_field(char c, char delimiter) {
    return c == delimiter || c == '\n' || c == '\r';
  }

  void check_size(std::size_t size, std::size_t line, std::size_t column) const {
    if (size > max_field_bytes_) {
      fail(line, column,
           "field longer than the limit of " + std::to_string(max_field_bytes_) +
               " bytes (CsvOptions::max_field_bytes)");
    }
  }

  void read_unquoted(std::string& field, std::size_t column) {
    const std::size_t start = pos_;
    while (pos_ < text_.size() && !ends_field(text_[pos_], delimiter_)) {
      if (text_[pos_] == '"') {
        fail(line_, column,
             "a quote inside an unquoted field (quote the whole field and write \"\" for a "
             "quote)");
      }
      if (text_[pos_] == '\0') fail(line_, column, "a NUL byte");
      ++pos_;
      check_size(pos_ - start, line_, column);
    }
    field.assign(text_.data() + start, pos_ - start);
  }

  void read_quoted(std::string& field, std::size_t column) {
    const std::size_t open_line = line_;
    ++pos_;
    for (;;) {
      if (pos_ == text_.size()) {
        fail(open_line, column, "unterminated quoted field: the quote opened here never closes");
      }
      const char c = text_[pos_];
      if (c == '"') {
        if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '"') {
          field += '"';
          pos_ += 2;
          check_size(field.size(), open_line, column);
          continue;
        }
        ++pos_;
        break;
      }
      if (c == '\0') fail(line_, column, "a NUL byte");
      if (c == '\n') ++line_;
      field += c;
      ++pos_;
      check_size(field.size(), open_line, column);
    }
    if (pos_ < text_.size() && !ends_field(text_[pos_], delimiter_)) {
      fail(line_, column,
           "text after the closing quote of a quoted field: " +
               cell_for_message(text_.substr(pos_, 20)));
    }
  }

  char detect_delimiter() {
    std::size_t commas = 0;
    std::size_t semicolons = 0;
    std::size_t tabs = 0;
    bool in_quotes = false;
    for (std::size_t i = 0; i < text_.size(); ++i) {
      const char c = text_[i];
      if (c == '"') in_quotes = !in_quotes;
      if (in_quotes) continue;
      if (c == '\n' || c == '\r') break;
      commas += c == ',';
      semicolons += c == ';';
      tabs += c == '\t';
    }
    detected_ = true;
    const std::size_t most = std::max(commas, std::max(semicolons, tabs));
    if (most == 0) return ',';  // a single column: any separator will do
    const int tied = (commas == most) + (semicolons == most) + (tabs == most);
    if (tied > 1) {
      fail(1, 1,
           "cannot tell the separator from the header line (" + std::to_string(commas) +
               " commas, " + std::to_string(semicolons) + " semicolons, " + std::to_string(tabs) +
               " tabs): set CsvOptions::delimiter");
    }
    return commas == most ? ',' : semicolons == most ? ';' : '\t';
  }

  std::string_view text_;
  const std::string& source_;
  std::size_t max_field_bytes_;
  char delimiter_ = ',';
  bool detected_ = false;
  std::size_t pos_ = 0;
  std::size_t line_ = 1;
};

}  // namespace detail

/// Parses CSV `text`; `source_name` (a file name) starts every message.
inline CsvTable parse_csv(std::string_view text, const std::string& source_name,
                          const CsvOptions& options = {}) {
  detail::CsvRecordReader reader(text, source_name, options);
  detail::CsvRecordReader::Record record;
  if (!reader.next(record) || record.blank) {
    reader.fail(1, 1, "no header row (the file is empty or starts with a blank line)");
  }
  std::vector<std::string> names = std::move(record.fields);
  std::unordered_map<std::string_view, std::size_t> seen;
  for (std::size_t c = 0; c < names.size(); ++c) {
    if (names[c].empty()) reader.fail(record.line, c + 1, "empty column name in the header");
    const auto [where, inserted] = seen.emplace(names[c], c);
    if (!inserted) {
      reader.fail(record.line, c + 1,
                  "duplicate column name " + detail::cell_for_message(names[c]) + " (also column " +
                      std::to_string(where->second + 1) + ")");
    }
  }

  std::vector<std::vector<std::string>> columns(names.size());
  std::vector<std::size_t> row_lines;
  // Blank lines count as rows of one empty cell where the table has one
  // column, except at the end; they are held back until a row follows them.
  std::vector<std::size_t> pending_blank_lines;
  const auto add_row = [&](std::vector<std::string>& fields, std::size_t line) {
    for (std::size_t c = 0; c < fields.size(); ++c) columns[c].push_back(std::move(fields[c]));
    row_lines.push_back(line);
  };
  while (reader.next(record)) {
    if (record.blank) {
      pending_blank_lines.push_back(record.line);
      continue;
    }
    for (const std::size_t blank_line : pending_blank_lines) {
      if (names.size() != 1) {
        reader.fail(blank_line, 1,
                    "blank line inside the data (the header has " + std::to_string(names.size()) +
                        " columns)");
      }
      std::vector<std::string> empty_cell(1);
      add_row(empty_cell, blank_line);
    }
    pending_blank_lines.clear();
    if (record.fields.size() != names.size()) {
      const std::string detected = reader.delimiter_detected()
                                       ? std::string(" (separator: ") +
                                             detail::delimiter_name(reader.delimiter()) +
                                             ", detected from the header line)"
                                       : "";
      reader.fail(record.line, std::min(record.fields.size(), names.size()) + 1,
                  "row has " + std::to_string(record.fields.size()) + " fields, the header has " +
                      std::to_string(names.size()) + " columns" + detected);
    }
    add_row(record.fields, record.line);
  }
  if (row_lines.empty()) {
    reader.fail(record.line, 1, "no data rows after the header");
  }
  return CsvTable(source_name, std::move(names), std::move(columns), std::move(row_lines));
}

/// Reads the CSV file `path` (see parse_csv). IoError if it cannot be read;
/// FormatError, naming the file, line and column, if it is malformed.
inline CsvTable read_csv(const std::string& path, const CsvOptions& options = {}) {
  const std::string text =
      detail::read_file_bytes(path, options.max_file_bytes, "CsvOptions::max_file_bytes");
  return parse_csv(text, path, options);
}

}  // namespace scvae
