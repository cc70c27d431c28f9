// Which precision a program trains in and what it tells the user: Fp32 where
// the CPU lacks AVX512_BF16, Bf16 with a note where its bf16 products are
// slower than its float ones, Bf16 silently where they are faster; and the
// measured speed those choices rest on.

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "scvae/core/precision.hpp"

namespace scvae {
namespace {

TEST(Precision, Fp32StaysFp32WithoutANote) {
  std::string note = "left over";
  EXPECT_EQ(detail::resolve_precision_on(Precision::Fp32, false, 0.0, note), Precision::Fp32);
  EXPECT_TRUE(note.empty()) << note;
  EXPECT_EQ(detail::resolve_precision_on(Precision::Fp32, true, 0.5, note), Precision::Fp32);
  EXPECT_TRUE(note.empty()) << note;
}

TEST(Precision, Bf16FallsBackToFp32WhereTheCpuLacksIt) {
  std::string note;
  EXPECT_EQ(detail::resolve_precision_on(Precision::Bf16, false, 0.0, note), Precision::Fp32);
  EXPECT_NE(note.find("lacks AVX512_BF16"), std::string::npos) << note;
  EXPECT_NE(note.find("fp32"), std::string::npos) << note;
}

TEST(Precision, Bf16SlowerThanFloatStaysBf16WithANoteGivingTheSpeed) {
  std::string note;
  EXPECT_EQ(detail::resolve_precision_on(Precision::Bf16, true, 0.49, note), Precision::Bf16);
  EXPECT_NE(note.find("0.49x"), std::string::npos) << note;
  EXPECT_NE(note.find("slower than fp32"), std::string::npos) << note;
}

TEST(Precision, Bf16FasterThanFloatStaysBf16Silently) {
  std::string note = "left over";
  EXPECT_EQ(detail::resolve_precision_on(Precision::Bf16, true, 1.84, note), Precision::Bf16);
  EXPECT_TRUE(note.empty()) << note;
  EXPECT_EQ(detail::resolve_precision_on(Precision::Bf16, true, 1.0, note), Precision::Bf16);
  EXPECT_TRUE(note.empty()) << note;
}

TEST(Precision, TheMeasuredBf16SpeedIsAPlausibleRatioOnceMeasured) {
  const double speed = detail::bf16_speed_against_float();
  if (!detail::cpu_has_bf16()) {
    EXPECT_EQ(speed, 0.0);
    return;
  }
  // Half to twice the float rate on the CPUs measured (bench/RESULTS.md);
  // a loaded machine or an unoptimised build moves it, not out of (0, 8).
  EXPECT_TRUE(std::isfinite(speed));
  EXPECT_GT(speed, 0.0);
  EXPECT_LT(speed, 8.0);
  EXPECT_EQ(detail::bf16_speed_against_float(), speed) << "measured once, then the same answer";
}

TEST(Precision, Bf16IsFastOnlyWhereItsProductsAreAtLeastFloatsSpeed) {
  EXPECT_TRUE(precision_is_fast(Precision::Fp32));
  const bool fast = detail::cpu_has_bf16() && detail::bf16_speed_against_float() >= 1.0;
  EXPECT_EQ(precision_is_fast(Precision::Bf16), fast);
  std::string note;
  resolve_precision(Precision::Bf16, note);
  EXPECT_EQ(note.empty(), fast) << note;
}

}  // namespace
}  // namespace scvae
