#pragma once
// What the float and the bf16 AVX-512 GEMM kernels share: how a product is
// cut into tiles of rows, and how a tile's float sums reach C.

#include <algorithm>

#include "scvae/core/types.hpp"

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define SCVAE_HAVE_AVX512_TILES 1
#endif

namespace scvae::detail::avx512_tiles {

inline constexpr Index kLanes = 16;
inline constexpr Index kTileRows = 3 * kLanes;
inline constexpr Index kTileColumns = 8;

/// Rows of the tile that starts at row i of m: 3 vectors, but a last 4 as
/// 2 + 2, since a 1-vector tile has too few independent sums to keep both
/// FMA units busy.
inline Index tile_rows(Index i, Index m) {
  const Index left = (m - i + kLanes - 1) / kLanes;
  return std::min(left == 4 ? 2 * kLanes : kTileRows, m - i);
}

#ifdef SCVAE_HAVE_AVX512_TILES
/// C[0:rows, 0:Columns] = sum, or += with `accumulate`, where rows = 16
/// (Vectors - 1) + the lanes set in `last` (all 16 unless Partial). Compiled
/// for AVX-512 whatever the build's flags: its callers are AVX-512 kernels.
template <int Vectors, int Columns, bool Partial>
__attribute__((target("avx512f"), always_inline)) inline void store_tile(
    const __m512 (&sum)[Columns][Vectors], float* c, Index ldc, __mmask16 last, bool accumulate) {
#pragma GCC unroll 8
  for (int j = 0; j < Columns; ++j) {
    float* out = c + j * ldc;
#pragma GCC unroll 3
    for (int v = 0; v < Vectors; ++v) {
      float* at = out + v * kLanes;
      if (Partial && v == Vectors - 1) {
        const __m512 value =
            accumulate ? _mm512_add_ps(_mm512_maskz_loadu_ps(last, at), sum[j][v]) : sum[j][v];
        _mm512_mask_storeu_ps(at, last, value);
      } else {
        _mm512_storeu_ps(at,
                         accumulate ? _mm512_add_ps(_mm512_loadu_ps(at), sum[j][v]) : sum[j][v]);
      }
    }
  }
}
#endif

}  // namespace scvae::detail::avx512_tiles
