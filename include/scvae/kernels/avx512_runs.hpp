#pragma once
// Short runs of floats moved a vector at a time: the convolutions'
// unfolding and folding (kernels/im2col.hpp) copy or add runs as long as a
// grid row, 7 floats for the conv VAE's 7x7 grid, and split or merge image
// rows by stride phase. Loops over such runs with a runtime length run
// mostly in their scalar tails: the unfolding of the conv VAE's 32->64
// convolution took 29% of its forward pass, as long as a third of its
// product (bench/RESULTS.md). Loads are masked; stores write whole vectors
// wherever the values around a run may be written (again or unchanged),
// since masked stores of 512 bits measured slower than the scalar loops on
// the AMD EPYC (Zen 5) we measure on (bench/RESULTS.md).
//
// Each function computes exactly what its scalar loop does, value for
// value: a copy, or one float addition per value in the same order.

#include <algorithm>
#include <type_traits>

#include "scvae/core/types.hpp"

#if defined(__AVX512F__)
#include <immintrin.h>
#define SCVAE_HAVE_AVX512_RUNS 1

namespace scvae::detail::avx512_runs {

inline constexpr Index kLanes = 16;

/// Lanes [0, count) set, count in [0, 16].
inline __mmask16 first_lanes(Index count) {
  return static_cast<__mmask16>((1u << static_cast<unsigned>(count)) - 1u);
}

/// Stores the `lanes` of `values` at out: below `end` as a whole vector
/// (the other lanes written too, for a caller that overwrites them later),
/// else masked.
inline void store_lanes(__m512 values, __mmask16 lanes, float* out, const float* end) {
  if (end - out >= kLanes)
    _mm512_storeu_ps(out, values);
  else
    _mm512_mask_storeu_ps(out, lanes, values);
}

/// out's `lanes` = values (or += with `accumulate`), its other lanes kept:
/// below `end` the whole vector is loaded and stored back unchanged there,
/// else only `lanes` are read and written.
inline void blend_lanes(__m512 values, __mmask16 lanes, float* out, bool accumulate,
                        const float* end) {
  const bool whole = end - out >= kLanes;
  const __m512 old = whole ? _mm512_loadu_ps(out) : _mm512_maskz_loadu_ps(lanes, out);
  const __m512 value = accumulate ? _mm512_mask_add_ps(old, lanes, old, values)
                                  : _mm512_mask_mov_ps(old, lanes, values);
  if (whole)
    _mm512_storeu_ps(out, value);
  else
    _mm512_mask_storeu_ps(out, lanes, value);
}

/// out[i] = in[i], i < count. Below `end`, whole vectors are stored, zeros
/// after the run: a caller that writes its runs in ascending order
/// overwrites them.
inline void copy(const float* in, float* out, Index count, const float* end) {
  for (; count > 0; count -= kLanes, in += kLanes, out += kLanes) {
    const __mmask16 lanes = first_lanes(std::min(count, kLanes));
    store_lanes(_mm512_maskz_loadu_ps(lanes, in), lanes, out, end);
  }
}

/// out[i] = in[i] (or += with `accumulate`), i < count; below `end`, whole
/// vectors are loaded and stored back, the values after the run unchanged.
inline void blend(const float* in, float* out, Index count, bool accumulate, const float* end) {
  for (; count > 0; count -= kLanes, in += kLanes, out += kLanes) {
    const __mmask16 lanes = first_lanes(std::min(count, kLanes));
    blend_lanes(_mm512_maskz_loadu_ps(lanes, in), lanes, out, accumulate, end);
  }
}

/// One kernel tap's column of unfolded rows: for each of n samples (phase
/// values per_sample apart, the tap's first at in), height runs of width
/// values, step apart, copied one after the other to out.
///
/// Runs of at most half a vector are packed into whole vectors before they
/// are stored, each rotated to where the last one ended (the rotation wraps
/// a run's tail round to the next vector's first lanes): one 64-byte store
/// per 16 values. Storing a whole vector at every 7-value run made the conv
/// VAE's unfolding 9% of its step on the Intel Xeon of bench/RESULTS.md
/// (5% on the AMD EPYC); packed, that unfolding takes 0.78x the time. A
/// wider run is one whole-vector store, the values after it overwritten by
/// the next runs and the last runs masked (masked stores of every run
/// measured slower than the scalar loop; packing runs of 14 no faster).
inline void unfold_tap(const float* in, Index n, Index per_sample, Index height, Index step,
                       Index width, float* out) {
  const float* const end = out + n * height * width;
  if (width > kLanes) {
    for (Index s = 0; s < n; ++s) {
      const float* from = in + s * per_sample;
      for (Index y = 0; y < height; ++y, from += step, out += width) copy(from, out, width, end);
    }
    return;
  }
  const __mmask16 lanes = first_lanes(width);
  if (2 * width > kLanes) {
    for (Index s = 0; s < n; ++s) {
      const float* from = in + s * per_sample;
      for (Index y = 0; y < height; ++y, from += step, out += width)
        store_lanes(_mm512_maskz_loadu_ps(lanes, from), lanes, out, end);
    }
    return;
  }
  // vpermps reads the low 4 bits of each index: lane i takes the run's
  // value (i - filled) mod 16.
  __m512i rotation = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i by_width = _mm512_set1_epi32(static_cast<int>(width));
  __m512 packed = _mm512_setzero_ps();
  Index filled = 0;  // lanes of packed already set, in [0, 16)
  for (Index s = 0; s < n; ++s) {
    const float* from = in + s * per_sample;
    for (Index y = 0; y < height; ++y, from += step) {
      const __m512 run = _mm512_permutexvar_ps(rotation, _mm512_maskz_loadu_ps(lanes, from));
      packed = _mm512_mask_mov_ps(packed, static_cast<__mmask16>(lanes << filled), run);
      rotation = _mm512_sub_epi32(rotation, by_width);
      filled += width;
      if (filled >= kLanes) {
        _mm512_storeu_ps(out, packed);
        out += kLanes;
        filled -= kLanes;
        packed = run;  // its lanes [0, filled) hold the run's wrapped tail
      }
    }
  }
  if (filled > 0) _mm512_mask_storeu_ps(out, first_lanes(filled), packed);
}

/// The adjoint of unfold_tap, added: for each of n samples, the next height
/// runs of width values of in are added to height rows step apart from out
/// + s * per_sample, below end. 16 / step rows go in one vector (step must
/// divide 16), the values between them loaded and stored back unchanged:
/// whole rows, so that no load partly overlaps the store just before it,
/// which would wait for it (15 values a row made the conv VAE's last layer
/// 20% slower than the scalar loop).
inline void fold_tap(const float* in, Index n, Index per_sample, Index height, Index step,
                     Index width, float* out, const float* end) {
  const Index rows_per_vector = kLanes / step;
  unsigned row_lanes = 0;
  for (Index r = 0; r < rows_per_vector; ++r)
    row_lanes |= static_cast<unsigned>(first_lanes(width)) << (r * step);
  for (Index s = 0; s < n; ++s) {
    float* to = out + s * per_sample;
    for (Index y = 0; y < height; y += rows_per_vector, to += kLanes) {
      const Index rows = std::min(height - y, rows_per_vector);
      const auto mask = static_cast<__mmask16>(
          rows == rows_per_vector ? row_lanes : row_lanes & ((1u << (rows * step)) - 1u));
      const __m512 added = _mm512_maskz_expandloadu_ps(mask, in);
      in += rows * width;
      if (end - to >= kLanes) {
        const __m512 old = _mm512_loadu_ps(to);
        _mm512_storeu_ps(to, _mm512_mask_add_ps(old, mask, old, added));
      } else {
        const __mmask16 inside = first_lanes(end - to);
        const __m512 old = _mm512_maskz_loadu_ps(inside, to);
        _mm512_mask_storeu_ps(to, inside, _mm512_mask_add_ps(old, mask, old, added));
      }
    }
  }
}

/// Where an image row goes in its two stride-2 phases: pixel x lands in the
/// phase of parity (x + padding) % 2, at column (x + padding) / 2.
struct RowPhases {
  Index even_first;     ///< 0 when pixels 0, 2, ... land in phase 0 (padding even), else 1.
  Index column[2];      ///< First column written in phase 0 and in phase 1.
  Index count[2];       ///< Pixels that land in phase 0 and in phase 1.

  RowPhases(Index width, Index padding) {
    even_first = padding % 2;
    for (Index phase = 0; phase < 2; ++phase) {
      const Index first = (phase + padding) % 2 == 0 ? 0 : 1;  // first pixel of this phase
      column[phase] = (first + padding) / 2;
      count[phase] = first < width ? (width - first + 1) / 2 : 0;
    }
  }
};

/// A row is split and merged in pieces of 32 pixels, 16 to each phase; all
/// but the last are whole, and the last piece's masks are worked out once
/// for every row of the image.
struct RowPieces {
  static constexpr Index kPiece = 2 * kLanes;
  Index whole;              ///< Whole pieces before the last one.
  __mmask16 last_load[2];   ///< The last piece's pixels: its first 16, its next 16.
  __mmask16 last_phase[2];  ///< Its values in phase 0 and in phase 1.

  RowPieces(Index width, const RowPhases& at) {
    whole = (width - 1) / kPiece;
    const Index last = width - whole * kPiece;
    last_load[0] = first_lanes(std::min(last, kLanes));
    last_load[1] = first_lanes(std::max<Index>(last - kLanes, 0));
    for (Index px = 0; px < 2; ++px) last_phase[px] = first_lanes(at.count[px] - whole * kLanes);
  }

  /// A piece's pixels in half h (its first 16, its next 16).
  __mmask16 load(bool last, Index h) const { return last ? last_load[h] : first_lanes(kLanes); }
  /// A piece's values in phase px.
  __mmask16 phase(bool last, Index px) const { return last ? last_phase[px] : first_lanes(kLanes); }

  /// Calls rows(std::true_type) when every row is one piece (the conv
  /// VAE's), else rows(std::false_type), so that rows of one piece compile
  /// without the piece loop: its bookkeeping made the split of 28-pixel
  /// rows 43% slower and their merge 15%.
  template <typename Rows>
  void compile_apart(Rows&& rows) const {
    if (whole == 0)
      rows(std::true_type{});
    else
      rows(std::false_type{});
  }
};

/// The even and odd pixels of 32 (zeros where the lanes of low and high,
/// the first 16 and the next 16, are not set).
inline void split_piece(const float* row, __mmask16 low_lanes, __mmask16 high_lanes, __m512& evens,
                        __m512& odds) {
  const __m512i even_index =
      _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd_index =
      _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const __m512 low = _mm512_maskz_loadu_ps(low_lanes, row);
  const __m512 high = _mm512_maskz_loadu_ps(high_lanes, row + kLanes);
  evens = _mm512_permutex2var_ps(low, even_index, high);
  odds = _mm512_permutex2var_ps(low, odd_index, high);
}

/// The stride-2 phase image (both directions) that holds padded row
/// `padded` of channel c at column parity px: its index in PatchGeometry's
/// layout (channel, row parity, column parity).
inline Index phase_of_row(Index c, Index padded, Index px) { return (c * 2 + padded % 2) * 2 + px; }

/// One sample's stride-2 phase images (both directions), from its image of
/// `channels` x height x width, a row at a time, 32 pixels at a time: each
/// row's even and odd pixels go to the two phases of its row parity. phases
/// must hold zeros (the padding); the layout is PatchGeometry's.
inline void split_stride2(const float* image, Index channels, Index height, Index width,
                          Index padding_height, Index padding_width, Index phase_height,
                          Index phase_width, float* phases) {
  const RowPhases at(width, padding_width);
  const RowPieces pieces(width, at);
  const Index area = phase_height * phase_width;
  pieces.compile_apart([&](auto one_piece) {
    constexpr bool kOnePiece = decltype(one_piece)::value;
    for (Index c = 0; c < channels; ++c)
      for (Index y = 0; y < height; ++y) {
        const Index padded = y + padding_height;
        const float* const row = image + (c * height + y) * width;
        for (Index k = 0; k <= (kOnePiece ? 0 : pieces.whole); ++k) {
          const bool last = kOnePiece || k == pieces.whole;
          __m512 pixels[2];  // the phases' values: even pixels, then odd ones
          split_piece(row + k * RowPieces::kPiece, pieces.load(last, 0), pieces.load(last, 1),
                      pixels[0], pixels[1]);
          for (Index px = 0; px < 2; ++px) {
            float* const plane = phases + phase_of_row(c, padded, px) * area;
            // Each phase's rows are written in ascending order, a row's
            // pieces too; a piece's zeros may reach into the next piece or
            // row of its phase, never into the next phase.
            const Index parity = px == at.even_first ? 0 : 1;
            store_lanes(pixels[parity], pieces.phase(last, px),
                        plane + padded / 2 * phase_width + at.column[px] + k * kLanes,
                        plane + area);
          }
        }
      }
  });
}

/// The adjoint of split_stride2: every pixel of the image = or += its phase
/// value, a row at a time, 32 pixels at a time; the values of image past
/// `end` are never written, those below it and outside the row only
/// unchanged.
inline void merge_stride2(const float* phases, Index channels, Index height, Index width,
                          Index padding_height, Index padding_width, Index phase_height,
                          Index phase_width, float* image, bool accumulate, const float* end) {
  // Lane 2 i takes the even pixels' value i, lane 2 i + 1 the odd ones'.
  const __m512i low_index =
      _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i high_index =
      _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const RowPhases at(width, padding_width);
  const RowPieces pieces(width, at);
  const Index area = phase_height * phase_width;
  const Index even_phase = at.even_first, odd_phase = 1 - even_phase;
  pieces.compile_apart([&](auto one_piece) {
    constexpr bool kOnePiece = decltype(one_piece)::value;
    for (Index c = 0; c < channels; ++c)
      for (Index y = 0; y < height; ++y) {
        const Index padded = y + padding_height;
        const float* phase_row[2];
        for (Index px = 0; px < 2; ++px)
          phase_row[px] = phases + phase_of_row(c, padded, px) * area + padded / 2 * phase_width +
                          at.column[px];
        float* const row = image + (c * height + y) * width;
        for (Index k = 0; k <= (kOnePiece ? 0 : pieces.whole); ++k) {
          const bool last = kOnePiece || k == pieces.whole;
          const __m512 evens = _mm512_maskz_loadu_ps(pieces.phase(last, even_phase),
                                                     phase_row[even_phase] + k * kLanes);
          const __m512 odds = _mm512_maskz_loadu_ps(pieces.phase(last, odd_phase),
                                                    phase_row[odd_phase] + k * kLanes);
          const __m512 halves[2] = {_mm512_permutex2var_ps(evens, low_index, odds),
                                    _mm512_permutex2var_ps(evens, high_index, odds)};
          float* const piece = row + k * RowPieces::kPiece;
          blend_lanes(halves[0], pieces.load(last, 0), piece, accumulate, end);
          if (pieces.load(last, 1) != 0)
            blend_lanes(halves[1], pieces.load(last, 1), piece + kLanes, accumulate, end);
        }
      }
  });
}

}  // namespace scvae::detail::avx512_runs
#endif
