#pragma once
// Matrix products with bf16 operands and float sums, C = or += A B: the
// products of the bf16 precision (issue 24), twice the float FMA rate on a
// CPU with AVX512_BF16.
//
// The instruction (vdpbf16ps) adds to each float lane the products of two
// bf16 pairs, so both operands are kept as pairs of neighbours along the
// summed dimension k, one pair per 32-bit word (the even k in the low half):
// - A (m x k) "rows in pairs": word (p, i) = (A[i, 2p], A[i, 2p+1]) at
//   a[p * m + i], so 16 rows of one pair are one vector load;
// - B (k x n) "columns in pairs": word (p, j) = (B[2p, j], B[2p+1, j]) at
//   b[j * ldb + p], one broadcast per column.
// An odd k is padded with a zero. Packing converts float to bf16 (rounded to
// nearest even) from either orientation of the float source, so the three
// products of a dense layer (W X, D X^T, W^T D) all run on the one kernel.
//
// Exactness: every C element is summed over the pairs in order, each step
// adding the odd product and then the even one, each fused into the sum
// (one rounding each) with denormals flushed: what vdpbf16ps does, checked
// bit for bit on AMD Zen 4 (tests/kernels/gemm_bf16_test.cpp).
// Where the CPU lacks the instruction, gemm_bf16 runs the same arithmetic in
// scalar code under FTZ/DAZ, so the bits do not depend on the CPU, only the
// speed does (the scalar path is for tests and correctness, not for speed).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "scvae/core/flush_denormals.hpp"
#include "scvae/core/types.hpp"
#include "scvae/kernels/avx512_tiles.hpp"
#include "scvae/kernels/bf16.hpp"

#ifdef SCVAE_HAVE_AVX512_TILES
#define SCVAE_HAVE_BF16_KERNEL 1
// The kernel is compiled for AVX512_BF16 whatever the build's flags, and
// called only where the CPU reports it (cpu_has_bf16).
#define SCVAE_TARGET_BF16 __attribute__((target("avx512f,avx512bf16")))
#endif

namespace scvae::detail {

/// Words of a packed operand along k: one per pair, an odd k padded.
inline Index bf16_pairs(Index k) { return (k + 1) / 2; }

/// The word of two bf16 numbers, `even` in the low half.
inline std::uint32_t bf16_pair(float even, float odd) {
  return static_cast<std::uint32_t>(to_bf16(even).bits) |
         (static_cast<std::uint32_t>(to_bf16(odd).bits) << 16);
}

/// Packs op(A) (m x k) as rows in pairs into out[0 : bf16_pairs(k) * m]:
/// A is column-major m x k (lda >= m), or with `transposed` stored k x m
/// (lda >= k), as W^T is when W is stored.
inline void pack_rows_in_pairs(Index m, Index k, const float* a, Index lda, bool transposed,
                               std::uint32_t* out) {
  const Index pairs = bf16_pairs(k);
  for (Index p = 0; p < pairs; ++p) {
    const Index q = 2 * p;
    const bool has_odd = q + 1 < k;
    std::uint32_t* row_words = out + p * m;
    if (transposed) {
      for (Index i = 0; i < m; ++i) {
        const float* column = a + i * lda;
        row_words[i] = bf16_pair(column[q], has_odd ? column[q + 1] : 0.0f);
      }
    } else {
      const float* even = a + q * lda;
      const float* odd = a + (q + 1) * lda;
      for (Index i = 0; i < m; ++i) row_words[i] = bf16_pair(even[i], has_odd ? odd[i] : 0.0f);
    }
  }
}

/// Packs op(B) (k x n) as columns in pairs into out, column j at
/// out[j * ldo : j * ldo + bf16_pairs(k)] (ldo >= bf16_pairs(k)): B is
/// column-major k x n (ldb >= k), or with `transposed` stored n x k
/// (ldb >= n), as X^T is when X is stored.
inline void pack_columns_in_pairs(Index k, Index n, const float* b, Index ldb, bool transposed,
                                  std::uint32_t* out, Index ldo) {
  const Index pairs = bf16_pairs(k);
  if (transposed) {
    for (Index p = 0; p < pairs; ++p) {
      const Index q = 2 * p;
      const float* even = b + q * ldb;
      const float* odd = b + (q + 1) * ldb;
      const bool has_odd = q + 1 < k;
      for (Index j = 0; j < n; ++j) out[j * ldo + p] = bf16_pair(even[j], has_odd ? odd[j] : 0.0f);
    }
    return;
  }
  for (Index j = 0; j < n; ++j) {
    const float* column = b + j * ldb;
    std::uint32_t* words = out + j * ldo;
    for (Index p = 0; p < k / 2; ++p) words[p] = bf16_pair(column[2 * p], column[2 * p + 1]);
    if (k % 2 != 0) words[pairs - 1] = bf16_pair(column[k - 1], 0.0f);
  }
}

/// The even (low) or odd (high) number of a pair, as a float.
inline float bf16_half(std::uint32_t word, bool odd) {
  return to_float(Bf16{static_cast<std::uint16_t>(odd ? word >> 16 : word & 0xffffu)});
}

/// gemm_bf16's arithmetic in scalar code: the same sums in the same order,
/// under FTZ/DAZ as the instruction flushes, so the same bits.
inline void gemm_bf16_scalar(Index m, Index n, Index pairs, const std::uint32_t* a,
                             const std::uint32_t* b, Index ldb, float* c, Index ldc,
                             bool accumulate) {
  const FlushDenormals flush;  // as the instruction flushes, whatever the caller's mode
  for (Index j = 0; j < n; ++j) {
    const std::uint32_t* column = b + j * ldb;
    for (Index i = 0; i < m; ++i) {
      float sum = 0.0f;
      for (Index p = 0; p < pairs; ++p) {
        const std::uint32_t a_word = a[p * m + i];
        const std::uint32_t b_word = column[p];
        // The instruction fuses each product into its sum (a product too
        // small for a float is not flushed before it is added): measured.
        sum = std::fma(bf16_half(a_word, true), bf16_half(b_word, true), sum);
        sum = std::fma(bf16_half(a_word, false), bf16_half(b_word, false), sum);
      }
      float& out = c[i + j * ldc];
      out = accumulate ? out + sum : sum;
    }
  }
}

#ifdef SCVAE_HAVE_BF16_KERNEL
namespace avx512_bf16 {

using avx512_tiles::kLanes;
using avx512_tiles::kTileColumns;

/// C[0:rows, 0:Columns] (+)= A B over `pairs` pairs, rows = 16 (Vectors - 1)
/// + the lanes set in `last` (all 16 unless Partial); a at row 0 of the
/// tile, a column of a pair m words from the next.
template <int Vectors, int Columns, bool Partial>
SCVAE_TARGET_BF16 inline void bf16_tile(Index pairs, const std::uint32_t* a, Index m,
                                        const std::uint32_t* b, Index ldb, float* c, Index ldc,
                                        __mmask16 last, bool accumulate) {
  __m512 sum[Columns][Vectors];
#pragma GCC unroll 8
  for (int j = 0; j < Columns; ++j)
#pragma GCC unroll 3
    for (int v = 0; v < Vectors; ++v) sum[j][v] = _mm512_setzero_ps();
  for (Index p = 0; p < pairs; ++p) {
    const std::uint32_t* a_p = a + p * m;
    __m512i column[Vectors];
#pragma GCC unroll 3
    for (int v = 0; v < Vectors; ++v)
      column[v] = Partial && v == Vectors - 1 ? _mm512_maskz_loadu_epi32(last, a_p + v * kLanes)
                                              : _mm512_loadu_si512(a_p + v * kLanes);
#pragma GCC unroll 8
    for (int j = 0; j < Columns; ++j) {
      const __m512i pair = _mm512_set1_epi32(static_cast<int>(b[j * ldb + p]));
#pragma GCC unroll 3
      for (int v = 0; v < Vectors; ++v)
        sum[j][v] = _mm512_dpbf16_ps(sum[j][v], (__m512bh)column[v], (__m512bh)pair);
    }
  }
  avx512_tiles::store_tile<Vectors, Columns, Partial>(sum, c, ldc, last, accumulate);
}

/// bf16_tile for a run-time column count (1..8).
template <int Vectors, bool Partial>
SCVAE_TARGET_BF16 inline void bf16_tile_columns(Index columns, Index pairs, const std::uint32_t* a,
                                                Index m, const std::uint32_t* b, Index ldb,
                                                float* c, Index ldc, __mmask16 last,
                                                bool accumulate) {
  switch (columns) {
    case 8: return bf16_tile<Vectors, 8, Partial>(pairs, a, m, b, ldb, c, ldc, last, accumulate);
    case 7: return bf16_tile<Vectors, 7, Partial>(pairs, a, m, b, ldb, c, ldc, last, accumulate);
    case 6: return bf16_tile<Vectors, 6, Partial>(pairs, a, m, b, ldb, c, ldc, last, accumulate);
    case 5: return bf16_tile<Vectors, 5, Partial>(pairs, a, m, b, ldb, c, ldc, last, accumulate);
    case 4: return bf16_tile<Vectors, 4, Partial>(pairs, a, m, b, ldb, c, ldc, last, accumulate);
    case 3: return bf16_tile<Vectors, 3, Partial>(pairs, a, m, b, ldb, c, ldc, last, accumulate);
    case 2: return bf16_tile<Vectors, 2, Partial>(pairs, a, m, b, ldb, c, ldc, last, accumulate);
    default: return bf16_tile<Vectors, 1, Partial>(pairs, a, m, b, ldb, c, ldc, last, accumulate);
  }
}

/// bf16_tile for run-time vector (1..3) and column (1..8) counts.
template <bool Partial>
SCVAE_TARGET_BF16 inline void bf16_tile_vectors(Index vectors, Index columns, Index pairs,
                                                const std::uint32_t* a, Index m,
                                                const std::uint32_t* b, Index ldb, float* c,
                                                Index ldc, __mmask16 last, bool accumulate) {
  if (vectors == 3)
    return bf16_tile_columns<3, Partial>(columns, pairs, a, m, b, ldb, c, ldc, last, accumulate);
  if (vectors == 2)
    return bf16_tile_columns<2, Partial>(columns, pairs, a, m, b, ldb, c, ldc, last, accumulate);
  bf16_tile_columns<1, Partial>(columns, pairs, a, m, b, ldb, c, ldc, last, accumulate);
}

/// The tile of C at rows [i, i + rows) (rows <= 48) and columns [j, j +
/// columns) (columns <= 8).
SCVAE_TARGET_BF16 inline void bf16_tile_at(Index i, Index rows, Index j, Index columns, Index pairs,
                                           const std::uint32_t* a, Index m, const std::uint32_t* b,
                                           Index ldb, float* c, Index ldc, bool accumulate) {
  const Index vectors = (rows + kLanes - 1) / kLanes;
  const Index tail = rows - (vectors - 1) * kLanes;
  const auto last = static_cast<__mmask16>((1u << tail) - 1u);
  const std::uint32_t* a_i = a + i;
  const std::uint32_t* b_j = b + j * ldb;
  float* c_ij = c + j * ldc + i;
  if (tail != kLanes)
    return bf16_tile_vectors<true>(vectors, columns, pairs, a_i, m, b_j, ldb, c_ij, ldc, last,
                                   accumulate);
  bf16_tile_vectors<false>(vectors, columns, pairs, a_i, m, b_j, ldb, c_ij, ldc, last, accumulate);
}

/// C (m x n) (+)= A B on packed operands (layouts at the top of the file).
SCVAE_TARGET_BF16 inline void gemm(Index m, Index n, Index pairs, const std::uint32_t* a,
                                   const std::uint32_t* b, Index ldb, float* c, Index ldc,
                                   bool accumulate) {
  // Columns outside, rows inside: 8 columns of B (pairs x 8 words) stay in
  // L1 while the tiles of A stream past them.
  for (Index j = 0; j < n; j += kTileColumns) {
    const Index columns = std::min(kTileColumns, n - j);
    for (Index i = 0; i < m;) {
      const Index rows = avx512_tiles::tile_rows(i, m);
      bf16_tile_at(i, rows, j, columns, pairs, a, m, b, ldb, c, ldc, accumulate);
      i += rows;
    }
  }
}

}  // namespace avx512_bf16
#endif

/// C (m x n, column-major, ldc) = A B, or += with `accumulate`, for A packed
/// as rows in pairs (m rows, `pairs` words deep) and B as columns in pairs
/// (n columns, ldb >= pairs): on AVX512_BF16 where the CPU has it, else the
/// same bits in scalar code.
inline void gemm_bf16(Index m, Index n, Index pairs, const std::uint32_t* a, const std::uint32_t* b,
                      Index ldb, float* c, Index ldc, bool accumulate) {
  if (m == 0 || n == 0) return;
  // The adds into C flush as the instruction does, whatever the caller's mode.
  const FlushDenormals flush;
#ifdef SCVAE_HAVE_BF16_KERNEL
  if (cpu_has_bf16()) {
    avx512_bf16::gemm(m, n, pairs, a, b, ldb, c, ldc, accumulate);
    return;
  }
#endif
  gemm_bf16_scalar(m, n, pairs, a, b, ldb, c, ldc, accumulate);
}

}  // namespace scvae::detail
