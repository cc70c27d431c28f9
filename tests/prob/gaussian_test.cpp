#include "scvae/prob/gaussian.hpp"

#include "../test_support.hpp"

namespace scvae {
namespace {

TEST(GaussianKl, ValueByHand) {
  Matrix<double> mu(2, 1), logvar(2, 1);
  mu << 1.0, 0.0;
  logvar << 0.0, std::log(2.0);
  RowVector<double> kl(1);
  gaussian_kl<double>(mu, logvar, kl);
  // -1/2 [(1 + 0 - 1 - 1) + (1 + log 2 - 0 - 2)] = 1 - log(2)/2.
  EXPECT_NEAR(kl(0), 1.0 - std::log(2.0) / 2.0, 1e-15);
}

TEST(GaussianKl, GradientMatchesFiniteDifferences) {
  const Index d = 3, n = 4;
  const Matrix<double> mu = testing::random_matrix(d, n, 1);
  const Matrix<double> logvar = testing::random_matrix(d, n, 2, 0.5);
  const RowVector<double> scale = testing::random_uniform(1, n, 3);
  auto loss = [&](const Vector<double>& flat) {
    const Matrix<double> m = Eigen::Map<const Matrix<double>>(flat.data(), d, n);
    const Matrix<double> lv = Eigen::Map<const Matrix<double>>(flat.data() + d * n, d, n);
    RowVector<double> kl(n);
    gaussian_kl<double>(m, lv, kl);
    return (kl.array() * scale.array()).sum();
  };
  Vector<double> point(2 * d * n);
  point << Eigen::Map<const Vector<double>>(mu.data(), d * n),
      Eigen::Map<const Vector<double>>(logvar.data(), d * n);
  Matrix<double> dmu = Matrix<double>::Zero(d, n), dlv = Matrix<double>::Zero(d, n);
  gaussian_kl_backward<double>(mu, logvar, scale, dmu, dlv);
  Vector<double> analytic(2 * d * n);
  analytic << Eigen::Map<const Vector<double>>(dmu.data(), d * n),
      Eigen::Map<const Vector<double>>(dlv.data(), d * n);
  testing::expect_gradient_ok(check_gradient(loss, point, analytic));
}

TEST(Reparameterize, ValueAndGradient) {
  const Index d = 3, n = 2;
  const Matrix<double> mu = testing::random_matrix(d, n, 4);
  const Matrix<double> logvar = testing::random_matrix(d, n, 5, 0.5);
  const Matrix<double> eps = testing::random_matrix(d, n, 6);
  const Matrix<double> projection = testing::random_matrix(d, n, 7);
  Matrix<double> z(d, n);
  reparameterize<double>(mu, logvar, eps, z);
  EXPECT_NEAR(z(1, 1), mu(1, 1) + std::exp(logvar(1, 1) / 2) * eps(1, 1), 1e-15);

  auto loss = [&](const Vector<double>& flat) {
    const Matrix<double> m = Eigen::Map<const Matrix<double>>(flat.data(), d, n);
    const Matrix<double> lv = Eigen::Map<const Matrix<double>>(flat.data() + d * n, d, n);
    Matrix<double> out(d, n);
    reparameterize<double>(m, lv, eps, out);
    return (out.array() * projection.array()).sum();
  };
  Vector<double> point(2 * d * n);
  point << Eigen::Map<const Vector<double>>(mu.data(), d * n),
      Eigen::Map<const Vector<double>>(logvar.data(), d * n);
  Matrix<double> dmu = Matrix<double>::Zero(d, n), dlv = Matrix<double>::Zero(d, n);
  reparameterize_backward<double>(logvar, eps, projection, dmu, dlv);
  Vector<double> analytic(2 * d * n);
  analytic << Eigen::Map<const Vector<double>>(dmu.data(), d * n),
      Eigen::Map<const Vector<double>>(dlv.data(), d * n);
  testing::expect_gradient_ok(check_gradient(loss, point, analytic));
}

TEST(Reparameterize, ShapeErrors) {
  Matrix<double> mu(2, 3), logvar(2, 2), eps(2, 3), z(2, 3);
  EXPECT_THROW(reparameterize<double>(mu, logvar, eps, z), ShapeError);
  RowVector<double> kl(2);
  EXPECT_THROW(gaussian_kl<double>(mu, mu, kl), ShapeError);
}

}  // namespace
}  // namespace scvae
