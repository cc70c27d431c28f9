#pragma once
// Gradient clipping by global L2 norm, on the flat gradient buffer.

#include <cmath>
#include <sstream>

#include "scvae/core/error.hpp"
#include "scvae/core/types.hpp"

namespace scvae {

namespace detail {
template <typename T>
struct NonDeduced {
  using type = T;
};
}  // namespace detail

/// Scales grads in place so that their L2 norm is at most max_norm, and returns
/// the norm before clipping. As torch.nn.utils.clip_grad_norm_, the scale is
/// max_norm / (norm + 1e-6), applied only when norm > max_norm.
///
/// A NaN or infinite norm is returned as is and grads are left untouched: the
/// caller decides (skip the step, stop training). Finite gradients whose
/// squared norm overflows still get their true norm (through stableNorm).
/// Scalar is taken from max_norm: clip_gradient_norm(g, 5.0f) for float
/// gradients, or name it: clip_gradient_norm<float>(g, 5).
/// Throws ArgumentError when max_norm is not positive.
template <typename Scalar>
Scalar clip_gradient_norm(Eigen::Ref<Vector<typename detail::NonDeduced<Scalar>::type>> grads,
                          Scalar max_norm) {
  if (!(max_norm > Scalar(0))) {
    std::ostringstream out;
    out << "clip_gradient_norm: max_norm: expected a positive value, got " << max_norm;
    throw ArgumentError(out.str());
  }
  Scalar norm = grads.norm();
  // Finite values whose squares overflowed: rescale on this rare path only.
  if (!std::isfinite(norm) && grads.allFinite()) norm = grads.stableNorm();
  if (!std::isfinite(norm)) return norm;  // NaN or inf: the caller decides
  if (norm > max_norm) {
    grads *= max_norm / (norm + static_cast<Scalar>(1e-6));
  }
  return norm;
}

}  // namespace scvae
