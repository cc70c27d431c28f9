#pragma once
// The interface every decoder likelihood implements, and LikelihoodSpec,
// the plain description a model stores (and a checkpoint names).

#include <cmath>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "scvae/core/check.hpp"
#include "scvae/core/types.hpp"

namespace scvae {

/// What a decoder's outputs mean and how its targets are scored.
struct LikelihoodSpec {
  enum class Kind { Bernoulli, Gaussian, GaussianLearnedVariance, Categorical };
  Kind kind = Kind::Bernoulli;
  double variance = 1.0;  ///< Gaussian with fixed variance only.
  Index classes = 0;      ///< Categorical only.

  static LikelihoodSpec bernoulli() { return {Kind::Bernoulli, 1.0, 0}; }
  static LikelihoodSpec gaussian(double variance = 1.0) { return {Kind::Gaussian, variance, 0}; }
  static LikelihoodSpec gaussian_learned_variance() {
    return {Kind::GaussianLearnedVariance, 1.0, 0};
  }
  static LikelihoodSpec categorical(Index classes) { return {Kind::Categorical, 1.0, classes}; }

  std::string name() const {
    std::ostringstream out;
    out.precision(17);
    switch (kind) {
      case Kind::Bernoulli: out << "bernoulli"; break;
      case Kind::Gaussian: out << "gaussian(variance=" << variance << ")"; break;
      case Kind::GaussianLearnedVariance: out << "gaussian(learned variance)"; break;
      case Kind::Categorical: out << "categorical(" << classes << ")"; break;
    }
    return out.str();
  }
};

namespace detail {
/// A masked column's NLL (scale 0) counts for nothing, but its target may be
/// a NaN marking a missing value: keep the NLL out of the sums then.
template <typename Ref>
void zero_if_not_finite(Ref&& nll) {
  if (!std::isfinite(static_cast<double>(nll))) nll = 0;
}
}  // namespace detail

/// A likelihood p(y | decoder output). Implementations may own parameters
/// (a slice of the model's flat buffer), e.g. a learned log-variance.
template <typename Scalar_>
class LikelihoodT {
 public:
  using Scalar = Scalar_;
  virtual ~LikelihoodT() = default;

  virtual std::string name() const = 0;
  virtual std::unique_ptr<LikelihoodT> clone() const = 0;
  /// Rows a target has for `outputs` decoder outputs (1 for class labels).
  virtual Index target_rows(Index outputs) const { return outputs; }
  virtual Index parameter_count() const { return 0; }
  virtual void initialize(Scalar* /*values*/) const {}

  /// Throws ShapeError / ArgumentError when `target` cannot be scored;
  /// columns whose mask is 0 are not inspected.
  virtual void validate_target(const ConstMatrixRef<Scalar>& target,
                               const std::optional<ConstRowVectorRef<Scalar>>& mask,
                               Index outputs) const {
    detail::check_rows("task target", target.rows(), target_rows(outputs));
    (void)mask;
  }

  /// nll(i) = -log p(target_i | output_i) for every column. When
  /// `output_gradient` is given, it receives d/d(output) of
  /// sum_i scale(i) * nll(i), and parameter gradients are added to `gradients`.
  /// A column with scale(i) == 0 (masked) gets a zero gradient whatever its
  /// target holds, and nll(i) = 0 if its target makes the NLL non-finite.
  virtual void evaluate(const Scalar* values, Scalar* gradients,
                        const ConstMatrixRef<Scalar>& output, const ConstMatrixRef<Scalar>& target,
                        const ConstRowVectorRef<Scalar>& scale, Eigen::Ref<RowVector<Scalar>> nll,
                        MatrixRef<Scalar>* output_gradient) const = 0;

  /// The expected target given the decoder output: pixel probabilities,
  /// Gaussian means, class probabilities. `mean` has the shape of `output`.
  virtual void mean(const ConstMatrixRef<Scalar>& output, MatrixRef<Scalar> mean) const {
    mean = output;
  }

  /// Where this likelihood's parameters start in the flat buffer.
  void set_offset(Index offset) { offset_ = offset; }
  Index offset() const { return offset_; }

 protected:
  Index offset_ = 0;
};

using Likelihood = LikelihoodT<float>;

}  // namespace scvae
