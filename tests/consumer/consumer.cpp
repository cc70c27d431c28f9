// A program outside the library that uses it the way a user would: it
// includes the umbrella header, builds a small VAE, and computes a loss and
// its gradient on random data. Exits non-zero when anything is not finite.

#include <cmath>
#include <cstdio>

#include <scvae/scvae.hpp>

int main() {
  scvae::VAE vae(16, {8}, 2, 1);
  scvae::Rng rng(7);
  scvae::Matrix<float> x(16, 5);
  for (scvae::Index j = 0; j < x.cols(); ++j)
    for (scvae::Index i = 0; i < x.rows(); ++i) x(i, j) = static_cast<float>(rng.uniform());
  const scvae::LossParts loss = vae.loss_and_gradient(x, rng);
  const double gradient_norm = static_cast<double>(vae.gradients().norm());
  std::printf("scvae %s: %lld parameters, loss %.6f nats (KL %.6f), gradient norm %.6f\n",
              scvae::kVersion, static_cast<long long>(vae.parameter_count()), loss.total, loss.kl,
              gradient_norm);
  const bool ok = std::isfinite(loss.total) && std::isfinite(loss.kl) &&
                  std::isfinite(gradient_norm) && gradient_norm > 0.0;
  if (!ok) std::fprintf(stderr, "expected a finite loss and a finite, non-zero gradient\n");
  return ok ? 0 : 1;
}
