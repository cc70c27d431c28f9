#pragma once
// A CsvTable (data/csv_table.hpp) turned into TableData: which columns are
// targets (and of which kind), which are features, which are ignored.
//
// Features: a column whose present cells are all numbers is one feature. A
// column whose present cells are mostly text is categorical and becomes one
// 0/1 indicator feature per category (one-hot, categories sorted by name; a
// missing cell makes all its indicators missing), at most
// TableColumns::max_categories of them. A column of mostly numbers with some
// text is refused naming the first text cell, as is a column with no value.
// Targets: categorical from text or integer values (classes sorted by name,
// or by value for numbers), real from numbers, binary from 0/1 numbers.

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "scvae/data/csv_table.hpp"
#include "scvae/data/table_data.hpp"
#include "scvae/data/table_schema.hpp"

namespace scvae {

/// A target column of a CSV table and what it holds.
struct TargetColumn {
  std::string name;
  TargetKind kind = TargetKind::Real;
};

/// Which columns of a CSV table are used, and how.
struct TableColumns {
  std::vector<TargetColumn> targets;
  /// The feature columns; empty: every column that is neither a target nor ignored.
  std::vector<std::string> features{};
  std::vector<std::string> ignore{};
  /// The most categories a text feature column may have (one indicator each):
  /// more suggests an identifier, to be ignored.
  Index max_categories = 100;
};

namespace detail {

inline std::string csv_cell_place(const CsvTable& table, Index column, Index row) {
  return table.source() + ": line " + std::to_string(table.line_of_row(row)) + ", column " +
         std::to_string(column + 1) + " (\"" + table.column_names()[static_cast<std::size_t>(column)] +
         "\")";
}

inline std::string csv_column_place(const CsvTable& table, Index column) {
  return table.source() + ": column " + std::to_string(column + 1) + " (\"" +
         table.column_names()[static_cast<std::size_t>(column)] + "\")";
}

/// The sorted distinct present cells (blanks trimmed) of a column.
inline std::vector<std::string> csv_categories(const CsvTable& table, Index column) {
  std::vector<std::string> out;
  for (const std::string& cell : table.column(column))
    if (!is_missing(cell)) out.emplace_back(trim_blanks(cell));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

/// True when most present cells of the column are text, not numbers.
inline bool csv_column_is_text(const CsvTable& table, Index column) {
  Index numbers = 0;
  Index text = 0;
  for (const std::string& cell : table.column(column)) {
    double value = 0;
    const CellValue kind = parse_cell(cell, value);
    if (kind == CellValue::number) ++numbers;
    if (kind == CellValue::not_a_number) ++text;
  }
  return text > numbers;
}

template <typename Scalar>
void add_csv_target(const CsvTable& table, const TargetColumn& spec, TableDataT<Scalar>& data) {
  const Index c = table.column_index(spec.name);
  const Index n = table.rows();
  Matrix<Scalar> values(1, n);
  std::vector<std::string> categories;
  if (spec.kind == TargetKind::Categorical && csv_column_is_text(table, c)) {
    categories = csv_categories(table, c);
    const std::vector<std::string>& cells = table.column(c);
    for (Index j = 0; j < n; ++j) {
      const std::string& cell = cells[static_cast<std::size_t>(j)];
      if (is_missing(cell)) {
        values(0, j) = std::numeric_limits<Scalar>::quiet_NaN();
        continue;
      }
      const auto at = std::lower_bound(categories.begin(), categories.end(),
                                       std::string(trim_blanks(cell)));
      values(0, j) = static_cast<Scalar>(at - categories.begin());
    }
  } else {
    const std::vector<double> numbers = table.numeric_column(c);  // FormatError names a text cell
    std::vector<double> distinct;
    for (Index j = 0; j < n; ++j) {
      const double value = numbers[static_cast<std::size_t>(j)];
      values(0, j) = static_cast<Scalar>(value);
      if (std::isnan(value)) continue;
      const bool integer = value == std::floor(value) && std::fabs(value) < 1e9;
      if ((spec.kind == TargetKind::Categorical && !integer) ||
          (spec.kind == TargetKind::Binary && value != 0.0 && value != 1.0))
        throw FormatError(csv_cell_place(table, c, j) + ": " +
                          cell_for_message(table.column(c)[static_cast<std::size_t>(j)]) +
                          " is not " +
                          (spec.kind == TargetKind::Binary ? "0 or 1 (a binary target)"
                                                           : "an integer or text (a class)"));
      if (spec.kind == TargetKind::Categorical) distinct.push_back(value);
    }
    if (spec.kind == TargetKind::Categorical) {
      std::sort(distinct.begin(), distinct.end());
      distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
      for (const double value : distinct)
        categories.push_back(std::to_string(static_cast<long long>(value)));
      for (Index j = 0; j < n; ++j) {
        if (std::isnan(static_cast<double>(values(0, j)))) continue;
        const auto at = std::lower_bound(distinct.begin(), distinct.end(),
                                         static_cast<double>(values(0, j)));
        values(0, j) = static_cast<Scalar>(at - distinct.begin());
      }
    }
  }
  if (spec.kind == TargetKind::Categorical && categories.size() < 2)
    throw FormatError(csv_column_place(table, c) + ": a categorical target needs at least two "
                      "classes, the column has " + std::to_string(categories.size()) +
                      (categories.empty() ? std::string() : " (" + cell_for_message(categories[0]) + ")"));
  if (spec.kind != TargetKind::Categorical && !table.is_numeric_column(c))
    throw FormatError(csv_column_place(table, c) + ": every value of the " +
                      target_kind_name(spec.kind) + " target is missing");
  data.add_target(spec.name, spec.kind, std::move(values), std::move(categories));
}

}  // namespace detail

/// Converts `table` into TableData: the targets of `columns` in their order,
/// then the features (columns.features in their order, or every other column
/// not ignored, in the file's order). ArgumentError naming the file and the
/// column for an unknown column, a column listed twice (as targets, or as a
/// target and a feature or ignored), no feature left; FormatError naming the
/// file, line and column for a cell that does not fit its column (text in a
/// numeric column, a class that is not an integer, a binary value not 0/1),
/// and naming the column for a categorical target with fewer than two
/// classes, a column with no value, too many categories.
template <typename Scalar = float>
TableDataT<Scalar> table_data_from_csv(const CsvTable& table, const TableColumns& columns) {
  const std::string& file = table.source();
  std::map<std::string, std::string> role;  // column -> how it is used, to refuse a second use
  const auto claim = [&](const std::string& name, const std::string& use) {
    table.column_index(name);  // ArgumentError naming the file and listing the columns
    const auto [at, inserted] = role.emplace(name, use);
    if (!inserted)
      throw ArgumentError(file + ": column \"" + name + "\" is listed twice (as " + at->second +
                          " and as " + use + ")");
  };
  for (const TargetColumn& t : columns.targets)
    claim(t.name, std::string("a ") + target_kind_name(t.kind) + " target");
  for (const std::string& name : columns.ignore) claim(name, "ignored");
  std::vector<std::string> feature_columns = columns.features;
  for (const std::string& name : feature_columns) claim(name, "a feature");
  if (feature_columns.empty())
    for (const std::string& name : table.column_names())
      if (role.count(name) == 0) feature_columns.push_back(name);
  if (feature_columns.empty())
    throw ArgumentError(file + ": no feature column is left (every column is a target or ignored)");

  // One pass to size the features, one to fill them.
  std::vector<FeatureSource> sources;
  std::vector<Index> first_row;  // per feature column, its first row in `sources`
  for (const std::string& name : feature_columns) {
    const Index c = table.column_index(name);
    first_row.push_back(static_cast<Index>(sources.size()));
    if (detail::csv_column_is_text(table, c)) {
      const std::vector<std::string> categories = detail::csv_categories(table, c);
      if (static_cast<Index>(categories.size()) > columns.max_categories)
        throw FormatError(detail::csv_column_place(table, c) + ": a text feature with " +
                          std::to_string(categories.size()) + " categories (more than " +
                          std::to_string(columns.max_categories) +
                          "): an identifier? ignore it or raise TableColumns::max_categories");
      for (const std::string& category : categories) sources.push_back(FeatureSource{name, category});
    } else {
      if (!table.is_numeric_column(c)) table.numeric_column(c);  // names the first text cell
      if (!table.is_numeric_column(c))
        throw FormatError(detail::csv_column_place(table, c) + ": every value is missing");
      sources.push_back(FeatureSource{name});
    }
  }
  const Index n = table.rows();
  Matrix<Scalar> features(static_cast<Index>(sources.size()), n);
  for (std::size_t k = 0; k < feature_columns.size(); ++k) {
    const Index c = table.column_index(feature_columns[k]);
    const Index row = first_row[k];
    if (!sources[static_cast<std::size_t>(row)].category.empty()) {
      const Index next = k + 1 < first_row.size() ? first_row[k + 1] : features.rows();
      const std::vector<std::string>& cells = table.column(c);
      for (Index j = 0; j < n; ++j) {
        const std::string& cell = cells[static_cast<std::size_t>(j)];
        const bool missing = is_missing(cell);
        const std::string text(detail::trim_blanks(cell));
        for (Index f = row; f < next; ++f)
          features(f, j) = missing ? std::numeric_limits<Scalar>::quiet_NaN()
                           : sources[static_cast<std::size_t>(f)].category == text ? Scalar(1)
                                                                                  : Scalar(0);
      }
    } else {
      const std::vector<double> values = table.numeric_column(c);
      for (Index j = 0; j < n; ++j)
        features(row, j) = static_cast<Scalar>(values[static_cast<std::size_t>(j)]);
    }
  }
  TableDataT<Scalar> data =
      TableDataT<Scalar>::with_sources(std::move(features), std::move(sources), file);
  for (const TargetColumn& t : columns.targets) detail::add_csv_target(table, t, data);
  return data;
}

/// Reads new rows (e.g. to predict) the way a model's training table was
/// read: the features of `schema` in its order, a text column's indicators
/// for the categories seen in training, and each target whose column is in
/// the table (a target column that is absent is missing for every row).
/// ArgumentError naming the file for an absent feature column; FormatError
/// naming the file, line and column for a cell that does not fit (text in a
/// numeric column, a category or class not seen in training).
template <typename Scalar = float>
TableDataT<Scalar> table_data_from_csv(const CsvTable& table, const TableSchema& schema) {
  const Index n = table.rows();
  const auto category_of = [&](const std::vector<std::string>& known, Index c, Index row,
                               const char* what) {
    std::string text(detail::trim_blanks(table.column(c)[static_cast<std::size_t>(row)]));
    double number = 0;  // classes read from integers are named by the integer: "1.0" is "1"
    if (detail::parse_cell(text, number) == detail::CellValue::number &&
        number == std::floor(number) && std::fabs(number) < 1e9)
      text = std::to_string(static_cast<long long>(number));
    const auto at = std::find(known.begin(), known.end(), text);
    if (at == known.end()) {
      std::string list;
      for (const std::string& k : known) list += (list.empty() ? "" : ", ") + detail::cell_for_message(k);
      throw FormatError(detail::csv_cell_place(table, c, row) + ": " + detail::cell_for_message(text) +
                        " is not a " + what + " seen in training (" + list + ")");
    }
    return static_cast<Index>(at - known.begin());
  };
  Matrix<Scalar> features(static_cast<Index>(schema.features.size()), n);
  for (std::size_t f = 0; f < schema.features.size();) {
    const FeatureSource& source = schema.features[f];
    const Index c = table.column_index(source.column);
    if (source.category.empty()) {
      const std::vector<double> values = table.numeric_column(c);
      for (Index j = 0; j < n; ++j)
        features(static_cast<Index>(f), j) = static_cast<Scalar>(values[static_cast<std::size_t>(j)]);
      ++f;
      continue;
    }
    std::vector<std::string> known;  // the column's indicators, consecutive in the schema
    std::size_t end = f;
    for (; end < schema.features.size() && schema.features[end].column == source.column &&
           !schema.features[end].category.empty();
         ++end)
      known.push_back(schema.features[end].category);
    for (Index j = 0; j < n; ++j) {
      const bool missing = is_missing(table.column(c)[static_cast<std::size_t>(j)]);
      const Index hot = missing ? -1 : category_of(known, c, j, "category");
      for (std::size_t k = f; k < end; ++k)
        features(static_cast<Index>(k), j) =
            missing ? std::numeric_limits<Scalar>::quiet_NaN()
                    : static_cast<Scalar>(static_cast<Index>(k - f) == hot ? 1 : 0);
    }
    f = end;
  }
  TableDataT<Scalar> data =
      TableDataT<Scalar>::with_sources(std::move(features), schema.features, table.source());
  for (const TableTargetSchema& target : schema.targets) {
    Matrix<Scalar> values =
        Matrix<Scalar>::Constant(target.rows, n, std::numeric_limits<Scalar>::quiet_NaN());
    if (table.has_column(target.name)) {
      if (target.rows != 1)
        throw ArgumentError(table.source() + ": target \"" + target.name + "\" has " +
                            std::to_string(target.rows) + " rows; a CSV column holds one");
      const Index c = table.column_index(target.name);
      if (target.kind == TargetKind::Categorical) {
        for (Index j = 0; j < n; ++j)
          if (!is_missing(table.column(c)[static_cast<std::size_t>(j)]))
            values(0, j) = static_cast<Scalar>(category_of(target.categories, c, j, "class"));
      } else {
        const std::vector<double> numbers = table.numeric_column(c);
        for (Index j = 0; j < n; ++j) {
          const double value = numbers[static_cast<std::size_t>(j)];
          if (target.kind == TargetKind::Binary && !std::isnan(value) && value != 0.0 && value != 1.0)
            throw FormatError(detail::csv_cell_place(table, c, j) + ": " +
                              detail::cell_for_message(table.column(c)[static_cast<std::size_t>(j)]) +
                              " is not 0 or 1 (a binary target)");
          values(0, j) = static_cast<Scalar>(value);
        }
      }
    }
    data.add_target(target.name, target.kind, std::move(values), target.categories);
  }
  return data;
}

}  // namespace scvae
