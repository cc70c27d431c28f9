#pragma once
// Central finite differences against an analytic gradient. Public, so users
// can check the backward pass of their own layers the way we check ours.

#include <cmath>
#include <functional>
#include <sstream>
#include <string>

#include "scvae/core/check.hpp"
#include "scvae/core/types.hpp"

namespace scvae {

struct GradientCheckResult {
  double relative_error = 0.0;  ///< ||numeric - analytic|| / max(||numeric||, ||analytic||, tiny)
  double max_abs_error = 0.0;
  Index worst_index = -1;  ///< Coordinate with the largest absolute error.
  double worst_numeric = 0.0;
  double worst_analytic = 0.0;

  std::string describe() const {
    std::ostringstream out;
    out << "relative error " << relative_error << ", max abs error " << max_abs_error
        << " at index " << worst_index << " (numeric " << worst_numeric << ", analytic "
        << worst_analytic << ")";
    return out.str();
  }
};

/// Compares `analytic` with central differences of `loss` around `point`:
/// (loss(p + h e_i) - loss(p - h e_i)) / 2h for every coordinate i. Use double.
/// `point` is taken by value: `loss` may write into the vector it came from
/// (e.g. a model's parameters) without moving the point being checked.
inline GradientCheckResult check_gradient(const std::function<double(const Vector<double>&)>& loss,
                                          const Vector<double> point,
                                          const Vector<double>& analytic, double step = 1e-5) {
  detail::check_rows("gradient check analytic gradient", analytic.size(), point.size());
  Vector<double> probe = point;
  Vector<double> numeric(point.size());
  for (Index i = 0; i < point.size(); ++i) {
    const double h = step * std::max(1.0, std::abs(point(i)));
    probe(i) = point(i) + h;
    const double up = loss(probe);
    probe(i) = point(i) - h;
    const double down = loss(probe);
    probe(i) = point(i);
    numeric(i) = (up - down) / (2.0 * h);
  }
  GradientCheckResult result;
  const double scale = std::max({numeric.norm(), analytic.norm(), 1e-300});
  result.relative_error = (numeric - analytic).norm() / scale;
  const Vector<double> diff = (numeric - analytic).cwiseAbs();
  result.max_abs_error = diff.maxCoeff(&result.worst_index);
  result.worst_numeric = numeric(result.worst_index);
  result.worst_analytic = analytic(result.worst_index);
  return result;
}

}  // namespace scvae
