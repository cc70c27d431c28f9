#pragma once
// Helpers shared by the tests: seeded random matrices and a flat-buffer
// gradient check of a loss that reads its parameters from a vector.

#include <gtest/gtest.h>

#include "scvae/scvae.hpp"

namespace scvae::testing {

inline Matrix<double> random_matrix(Index rows, Index cols, std::uint64_t seed,
                                    double scale = 1.0) {
  Rng rng(seed);
  Matrix<double> m(rows, cols);
  rng.fill_normal(m);
  return m * scale;
}

inline Matrix<double> random_uniform(Index rows, Index cols, std::uint64_t seed) {
  Rng rng(seed);
  Matrix<double> m(rows, cols);
  for (Index j = 0; j < cols; ++j)
    for (Index i = 0; i < rows; ++i) m(i, j) = rng.uniform();
  return m;
}

/// Expects a gradient check to pass with relative error at most 1e-6.
inline void expect_gradient_ok(const GradientCheckResult& result, double tolerance = 1e-6) {
  EXPECT_LE(result.relative_error, tolerance) << result.describe();
}

}  // namespace scvae::testing
