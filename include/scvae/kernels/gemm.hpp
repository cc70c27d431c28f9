#pragma once
// Dense layers' matrix products, C = or += op(A) op(B), without heap
// allocation in a train step.
//
// Built with AVX-512 (the examples' and benchmarks' -march=native on such a
// CPU), float products run on the kernels below: op(A) = A directly, A^T B
// (W^T D) through two transposes. Everything else (double, A^T B^T, other
// instruction sets) runs Eigen's own GEMM kernel
// (general_matrix_matrix_product, Eigen 3.4 internals, with the blocking
// sizes Eigen itself would choose) on packing buffers kept per thread:
// `C.noalias() = A * B` would heap-allocate them on every call once they
// exceed EIGEN_STACK_ALLOCATION_LIMIT (128 KB), ~10 times per MNIST VAE step.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <type_traits>

#include <Eigen/Core>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "scvae/core/types.hpp"
#include "scvae/kernels/avx512_tiles.hpp"

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

/// This thread's packing buffer, grown (never shrunk) to at least `size`,
/// and at once to the largest size any thread has asked for (size 0: only
/// that). The executor hands parameter-gradient parts to whichever thread is
/// free, so a thread may meet a layer's large product for the first time
/// long after warm-up; it calls this with 0 on every thread at the end of
/// each step, so a step allocates only when it is the first to need more
/// (tests/perf/no_allocation_test.cpp caught it under ASan's timing).
template <typename Scalar>
Scalar* gemm_scratch(Index size) {
  static std::atomic<Index> largest{0};
  thread_local Vector<Scalar> buffer;
  Index seen = largest.load(std::memory_order_relaxed);
  while (seen < size && !largest.compare_exchange_weak(seen, size, std::memory_order_relaxed)) {
  }
  const Index wanted = std::max(size, seen);
  if (buffer.size() < wanted) buffer.resize(wanted);
  return buffer.data();
}

#if defined(__AVX512F__)
/// AVX-512 kernels for float C (+)= A op(B) with A column-major: the dense
/// layers' forward products (W X) and weight gradients (D X^T), and through
/// gemm_transposed_a their input gradients (W^T D). They read A
/// and B where they lie, without packing, and hold a tile of up to 48 x 8 of C
/// in 24 registers (Eigen 3.4's kernel: 48 x 4 in 12, after packing both).
/// Each element of C is summed over k in order, so its bits depend only on
/// the operands. Measured in bench/RESULTS.md (BM_Gemm_Product).
namespace avx512 {

using avx512_tiles::kLanes;
using avx512_tiles::kTileColumns;
using avx512_tiles::kTileRows;
inline constexpr Index kPrefetchSteps = 8;
inline constexpr Index kBlockTiles = 4;
inline constexpr Index kLargeOperandBytes = Index(512) << 10;

/// Asks for the cache line of base[offset], which may lie past the end of
/// the array (a prefetch never faults); computed as an integer, since such
/// a pointer may not be formed.
inline void prefetch(const float* base, Index offset) {
  const auto address =
      reinterpret_cast<std::uintptr_t>(base) + static_cast<std::uintptr_t>(offset) * sizeof(float);
  _mm_prefetch(reinterpret_cast<const char*>(address), _MM_HINT_T0);
}

/// C[0:rows, 0:Columns] (+)= A[0:rows, 0:k] op(B)[0:k, 0:Columns], where
/// rows = 16 (Vectors - 1) + the lanes set in `last` (all 16 unless Partial).
template <int Vectors, int Columns, bool TransB, bool Partial>
inline void tile(Index k, const float* a, Index lda, const float* b, Index ldb, float* c, Index ldc,
                 __mmask16 last, bool accumulate) {
  __m512 sum[Columns][Vectors];
  avx512_tiles::zero_tile(sum);
  for (Index p = 0; p < k; ++p) {
    const float* a_p = a + p * lda;
    const float* b_p = TransB ? b + p * ldb : b + p;
    // Columns of A lie lda apart, often across pages, where the hardware
    // prefetcher stops; fetch a few steps ahead.
#pragma GCC unroll 3
    for (int v = 0; v < Vectors; ++v) prefetch(a_p, kPrefetchSteps * lda + v * kLanes);
    if (TransB) prefetch(b_p, kPrefetchSteps * ldb);
    __m512 column[Vectors];
#pragma GCC unroll 3
    for (int v = 0; v < Vectors; ++v)
      column[v] = Partial && v == Vectors - 1 ? _mm512_maskz_loadu_ps(last, a_p + v * kLanes)
                                              : _mm512_loadu_ps(a_p + v * kLanes);
#pragma GCC unroll 8
    for (int j = 0; j < Columns; ++j) {
      const __m512 scale = _mm512_set1_ps(TransB ? b_p[j] : b_p[j * ldb]);
#pragma GCC unroll 3
      for (int v = 0; v < Vectors; ++v) sum[j][v] = _mm512_fmadd_ps(column[v], scale, sum[j][v]);
    }
  }
  avx512_tiles::store_tile<Vectors, Columns, Partial>(sum, c, ldc, last, accumulate);
}

/// tile<> for a runtime column count (1..8).
template <int Vectors, bool TransB, bool Partial>
inline void tile_columns(Index columns, Index k, const float* a, Index lda, const float* b,
                         Index ldb, float* c, Index ldc, __mmask16 last, bool accumulate) {
  switch (columns) {
    case 8: return tile<Vectors, 8, TransB, Partial>(k, a, lda, b, ldb, c, ldc, last, accumulate);
    case 7: return tile<Vectors, 7, TransB, Partial>(k, a, lda, b, ldb, c, ldc, last, accumulate);
    case 6: return tile<Vectors, 6, TransB, Partial>(k, a, lda, b, ldb, c, ldc, last, accumulate);
    case 5: return tile<Vectors, 5, TransB, Partial>(k, a, lda, b, ldb, c, ldc, last, accumulate);
    case 4: return tile<Vectors, 4, TransB, Partial>(k, a, lda, b, ldb, c, ldc, last, accumulate);
    case 3: return tile<Vectors, 3, TransB, Partial>(k, a, lda, b, ldb, c, ldc, last, accumulate);
    case 2: return tile<Vectors, 2, TransB, Partial>(k, a, lda, b, ldb, c, ldc, last, accumulate);
    default: return tile<Vectors, 1, TransB, Partial>(k, a, lda, b, ldb, c, ldc, last, accumulate);
  }
}

using avx512_tiles::tile_rows;

/// Rows of A above its first 64-byte-aligned row, when every column of A
/// starts at the same place in a cache line (lda a multiple of 16); else 0.
inline Index rows_before_aligned(const float* a, Index lda, Index m) {
  if (lda % kLanes != 0) return 0;
  const auto lane =
      static_cast<Index>((reinterpret_cast<std::uintptr_t>(a) / sizeof(float)) % kLanes);
  return lane == 0 ? 0 : std::min(m, kLanes - lane);
}

/// The tile of C at rows [i, i + rows) and columns [j, j + columns).
template <bool TransB>
inline void tile_at(Index i, Index rows, Index j, Index columns, Index k, const float* a, Index lda,
                    const float* b, Index ldb, float* c, Index ldc, bool accumulate) {
  const Index vectors = (rows + kLanes - 1) / kLanes;
  const Index tail = rows - (vectors - 1) * kLanes;
  const auto last = static_cast<__mmask16>((1u << tail) - 1u);
  const float* a_i = a + i;
  const float* b_j = TransB ? b + j : b + j * ldb;
  float* c_ij = c + j * ldc + i;
  auto run = [&](auto vectors_constant) {
    constexpr int kVectors = decltype(vectors_constant)::value;
    if (tail != kLanes)
      return tile_columns<kVectors, TransB, true>(columns, k, a_i, lda, b_j, ldb, c_ij, ldc, last,
                                                  accumulate);
    tile_columns<kVectors, TransB, false>(columns, k, a_i, lda, b_j, ldb, c_ij, ldc, last,
                                          accumulate);
  };
  if (vectors == 3) return run(std::integral_constant<int, 3>{});
  if (vectors == 2) return run(std::integral_constant<int, 2>{});
  run(std::integral_constant<int, 1>{});
}

/// C (m x n) (+)= A op(B); A is m x k column-major, op(B) k x n (B stored
/// k x n, or n x k with TransB). k >= 1.
template <bool TransB>
inline void gemm(Index m, Index n, Index k, const float* a, Index lda, const float* b, Index ldb,
                 float* c, Index ldc, bool accumulate) {
  // A weight matrix inside the flat parameter buffer may start mid-line (the
  // MNIST VAE's output layer starts 32 bytes in), and then every 16-float
  // load of A straddles two lines: those rows first, as a thin tile, so the
  // rest start on a line (W4 H in a step: 284 against 318 us).
  const Index head = rows_before_aligned(a, lda, m);
  if (head > 0) {
    for (Index j = 0; j < n; j += kTileColumns)
      tile_at<TransB>(0, head, j, std::min(kTileColumns, n - j), k, a, lda, b, ldb, c, ldc,
                      accumulate);
  }
  // Columns outside, rows inside: 8 columns of op(B) (k x 8 floats) stay in
  // L1 while the tiles of A stream past them. A large A (a weight matrix in
  // a forward product, 1.25 MB for the VAE's) is taken 4 tiles of rows at a
  // time, so that the rows every column block reads again stay in L2 beside
  // B and C (W1 X and W4 H in a step: 266-270 against 274-280 us). (Rows
  // outside everything, tile by tile, measured slower per epoch; so did
  // blocks for the weight gradients' small A.)
  const bool large_a = m * k * static_cast<Index>(sizeof(float)) > kLargeOperandBytes;
  const Index block_rows = large_a ? kBlockTiles * kTileRows : m;
  for (Index block = head; block < m;) {
    Index block_end = block;
    while (block_end < m && block_end - block < block_rows) block_end += tile_rows(block_end, m);
    for (Index j = 0; j < n; j += kTileColumns) {
      const Index columns = std::min(kTileColumns, n - j);
      for (Index i = block; i < block_end;) {
        const Index rows = tile_rows(i, m);
        tile_at<TransB>(i, rows, j, columns, k, a, lda, b, ldb, c, ldc, accumulate);
        i += rows;
      }
    }
    block = block_end;
  }
}

/// out (cols x rows, column-major) = or += in^T, where in is rows x cols.
/// Whole 16 x 16 blocks are transposed in registers; the edges element by
/// element.
inline void transpose(Index rows, Index cols, const float* in, Index ldi, float* out, Index ldo,
                      bool accumulate) {
  const Index block_rows = rows / kLanes * kLanes;
  const Index block_cols = cols / kLanes * kLanes;
  for (Index j = 0; j < block_cols; j += kLanes) {
    for (Index i = 0; i < block_rows; i += kLanes) {
      const float* from = in + i + j * ldi;
      __m512 x[kLanes];
      for (int c = 0; c < kLanes; ++c) x[c] = _mm512_loadu_ps(from + c * ldi);
      avx512_tiles::transpose_block(x);
      float* to = out + j + i * ldo;
      for (int r = 0; r < kLanes; ++r) {
        float* at = to + r * ldo;
        _mm512_storeu_ps(at, accumulate ? _mm512_add_ps(_mm512_loadu_ps(at), x[r]) : x[r]);
      }
    }
  }
  for (Index j = 0; j < cols; ++j) {
    for (Index i = j < block_cols ? block_rows : 0; i < rows; ++i) {
      float& at = out[j + i * ldo];
      at = accumulate ? at + in[i + j * ldi] : in[i + j * ldi];
    }
  }
}

/// `size` floats of this thread's GEMM scratch, starting on a cache line.
inline float* line_aligned_scratch(Index size) {
  float* scratch = gemm_scratch<float>(size + kLanes);
  const auto misalignment = reinterpret_cast<std::uintptr_t>(scratch) % (kLanes * sizeof(float));
  if (misalignment != 0) scratch += (kLanes * sizeof(float) - misalignment) / sizeof(float);
  return scratch;
}

/// C (m x n) (+)= A^T B with A stored k x m and B k x n, column-major: the
/// dense layers' input gradients (W^T D). Both operands are contiguous only
/// along k, which suits no outer-product tile, so it runs on the kernel
/// above after transposing what moves less: A (k x m values), or B and C
/// (n x (k + m)) as C^T = B^T A, in this thread's scratch. A dense layer's
/// batch is narrower than its weights: the two transposes take ~7 us of the
/// VAE's 400 x 64 x 784 product, which runs at 213 GFLOP/s in all against
/// 174 on Eigen's kernel (BM_Gemm_Product). The weight gradient of a
/// convolution with one channel in (the conv VAE's first and last: 16 patch
/// values by 1,960 rows of a block, against 32 channels) moves half as much
/// through A, and took 0.75x its time so (BM_Conv_Layer, bench/RESULTS.md).
/// Each value of C is the same sum either way, in the same order (FMAs from
/// p = 0 up, added to C at the end), so the bits do not depend on the
/// choice (tests/kernels/gemm_test.cpp).
inline void gemm_transposed_a(Index m, Index n, Index k, const float* a, Index lda, const float* b,
                              Index ldb, float* c, Index ldc, bool accumulate) {
  if (k * m <= n * (k + m)) {
    // Columns of A^T start on a cache line, as below.
    const Index stride = (m + kLanes - 1) / kLanes * kLanes;
    float* scratch = line_aligned_scratch(stride * k);
    transpose(k, m, a, lda, scratch, stride, false);
    gemm<false>(m, n, k, scratch, stride, b, ldb, c, ldc, accumulate);
    return;
  }
  // Columns of B^T and C^T start on a cache line, so the kernel's loads of
  // them never straddle two.
  const Index stride = (n + kLanes - 1) / kLanes * kLanes;
  float* scratch = line_aligned_scratch(stride * (k + m));
  float* b_transposed = scratch;
  float* c_transposed = scratch + stride * k;
  transpose(k, n, b, ldb, b_transposed, stride, false);
  gemm<false>(n, m, k, b_transposed, stride, a, lda, c_transposed, stride, false);
  transpose(n, m, c_transposed, stride, c, ldc, accumulate);
}

}  // namespace avx512
#endif

/// C (m x n, column-major, leading dimension ldc) = op(A) op(B), or += with
/// `accumulate`. op(A) is m x k: A is stored column-major m x k (lda >= m) or,
/// with TransA, k x m (lda >= k); likewise B with TransB.
template <bool TransA, bool TransB, typename Scalar>
void gemm(Index m, Index n, Index k, const Scalar* a, Index lda, const Scalar* b, Index ldb,
          Scalar* c, Index ldc, bool accumulate) {
  if (m == 0 || n == 0) return;
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<Scalar, float> && !TransA) {
    if (k > 0) {
      avx512::gemm<TransB>(m, n, k, a, lda, b, ldb, c, ldc, accumulate);
      return;
    }
  }
  if constexpr (std::is_same_v<Scalar, float> && TransA && !TransB) {
    if (k > 0) {
      avx512::gemm_transposed_a(m, n, k, a, lda, b, ldb, c, ldc, accumulate);
      return;
    }
  }
#endif
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
