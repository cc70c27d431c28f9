#pragma once
// The latent code's prior as a mixture over the classes of one task
// (ModelSpec::class_prior): p(y = k) = 1/K and p(z | y = k) = N(c_k, I),
// with c_k the centres of that task's "[centres(K)]" read-out
// (nn/class_centres.hpp), so that the read-out's softmax is the mixture's
// own class posterior of the mean.
//
// The KL term of sample j, with A_j = 1/2 sum_d (exp(logvar) - 1 - logvar)
// and D_jk = 1/2 ||mu_j - c_k||^2 (so KL(q_j || N(c_k, I)) = A_j + D_jk):
//   labelled (class k, or class probabilities r):
//       A_j + sum_k r_jk D_jk + log K              (the bound on -log p(z, y))
//   unlabelled:
//       A_j - log sum_k exp(-D_jk) + log K         (the bound on -log p(z))
// the second being the first at the responsibilities r_jk = softmax_k(-D_jk),
// which is why both share one backward pass:
//   dKL/dmu_j = sum_k r_jk (mu_j - c_k),  dKL/dlogvar_j = (exp(logvar_j) - 1) / 2,
//   dKL/dc_k  = -r_jk (mu_j - c_k)
// (at the optimal r the terms through r vanish). The unlabelled rows pull
// the centres towards the codes they are nearest to and the codes towards a
// centre: what the classes gain from the rows without a label.

#include <cmath>
#include <optional>
#include <type_traits>

#include "scvae/core/check.hpp"
#include "scvae/core/types.hpp"

namespace scvae {

namespace detail {
/// Given D_k = 1/2 ||x - c_k||^2 in `distances`, writes softmax_k(-D_k) over
/// them and returns -log sum_k exp(-D_k), with the nearest centre's term
/// factored out so that no exp underflows to a sum of 0.
template <typename Column>
double soft_assign_to_centres(Column&& distances) {
  using Scalar = typename std::decay_t<Column>::Scalar;
  const double nearest = static_cast<double>(distances.minCoeff());
  double sum = 0.0;
  for (Index k = 0; k < distances.size(); ++k) {
    const double weight = std::exp(nearest - static_cast<double>(distances(k)));
    distances(k) = static_cast<Scalar>(weight);
    sum += weight;
  }
  distances /= static_cast<Scalar>(sum);
  return nearest - std::log(sum);
}
}  // namespace detail

/// Per sample, the KL term above into `kl` and the responsibilities into
/// `responsibilities` (K x n). `target` is the task's batch target (one row
/// of class indices or K rows of probabilities), read only where `mask` is
/// absent or not 0: the caller has validated those columns.
template <typename Scalar>
void class_prior_kl(const ConstMatrixRef<Scalar>& mu, const ConstMatrixRef<Scalar>& logvar,
                    const ConstMatrixRef<Scalar>& centres, const ConstMatrixRef<Scalar>& target,
                    const std::optional<ConstRowVectorRef<Scalar>>& mask,
                    Eigen::Ref<RowVector<Scalar>> kl, MatrixRef<Scalar> responsibilities) {
  const Index n = mu.cols();
  const Index classes = centres.cols();
  detail::check_shape("class prior logvar", logvar.rows(), logvar.cols(), mu.rows(), n);
  detail::check_rows("class prior centres", centres.rows(), mu.rows());
  detail::check_shape("class prior responsibilities", responsibilities.rows(),
                      responsibilities.cols(), classes, n);
  detail::check_shape("class prior KL", kl.rows(), kl.cols(), 1, n);
  const double log_classes = std::log(static_cast<double>(classes));
  for (Index j = 0; j < n; ++j) {
    double spread = 0.0;  // A_j
    for (Index d = 0; d < mu.rows(); ++d) {
      const double lv = static_cast<double>(logvar(d, j));
      spread += 0.5 * (std::exp(lv) - 1.0 - lv);
    }
    auto r = responsibilities.col(j);
    for (Index k = 0; k < classes; ++k)
      r(k) = Scalar(0.5) * (mu.col(j) - centres.col(k)).squaredNorm();  // D_jk for now
    const bool labelled = !mask || (*mask)(j) != Scalar(0);
    double term = 0.0;
    if (labelled && target.rows() == 1) {
      const Index y = static_cast<Index>(target(0, j));
      term = static_cast<double>(r(y));
      r.setZero();
      r(y) = Scalar(1);
    } else if (labelled) {
      for (Index k = 0; k < classes; ++k)
        term += static_cast<double>(target(k, j)) * static_cast<double>(r(k));
      r = target.col(j);
    } else {
      term = detail::soft_assign_to_centres(r);
    }
    kl(j) = static_cast<Scalar>(spread + term + log_classes);
  }
}

/// Adds the gradient of sum_j scale_j * KL_j to mu_gradient, logvar_gradient
/// and centre_gradient (latent x K), from class_prior_kl()'s responsibilities.
template <typename Scalar>
void class_prior_kl_backward(const ConstMatrixRef<Scalar>& mu, const ConstMatrixRef<Scalar>& logvar,
                             const ConstMatrixRef<Scalar>& centres,
                             const ConstMatrixRef<Scalar>& responsibilities,
                             const ConstRowVectorRef<Scalar>& scale, MatrixRef<Scalar> mu_gradient,
                             MatrixRef<Scalar> logvar_gradient, MatrixRef<Scalar> centre_gradient) {
  detail::check_shape("class prior centre gradient", centre_gradient.rows(), centre_gradient.cols(),
                      centres.rows(), centres.cols());
  for (Index j = 0; j < mu.cols(); ++j) {
    const Scalar s = scale(j);
    for (Index k = 0; k < centres.cols(); ++k) {
      const Scalar weight = s * responsibilities(k, j);
      if (weight == Scalar(0)) continue;
      for (Index d = 0; d < mu.rows(); ++d) {
        const Scalar difference = weight * (mu(d, j) - centres(d, k));
        mu_gradient(d, j) += difference;
        centre_gradient(d, k) -= difference;
      }
    }
  }
  logvar_gradient.array() +=
      (Scalar(0.5) * (logvar.array().exp() - Scalar(1))).rowwise() * scale.array();
}

}  // namespace scvae
