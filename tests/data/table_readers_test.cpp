// The CSV and NPY readers (data/csv.hpp, data/npy.hpp): every feature on a
// good file, and the corpus of malformed files in tests/data/malformed/, each
// checked for the exception type and a message naming the file and the
// place (line and column, or byte offset).

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "../test_support.hpp"
#include "scvae/data/csv.hpp"

namespace {

namespace fs = std::filesystem;

const fs::path kMalformedDir = fs::path(SCVAE_TEST_DATA_DIR) / "malformed";

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

/// Runs `call`, expects an exception of type E whose message contains every
/// one of `parts`; returns the message.
template <typename E, typename F>
std::string expect_error(F&& call, const std::vector<std::string>& parts) {
  try {
    call();
  } catch (const E& error) {
    const std::string message = error.what();
    for (const std::string& part : parts) {
      EXPECT_NE(message.find(part), std::string::npos)
          << "message lacks \"" << part << "\": " << message;
    }
    return message;
  } catch (const std::exception& error) {
    ADD_FAILURE() << "wrong exception type: " << error.what();
    return "";
  }
  ADD_FAILURE() << "no exception";
  return "";
}

std::vector<std::string> all(const scvae::CsvTable& table, scvae::Index column) {
  return table.column(column);
}

// ---------------------------------------------------------------- CSV

TEST(CsvTest, ReadsHeaderAndCellsByColumn) {
  const scvae::CsvTable table = scvae::parse_csv("a,b,c\n1,2,3\n4,5,6\n", "t.csv");
  EXPECT_EQ(table.source(), "t.csv");
  EXPECT_EQ(table.rows(), 2);
  EXPECT_EQ(table.cols(), 3);
  EXPECT_EQ(table.column_names(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(table.column("b"), (std::vector<std::string>{"2", "5"}));
  EXPECT_EQ(table.column_index("c"), 2);
  EXPECT_EQ(table.line_of_row(0), 2u);
  EXPECT_EQ(table.line_of_row(1), 3u);
  EXPECT_TRUE(table.has_column("a"));
  EXPECT_FALSE(table.has_column("d"));
}

TEST(CsvTest, QuotedFieldsHoldSeparatorsNewlinesAndEscapedQuotes) {
  const scvae::CsvTable table = scvae::parse_csv(
      "name,note\n\"Smith, J\",\"said \"\"hi\"\"\"\n\"two\nlines\",\"\"\nlast,x\n", "q.csv");
  ASSERT_EQ(table.rows(), 3);
  EXPECT_EQ(all(table, 0), (std::vector<std::string>{"Smith, J", "two\nlines", "last"}));
  EXPECT_EQ(all(table, 1), (std::vector<std::string>{"said \"hi\"", "", "x"}));
  // The third row starts on line 5: the second spans lines 3 and 4.
  EXPECT_EQ(table.line_of_row(2), 5u);
}

TEST(CsvTest, DetectsSemicolonAndTabFromTheHeaderLine) {
  const scvae::CsvTable semicolons = scvae::parse_csv("a;b\n1,5;2\n", "s.csv");
  EXPECT_EQ(semicolons.column("a"), (std::vector<std::string>{"1,5"}));
  const scvae::CsvTable tabs = scvae::parse_csv("a\tb,c\td\n1\t2,3\t4\n", "t.tsv");
  EXPECT_EQ(tabs.column_names(), (std::vector<std::string>{"a", "b,c", "d"}));
  // A separator inside a quoted header name does not count.
  const scvae::CsvTable quoted = scvae::parse_csv("\"a;b;c\",d\n1,2\n", "q.csv");
  EXPECT_EQ(quoted.column_names(), (std::vector<std::string>{"a;b;c", "d"}));
}

TEST(CsvTest, AGivenDelimiterOverridesDetection) {
  scvae::CsvOptions options;
  options.delimiter = scvae::CsvDelimiter::semicolon;
  const scvae::CsvTable table = scvae::parse_csv("a,b\n1,2\n", "g.csv", options);
  EXPECT_EQ(table.column_names(), (std::vector<std::string>{"a,b"}));
  options.delimiter = scvae::CsvDelimiter::tab;
  EXPECT_EQ(scvae::parse_csv("a;b\tc\n1;2\t3\n", "g.tsv", options).column("c"),
            (std::vector<std::string>{"3"}));
}

TEST(CsvTest, CrlfBomMissingFinalNewlineAndTrailingBlankLines) {
  const std::string expected_a = "1";
  for (const std::string text :
       {"a,b\r\n1,2\r\n", "\xEF\xBB\xBF" "a,b\n1,2\n", "a,b\n1,2", "a,b\n1,2\n\n\n", "a,b\r\n1,2\r\n\r\n"}) {
    const scvae::CsvTable table = scvae::parse_csv(text, "v.csv");
    ASSERT_EQ(table.rows(), 1) << text;
    EXPECT_EQ(table.column_names()[0], "a") << "the BOM is not part of the first name";
    EXPECT_EQ(table.column("a")[0], expected_a);
    EXPECT_EQ(table.column("b")[0], "2");
  }
  // A CRLF inside quotes is data.
  EXPECT_EQ(scvae::parse_csv("a\r\n\"x\r\ny\"\r\n", "c.csv").column("a")[0], "x\r\ny");
}

TEST(CsvTest, EmptyFieldsAndOneColumnBlankLines) {
  const scvae::CsvTable table = scvae::parse_csv("a,b,c\n,,\n1,,\n", "e.csv");
  EXPECT_EQ(table.column("c"), (std::vector<std::string>{"", ""}));
  // With one column a blank line inside the data is an empty (missing) cell;
  // blank lines at the end are not rows.
  const scvae::CsvTable one = scvae::parse_csv("x\n1\n\n3\n\n", "o.csv");
  EXPECT_EQ(one.column("x"), (std::vector<std::string>{"1", "", "3"}));
  EXPECT_EQ(one.line_of_row(2), 4u);
  // A quoted empty field at the end is a row, not a blank line.
  EXPECT_EQ(scvae::parse_csv("x\n1\n\"\"\n", "q.csv").rows(), 2);
}

TEST(CsvTest, MissingValueSpellings) {
  for (const char* missing : {"", "  ", "NA", "na", "N/A", "n/a", "NaN", "nan", "NAN", "NULL",
                              "null", "None", "#N/A", "<NA>", " NA "}) {
    EXPECT_TRUE(scvae::is_missing(missing)) << '"' << missing << '"';
  }
  for (const char* present : {"0", "N", "A", "NAA", "-", "nil", "missing", "\"\""}) {
    EXPECT_FALSE(scvae::is_missing(present)) << '"' << present << '"';
  }
}

TEST(CsvTest, NumericColumnsParseStrictly) {
  const scvae::CsvTable table = scvae::parse_csv(
      "x,y,label\n1.5,NA,cat\n -2e3 ,,dog\n+.25,3,NA\n7.,nan,cat\n", "n.csv");
  const std::vector<double> x = table.numeric_column("x");
  EXPECT_EQ(x, (std::vector<double>{1.5, -2000.0, 0.25, 7.0}));
  const std::vector<double> y = table.numeric_column(1);
  ASSERT_EQ(y.size(), 4u);
  EXPECT_TRUE(std::isnan(y[0]) && std::isnan(y[1]) && std::isnan(y[3]));
  EXPECT_EQ(y[2], 3.0);
  EXPECT_TRUE(table.is_numeric_column("x"));
  EXPECT_TRUE(table.is_numeric_column("y"));
  EXPECT_FALSE(table.is_numeric_column("label"));
  // A column of missing values only is not numeric.
  EXPECT_FALSE(scvae::parse_csv("m\nNA\n\"\"\n", "m.csv").is_numeric_column(0));
  // Shortest round trip: the parsed double is the nearest one.
  EXPECT_EQ(scvae::parse_csv("v\n0.1\n", "r.csv").numeric_column(0)[0], 0.1);
}

TEST(CsvTest, NonNumbersAreRefusedNamingFileLineAndColumn) {
  const scvae::CsvTable table = scvae::parse_csv(
      "a,b\n1,2\n\"x\ny\",3\n4,5\n6,1e400\n7,0x10\n8,inf\n9,1 2\n10,1e\n11,.\n12,--1\n", "w.csv");
  expect_error<scvae::FormatError>([&] { table.numeric_column("a"); },
                                   {"w.csv: line 3, column 1 (\"a\"): \"x\\x0Ay\" is neither"});
  // Each bad cell in turn: replace the earlier ones by numbers.
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"1e400", "beyond the range"}, {"0x10", "neither"}, {"inf", "neither"},
      {"1 2", "neither"},            {"1e", "neither"},   {".", "neither"},
      {"--1", "neither"}};
  for (const auto& [cell, problem] : bad) {
    const scvae::CsvTable one = scvae::parse_csv("p,q\n1,2\n3," + cell + "\n", "c.csv");
    expect_error<scvae::FormatError>([&] { one.numeric_column("q"); },
                                     {"c.csv: line 3, column 2 (\"q\")", problem});
    EXPECT_FALSE(one.is_numeric_column("q")) << cell;
  }
}

TEST(CsvTest, UnknownColumnsAndIndicesAreArgumentErrors) {
  const scvae::CsvTable table = scvae::parse_csv("a,b\n1,2\n", "u.csv");
  expect_error<scvae::ArgumentError>([&] { table.column("zz"); },
                                     {"u.csv", "\"zz\"", "\"a\", \"b\""});
  expect_error<scvae::ArgumentError>([&] { table.numeric_column(2); }, {"u.csv", "index 2"});
  expect_error<scvae::ArgumentError>([&] { table.line_of_row(1); }, {"u.csv", "row 1"});
}

TEST(CsvTest, AFieldOverTheLimitIsRefusedNamingLineAndColumn) {
  const std::string huge((std::size_t{1} << 20) + 1, '7');
  expect_error<scvae::FormatError>(
      [&] { scvae::parse_csv("a,b\n1,2\n3," + huge + "\n", "h.csv"); },
      {"h.csv: line 3, column 2: field longer than the limit of 1048576 bytes"});
  // The same for a quoted field, named at the line its quote opens.
  scvae::CsvOptions small;
  small.max_field_bytes = 4;
  expect_error<scvae::FormatError>(
      [&] { scvae::parse_csv("a,b\n1,\"ab\n\"\"cd\"\n", "s.csv", small); },
      {"s.csv: line 2, column 2: field longer than the limit of 4 bytes"});
  EXPECT_EQ(scvae::parse_csv("a,b\n1,\"ab\"\"c\"\n", "s.csv", small).column(1)[0], "ab\"c");
}

TEST(CsvTest, ReadCsvReadsAFileAndChecksItsSize) {
  scvae::testing::TempDir dir("scvae_csv_test");
  const fs::path path = dir.path / "wine.csv";
  write_file(path, "alcohol;class\r\n13.2;1\r\n12.4;NA\r\n");
  const scvae::CsvTable table = scvae::read_csv(path.string());
  EXPECT_EQ(table.source(), path.string());
  EXPECT_EQ(table.numeric_column("alcohol"), (std::vector<double>{13.2, 12.4}));
  scvae::CsvOptions tiny;
  tiny.max_file_bytes = 10;
  expect_error<scvae::FormatError>([&] { scvae::read_csv(path.string(), tiny); },
                                   {path.string(), "over the limit of 10 bytes"});
  expect_error<scvae::IoError>([&] { scvae::read_csv((dir.path / "absent.csv").string()); },
                               {"absent.csv", "not found"});
  expect_error<scvae::IoError>([&] { scvae::read_csv(dir.path.string()); }, {"directory"});
}

// ---------------------------------------------------------------- corpus

/// Each file of tests/data/malformed/ and what its message must say after
/// the file name. A CSV file is read and every column converted to numbers.
const std::map<std::string, std::string> kMalformed = {
    {"csv-ragged-row.csv", ": line 3, column 3: row has 2 fields, the header has 3 columns"},
    {"csv-too-many-fields.csv", ": line 3, column 3: row has 3 fields, the header has 2"},
    {"csv-unterminated-quote.csv", ": line 3, column 2: unterminated quoted field"},
    {"csv-text-after-quote.csv", ": line 2, column 2: text after the closing quote"},
    {"csv-quote-inside-field.csv", ": line 2, column 2: a quote inside an unquoted field"},
    {"csv-nul-byte.csv", ": line 2, column 2: a NUL byte"},
    {"csv-empty.csv", ": line 1, column 1: no header row"},
    {"csv-blank-first-line.csv", ": line 1, column 1: no header row"},
    {"csv-header-only.csv", ": line 2, column 1: no data rows after the header"},
    {"csv-duplicate-column.csv", ": line 1, column 3: duplicate column name \"a\" (also column 1)"},
    {"csv-empty-column-name.csv", ": line 1, column 2: empty column name"},
    {"csv-bare-cr.csv", ": line 1, column 2: a carriage return (CR) not followed by"},
    {"csv-blank-line-inside.csv", ": line 3, column 1: blank line inside the data"},
    {"csv-ambiguous-separator.csv", ": line 1, column 1: cannot tell the separator"},
    {"csv-ragged-after-multiline-quote.csv", ": line 4, column 2: row has 1 fields"},
    {"csv-not-a-number.csv", ": line 3, column 2 (\"y\"): \"abc\" is neither a number"},
    {"csv-number-out-of-range.csv", ": line 2, column 1 (\"x\"): \"1e999\" is beyond"},
    {"csv-hex-number.csv", ": line 2, column 2 (\"y\"): \"0x1A\" is neither"},
    {"csv-infinity.csv", ": line 3, column 1 (\"x\"): \"inf\" is neither"},
    {"csv-space-inside-number.csv", ": line 2, column 1 (\"x\"): \"1 2\" is neither"},
};

void read_malformed(const fs::path& path) {
  if (path.extension() == ".csv") {
    const scvae::CsvTable table = scvae::read_csv(path.string());
    for (scvae::Index c = 0; c < table.cols(); ++c) table.numeric_column(c);
  } else {
    FAIL() << "no reader for " << path;
  }
}

TEST(MalformedCorpusTest, EveryFileIsRefusedNamingFileAndPlace) {
  std::set<std::string> on_disk;
  for (const fs::directory_entry& entry : fs::directory_iterator(kMalformedDir)) {
    const std::string name = entry.path().filename().string();
    if (name != "README.md") on_disk.insert(name);
  }
  std::set<std::string> listed;
  for (const auto& [name, expected] : kMalformed) listed.insert(name);
  EXPECT_EQ(on_disk, listed) << "every file of the corpus has its expected message here";
  EXPECT_GE(listed.size(), 20u);
  for (const auto& [name, expected] : kMalformed) {
    const fs::path path = kMalformedDir / name;
    SCOPED_TRACE(name);
    expect_error<scvae::FormatError>([&] { read_malformed(path); }, {path.string() + expected});
  }
}

}  // namespace
