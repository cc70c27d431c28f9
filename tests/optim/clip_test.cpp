// Gradient clipping by global L2 norm.

#include "scvae/optim/clip.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace {

using scvae::Vector;

TEST(ClipTest, NormAboveThresholdIsScaledDown) {
  Vector<double> g(3);
  g << 3.0, 4.0, 0.0;  // norm 5
  const double norm = scvae::clip_gradient_norm(g, 1.0);
  EXPECT_DOUBLE_EQ(norm, 5.0);
  // Scale max_norm / (norm + 1e-6), as torch.nn.utils.clip_grad_norm_.
  const double scale = 1.0 / (5.0 + 1e-6);
  EXPECT_NEAR(g[0], 3.0 * scale, 1e-15);
  EXPECT_NEAR(g[1], 4.0 * scale, 1e-15);
  EXPECT_EQ(g[2], 0.0);
  EXPECT_NEAR(g.norm(), 1.0, 1e-6);
  EXPECT_LE(g.norm(), 1.0);
}

TEST(ClipTest, NormBelowOrAtThresholdIsUntouched) {
  Vector<double> g(2);
  g << 0.3, -0.4;  // norm 0.5
  const Vector<double> before = g;
  EXPECT_DOUBLE_EQ(scvae::clip_gradient_norm(g, 1.0), 0.5);
  EXPECT_TRUE((g.array() == before.array()).all());

  Vector<double> h(2);
  h << 3.0, 4.0;  // exactly at the threshold
  EXPECT_DOUBLE_EQ(scvae::clip_gradient_norm(h, 5.0), 5.0);
  EXPECT_EQ(h[0], 3.0);
  EXPECT_EQ(h[1], 4.0);
}

TEST(ClipTest, FloatGradientsAndMapsIntoTheFlatBuffer) {
  Vector<float> buffer(6);
  buffer << 100.0f, 6.0f, 8.0f, 0.0f, 0.0f, 100.0f;
  scvae::VectorMap<float> view(buffer.data() + 1, 4);  // norm 10
  const float norm = scvae::clip_gradient_norm(view, 2.0f);
  EXPECT_FLOAT_EQ(norm, 10.0f);
  EXPECT_NEAR(view.norm(), 2.0f, 1e-5f);
  EXPECT_EQ(buffer[0], 100.0f);  // outside the view: untouched
  EXPECT_EQ(buffer[5], 100.0f);

  Vector<float> g = Vector<float>::Constant(4, 1.0f);  // norm 2
  EXPECT_FLOAT_EQ(scvae::clip_gradient_norm<float>(g, 1), 2.0f);
  EXPECT_NEAR(g.norm(), 1.0f, 1e-5f);
}

TEST(ClipTest, NonPositiveMaxNormThrowsArgumentError) {
  Vector<double> g = Vector<double>::Ones(3);
  EXPECT_THROW(scvae::clip_gradient_norm(g, 0.0), scvae::ArgumentError);
  EXPECT_THROW(scvae::clip_gradient_norm(g, -1.0), scvae::ArgumentError);
  EXPECT_THROW(scvae::clip_gradient_norm(g, std::nan("")), scvae::ArgumentError);
  EXPECT_TRUE(g.isOnes());
}

TEST(ClipTest, NonFiniteNormIsReturnedWithoutScaling) {
  Vector<double> g(3);
  g << 1.0, std::nan(""), 2.0;
  EXPECT_TRUE(std::isnan(scvae::clip_gradient_norm(g, 1.0)));
  EXPECT_EQ(g[0], 1.0);
  EXPECT_EQ(g[2], 2.0);

  Vector<double> h(2);
  h << std::numeric_limits<double>::infinity(), 2.0;
  EXPECT_EQ(scvae::clip_gradient_norm(h, 1.0), std::numeric_limits<double>::infinity());
  EXPECT_EQ(h[1], 2.0);
}

TEST(ClipTest, FiniteGradientsWhoseSquaresOverflowAreStillClipped) {
  Vector<float> g(2);
  g << 3e20f, 4e20f;  // squares overflow float, the norm 5e20 does not
  const float norm = scvae::clip_gradient_norm(g, 1.0f);
  EXPECT_NEAR(norm / 5e20f, 1.0f, 1e-5f);
  EXPECT_NEAR(g[0], 0.6f, 1e-5f);
  EXPECT_NEAR(g[1], 0.8f, 1e-5f);
}

TEST(ClipTest, EmptyGradientHasNormZero) {
  Vector<double> g;
  EXPECT_EQ(scvae::clip_gradient_norm(g, 1.0), 0.0);
}

}  // namespace
