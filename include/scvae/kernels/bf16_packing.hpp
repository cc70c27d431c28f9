#pragma once
// Float matrices packed as the bf16 operands of gemm_bf16: neighbours along
// the summed dimension k as pairs, one pair per 32-bit word, the even k in
// the low half, an odd k padded with a zero.
// - rows in pairs (A, m x k): word (p, i) = (A[i, 2p], A[i, 2p+1]) at
//   out[p * m + i];
// - columns in pairs (B, k x n): word (p, j) = (B[2p, j], B[2p+1, j]) at
//   out[j * ldo + p].
// Either can be packed from the float matrix or from its transpose as
// stored, so that W, W^T and X^T need no float copy first. Where the CPU has
// AVX512_BF16 they convert 16 floats per instruction (the transposed ones
// through a 16 x 16 transpose in registers); elsewhere one number at a time.
// Both round the same way (to_bf16), so the words do not depend on the path
// (tested).

#include <algorithm>
#include <cstdint>

#include "scvae/core/types.hpp"
#include "scvae/kernels/avx512_tiles.hpp"
#include "scvae/kernels/bf16.hpp"

namespace scvae::detail {

/// How a float source of a packed operand lies in memory: as the operand
/// itself, or as its transpose (W as stored, for the operand W^T).
enum class Stored { AsIs, Transposed };

/// Words of a packed operand along k: one per pair, an odd k padded.
inline Index bf16_pairs(Index k) { return (k + 1) / 2; }

/// The word of two bf16 numbers, `even` in the low half.
inline std::uint32_t bf16_pair(float even, float odd) {
  return static_cast<std::uint32_t>(to_bf16(even).bits) |
         (static_cast<std::uint32_t>(to_bf16(odd).bits) << 16);
}

/// The even (low) number of a pair, as a float.
inline float bf16_even(std::uint32_t word) {
  return to_float(Bf16{static_cast<std::uint16_t>(word & 0xffffu)});
}

/// The odd (high) number of a pair, as a float.
inline float bf16_odd(std::uint32_t word) {
  return to_float(Bf16{static_cast<std::uint16_t>(word >> 16)});
}

#ifdef SCVAE_HAVE_BF16_KERNEL
namespace avx512_bf16 {

/// The lanes below `count` (0..16) of a 16-lane mask.
inline __mmask16 first_lanes(Index count) {
  return static_cast<__mmask16>(count >= 16 ? 0xffffu : (1u << count) - 1u);
}

/// Words (even[r], odd[r]) for the 16 rows r in `lanes` (zeros elsewhere),
/// both converted 16 at a time; odd == nullptr pads with zeros.
SCVAE_TARGET_BF16 inline __m512i interleave_columns(const float* even, const float* odd,
                                                    __mmask16 lanes) {
  const __m256bh low = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(lanes, even));
  // The maskz forms: GCC 12 warns that the plain ones' undefined
  // pass-through may be used uninitialised.
  __m512i word = _mm512_maskz_cvtepu16_epi32(0xffff, (__m256i)low);
  if (odd == nullptr) return word;
  const __m256bh high = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(lanes, odd));
  const __m512i odd_word = _mm512_maskz_cvtepu16_epi32(0xffff, (__m256i)high);
  return _mm512_or_si512(word, _mm512_maskz_slli_epi32(0xffff, odd_word, 16));
}

/// 16 words of pairs from 32 floats at `from`, zeros past `count` floats
/// (the conversion's second operand gives the low 16 numbers).
SCVAE_TARGET_BF16 inline __m512 pairs_of_32(const float* from, Index count) {
  const __m512 low = _mm512_maskz_loadu_ps(first_lanes(count), from);
  const __m512 high =
      count > 16 ? _mm512_maskz_loadu_ps(first_lanes(count - 16), from + 16) : _mm512_setzero_ps();
  return _mm512_castsi512_ps((__m512i)_mm512_cvtne2ps_pbh(high, low));
}

/// Rows in pairs from a column-major A: per pair, 16 rows of the even and
/// the odd column converted at once and interleaved by 16 bits.
SCVAE_TARGET_BF16 inline void pack_rows_in_pairs(Index m, Index k, const float* a, Index lda,
                                                 std::uint32_t* out) {
  const Index pairs = bf16_pairs(k);
  for (Index p = 0; p < pairs; ++p) {
    const float* even = a + 2 * p * lda;
    const float* odd = 2 * p + 1 < k ? even + lda : nullptr;
    std::uint32_t* words = out + p * m;
    for (Index i = 0; i < m; i += 16) {
      const __mmask16 lanes = first_lanes(m - i);
      const __m512i word = interleave_columns(even + i, odd != nullptr ? odd + i : nullptr, lanes);
      _mm512_mask_storeu_epi32(words + i, lanes, word);
    }
  }
}

/// Columns in pairs from a column-major B: 32 floats of a column become 16
/// words with one conversion.
SCVAE_TARGET_BF16 inline void pack_columns_in_pairs(Index k, Index n, const float* b, Index ldb,
                                                    std::uint32_t* out, Index ldo) {
  const Index pairs = bf16_pairs(k);
  for (Index j = 0; j < n; ++j) {
    const float* column = b + j * ldb;
    std::uint32_t* words = out + j * ldo;
    for (Index q = 0; q < k; q += 32) {
      const __m512 word = pairs_of_32(column + q, k - q);
      _mm512_mask_storeu_ps(words + q / 2, first_lanes(pairs - q / 2), word);
    }
  }
}

/// Rows in pairs from a stored k x m (op(A) = its transpose): a column of it
/// holds one row's pairs, so 16 columns x 16 pairs are converted 32 floats
/// at a time, transposed in registers, and stored 16 rows at a time.
SCVAE_TARGET_BF16 inline void pack_rows_in_pairs_transposed(Index m, Index k, const float* a,
                                                            Index lda, std::uint32_t* out) {
  const Index pairs = bf16_pairs(k);
  for (Index i0 = 0; i0 < m; i0 += 16) {
    const Index rows = std::min<Index>(16, m - i0);
    for (Index p0 = 0; p0 < pairs; p0 += 16) {
      __m512 x[16];
      for (Index i = 0; i < 16; ++i)
        x[i] =
            i < rows ? pairs_of_32(a + (i0 + i) * lda + 2 * p0, k - 2 * p0) : _mm512_setzero_ps();
      avx512_tiles::transpose_block(x);  // lane i of x[p]: word (p0 + p, i0 + i)
      for (Index p = 0; p < std::min<Index>(16, pairs - p0); ++p)
        _mm512_mask_storeu_ps(out + (p0 + p) * m + i0, first_lanes(rows), x[p]);
    }
  }
}

/// Columns in pairs from a stored n x k (op(B) = its transpose): two of its
/// columns give one pair of 16 columns of op(B), so 16 pairs x 16 columns
/// are interleaved, transposed in registers, and stored a column at a time.
SCVAE_TARGET_BF16 inline void pack_columns_in_pairs_transposed(Index k, Index n, const float* b,
                                                               Index ldb, std::uint32_t* out,
                                                               Index ldo) {
  const Index pairs = bf16_pairs(k);
  for (Index j0 = 0; j0 < n; j0 += 16) {
    const Index columns = std::min<Index>(16, n - j0);
    for (Index p0 = 0; p0 < pairs; p0 += 16) {
      const Index block_pairs = std::min<Index>(16, pairs - p0);
      __m512 x[16];
      for (Index p = 0; p < 16; ++p) {
        const Index q = 2 * (p0 + p);
        x[p] = p < block_pairs ? _mm512_castsi512_ps(interleave_columns(
                                     b + q * ldb + j0, q + 1 < k ? b + (q + 1) * ldb + j0 : nullptr,
                                     first_lanes(columns)))
                               : _mm512_setzero_ps();
      }
      avx512_tiles::transpose_block(x);  // lane p of x[j]: word (p0 + p, j0 + j)
      for (Index j = 0; j < columns; ++j)
        _mm512_mask_storeu_ps(out + (j0 + j) * ldo + p0, first_lanes(block_pairs), x[j]);
    }
  }
}

}  // namespace avx512_bf16
#endif

/// pack_rows_in_pairs one number at a time.
inline void pack_rows_in_pairs_scalar(Index m, Index k, const float* a, Index lda, Stored stored,
                                      std::uint32_t* out) {
  const Index pairs = bf16_pairs(k);
  for (Index p = 0; p < pairs; ++p) {
    const Index q = 2 * p;
    const bool has_odd = q + 1 < k;
    std::uint32_t* row_words = out + p * m;
    if (stored == Stored::Transposed) {
      for (Index i = 0; i < m; ++i) {
        const float* column = a + i * lda;
        row_words[i] = bf16_pair(column[q], has_odd ? column[q + 1] : 0.0f);
      }
    } else {
      const float* even = a + q * lda;
      for (Index i = 0; i < m; ++i)
        row_words[i] = bf16_pair(even[i], has_odd ? even[i + lda] : 0.0f);
    }
  }
}

/// pack_columns_in_pairs one number at a time.
inline void pack_columns_in_pairs_scalar(Index k, Index n, const float* b, Index ldb, Stored stored,
                                         std::uint32_t* out, Index ldo) {
  const Index pairs = bf16_pairs(k);
  if (stored == Stored::Transposed) {
    for (Index p = 0; p < pairs; ++p) {
      const Index q = 2 * p;
      const float* even = b + q * ldb;
      const bool has_odd = q + 1 < k;
      for (Index j = 0; j < n; ++j)
        out[j * ldo + p] = bf16_pair(even[j], has_odd ? even[j + ldb] : 0.0f);
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

/// Packs op(A) (m x k) as rows in pairs into out[0 : bf16_pairs(k) * m]:
/// A is column-major m x k (lda >= m), or, Stored::Transposed, k x m
/// (lda >= k), as W is for the operand W^T.
inline void pack_rows_in_pairs(Index m, Index k, const float* a, Index lda, Stored stored,
                               std::uint32_t* out) {
#ifdef SCVAE_HAVE_BF16_KERNEL
  if (cpu_has_bf16()) {
    if (stored == Stored::Transposed)
      return avx512_bf16::pack_rows_in_pairs_transposed(m, k, a, lda, out);
    return avx512_bf16::pack_rows_in_pairs(m, k, a, lda, out);
  }
#endif
  pack_rows_in_pairs_scalar(m, k, a, lda, stored, out);
}

/// Packs op(B) (k x n) as columns in pairs into out, column j at
/// out[j * ldo : j * ldo + bf16_pairs(k)] (ldo >= bf16_pairs(k)): B is
/// column-major k x n (ldb >= k), or, Stored::Transposed, n x k
/// (ldb >= n), as X is for the operand X^T.
inline void pack_columns_in_pairs(Index k, Index n, const float* b, Index ldb, Stored stored,
                                  std::uint32_t* out, Index ldo) {
#ifdef SCVAE_HAVE_BF16_KERNEL
  if (cpu_has_bf16()) {
    if (stored == Stored::Transposed)
      return avx512_bf16::pack_columns_in_pairs_transposed(k, n, b, ldb, out, ldo);
    return avx512_bf16::pack_columns_in_pairs(k, n, b, ldb, out, ldo);
  }
#endif
  pack_columns_in_pairs_scalar(k, n, b, ldb, stored, out, ldo);
}

}  // namespace scvae::detail
