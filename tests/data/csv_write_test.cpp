// write_csv (data/csv_write.hpp): what it writes, parse_csv reads back to the
// same names and cells, whatever the cells hold.

#include "scvae/data/csv_write.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "scvae/data/csv.hpp"

namespace scvae {
namespace {

TEST(CsvWrite, QuotesOnlyWhatNeedsQuoting) {
  EXPECT_EQ(csv_field("plain"), "plain");
  EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_field("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(csv_field(" padded"), "\" padded\"");
  EXPECT_EQ(csv_field("a;b"), "a;b");
  EXPECT_EQ(csv_field("a;b", ';'), "\"a;b\"");
}

TEST(CsvWrite, ParseCsvReadsBackTheSameTable) {
  const CsvTable table("t.csv", {"name", "note, with comma", "x"},
                       {{"alpha", "be\"ta", ""}, {"one\r\ntwo", " lead", "trail "}, {"1", "", "NA"}},
                       {2, 3, 4});
  const CsvTable back = parse_csv(csv_text(table), "back.csv");
  EXPECT_EQ(back.column_names(), table.column_names());
  for (Index c = 0; c < table.cols(); ++c) EXPECT_EQ(back.column(c), table.column(c)) << c;
}

TEST(CsvWrite, AOneColumnTableKeepsItsEmptyCells) {
  const CsvTable table("t.csv", {"x"}, {{"1", "", "3"}}, {2, 3, 4});
  EXPECT_EQ(csv_text(table), "x\n1\n\"\"\n3\n");
  EXPECT_EQ(parse_csv(csv_text(table), "back.csv").column(0), table.column(0));
}

TEST(CsvWrite, WritesTheFileAndNamesAPathItCannotWrite) {
  const std::filesystem::path path = std::filesystem::temp_directory_path() /
                                     ("scvae_csv_write_" + std::to_string(::getpid()) + ".csv");
  const CsvTable table("t.csv", {"a", "b"}, {{"1"}, {"x"}}, {2});
  write_csv(path.string(), table);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "a,b\n1,x\n");
  std::filesystem::remove(path);
  try {
    write_csv("/nonexistent-dir/out.csv", table);
    FAIL() << "no error";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/out.csv"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace scvae
