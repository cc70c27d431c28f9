// libFuzzer target for the CSV reader (data/csv.hpp): parse_csv on the fuzz
// input with the separator detected, and again with a semicolon and a field
// limit of 8 bytes, then every column through is_numeric_column and
// numeric_column. scvae::Error is an expected refusal; a crash, a sanitizer
// report, another exception or a broken invariant of an accepted table
// (ragged columns, empty or duplicate names, rows out of line order, a field
// over the limit, numeric_column disagreeing with is_numeric_column) is a
// finding. Seeds: fuzz/corpus/csv/.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "scvae/data/csv.hpp"

namespace {

void check_table(const scvae::CsvTable& table, const scvae::CsvOptions& options) {
  scvae_fuzz::require(table.rows() > 0 && table.cols() > 0, "an accepted table is not empty");
  std::set<std::string> names;
  for (const std::string& name : table.column_names()) {
    scvae_fuzz::require(!name.empty(), "column names are not empty");
    scvae_fuzz::require(names.insert(name).second, "column names are unique");
  }
  for (scvae::Index r = 1; r < table.rows(); ++r) {
    scvae_fuzz::require(table.line_of_row(r) > table.line_of_row(r - 1),
                        "rows start on increasing lines");
  }
  scvae_fuzz::require(table.line_of_row(0) >= 2, "the first row comes after the header");
  for (scvae::Index c = 0; c < table.cols(); ++c) {
    scvae_fuzz::require(static_cast<scvae::Index>(table.column(c).size()) == table.rows(),
                        "every column holds rows() cells");
    for (const std::string& cell : table.column(c)) {
      scvae_fuzz::require(cell.size() <= options.max_field_bytes, "no cell is over the limit");
    }
    const bool numeric = table.is_numeric_column(c);
    bool converted = false;
    bool any_number = false;
    try {
      for (const double value : table.numeric_column(c)) {
        scvae_fuzz::require(!std::isinf(value), "numeric cells are finite or NaN (missing)");
        any_number = any_number || !std::isnan(value);
      }
      converted = true;
    } catch (const scvae::FormatError&) {
      converted = false;
    }
    scvae_fuzz::require(numeric == (converted && any_number),
                        "is_numeric_column agrees with numeric_column");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  scvae::CsvOptions detected;
  scvae::CsvOptions narrow;
  narrow.delimiter = scvae::CsvDelimiter::semicolon;
  narrow.max_field_bytes = 8;
  for (const scvae::CsvOptions& options : {detected, narrow}) {
    scvae_fuzz::expect_only_scvae_errors("parse_csv", [&] {
      check_table(scvae::parse_csv(text, "fuzz.csv", options), options);
    });
  }
  return 0;
}
