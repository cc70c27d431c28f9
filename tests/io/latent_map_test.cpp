// The latent map (io/latent_map.hpp): the principal plane of points, and the
// PNG with one colour per class and a legend.

#include "scvae/io/latent_map.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "decoded_png.hpp"

namespace scvae {
namespace {

namespace fs = std::filesystem;

TEST(PrincipalPlane, PointsOnALineInThreeDimensionsLieOnTheFirstAxis) {
  Matrix<double> points(3, 5);
  for (Index j = 0; j < 5; ++j) points.col(j) << 1.0 + j, 2.0 - 2.0 * j, 3.0 + 2.0 * j;
  const Matrix<double> plane = principal_plane(points);
  ASSERT_EQ(plane.rows(), 2);
  ASSERT_EQ(plane.cols(), 5);
  for (Index j = 0; j < 5; ++j) {
    EXPECT_NEAR(plane(1, j), 0.0, 1e-9);
    // Distances along the line are kept: steps of |(1, -2, 2)| = 3.
    if (j > 0) {
      EXPECT_NEAR(std::abs(plane(0, j) - plane(0, j - 1)), 3.0, 1e-9);
    }
  }
  EXPECT_NEAR(plane.row(0).sum(), 0.0, 1e-9);  // centred
}

TEST(PrincipalPlane, TwoDimensionsAreKeptAndOneGetsAZeroRow) {
  Matrix<float> two(2, 3);
  two << 1, 2, 3, 4, 5, 6;
  EXPECT_TRUE(principal_plane(two).isApprox(two.cast<double>()));
  const Matrix<double> one = principal_plane(Matrix<double>::Constant(1, 3, 7.0));
  EXPECT_EQ(one.row(1).cwiseAbs().sum(), 0.0);
  EXPECT_EQ(one(0, 2), 7.0);
}

TEST(LatentMap, DrawsEachClassInItsColourWithALegend) {
  const fs::path path =
      fs::temp_directory_path() / ("scvae_latent_map_" + std::to_string(::getpid()) + ".png");
  Matrix<double> plane(2, 4);
  plane << 0, 1, 0, 1, 0, 0, 1, 1;
  write_latent_map(path.string(), plane, {0, 1, 2, -1}, {"alpha", "beta", "gamma"});
  const testing::DecodedPng png(path.string());
  ASSERT_TRUE(png.ok());
  fs::remove(path);
  EXPECT_EQ(png.width, 680);
  EXPECT_EQ(png.height, 480);
  const int width = png.width;
  const auto count = [&](int x0, int x1, const std::array<std::uint8_t, 3>& colour) {
    return png.count(x0, 0, x1, png.height, colour);
  };
  // Each class's dot on the plot and its swatch in the legend.
  for (Index c = 0; c < 3; ++c) {
    EXPECT_GT(count(0, 480, detail::class_colour(c)), 10) << "class " << c;
    EXPECT_GT(count(480, width, detail::class_colour(c)), 100) << "swatch " << c;
  }
  EXPECT_GT(count(0, 480, detail::class_colour(-1)), 10);  // the unlabelled point
  EXPECT_GT(count(480, width, detail::class_colour(-1)), 100);  // and its swatch
  // The names' text, in the legend only.
  EXPECT_GT(count(480, width, {{30, 30, 30}}), 50);
  EXPECT_EQ(count(0, 480, {{30, 30, 30}}), 0);
}

TEST(LatentMap, RefusesMismatchedClasses) {
  const Matrix<double> plane = Matrix<double>::Zero(2, 3);
  EXPECT_THROW(write_latent_map("unused.png", plane, {0, 1}, {"a", "b"}), ShapeError);
  EXPECT_THROW(write_latent_map("unused.png", plane, {0, 1, 2}, {"a", "b"}), ArgumentError);
  EXPECT_THROW(write_latent_map("unused.png", Matrix<double>::Zero(3, 3), {}, {}), ShapeError);
}

}  // namespace
}  // namespace scvae
