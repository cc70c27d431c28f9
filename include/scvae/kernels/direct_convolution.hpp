#pragma once
// A convolution's forward product read straight from the padded image, one
// sample at a time (an implicit GEMM): no unfolded patches, no phase images.
//
// The unfolding path (kernels/im2col.hpp) copies every patch value into rows
// that the GEMM then reads: for the conv VAE's 32 -> 64 convolution that
// copying, the split into phases and the copy of the rows back into samples
// took a third of the pass, around products running at 86-91% of the FMA
// peak. Here a tile holds 32 output channels (two vectors) by 14 grid
// positions (two grid rows of 7) in 28 registers; each tap adds its filter
// values times the 14 pixels it reads, broadcast from the padded image, so
// the image is read where it lies and the tile's sums go to the samples'
// layout through a 16 x 16 transpose in registers (bench/RESULTS.md).
//
// Each value is the sum the unfolding path computes, in the same order
// (FMAs over the taps from the first, starting at zero, then the bias or
// the existing value added), so the bits do not depend on the path
// (tests/kernels/direct_convolution_test.cpp).

#include <algorithm>
#include <type_traits>
#include <vector>

#include "scvae/core/types.hpp"
#include "scvae/kernels/avx512_runs.hpp"
#include "scvae/kernels/avx512_tiles.hpp"
#include "scvae/kernels/im2col.hpp"

namespace scvae::detail {

/// Rows, columns and values of one sample's image with its zero padding.
inline Index padded_height(const PatchGeometry& g) { return g.image_height + 2 * g.padding_height; }
inline Index padded_width(const PatchGeometry& g) { return g.image_width + 2 * g.padding_width; }
inline Index padded_values(const PatchGeometry& g) {
  return g.channels * padded_height(g) * padded_width(g);
}

#if defined(__AVX512F__)
#define SCVAE_HAVE_DIRECT_CONVOLUTION 1

namespace avx512_direct {

inline constexpr Index kLanes = 16;
/// Output channels of a tile, and of a block of packed filters.
inline constexpr Index kBlockChannels = 2 * kLanes;
/// Grid positions of a tile's row: two rows of 7 fit one 16-lane transpose.
inline constexpr int kTileColumns = 7;

/// A tile's sums of output vector v turned channel-fastest: by_channel[l]
/// holds channel 16 v + l's sums, lane p that of sum[p] (lanes past
/// Positions zero), through a 16 x 16 transpose in registers.
template <int Positions, int Vectors>
inline void sums_by_channel(const __m512 (&sum)[Positions][Vectors], int v,
                            __m512 (&by_channel)[kLanes]) {
  static_assert(Positions <= kLanes, "a tile's positions fill at most one vector");
  for (int p = 0; p < kLanes; ++p) by_channel[p] = _mm512_setzero_ps();
  for (int p = 0; p < Positions; ++p) by_channel[p] = sum[p][v];
  avx512_tiles::transpose_block(by_channel);
}

/// The tile of output channels [0, 16 Vectors) of a block at Rows grid rows
/// by `columns` (<= 7) positions from `base` (the padded image at the tile's
/// first position): out(c, r, j) = sum over taps k of filters[k][c] *
/// base[offsets[k] + r * row_step + j * StrideWidth], then + bias[c] (or 0),
/// or added to out with `accumulate`. out is the tile's first position of
/// channel 0, channel c `positions` after channel c - 1, row r `grid_width`
/// after row r - 1. Seven columns are always summed (the pixels past a
/// shorter row are read and their sums dropped).
template <int Vectors, int Rows, int StrideWidth>
inline void tile(Index taps, const float* filters, const Index* offsets, const float* base,
                 Index row_step, Index columns, const float* bias, Index channels, float* out,
                 Index positions, Index grid_width, bool accumulate) {
  constexpr int kPositions = Rows * kTileColumns;
  __m512 sum[kPositions][Vectors];
  avx512_tiles::zero_tile(sum);
  for (Index k = 0; k < taps; ++k) {
    __m512 filter[Vectors];
#pragma GCC unroll 2
    for (int v = 0; v < Vectors; ++v)
      filter[v] = _mm512_loadu_ps(filters + k * kBlockChannels + v * kLanes);
    // One pointer per grid row, the columns at constant displacements: an
    // index per position spilled the addresses to the stack (0.9x).
    const float* row[Rows];
    row[0] = base + offsets[k];
    if constexpr (Rows > 1) row[1] = row[0] + row_step;
#pragma GCC unroll 2
    for (int r = 0; r < Rows; ++r)
#pragma GCC unroll 7
      for (int j = 0; j < kTileColumns; ++j) {
        const __m512 pixel = _mm512_set1_ps(row[r][j * StrideWidth]);
#pragma GCC unroll 2
        for (int v = 0; v < Vectors; ++v)
          sum[r * kTileColumns + j][v] =
              _mm512_fmadd_ps(filter[v], pixel, sum[r * kTileColumns + j][v]);
      }
  }
  const __mmask16 row_lanes = avx512_runs::first_lanes(columns);
  for (int v = 0; v < Vectors; ++v) {
    __m512 by_channel[kLanes];
    sums_by_channel(sum, v, by_channel);
    const Index lanes = std::min<Index>(kLanes, channels - v * kLanes);
    for (Index l = 0; l < lanes; ++l) {
      const Index channel = v * kLanes + l;
      float* at = out + channel * positions;
      for (int r = 0; r < Rows; ++r, at += grid_width) {
        // Row r's sums start at lane 7 r.
        const __m512 row_values =
            r == 0 ? by_channel[l]
                   : _mm512_castsi512_ps(_mm512_alignr_epi32(
                         _mm512_setzero_si512(), _mm512_castps_si512(by_channel[l]), kTileColumns));
        const __m512 result =
            accumulate
                ? _mm512_add_ps(_mm512_maskz_loadu_ps(row_lanes, at), row_values)
                : _mm512_add_ps(row_values, _mm512_set1_ps(bias != nullptr ? bias[channel] : 0.0f));
        _mm512_mask_storeu_ps(at, row_lanes, result);
      }
    }
  }
}

/// One sample's channels x height x width values into the middle of a
/// padded buffer of channels x buffer_height x buffer_width, `top` rows and
/// `left` columns in. Runs are copied whole-vector (avx512_runs::copy): the
/// zeros past each run land on padding or on values written after it, so
/// padding that was zero stays zero; nothing at or past `end` is written.
inline void copy_into_padding(const float* values, Index channels, Index height, Index width,
                              Index top, Index left, Index buffer_height, Index buffer_width,
                              float* padded, const float* end) {
  for (Index c = 0; c < channels; ++c)
    for (Index y = 0; y < height; ++y)
      avx512_runs::copy(values + (c * height + y) * width,
                        padded + (c * buffer_height + y + top) * buffer_width + left, width, end);
}

/// One sample's image (g's layout) into the middle of its padded buffer
/// (padded_values(g) values), as copy_into_padding.
inline void pad_sample(const PatchGeometry& g, const float* image, float* padded,
                       const float* end) {
  copy_into_padding(image, g.channels, g.image_height, g.image_width, g.padding_height,
                    g.padding_width, padded_height(g), padded_width(g), padded, end);
}

}  // namespace avx512_direct
#endif

/// Grows `buffer` to at least `size` values (new ones zero); never shrinks.
template <typename Value>
void grow_to(std::vector<Value>& buffer, Index size) {
  if (static_cast<Index>(buffer.size()) < size) buffer.resize(static_cast<std::size_t>(size));
}

/// Whether DirectConvolution runs `g` in this build: AVX-512, and a stride
/// of 1 or 2 along the rows (the columns' displacements are compiled in).
inline bool direct_convolution_applies(const PatchGeometry& g) {
#ifdef SCVAE_HAVE_DIRECT_CONVOLUTION
  return g.stride_width == 1 || g.stride_width == 2;
#else
  (void)g;
  return false;
#endif
}

/// A convolution's scratch for the direct path: its filters packed by tap,
/// 32 output channels at a time; each tap's place in the padded image; one
/// padded sample. Sized once by reserve(); the padding stays zero, since
/// only the image's own pixels are written after that.
class DirectConvolution {
 public:
  void reserve(const PatchGeometry& g, Index channels) {
    const Index taps = g.patch_size();
    const Index blocks = (channels + kBlock - 1) / kBlock;
    grow_to(filters_, blocks * kBlock * taps);
    // Seven columns are read past a row's last position (tile()): slack.
    const Index padded = padded_values(g) + 2 * kBlock;
    grow_to(image_, padded);
    if (static_cast<Index>(offsets_.size()) == taps) return;
    offsets_.resize(static_cast<std::size_t>(taps));
    for (Index c = 0; c < g.channels; ++c)
      for (Index y = 0; y < g.kernel_height; ++y)
        for (Index x = 0; x < g.kernel_width; ++x)
          offsets_[static_cast<std::size_t>((c * g.kernel_height + y) * g.kernel_width + x)] =
              (c * padded_height(g) + y) * padded_width(g) + x;
  }

  /// Packs `filters` (patch x channels, column-major: a convolution's
  /// parameters) for run(). After reserve() with the same channels.
  void pack(const PatchGeometry& g, const float* filters, Index channels) {
    const Index taps = g.patch_size();
    float* packed = filters_.data();
    auto at = [&](Index c, Index k) -> float& {
      return packed[(c / kBlock) * kBlock * taps + k * kBlock + c % kBlock];
    };
    Index c = 0;
#ifdef SCVAE_HAVE_DIRECT_CONVOLUTION
    // 16 channels by 16 taps at a time, turned in registers: the strided
    // loop read 16 channels' filters 2 KB apart.
    for (; c + kLanes <= channels; c += kLanes) {
      Index k = 0;
      for (; k + kLanes <= taps; k += kLanes) {
        __m512 block[kLanes];
        for (Index r = 0; r < kLanes; ++r) block[r] = _mm512_loadu_ps(filters + (c + r) * taps + k);
        avx512_tiles::transpose_block(block);
        for (Index r = 0; r < kLanes; ++r) _mm512_storeu_ps(&at(c, k + r), block[r]);
      }
      for (; k < taps; ++k)
        for (Index r = 0; r < kLanes; ++r) at(c + r, k) = filters[(c + r) * taps + k];
    }
#endif
    for (; c < channels; ++c)
      for (Index k = 0; k < taps; ++k) at(c, k) = filters[c * taps + k];
  }

  /// out (channels x grid positions, one sample) = the convolution of
  /// `image` (one sample, g's layout) with the packed filters, + bias (or
  /// 0), or added to out with `accumulate`.
  void run(const PatchGeometry& g, Index channels, const float* image, const float* bias,
           float* out, bool accumulate) {
#ifdef SCVAE_HAVE_DIRECT_CONVOLUTION
    const Index width = padded_width(g);
    float* const padded = image_.data();
    avx512_direct::pad_sample(g, image, padded, padded + padded_values(g));
    const Index taps = g.patch_size(), positions = g.positions();
    const Index row_step = g.stride_height * width;
    for (Index first = 0; first < channels; first += kBlock) {
      const Index block = std::min(kBlock, channels - first);
      const float* filters = filters_.data() + first * taps;
      for (Index i = 0; i < g.grid_height; i += 2)
        for (Index j = 0; j < g.grid_width; j += avx512_direct::kTileColumns) {
          const float* base = padded + i * row_step + j * g.stride_width;
          const Index columns = std::min<Index>(avx512_direct::kTileColumns, g.grid_width - j);
          float* tile_out = out + first * positions + i * g.grid_width + j;
          const float* tile_bias = bias != nullptr ? bias + first : nullptr;
          run_tile(block, i + 1 < g.grid_height ? 2 : 1, g.stride_width, taps, filters, base,
                   row_step, columns, tile_bias, tile_out, positions, g.grid_width, accumulate);
        }
    }
#else
    (void)g, (void)channels, (void)image, (void)bias, (void)out, (void)accumulate;
#endif
  }

 private:
  static constexpr Index kBlock = 32;
  static constexpr Index kLanes = 16;

#ifdef SCVAE_HAVE_DIRECT_CONVOLUTION
  void run_tile(Index block, int rows, Index stride, Index taps, const float* filters,
                const float* base, Index row_step, Index columns, const float* bias, float* out,
                Index positions, Index grid_width, bool accumulate) const {
    const Index* offsets = offsets_.data();
    auto with = [&](auto vectors, auto rows_constant, auto stride_constant) {
      avx512_direct::tile<decltype(vectors)::value, decltype(rows_constant)::value,
                          decltype(stride_constant)::value>(taps, filters, offsets, base, row_step,
                                                            columns, bias, block, out, positions,
                                                            grid_width, accumulate);
    };
    using One = std::integral_constant<int, 1>;
    using Two = std::integral_constant<int, 2>;
    auto by_stride = [&](auto vectors, auto rows_constant) {
      if (stride == 2) return with(vectors, rows_constant, Two{});
      with(vectors, rows_constant, One{});
    };
    auto by_rows = [&](auto vectors) {
      if (rows == 2) return by_stride(vectors, Two{});
      by_stride(vectors, One{});
    };
    if (block > kLanes) return by_rows(Two{});
    by_rows(One{});
  }
#endif

  std::vector<float> filters_;
  std::vector<Index> offsets_;
  std::vector<float> image_;
};

}  // namespace scvae::detail
