#include "scvae/util/parse.hpp"

#include <cstdint>
#include <limits>
#include <string>

#include "../test_support.hpp"

namespace scvae {
namespace {

TEST(ParseInteger, TakesWholeIntegersInRange) {
  EXPECT_EQ(parse_integer<long>("--batch", "128", 1, 1000), 128);
  EXPECT_EQ(parse_integer<long>("--batch", "+7", 1, 1000), 7);
  EXPECT_EQ(parse_integer<int>("--x", "-5", -10, 10), -5);
  EXPECT_EQ(parse_integer<std::uint64_t>("--seed", "18446744073709551615"),
            std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(parse_integer<std::int64_t>("--n", "-9223372036854775808"),
            std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(parse_integer<std::int64_t>("--n", "9223372036854775807"),
            std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(parse_integer<std::uint64_t>("--seed", "-0"), 0u);
}

TEST(ParseInteger, RefusesOverflowInsteadOfClampingOrWrapping) {
  // The seeds of issue 19, which ran as 2^64 - 1.
  for (const char* text : {"18446744073709551616", "99999999999999999999999", "-1"})
    EXPECT_EQ(testing::thrown_message<ArgumentError>(
                  [&] { parse_integer<std::uint64_t>("--seed", text); }),
              std::string("--seed: expected an integer in [0, 18446744073709551615], got '") +
                  text + "'");
  EXPECT_THROW(parse_integer<std::int64_t>("--epochs", "9223372036854775808"), ArgumentError);
  EXPECT_THROW(parse_integer<std::int64_t>("--epochs", "-9223372036854775809"), ArgumentError);
  EXPECT_THROW(parse_integer<int>("--threads", "2147483648"), ArgumentError);
}

TEST(ParseInteger, RefusesOutOfRangeAndNamesTheArgument) {
  EXPECT_EQ(
      testing::thrown_message<ArgumentError>([] { parse_integer<long>("--batch", "0", 1, 100); }),
      "--batch: expected an integer in [1, 100], got '0'");
  EXPECT_THROW(parse_integer<long>("--batch", "101", 1, 100), ArgumentError);
  EXPECT_THROW(parse_integer<int>("--threads", "2147483647", 0, 1024), ArgumentError);
}

TEST(ParseInteger, RefusesWhatIsNotAWholeDecimalInteger) {
  for (const char* text : {"", "+", "-", " 5", "5 ", "1.5", "1e3", "0x10", "nan", "inf", "5x"})
    EXPECT_THROW(parse_integer<long>("--n", text), ArgumentError) << text;
}

TEST(ParseInteger, EscapesControlCharactersInTheMessage) {
  const std::string message =
      testing::thrown_message<ArgumentError>([] { parse_integer<long>("--n", "\x1b[2J"); });
  EXPECT_EQ(message.find('\x1b'), std::string::npos);
  EXPECT_NE(message.find("\\x1b[2J"), std::string::npos) << message;
}

TEST(ParseReal, TakesFiniteNumbersInRange) {
  EXPECT_DOUBLE_EQ(parse_real("--lr", "1e-3", 0.0, 1e6, Bound::Open), 1e-3);
  EXPECT_DOUBLE_EQ(parse_real("--share", "0", 0.0, 1.0), 0.0);
  EXPECT_DOUBLE_EQ(parse_real("--share", "1", 0.0, 1.0), 1.0);
  EXPECT_DOUBLE_EQ(parse_real("--x", "-.5", -1.0, 1.0), -0.5);
  EXPECT_DOUBLE_EQ(parse_real("--x", "1e-400", 0.0, 1.0), 0.0);  // underflow is 0
}

TEST(ParseReal, RefusesNanInfinityAndOverflowNamingTheArgument) {
  for (const char* text : {"nan", "NaN", "-nan", "inf", "-inf", "infinity", "1e999", "-1e999"})
    EXPECT_EQ(testing::thrown_message<ArgumentError>(
                  [&] { parse_real("--labelled-share", text, 0.0, 1.0); }),
              std::string("--labelled-share: expected a number in [0, 1], got '") + text + "'");
}

TEST(ParseReal, RefusesOutOfRangeAndMalformedText) {
  EXPECT_THROW(parse_real("--x", "1.0000001", 0.0, 1.0), ArgumentError);
  EXPECT_THROW(parse_real("--x", "-0.1", 0.0, 1.0), ArgumentError);
  EXPECT_THROW(parse_real("--lr", "0", 0.0, 1.0, Bound::Open), ArgumentError);
  EXPECT_THROW(parse_real("--x", "1", 0.0, 1.0, Bound::Closed, Bound::Open), ArgumentError);
  EXPECT_EQ(testing::thrown_message<ArgumentError>(
                [] { parse_real("--lr", "0", 0.0, 10.0, Bound::Open); }),
            "--lr: expected a number in (0, 10], got '0'");
  EXPECT_EQ(testing::thrown_message<ArgumentError>([] {
              parse_real("--lr", "nan", 0.0, std::numeric_limits<double>::max(), Bound::Open);
            }),
            "--lr: expected a number > 0, got 'nan'");
  for (const char* text : {"", " 1", "1 ", "0x1p3", "1,5", "1e", ".", "--1"})
    EXPECT_THROW(parse_real("--x", text, -10.0, 10.0), ArgumentError) << text;
}

}  // namespace
}  // namespace scvae
