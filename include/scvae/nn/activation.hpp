#pragma once
// Elementwise activations. The backward pass is written in terms of the
// activation's *output*, so a layer keeps only one buffer per layer and the
// bias add and the activation run as one fused pass. LeakyReLU and ELU use
// PyTorch's default constants (slope 0.01, alpha 1).

#include <cmath>
#include <string>

#include "scvae/core/error.hpp"
#include "scvae/core/types.hpp"

namespace scvae {

enum class Activation { Identity, ReLU, Tanh, Sigmoid, Softplus, LeakyReLU, ELU };

/// LeakyReLU's slope for negative inputs and ELU's alpha.
inline constexpr double kLeakyReluSlope = 0.01;
inline constexpr double kEluAlpha = 1.0;

inline const char* activation_name(Activation activation) {
  switch (activation) {
    case Activation::Identity: return "identity";
    case Activation::ReLU: return "relu";
    case Activation::Tanh: return "tanh";
    case Activation::Sigmoid: return "sigmoid";
    case Activation::Softplus: return "softplus";
    case Activation::LeakyReLU: return "leaky_relu";
    case Activation::ELU: return "elu";
  }
  return "unknown";
}

inline Activation activation_from_name(const std::string& name) {
  for (Activation a : {Activation::Identity, Activation::ReLU, Activation::Tanh,
                       Activation::Sigmoid, Activation::Softplus, Activation::LeakyReLU,
                       Activation::ELU}) {
    if (name == activation_name(a)) return a;
  }
  throw ArgumentError(
      "activation: expected one of identity, relu, tanh, sigmoid, softplus, leaky_relu, elu; "
      "got '" +
      name + "'");
}

/// y = f(y) in place.
template <typename Derived>
void activate(Activation activation, Eigen::MatrixBase<Derived>& y) {
  using Scalar = typename Derived::Scalar;
  auto z = y.array();
  switch (activation) {
    case Activation::Identity: break;
    case Activation::ReLU: z = z.max(Scalar(0)); break;
    case Activation::Tanh: z = z.tanh(); break;
    case Activation::Sigmoid: z = Scalar(1) / (Scalar(1) + (-z).exp()); break;
    case Activation::Softplus: z = z.max(Scalar(0)) + (-z.abs()).exp().log1p(); break;
    case Activation::LeakyReLU:
      z = (z > Scalar(0)).select(z, static_cast<Scalar>(kLeakyReluSlope) * z);
      break;
    case Activation::ELU:
      z = (z > Scalar(0)).select(z, static_cast<Scalar>(kEluAlpha) * z.expm1());
      break;
  }
}

/// y = f(y + bias), bias broadcast over columns; one pass over y.
template <typename Derived, typename BiasDerived>
void add_bias_and_activate(Activation activation, Eigen::MatrixBase<Derived>& y,
                           const Eigen::MatrixBase<BiasDerived>& bias) {
  using Scalar = typename Derived::Scalar;
  for (Index j = 0; j < y.cols(); ++j) {
    auto column = y.col(j).array();
    const auto z = column + bias.array();
    switch (activation) {
      case Activation::Identity: column = z; break;
      case Activation::ReLU: column = z.max(Scalar(0)); break;
      case Activation::Tanh: column = z.tanh(); break;
      case Activation::Sigmoid: column = Scalar(1) / (Scalar(1) + (-z).exp()); break;
      case Activation::Softplus:
        // max(z,0) + log1p(exp(-|z|)) never overflows.
        column = z.max(Scalar(0)) + (-z.abs()).exp().log1p();
        break;
      case Activation::LeakyReLU:
        column = (z > Scalar(0)).select(z, static_cast<Scalar>(kLeakyReluSlope) * z);
        break;
      case Activation::ELU:
        column = (z > Scalar(0)).select(z, static_cast<Scalar>(kEluAlpha) * z.expm1());
        break;
    }
  }
}

/// delta = upstream * f'(x), with f' computed from the output y = f(x).
/// `delta` may alias `upstream`.
template <typename OutDerived, typename UpDerived, typename DeltaDerived>
void activation_backward(Activation activation, const Eigen::MatrixBase<OutDerived>& y,
                         const Eigen::MatrixBase<UpDerived>& upstream,
                         Eigen::MatrixBase<DeltaDerived>& delta) {
  using Scalar = typename OutDerived::Scalar;
  const auto out = y.array();
  const auto up = upstream.array();
  auto d = delta.array();
  switch (activation) {
    case Activation::Identity: d = up; break;
    case Activation::ReLU: d = (out > Scalar(0)).select(up, Scalar(0)); break;
    case Activation::Tanh: d = up * (Scalar(1) - out.square()); break;
    case Activation::Sigmoid: d = up * out * (Scalar(1) - out); break;
    case Activation::Softplus:
      // sigmoid(x) = 1 - exp(-softplus(x)); -expm1 keeps precision when y is tiny.
      d = -(up * (-out).expm1());
      break;
    // The slope and alpha are positive, so the output's sign is the input's.
    case Activation::LeakyReLU:
      d = (out > Scalar(0)).select(up, static_cast<Scalar>(kLeakyReluSlope) * up);
      break;
    case Activation::ELU:  // d/dx alpha (e^x - 1) = y + alpha
      d = (out > Scalar(0)).select(up, up * (out + static_cast<Scalar>(kEluAlpha)));
      break;
  }
}

/// delta = delta * f'(x) in place, f' computed from the output y = f(x), and
/// the row sums of the new delta added to `row_sum`: one pass over delta
/// (a dense layer's backward and its bias gradient).
template <typename OutDerived, typename DeltaDerived, typename SumDerived>
void activation_backward_and_sum(Activation activation, const Eigen::MatrixBase<OutDerived>& y,
                                 Eigen::MatrixBase<DeltaDerived>& delta,
                                 Eigen::MatrixBase<SumDerived>& row_sum) {
  using Scalar = typename OutDerived::Scalar;
  for (Index j = 0; j < delta.cols(); ++j) {
    const auto out = y.col(j).array();
    auto d = delta.col(j).array();
    switch (activation) {
      case Activation::Identity: break;
      case Activation::ReLU: d = (out > Scalar(0)).select(d, Scalar(0)); break;
      case Activation::Tanh: d = d * (Scalar(1) - out.square()); break;
      case Activation::Sigmoid: d = d * out * (Scalar(1) - out); break;
      case Activation::Softplus: d = -(d * (-out).expm1()); break;
      case Activation::LeakyReLU:
        d = (out > Scalar(0)).select(d, static_cast<Scalar>(kLeakyReluSlope) * d);
        break;
      case Activation::ELU:
        d = (out > Scalar(0)).select(d, d * (out + static_cast<Scalar>(kEluAlpha)));
        break;
    }
    row_sum.array() += d;
  }
}

}  // namespace scvae
