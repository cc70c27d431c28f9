#pragma once
// Writes a CsvTable (data/csv_table.hpp) as RFC 4180 CSV: a header row, then
// one record per row, each ended by "\n", a field quoted when it holds the
// delimiter, a quote, a line break or blanks at either end (which other
// readers would trim), and the empty field of a one-column table (else a
// blank line). Atomic like a checkpoint: the file is complete or not there.

#include <string>

#include "scvae/data/csv_table.hpp"
#include "scvae/io/atomic_file.hpp"

namespace scvae {

/// `field` as one CSV field: as it is, or quoted with its quotes doubled.
inline std::string csv_field(const std::string& field, char delimiter = ',') {
  const bool quote = field.find_first_of(std::string("\"\r\n") + delimiter) != std::string::npos ||
                     (!field.empty() && (field.front() == ' ' || field.back() == ' ' ||
                                         field.front() == '\t' || field.back() == '\t'));
  if (!quote) return field;
  std::string out = "\"";
  for (const char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

/// The CSV text of `table`: parse_csv reads it back to the same names and cells.
inline std::string csv_text(const CsvTable& table, char delimiter = ',') {
  std::string out;
  const auto record = [&](const auto& cell_of) {
    for (Index c = 0; c < table.cols(); ++c) {
      if (c > 0) out += delimiter;
      const std::string& cell = cell_of(c);
      out += table.cols() == 1 && cell.empty() ? std::string("\"\"") : csv_field(cell, delimiter);
    }
    out += '\n';
  };
  record([&](Index c) -> const std::string& {
    return table.column_names()[static_cast<std::size_t>(c)];
  });
  for (Index r = 0; r < table.rows(); ++r)
    record([&](Index c) -> const std::string& {
      return table.column(c)[static_cast<std::size_t>(r)];
    });
  return out;
}

/// Writes csv_text(table, delimiter) to `path` atomically; IoError naming
/// the path when it cannot.
inline void write_csv(const std::string& path, const CsvTable& table, char delimiter = ',') {
  const std::string text = csv_text(table, delimiter);
  detail::AtomicFile file(path, "CSV file");
  file.write(text.data(), text.size());
  file.commit();
}

}  // namespace scvae
