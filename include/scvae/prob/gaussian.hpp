#pragma once
// The diagonal Gaussian posterior q(z|x) = N(mu, exp(logvar)): sampling by
// reparameterization and the analytic KL to the prior N(0, I).

#include "scvae/core/check.hpp"
#include "scvae/core/types.hpp"

namespace scvae {

/// logvar is clamped to this range by the encoder so that exp(logvar) and
/// exp(-logvar) stay finite in float32 (exp(20) = 4.9e8, exp(-30) = 9.4e-14).
inline constexpr double kLogVarMin = -30.0;
inline constexpr double kLogVarMax = 20.0;

/// z = mu + exp(logvar / 2) * eps.
template <typename Scalar>
void reparameterize(const ConstMatrixRef<Scalar>& mu, const ConstMatrixRef<Scalar>& logvar,
                    const ConstMatrixRef<Scalar>& eps, MatrixRef<Scalar> z) {
  detail::check_shape("reparameterize logvar", logvar.rows(), logvar.cols(), mu.rows(), mu.cols());
  detail::check_shape("reparameterize eps", eps.rows(), eps.cols(), mu.rows(), mu.cols());
  detail::check_shape("reparameterize z", z.rows(), z.cols(), mu.rows(), mu.cols());
  z.array() = mu.array() + (Scalar(0.5) * logvar.array()).exp() * eps.array();
}

/// Given dL/dz, adds dL/dmu and dL/dlogvar.
template <typename Scalar>
void reparameterize_backward(const ConstMatrixRef<Scalar>& logvar,
                             const ConstMatrixRef<Scalar>& eps,
                             const ConstMatrixRef<Scalar>& z_gradient,
                             MatrixRef<Scalar> mu_gradient, MatrixRef<Scalar> logvar_gradient) {
  mu_gradient += z_gradient;
  logvar_gradient.array() +=
      z_gradient.array() * eps.array() * Scalar(0.5) * (Scalar(0.5) * logvar.array()).exp();
}

/// Per-sample KL(N(mu, exp(logvar)) || N(0, I)) = -1/2 sum(1 + logvar - mu^2 - exp(logvar)).
template <typename Scalar>
void gaussian_kl(const ConstMatrixRef<Scalar>& mu, const ConstMatrixRef<Scalar>& logvar,
                 Eigen::Ref<RowVector<Scalar>> kl) {
  detail::check_shape("KL logvar", logvar.rows(), logvar.cols(), mu.rows(), mu.cols());
  detail::check_shape("KL output", kl.rows(), kl.cols(), 1, mu.cols());
  kl = (Scalar(-0.5) * (Scalar(1) + logvar.array() - mu.array().square() - logvar.array().exp()))
           .matrix()
           .colwise()
           .sum();
}

/// Adds the gradient of sum_i scale_i * KL_i to mu_gradient and logvar_gradient.
template <typename Scalar>
void gaussian_kl_backward(const ConstMatrixRef<Scalar>& mu, const ConstMatrixRef<Scalar>& logvar,
                          const ConstRowVectorRef<Scalar>& scale, MatrixRef<Scalar> mu_gradient,
                          MatrixRef<Scalar> logvar_gradient) {
  mu_gradient.array() += mu.array().rowwise() * scale.array();
  logvar_gradient.array() +=
      (Scalar(0.5) * (logvar.array().exp() - Scalar(1))).rowwise() * scale.array();
}

}  // namespace scvae
