#pragma once
// Dense layers' matrix products, C = or += op(A) op(B), through Eigen's own
// GEMM kernel but with its packing buffers kept per thread and reused.
//
// `C.noalias() = A * B` on large shapes makes Eigen heap-allocate its packing
// buffers on every call once they exceed EIGEN_STACK_ALLOCATION_LIMIT (128 KB):
// the 784x400 layers of the MNIST VAE did so ~10 times per train step. Here
// the same kernel (general_matrix_matrix_product, Eigen 3.4 internals, with
// the blocking sizes Eigen itself would choose, so results are those of the
// plain product) runs on buffers that grow once per thread and are then
// reused: a train step allocates nothing.

#include <algorithm>

#include <Eigen/Core>

#include "scvae/core/types.hpp"

namespace scvae::detail {

/// Eigen's blocking for an m x n x k product, on caller-provided buffers.
template <typename Scalar>
class ReusedBlocking : public Eigen::internal::level3_blocking<Scalar, Scalar> {
 public:
  ReusedBlocking(Index m, Index n, Index k) {
    this->m_mc = m;
    this->m_nc = n;
    this->m_kc = k;
    Eigen::internal::computeProductBlockingSizes<Scalar, Scalar, 1>(this->m_kc, this->m_mc,
                                                                    this->m_nc, Index(1));
  }
  Index size_a() const { return this->m_kc * this->m_mc; }
  Index size_b() const { return this->m_kc * this->m_nc; }
  void set_buffers(Scalar* a, Scalar* b) {
    this->m_blockA = a;
    this->m_blockB = b;
  }
};

/// This thread's packing buffer, grown (never shrunk) to at least `size`.
template <typename Scalar>
Scalar* gemm_scratch(Index size) {
  thread_local Vector<Scalar> buffer;
  if (buffer.size() < size) buffer.resize(size);
  return buffer.data();
}

/// C (m x n, column-major, leading dimension ldc) = op(A) op(B), or += with
/// `accumulate`. op(A) is m x k: A is stored column-major m x k (lda >= m) or,
/// with TransA, k x m (lda >= k); likewise B with TransB.
template <bool TransA, bool TransB, typename Scalar>
void gemm(Index m, Index n, Index k, const Scalar* a, Index lda, const Scalar* b, Index ldb,
          Scalar* c, Index ldc, bool accumulate) {
  if (m == 0 || n == 0) return;
  if (!accumulate) {
    Eigen::Map<Matrix<Scalar>, 0, Eigen::OuterStride<>>(c, m, n, Eigen::OuterStride<>(ldc))
        .setZero();
  }
  if (k == 0) return;
  ReusedBlocking<Scalar> blocking(m, n, k);
  Scalar* buffer = gemm_scratch<Scalar>(blocking.size_a() + blocking.size_b() + 64);
  // The B block starts on a 64-byte boundary, as Eigen's own buffers do.
  const Index offset_b = (blocking.size_a() + 15) / 16 * 16;
  blocking.set_buffers(buffer, buffer + offset_b);
  using Product = Eigen::internal::general_matrix_matrix_product<
      Index, Scalar, TransA ? Eigen::RowMajor : Eigen::ColMajor, false, Scalar,
      TransB ? Eigen::RowMajor : Eigen::ColMajor, false, Eigen::ColMajor, 1>;
  Product::run(m, n, k, a, lda, b, ldb, c, 1, ldc, Scalar(1), blocking, nullptr);
}

/// dst = or += op(A) op(B) for Eigen objects with direct access (matrices,
/// maps, refs, column blocks) whose inner stride is 1.
template <bool TransA, bool TransB, typename DA, typename DB, typename DC>
void gemm(const Eigen::MatrixBase<DA>& a, const Eigen::MatrixBase<DB>& b, Eigen::MatrixBase<DC>& c,
          bool accumulate) {
  using Scalar = typename DC::Scalar;
  const Index m = c.rows();
  const Index n = c.cols();
  const Index k = TransA ? a.rows() : a.cols();
  gemm<TransA, TransB, Scalar>(m, n, k, a.derived().data(), a.derived().outerStride(),
                               b.derived().data(), b.derived().outerStride(), c.derived().data(),
                               c.derived().outerStride(), accumulate);
}

}  // namespace scvae::detail
