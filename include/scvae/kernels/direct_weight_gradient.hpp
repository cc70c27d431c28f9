#pragma once
// A convolution's weight gradient read straight from the padded images and
// the grid (a Conv2d's input and output gradient; a ConvTranspose2d's output
// gradient and input), block of samples after block, without the unfolded
// patches and transposes of the unfolding path (kernels/im2col.hpp).
//
// A tile holds up to 64 grid channels (four vectors) by 6 taps in 24
// registers: at each grid position of each sample it loads the grid's
// channels there (the block's grid values, turned channel-fastest once per
// block) and broadcasts the pixel each of the 6 taps reads at that position,
// addressed from one index shared by the taps' pointers. Each value is the
// unfolding path's, bit for bit: per block an FMA chain over the block's
// samples and positions in order from zero, written over the gradient for
// the first block (unless added) and added to it after
// (tests/kernels/direct_convolution_test.cpp).

#include <algorithm>
#include <type_traits>
#include <vector>

#include "scvae/core/types.hpp"
#include "scvae/kernels/avx512_runs.hpp"
#include "scvae/kernels/avx512_tiles.hpp"
#include "scvae/kernels/direct_convolution.hpp"
#include "scvae/kernels/im2col.hpp"

namespace scvae::detail {

#ifdef SCVAE_HAVE_DIRECT_CONVOLUTION
namespace avx512_direct {

/// Taps of a weight-gradient tile.
inline constexpr int kGradientTaps = 6;
/// Grid channels of a weight-gradient tile, and the stride of the block's
/// channel-fastest grid values.
inline constexpr Index kGradientChannels = 4 * kLanes;

/// sum(t, c) = the FMA chain over samples s < n and grid positions (i, j) of
/// grid[((s * rows + i) * columns + j) * grid_stride + c] *
/// tap[t][s * sample_stride + i * row_step + j * StrideWidth], for channels
/// c < 16 Vectors, continued from `partial` (its kGradientTaps x Vectors
/// vectors; from zero with `start`) and kept there; with `finish`,
/// gradient[c * patch + t] = sum (or += with `accumulate`) for t < taps and
/// c < channels instead. Keeping a chain in memory between calls keeps its
/// bits.
template <int Vectors, int StrideWidth>
inline void gradient_tile(const float* const* tap, Index taps, const float* grid, Index grid_stride,
                          Index n, Index sample_stride, Index rows, Index columns, Index row_step,
                          float* partial, bool start, bool finish, Index channels, float* gradient,
                          Index patch, bool accumulate) {
  __m512 sum[kGradientTaps][Vectors];
#pragma GCC unroll 6
  for (int t = 0; t < kGradientTaps; ++t)
#pragma GCC unroll 4
    for (int v = 0; v < Vectors; ++v)
      sum[t][v] =
          start ? _mm512_setzero_ps() : _mm512_loadu_ps(partial + (t * Vectors + v) * kLanes);
  const float* t0 = tap[0];
  const float* t1 = tap[1];
  const float* t2 = tap[2];
  const float* t3 = tap[3];
  const float* t4 = tap[4];
  const float* t5 = tap[5];
  for (Index s = 0; s < n; ++s)
    for (Index i = 0; i < rows; ++i) {
      Index at = s * sample_stride + i * row_step;
      for (Index j = 0; j < columns; ++j, at += StrideWidth, grid += grid_stride) {
        __m512 values[Vectors];
#pragma GCC unroll 4
        for (int v = 0; v < Vectors; ++v) values[v] = _mm512_loadu_ps(grid + v * kLanes);
        const float pixel[kGradientTaps] = {t0[at], t1[at], t2[at], t3[at], t4[at], t5[at]};
#pragma GCC unroll 6
        for (int t = 0; t < kGradientTaps; ++t) {
          const __m512 broadcast = _mm512_set1_ps(pixel[t]);
#pragma GCC unroll 4
          for (int v = 0; v < Vectors; ++v)
            sum[t][v] = _mm512_fmadd_ps(values[v], broadcast, sum[t][v]);
        }
      }
    }
  if (!finish) {
#pragma GCC unroll 6
    for (int t = 0; t < kGradientTaps; ++t)
#pragma GCC unroll 4
      for (int v = 0; v < Vectors; ++v)
        _mm512_storeu_ps(partial + (t * Vectors + v) * kLanes, sum[t][v]);
    return;
  }
  const __mmask16 stored = avx512_runs::first_lanes(taps);
  for (int v = 0; v < Vectors; ++v) {
    __m512 by_channel[kLanes];
    sums_by_channel(sum, v, by_channel);
    const Index count = std::min<Index>(kLanes, channels - v * kLanes);
    for (Index l = 0; l < count; ++l) {
      float* out = gradient + (v * kLanes + l) * patch;
      const __m512 value = accumulate
                               ? _mm512_add_ps(_mm512_maskz_loadu_ps(stored, out), by_channel[l])
                               : by_channel[l];
      _mm512_mask_storeu_ps(out, stored, value);
    }
  }
}

}  // namespace avx512_direct
#endif

/// Scratch of the direct weight gradient: a block's padded images and its
/// grid values turned channel-fastest (64 channels a position, zeros past
/// the grid's). Sized by reserve(); the padding stays zero.
class DirectWeightGradient {
 public:
  /// `channels`: the grid's.
  void reserve(const PatchGeometry& g, Index channels) {
    const Index stride = grid_stride(channels), samples = part_samples(g, channels);
    grow_to(images_, samples * padded_values(g) + kGroup);
    grow_to(grid_, ((channels + kGroup - 1) / kGroup) * samples * g.positions() * stride);
    const Index tiles = (g.patch_size() + 5) / 6;
    grow_to(partial_, ((channels + kGroup - 1) / kGroup) * tiles * 6 * kGroup);
  }

  /// gradient (patch x channels, column-major) = (or +=, with `accumulate`)
  /// the sum over samples s < n of each tap's pixels of images.col(s)
  /// (leading dimension image_stride) times the grid values of
  /// grids.col(s) (channels x positions, leading dimension grid_stride).
  /// The samples go a few at a time (part_samples), so that their padded
  /// images and grid values stay in cache while every tap reads them, each
  /// tile's chains kept in memory between the parts.
  void run(const PatchGeometry& g, Index channels, const float* images, Index image_stride,
           const float* grids, Index grid_stride_in, Index n, float* gradient, bool accumulate) {
#ifdef SCVAE_HAVE_DIRECT_CONVOLUTION
    const Index height = padded_height(g), width = padded_width(g);
    const Index per_sample = padded_values(g), positions = g.positions();
    const Index stride = grid_stride(channels), groups = (channels + kGroup - 1) / kGroup;
    const Index patch = g.patch_size(), row_step = g.stride_height * width;
    const Index tiles = (patch + avx512_direct::kGradientTaps - 1) / avx512_direct::kGradientTaps;
    const Index part = part_samples(g, channels);
    float* const padded = images_.data();
    for (Index first = 0; first < n; first += part) {
      const Index count = std::min(part, n - first);
      for (Index s = 0; s < count; ++s)
        avx512_direct::pad_sample(g, images + (first + s) * image_stride, padded + s * per_sample,
                                  padded + count * per_sample);
      const Index group_values = count * positions * stride;
      for (Index group = 0; group < groups; ++group)
        for (Index s = 0; s < count; ++s)
          turn(grids + (first + s) * grid_stride_in + group * kGroup * positions, positions,
               std::min(kGroup, channels - group * kGroup), stride,
               grid_.data() + group * group_values + s * positions * stride);
      const float* tap[avx512_direct::kGradientTaps];
      for (Index group = 0; group < groups; ++group) {
        const Index lanes = std::min(kGroup, channels - group * kGroup);
        for (Index tile = 0; tile < tiles; ++tile) {
          const Index k = tile * avx512_direct::kGradientTaps;
          const Index taps = std::min<Index>(avx512_direct::kGradientTaps, patch - k);
          for (Index t = 0; t < avx512_direct::kGradientTaps; ++t) {
            // Past the patch, a tile reads its last tap again and drops it.
            const Index tap_index = k + std::min(t, taps - 1);
            const Index c = tap_index / (g.kernel_height * g.kernel_width);
            const Index ky = tap_index / g.kernel_width % g.kernel_height;
            const Index kx = tap_index % g.kernel_width;
            tap[t] = padded + (c * height + ky) * width + kx;
          }
          run_tile(lanes, g.stride_width, tap, taps, grid_.data() + group * group_values, stride,
                   count, per_sample, g.grid_height, g.grid_width, row_step,
                   partial_.data() + (group * tiles + tile) * 6 * kGroup, first == 0,
                   first + count == n, gradient + group * kGroup * patch + k, patch, accumulate);
        }
      }
    }
#else
    (void)g, (void)channels, (void)images, (void)image_stride, (void)grids, (void)grid_stride_in,
        (void)n, (void)gradient, (void)accumulate;
#endif
  }

 private:
  static constexpr Index kGroup = 64;
  static constexpr Index kLanes = 16;

  /// Floats between two positions' grid values: the group's channels in
  /// whole vectors.
  static Index grid_stride(Index channels) {
    return std::min(kGroup, (channels + kLanes - 1) / kLanes * kLanes);
  }
  /// Samples whose grid values (one group's) make about 256 KB.
  static Index part_samples(const PatchGeometry& g, Index channels) {
    const Index bytes = g.positions() * grid_stride(channels) * static_cast<Index>(sizeof(float));
    return std::max<Index>(1, (Index(256) << 10) / std::max<Index>(1, bytes));
  }

#ifdef SCVAE_HAVE_DIRECT_CONVOLUTION
  /// to[p * stride + c] = from[c * positions + p] for c < lanes (<= 64):
  /// one sample's grid values channel-fastest, 16 x 16 blocks turned in
  /// registers (a scalar loop made the 1 -> 32 convolution's weight gradient
  /// 2.2x slower than unfolding).
  static void turn(const float* from, Index positions, Index lanes, Index stride, float* to) {
    for (Index c = 0; c < lanes; c += kLanes) {
      const Index rows = std::min(kLanes, lanes - c);
      for (Index p = 0; p < positions; p += kLanes) {
        const Index columns = std::min(kLanes, positions - p);
        const __mmask16 loaded = avx512_runs::first_lanes(columns);
        __m512 block[kLanes];
        for (Index r = 0; r < kLanes; ++r)
          block[r] = r < rows ? _mm512_maskz_loadu_ps(loaded, from + (c + r) * positions + p)
                              : _mm512_setzero_ps();
        avx512_tiles::transpose_block(block);
        const __mmask16 stored = avx512_runs::first_lanes(rows);
        for (Index q = 0; q < columns; ++q)
          _mm512_mask_storeu_ps(to + (p + q) * stride + c, stored, block[q]);
      }
    }
  }

  static void run_tile(Index lanes, Index stride, const float* const* tap, Index taps,
                       const float* grid, Index grid_stride, Index n, Index sample_stride,
                       Index rows, Index columns, Index row_step, float* partial, bool start,
                       bool finish, float* gradient, Index patch, bool accumulate) {
    auto with = [&](auto vectors) {
      constexpr int kVectors = decltype(vectors)::value;
      if (stride == 2)
        return avx512_direct::gradient_tile<kVectors, 2>(
            tap, taps, grid, grid_stride, n, sample_stride, rows, columns, row_step, partial, start,
            finish, lanes, gradient, patch, accumulate);
      avx512_direct::gradient_tile<kVectors, 1>(tap, taps, grid, grid_stride, n, sample_stride,
                                                rows, columns, row_step, partial, start, finish,
                                                lanes, gradient, patch, accumulate);
    };
    const Index vectors = (lanes + kLanes - 1) / kLanes;
    if (vectors == 4) return with(std::integral_constant<int, 4>{});
    if (vectors == 3) return with(std::integral_constant<int, 3>{});
    if (vectors == 2) return with(std::integral_constant<int, 2>{});
    with(std::integral_constant<int, 1>{});
  }
#endif

  std::vector<float> images_;
  std::vector<float> grid_;
  std::vector<float> partial_;
};

}  // namespace scvae::detail
