#include "scvae/model/vae.hpp"

#include "../test_support.hpp"

namespace scvae {
namespace {

double softplus(double x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x))); }

TEST(VAE, ForwardMatchesValuesComputedByHand) {
  // input 2 -> [mu; logvar] (latent 1) -> decoder logits 2, no hidden layers.
  VAET<double> vae(2, {}, 1, 1);
  ASSERT_EQ(vae.parameter_count(), 4 + 2 + 2 + 2);
  Vector<double> p(10);
  // Encoder head W (rows mu, logvar; column-major) and b, then decoder W and b.
  p << 0.5, 0.2, 0.0, 0.0,  // W_e = [0.5 0; 0.2 0]
      0.1, -0.2,            // b_e
      2.0, -1.0,            // W_d = [2; -1]
      0.0, 0.5;             // b_d
  vae.parameters() = p;
  Matrix<double> x(2, 1);
  x << 1.0, 0.0;
  Matrix<double> eps(1, 1);
  eps << 0.5;
  // mu = 0.6, logvar = 0, z = 0.6 + 1 * 0.5 = 1.1, logits = [2.2, -0.6].
  const double nll = (softplus(2.2) - 2.2) + softplus(-0.6);
  const double kl = -0.5 * (1.0 + 0.0 - 0.36 - 1.0);
  const LossParts parts = vae.loss(x, eps, 1.0);
  EXPECT_NEAR(parts.kl, kl, 1e-15);
  EXPECT_NEAR(parts.task_nll[0], nll, 1e-14);
  EXPECT_NEAR(parts.total, nll + kl, 1e-14);
  EXPECT_NEAR(vae.loss(x, eps, 0.25).total, nll + 0.25 * kl, 1e-14);

  Matrix<double> mu, logvar;
  vae.encode(x, mu, logvar);
  EXPECT_NEAR(mu(0, 0), 0.6, 1e-15);
  EXPECT_NEAR(logvar(0, 0), 0.0, 1e-15);
  Matrix<double> z(1, 1), probabilities;
  z << 1.1;
  vae.predict(0, z, probabilities);
  EXPECT_NEAR(probabilities(0, 0), 1.0 / (1.0 + std::exp(-2.2)), 1e-15);
}

TEST(VAE, GradientMatchesFiniteDifferences) {
  VAET<double> vae(8, {6, 5}, 3, 2);
  const Matrix<double> x = testing::random_uniform(8, 5, 3);
  const Matrix<double> eps = testing::random_matrix(3, 5, 4);
  vae.loss_and_gradient(x, eps, 0.8);
  const Vector<double> analytic = vae.gradients();
  auto loss = [&](const Vector<double>& flat) {
    vae.parameters() = flat;
    return vae.loss(x, eps, 0.8).total;
  };
  testing::expect_gradient_ok(check_gradient(loss, vae.parameters(), analytic));
}

TEST(VAE, LogVarIsClampedSoExtremeInputsStayFinite) {
  VAET<float> vae(4, {3}, 2, 1);
  vae.parameters() *= 1e4f;  // huge weights give huge logvar pre-activations
  Matrix<float> x = Matrix<float>::Ones(4, 3);
  Rng rng(1);
  const LossParts parts = vae.loss_and_gradient(x, rng);
  EXPECT_TRUE(std::isfinite(parts.total));
  EXPECT_TRUE(vae.gradients().allFinite());
  Matrix<float> mu, logvar;
  vae.encode(x, mu, logvar);
  EXPECT_LE(logvar.maxCoeff(), static_cast<float>(kLogVarMax));
  EXPECT_GE(logvar.minCoeff(), static_cast<float>(kLogVarMin));
}

TEST(VAE, RejectsSpecsThatAreNotAutoencoders) {
  ModelSpec spec = VAET<double>::make_spec(4, {3}, 2);
  spec.tasks[0].outputs = 5;
  EXPECT_THROW(VAET<double> vae(spec), ArgumentError);
}

}  // namespace
}  // namespace scvae
