#pragma once
// What the float and the bf16 AVX-512 GEMM kernels share: how a product is
// cut into tiles of rows, how a tile's float sums reach C, and the 16 x 16
// transpose in registers.

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
/// A tile's sums, all zero.
template <int Vectors, int Columns>
__attribute__((target("avx512f"), always_inline)) inline void zero_tile(
    __m512 (&sum)[Columns][Vectors]) {
#pragma GCC unroll 8
  for (int j = 0; j < Columns; ++j)
#pragma GCC unroll 3
    for (int v = 0; v < Vectors; ++v) sum[j][v] = _mm512_setzero_ps();
}

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

/// Transposes a 16 x 16 block of 32-bit values held as 16 vectors: x[r]
/// becomes what lane r of every vector held (x[r][c] = the old x[c][r]).
/// Pairs of vectors interleaved by 32 bits, then by 64, then 128-bit lanes
/// gathered twice. (The zero-masking forms with every lane set are the same
/// instructions; the plain ones make GCC 12 warn at -Og that their undefined
/// pass-through may be used uninitialised.)
__attribute__((target("avx512f"), always_inline)) inline void transpose_block(__m512 (&x)[16]) {
  constexpr __mmask16 kAll = 0xffff;
  constexpr __mmask8 kAllPairs = 0xff;
  __m512 y[16];
  for (int c = 0; c < 16; c += 2) {
    y[c] = _mm512_maskz_unpacklo_ps(kAll, x[c], x[c + 1]);
    y[c + 1] = _mm512_maskz_unpackhi_ps(kAll, x[c], x[c + 1]);
  }
  for (int c = 0; c < 16; c += 4) {
    const __m512d y0 = _mm512_castps_pd(y[c]), y1 = _mm512_castps_pd(y[c + 1]);
    const __m512d y2 = _mm512_castps_pd(y[c + 2]), y3 = _mm512_castps_pd(y[c + 3]);
    x[c] = _mm512_castpd_ps(_mm512_maskz_unpacklo_pd(kAllPairs, y0, y2));
    x[c + 1] = _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(kAllPairs, y0, y2));
    x[c + 2] = _mm512_castpd_ps(_mm512_maskz_unpacklo_pd(kAllPairs, y1, y3));
    x[c + 3] = _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(kAllPairs, y1, y3));
  }
  for (int c = 0; c < 4; ++c) {
    y[c] = _mm512_maskz_shuffle_f32x4(kAll, x[c], x[c + 4], 0x88);
    y[c + 4] = _mm512_maskz_shuffle_f32x4(kAll, x[c], x[c + 4], 0xdd);
    y[c + 8] = _mm512_maskz_shuffle_f32x4(kAll, x[c + 8], x[c + 12], 0x88);
    y[c + 12] = _mm512_maskz_shuffle_f32x4(kAll, x[c + 8], x[c + 12], 0xdd);
  }
  for (int c = 0; c < 4; ++c) {
    x[c] = _mm512_maskz_shuffle_f32x4(kAll, y[c], y[c + 8], 0x88);
    x[c + 8] = _mm512_maskz_shuffle_f32x4(kAll, y[c], y[c + 8], 0xdd);
    x[c + 4] = _mm512_maskz_shuffle_f32x4(kAll, y[c + 4], y[c + 12], 0x88);
    x[c + 12] = _mm512_maskz_shuffle_f32x4(kAll, y[c + 4], y[c + 12], 0xdd);
  }
}
#endif

}  // namespace scvae::detail::avx512_tiles
