#include "scvae/util/gradient_check.hpp"

#include "../test_support.hpp"

namespace scvae {
namespace {

double cubic(const Vector<double>& p) { return (p.array().cube() + 2.0 * p.array()).sum(); }

TEST(GradientCheck, AcceptsTheRightGradient) {
  Vector<double> p(3);
  p << 0.5, -1.0, 2.0;
  const Vector<double> right = 3.0 * p.array().square() + 2.0;
  EXPECT_LE(check_gradient(cubic, p, right).relative_error, 1e-9);
}

TEST(GradientCheck, RejectsAWrongGradientAndNamesTheWorstCoordinate) {
  Vector<double> p(3);
  p << 0.5, -1.0, 2.0;
  Vector<double> wrong = 3.0 * p.array().square() + 2.0;
  wrong(1) *= 1.01;
  const GradientCheckResult result = check_gradient(cubic, p, wrong);
  EXPECT_GT(result.relative_error, 1e-4);
  EXPECT_EQ(result.worst_index, 1);
}

TEST(GradientCheck, PointMayAliasTheVectorTheLossWritesTo) {
  Vector<double> shared(2);
  shared << 1.0, 3.0;
  auto loss = [&](const Vector<double>& p) {
    shared = p;  // as a model's parameters() would be
    return p.squaredNorm();
  };
  const Vector<double> analytic = 2.0 * shared;
  EXPECT_LE(check_gradient(loss, shared, analytic).relative_error, 1e-9);
}

TEST(GradientCheck, SizeMismatchThrows) {
  EXPECT_THROW(check_gradient(cubic, Vector<double>::Zero(3), Vector<double>::Zero(2)), ShapeError);
}

}  // namespace
}  // namespace scvae
