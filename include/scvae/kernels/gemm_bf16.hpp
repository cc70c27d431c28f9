#pragma once
// Matrix products with bf16 operands and float sums, C = or += A B: the
// products of the bf16 precision (issue 24), twice the float FMA rate on a
// CPU with AVX512_BF16.
//
// The instruction (vdpbf16ps) adds to each float lane the products of two
// bf16 pairs, so both operands are kept as pairs of neighbours along the
// summed dimension k (bf16_packing.hpp): A as rows in pairs, so that 16 rows
// of one pair are one vector load, and B as columns in pairs, one broadcast
// per column. Packing reads either orientation of the float source, so the
// three products of a dense layer (W X, D X^T, W^T D) run on the one kernel.
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

#include "scvae/core/flush_denormals.hpp"
#include "scvae/core/types.hpp"
#include "scvae/kernels/avx512_tiles.hpp"
#include "scvae/kernels/bf16.hpp"
#include "scvae/kernels/bf16_packing.hpp"

namespace scvae::detail {

/// Whether a product is written over C or added to it.
enum class ProductWrite { Overwrite, Add };

/// gemm_bf16's arithmetic in scalar code: the same sums in the same order,
/// under FTZ/DAZ as the instruction flushes, so the same bits.
inline void gemm_bf16_scalar(Index m, Index n, Index pairs, const std::uint32_t* a,
                             const std::uint32_t* b, Index ldb, float* c, Index ldc,
                             ProductWrite write) {
  const bool accumulate = write == ProductWrite::Add;
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
        sum = std::fma(bf16_odd(a_word), bf16_odd(b_word), sum);
        sum = std::fma(bf16_even(a_word), bf16_even(b_word), sum);
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
  avx512_tiles::zero_tile(sum);
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

/// C (m x n, column-major, ldc) = A B, or += with ProductWrite::Add, for A packed
/// as rows in pairs (m rows, `pairs` words deep) and B as columns in pairs
/// (n columns, ldb >= pairs): on AVX512_BF16 where the CPU has it, else the
/// same bits in scalar code.
inline void gemm_bf16(Index m, Index n, Index pairs, const std::uint32_t* a, const std::uint32_t* b,
                      Index ldb, float* c, Index ldc, ProductWrite write) {
  if (m == 0 || n == 0) return;
  // The adds into C flush as the instruction does, whatever the caller's mode.
  const FlushDenormals flush;
#ifdef SCVAE_HAVE_BF16_KERNEL
  if (cpu_has_bf16()) {
    avx512_bf16::gemm(m, n, pairs, a, b, ldb, c, ldc, write == ProductWrite::Add);
    return;
  }
#endif
  gemm_bf16_scalar(m, n, pairs, a, b, ldb, c, ldc, write);
}

}  // namespace scvae::detail
