// Rng: seeded streams, and the vectorised float normals of fill_normal.

#include "scvae/core/random.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace scvae {
namespace {

TEST(Rng, FloatNormalsAreStandardAndBounded) {
  Rng rng(42);
  Matrix<float> z(20, 5003);  // not a multiple of the 256-value blocks
  z.setConstant(std::numeric_limits<float>::quiet_NaN());
  rng.fill_normal(z);
  ASSERT_TRUE(z.allFinite()) << "every element is written";
  const double n = static_cast<double>(z.size());
  const double mean = z.cast<double>().sum() / n;
  const double variance = (z.cast<double>().array() - mean).square().sum() / (n - 1);
  const double kurtosis =
      (z.cast<double>().array() - mean).pow(4).sum() / n / (variance * variance);
  EXPECT_NEAR(mean, 0.0, 0.01);  // standard error 0.003
  EXPECT_NEAR(variance, 1.0, 0.01);
  EXPECT_NEAR(kurtosis, 3.0, 0.05);
  EXPECT_LT(z.cwiseAbs().maxCoeff(), 5.8f);
  EXPECT_GT(z.cwiseAbs().maxCoeff(), 4.0f);  // 100k draws reach the tails
  // Neighbours (the two normals of one draw) are uncorrelated.
  const Eigen::Map<const Vector<float>> flat(z.data(), z.size());
  const Index pairs = z.size() / 2;
  double product = 0.0;
  for (Index k = 0; k < pairs; ++k) product += double(flat(2 * k)) * double(flat(2 * k + 1));
  EXPECT_NEAR(product / static_cast<double>(pairs), 0.0, 0.02);
}

TEST(Rng, FloatNormalsAreSeededAndFillBlocksInColumnOrder) {
  Matrix<float> a(7, 300), b(7, 300);
  Rng first(3), second(3);
  first.fill_normal(a);
  second.fill_normal(b);
  EXPECT_EQ(a, b);
  // A block gets the same values in the same (column-major) order and
  // nothing outside it changes.
  Matrix<float> big = Matrix<float>::Zero(9, 302);
  Rng third(3);
  third.fill_normal(big.block(1, 1, 7, 300));
  EXPECT_EQ(Matrix<float>(big.block(1, 1, 7, 300)), a);
  EXPECT_TRUE(big.row(0).isZero(0.0f));
  EXPECT_TRUE(big.row(8).isZero(0.0f));
  EXPECT_TRUE(big.col(0).isZero(0.0f));
  EXPECT_TRUE(big.col(301).isZero(0.0f));
}

TEST(Rng, DoubleNormalsFollowNormal) {
  Matrix<double> z(3, 4);
  Rng fill(8), one_by_one(8);
  fill.fill_normal(z);
  for (Index j = 0; j < 4; ++j)
    for (Index i = 0; i < 3; ++i) EXPECT_EQ(z(i, j), one_by_one.normal());
}

}  // namespace
}  // namespace scvae
