// The CSV and NPY readers (data/csv.hpp, data/npy.hpp): every feature on a
// good file, and the corpus of malformed files in tests/data/malformed/, each
// checked for the exception type and a message naming the file and the
// place (line and column, or byte offset).

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <new>
#include <set>
#include <string>
#include <vector>

#include "../largest_allocation.hpp"
#include "../test_support.hpp"
#include "scvae/data/csv.hpp"
#include "scvae/data/npy.hpp"

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
  for (const std::string text : {"a,b\r\n1,2\r\n",
                                 "\xEF\xBB\xBF"
                                 "a,b\n1,2\n",
                                 "a,b\n1,2", "a,b\n1,2\n\n\n", "a,b\r\n1,2\r\n\r\n"}) {
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
  const scvae::CsvTable table =
      scvae::parse_csv("x,y,label\n1.5,NA,cat\n -2e3 ,,dog\n+.25,3,NA\n7.,nan,cat\n", "n.csv");
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
  const std::vector<std::pair<std::string, std::string>> bad = {{"1e400", "beyond the range"},
                                                                {"0x10", "neither"},
                                                                {"inf", "neither"},
                                                                {"1 2", "neither"},
                                                                {"1e", "neither"},
                                                                {".", "neither"},
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

// ---------------------------------------------------------------- NPY

/// An NPY file as numpy.save writes it: the header padded with spaces to a
/// multiple of 64 bytes and ended by a newline.
std::string npy_file(const std::string& header, const std::string& data, int major = 1) {
  const std::size_t preamble = major == 1 ? 10 : 12;
  std::string dict = header;
  while ((preamble + dict.size() + 1) % 64 != 0) dict += ' ';
  dict += '\n';
  std::string bytes = std::string("\x93NUMPY", 6) + static_cast<char>(major) + '\0';
  for (std::size_t b = 0; b < preamble - 8; ++b) {
    bytes += static_cast<char>((dict.size() >> (8 * b)) & 0xFF);
  }
  return bytes + dict + data;
}

template <typename T>
std::string raw(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

std::string dict(const std::string& descr, const std::string& order, const std::string& shape) {
  return "{'descr': '" + descr + "', 'fortran_order': " + order + ", 'shape': " + shape + ", }";
}

TEST(NpyTest, ReadsTheBytesNumpyWrites) {
  // np.save(f, np.arange(6.0).reshape(2, 3)), byte for byte.
  std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }";
  header += std::string(128 - 10 - header.size() - 1, ' ') + "\n";
  const std::string bytes = std::string("\x93NUMPY\x01\x00\x76\x00", 10) + header +
                            raw(std::vector<double>{0, 1, 2, 3, 4, 5});
  EXPECT_EQ(bytes,
            npy_file(dict("<f8", "False", "(2, 3)"), raw(std::vector<double>{0, 1, 2, 3, 4, 5})));
  const scvae::NpyArray array = scvae::parse_npy(bytes, "a.npy");
  EXPECT_EQ(array.rows, 2);
  EXPECT_EQ(array.cols, 3);
  EXPECT_EQ(array.dimensions, 2);
  EXPECT_EQ(array.descr, "<f8");
  EXPECT_EQ(array.values, (std::vector<double>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(array.at(1, 0), 3.0);
}

TEST(NpyTest, FortranOrderComesBackRowMajor) {
  // Column-major storage of [[1, 2, 3], [4, 5, 6]].
  const scvae::NpyArray array = scvae::parse_npy(
      npy_file(dict("<f4", "True", "(2, 3)"), raw(std::vector<float>{1, 4, 2, 5, 3, 6})), "f.npy");
  EXPECT_EQ(array.values, (std::vector<double>{1, 2, 3, 4, 5, 6}));
  // features x samples: the (samples, features) array transposed.
  const scvae::Matrix<float> matrix = scvae::features_by_samples<float>(array);
  ASSERT_EQ(matrix.rows(), 3);
  ASSERT_EQ(matrix.cols(), 2);
  EXPECT_EQ(matrix(2, 0), 3.0f);
  EXPECT_EQ(matrix(0, 1), 4.0f);
}

TEST(NpyTest, EveryDtypeAndByteOrder) {
  const std::string shape = "(3,)";
  const auto values_of = [&](const std::string& descr, const std::string& data) {
    const scvae::NpyArray array =
        scvae::parse_npy(npy_file(dict(descr, "False", shape), data), "d.npy");
    EXPECT_EQ(array.rows, 3) << descr;
    EXPECT_EQ(array.cols, 1) << descr;
    EXPECT_EQ(array.dimensions, 1) << descr;
    return array.values;
  };
  using V = std::vector<double>;
  EXPECT_EQ(values_of("|u1", raw(std::vector<std::uint8_t>{0, 7, 255})), (V{0, 7, 255}));
  EXPECT_EQ(values_of("|i1", raw(std::vector<std::int8_t>{-128, 0, 127})), (V{-128, 0, 127}));
  EXPECT_EQ(values_of("<i2", raw(std::vector<std::int16_t>{-32768, -1, 300})),
            (V{-32768, -1, 300}));
  EXPECT_EQ(values_of("<u2", raw(std::vector<std::uint16_t>{65535, 1, 2})), (V{65535, 1, 2}));
  EXPECT_EQ(values_of("<i4", raw(std::vector<std::int32_t>{-2147483647 - 1, 5, -5})),
            (V{-2147483648.0, 5, -5}));
  EXPECT_EQ(values_of("<u4", raw(std::vector<std::uint32_t>{4294967295u, 0, 9})),
            (V{4294967295.0, 0, 9}));
  EXPECT_EQ(values_of("<i8", raw(std::vector<std::int64_t>{-(std::int64_t{1} << 40), 1, -1})),
            (V{-1099511627776.0, 1, -1}));
  EXPECT_EQ(values_of("<u8", raw(std::vector<std::uint64_t>{std::uint64_t{1} << 63, 3, 0})),
            (V{9223372036854775808.0, 3, 0}));
  EXPECT_EQ(values_of("<f4", raw(std::vector<float>{0.5f, -1.25f, 3e38f})),
            (V{0.5, -1.25, double(3e38f)}));
  EXPECT_EQ(values_of("|b1", std::string("\x01\x00\x01", 3)), (V{1, 0, 1}));
  // Big-endian: the bytes reversed per item.
  EXPECT_EQ(values_of(">i2", std::string("\xFF\xFE\x01\x00\x00\x02", 6)), (V{-2, 256, 2}));
  EXPECT_EQ(values_of(">f8", std::string("\x3F\xF0\0\0\0\0\0\0"
                                         "\xC0\0\0\0\0\0\0\0"
                                         "\0\0\0\0\0\0\0\0",
                                         24)),
            (V{1.0, -2.0, 0.0}));
  // NaN (a missing value) survives.
  const V nan = values_of("<f8", raw(std::vector<double>{1, std::nan(""), 2}));
  EXPECT_TRUE(std::isnan(nan[1]));
}

TEST(NpyTest, Versions2And3AndHeaderSpellings) {
  const std::string data = raw(std::vector<double>{1, 2});
  for (const int major : {2, 3}) {
    EXPECT_EQ(scvae::parse_npy(npy_file(dict("<f8", "False", "(2,)"), data, major), "v.npy").values,
              (std::vector<double>{1, 2}));
  }
  // Double quotes, keys in another order, no trailing comma, spaces, a Python 2 'L'.
  for (const std::string header :
       {"{\"shape\": (1, 2), \"descr\": \"<f8\", \"fortran_order\": False}",
        "{ 'descr' : '<f8' , 'fortran_order' : False , 'shape' : ( 1 , 2 , ) }",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (1L, 2L), }"}) {
    const scvae::NpyArray array = scvae::parse_npy(npy_file(header, data), "s.npy");
    EXPECT_EQ(array.rows, 1) << header;
    EXPECT_EQ(array.cols, 2) << header;
  }
}

TEST(NpyTest, MalformedHeadersNameFileByteAndField) {
  const std::string data = raw(std::vector<double>{1, 2});
  const auto refuse = [&](const std::string& header, const std::vector<std::string>& parts) {
    SCOPED_TRACE(header);
    expect_error<scvae::FormatError>([&] { scvae::parse_npy(npy_file(header, data), "m.npy"); },
                                     parts);
  };
  refuse(dict("<f8", "false", "(2,)"),
         {"m.npy: NPY header, byte 44: 'fortran_order' must be True"});
  refuse(dict("<f8", "False", "(2,)") + "x", {"m.npy: NPY header, byte 67: unexpected \"x  "});
  refuse(dict("|f8", "False", "(2,)"),
         {"m.npy: NPY header field 'descr', byte 20", "needs a byte order"});
  refuse(dict("=f8", "False", "(2,)"), {"field 'descr', byte 20", "no byte order"});
  refuse(dict("<f2", "False", "(2,)"), {"field 'descr', byte 20: unsupported dtype '<f2'"});
  refuse(dict("<O", "False", "(2,)"), {"field 'descr'", "unsupported dtype '<O'"});
  refuse(dict("<f8", "False", "(02,)"), {"byte 61: a dimension of 'shape' has a leading zero"});
  refuse(dict("<f8", "False", "(99999999999999999999,)"),
         {"byte 61: a dimension of 'shape' overflows"});
  refuse(dict("<f8", "False", "(-2,)"), {"byte 61: expected a non-negative integer"});
  refuse(dict("<f8", "False", "[2]"), {"byte 60: 'shape' must be a tuple"});
  refuse(dict("<f8", "False", "(0, 2)"),
         {"field 'shape', byte 60: shape (0, 2) has a dimension of size zero"});
  refuse("{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (2,)}",
         {"byte 27: the key 'descr' appears twice"});
  refuse("{'descr': '<f\\x38', 'fortran_order': False, 'shape': (2,)}",
         {"byte 23: unexpected byte in a string"});
  refuse("['descr']", {"byte 10: the header dictionary must start with '{'"});
  refuse("{'descr: '<f8'}", {"byte 20: expected ':' after the key 'descr: '"});
}

TEST(NpyTest, ALyingHeaderCostsNoAllocationOfItsSize) {
  // Shape (2^30, 2^30) of doubles claims 8 EiB; the 16 bytes present are all
  // it may read, and nothing near the claimed size is allocated.
  const std::string bytes =
      npy_file(dict("<f8", "False", "(1073741824, 1073741824)"), raw(std::vector<double>{1, 2}));
  g_largest_allocation = 0;
  expect_error<scvae::FormatError>(
      [&] { scvae::parse_npy(bytes, "lie.npy"); },
      {"lie.npy: NPY header field 'shape', byte 60: shape (1073741824, 1073741824) of '<f8' "
       "needs 9223372036854775808 data bytes from byte 128, the file holds 16 (truncated)"});
  EXPECT_LT(g_largest_allocation.load(), std::size_t{4096});
  // And for the CSV reader: a file of one huge field is refused before it is copied.
  const std::string text = "a\n" + std::string(std::size_t{1} << 21, 'x') + "\n";
  g_largest_allocation = 0;
  expect_error<scvae::FormatError>([&] { scvae::parse_csv(text, "h.csv"); },
                                   {"h.csv: line 2, column 1: field longer than"});
  EXPECT_LT(g_largest_allocation.load(), std::size_t{1} << 20) << "only the message and the text";
}

TEST(NpyTest, ReadNpyReadsAFileAndChecksItsSize) {
  scvae::testing::TempDir dir("scvae_npy_test");
  const fs::path path = dir.path / "x.npy";
  write_file(path, npy_file(dict("<f8", "False", "(2,)"), raw(std::vector<double>{4, 5})));
  EXPECT_EQ(scvae::read_npy(path.string()).values, (std::vector<double>{4, 5}));
  scvae::NpyOptions tiny;
  tiny.max_file_bytes = 100;
  expect_error<scvae::FormatError>(
      [&] { scvae::read_npy(path.string(), tiny); },
      {path.string(), "over the limit of 100 bytes (NpyOptions::max_file_bytes)"});
  expect_error<scvae::IoError>([&] { scvae::read_npy((dir.path / "absent.npy").string()); },
                               {"absent.npy", "not found"});
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
    {"npy-bad-magic.npy", ": byte 0: bad magic \"\\x93NUMPZ\": not an NPY file"},
    {"npy-empty.npy", ": byte 0: truncated: an NPY file starts with 10 bytes"},
    {"npy-truncated-preamble.npy", ": byte 7: truncated: an NPY file starts with 10 bytes"},
    {"npy-header-past-end.npy", ": byte 8: truncated: the header length 118 runs past the end"},
    {"npy-lying-shape.npy",
     ": NPY header field 'shape', byte 60: shape (1000, 1000) of '<f8' needs 8000000 data bytes "
     "from byte 128, the file holds 48 (truncated)"},
    {"npy-truncated-data.npy",
     ": NPY header field 'shape', byte 60: shape (2, 3) of '<f8' needs 48 data bytes from byte "
     "128, the file holds 43 (truncated)"},
    {"npy-trailing-data.npy",
     ": NPY header field 'shape', byte 60: shape (2, 3) of '<f8' needs 48 data bytes from byte "
     "128, the file holds 52 (trailing data)"},
    {"npy-shape-overflow.npy",
     ": NPY header field 'shape', byte 60: shape (4611686018427387904, 4611686018427387904) of "
     "'<f8' needs more than 2^64 data bytes"},
    {"npy-unknown-dtype.npy", ": NPY header field 'descr', byte 20: unsupported dtype '<c16'"},
    {"npy-bad-dict.npy", ": NPY header, byte 19: expected ':' after the key 'descr'"},
    {"npy-unknown-key.npy", ": NPY header, byte 68: unknown key 'extra'"},
    {"npy-missing-key.npy", ": NPY header, byte 10: the header has no 'fortran_order' key"},
    {"npy-three-dimensions.npy",
     ": NPY header field 'shape', byte 60: shape (1, 2, 3) has 3 dimensions: only 1-D and 2-D"},
    {"npy-zero-dimensions.npy", ": NPY header field 'shape', byte 60: shape () has 0 dimensions"},
    {"npy-version-4.npy", ": byte 6: unsupported NPY version 4.0"},
    {"npy-structured-dtype.npy", ": NPY header, byte 20: descr is a list (a structured array)"},
    {"npy-shape-not-tuple.npy", ": NPY header, byte 62: 'shape' (n) is not a tuple"},
    {"npy-bool-not-0-or-1.npy", ": byte 130: a bool item holds 2, not 0 or 1"},
    {"npy-unterminated-dict.npy", ": NPY header, byte 128: expected a quoted string for a key"},
};

void read_malformed(const fs::path& path) {
  if (path.extension() == ".csv") {
    const scvae::CsvTable table = scvae::read_csv(path.string());
    for (scvae::Index c = 0; c < table.cols(); ++c) table.numeric_column(c);
  } else if (path.extension() == ".npy") {
    scvae::read_npy(path.string());
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
