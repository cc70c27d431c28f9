#pragma once
// Matrix and vector aliases. Data is column-major with one sample per column.

#include <Eigen/Core>
#include <cstdint>

namespace scvae {

using Index = Eigen::Index;

template <typename Scalar>
using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;

/// A column vector: one value per feature.
template <typename Scalar>
using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

/// A row vector: one value per sample of a batch.
template <typename Scalar>
using RowVector = Eigen::Matrix<Scalar, 1, Eigen::Dynamic>;

template <typename Scalar>
using MatrixMap = Eigen::Map<Matrix<Scalar>>;
template <typename Scalar>
using ConstMatrixMap = Eigen::Map<const Matrix<Scalar>>;
template <typename Scalar>
using VectorMap = Eigen::Map<Vector<Scalar>>;
template <typename Scalar>
using ConstVectorMap = Eigen::Map<const Vector<Scalar>>;

template <typename Scalar>
using MatrixRef = Eigen::Ref<Matrix<Scalar>>;
template <typename Scalar>
using ConstMatrixRef = Eigen::Ref<const Matrix<Scalar>>;
template <typename Scalar>
using ConstRowVectorRef = Eigen::Ref<const RowVector<Scalar>>;

/// Name of a scalar type as stored in checkpoints and shown in messages.
template <typename Scalar>
constexpr const char* scalar_name();
template <>
constexpr const char* scalar_name<float>() {
  return "float32";
}
template <>
constexpr const char* scalar_name<double>() {
  return "float64";
}

}  // namespace scvae
