#pragma once
// The adjoint of a convolution's product read straight from the grid (a
// convolution's input gradient, a transposed convolution's forward pass),
// one sample at a time, without the patch rows that the unfolding path
// makes with a GEMM and then folds into phase images (kernels/im2col.hpp).
//
// Each pixel of a stride phase (PatchGeometry's layout) gathers, tap after
// tap of its phase, the grid values that tap carries to it: a tile holds
// 32 image channels (two vectors) by 7 phase columns, sums one tap over the
// grid's channels in 14 registers and adds it to the tile's totals in 14
// more, then goes to the phase images through a 16 x 16 transpose; the
// phases are merged into the image as on the unfolding path. Each value is
// that path's, bit for bit: per tap an FMA chain over the grid's channels
// from zero, the taps added in their order to zero. (A tap that reaches a
// pixel from outside the grid adds a chain of zero products, +0, which
// leaves any sum unchanged, since a sum that starts at +0 is never -0.)
// tests/kernels/direct_convolution_test.cpp holds both to the definition.

#include <algorithm>
#include <vector>

#include "scvae/core/types.hpp"
#include "scvae/kernels/direct_convolution.hpp"
#include "scvae/kernels/im2col.hpp"

namespace scvae::detail {

#ifdef SCVAE_HAVE_DIRECT_CONVOLUTION
namespace avx512_direct {

/// Phase columns of an adjoint tile.
inline constexpr int kAdjointColumns = 7;

/// out(c, j) = the sum over taps t, in order, of (the FMA chain over grid
/// channels g of panels[t][g][c] * base[offsets[t] + g * plane + j]), for
/// image channels c < 16 Vectors of a block (`lanes` of them stored) and
/// `columns` (<= 7) phase columns j; channel c's values `channel_stride`
/// after channel c - 1's. Seven columns are always summed.
template <int Vectors>
inline void adjoint_tile(Index taps, const float* const* panels, const Index* offsets,
                         Index grid_channels, Index plane, const float* base, Index columns,
                         Index lanes, float* out, Index channel_stride) {
  __m512 total[kAdjointColumns][Vectors];
  avx512_tiles::zero_tile(total);
  for (Index t = 0; t < taps; ++t) {
    __m512 sum[kAdjointColumns][Vectors];
    avx512_tiles::zero_tile(sum);
    const float* filter = panels[t];
    const float* grid = base + offsets[t];
    for (Index g = 0; g < grid_channels; ++g, filter += kBlockChannels, grid += plane) {
      __m512 weights[Vectors];
#pragma GCC unroll 2
      for (int v = 0; v < Vectors; ++v) weights[v] = _mm512_loadu_ps(filter + v * kLanes);
#pragma GCC unroll 7
      for (int j = 0; j < kAdjointColumns; ++j) {
        const __m512 value = _mm512_set1_ps(grid[j]);
#pragma GCC unroll 2
        for (int v = 0; v < Vectors; ++v) sum[j][v] = _mm512_fmadd_ps(weights[v], value, sum[j][v]);
      }
    }
#pragma GCC unroll 7
    for (int j = 0; j < kAdjointColumns; ++j)
#pragma GCC unroll 2
      for (int v = 0; v < Vectors; ++v) total[j][v] = _mm512_add_ps(total[j][v], sum[j][v]);
  }
  const __mmask16 stored = avx512_runs::first_lanes(columns);
  for (int v = 0; v < Vectors; ++v) {
    __m512 by_channel[kLanes];
    sums_by_channel(total, v, by_channel);
    const Index count = std::min<Index>(kLanes, lanes - v * kLanes);
    for (Index l = 0; l < count; ++l)
      _mm512_mask_storeu_ps(out + (v * kLanes + l) * channel_stride, stored, by_channel[l]);
  }
}

}  // namespace avx512_direct
#endif

/// Whether DirectConvolutionAdjoint runs `g` in this build: as
/// DirectConvolution, for images of at least 16 channels (a vector of a
/// tile): with one, its tiles use one lane of 16, and the conv VAE's last
/// layer's forward pass took 6.3x the unfolding path's time.
inline bool direct_convolution_adjoint_applies(const PatchGeometry& g) {
  return direct_convolution_applies(g) && g.channels >= 16;
}

/// Scratch of the direct adjoint: the filters packed by image-channel block,
/// tap and grid channel; one sample's grid padded with the zeros its taps
/// read past its edges; one sample's phase images. Sized by reserve().
class DirectConvolutionAdjoint {
 public:
  /// `channels`: the grid's (a convolution's output channels).
  void reserve(const PatchGeometry& g, Index channels) {
    const Index blocks = (g.channels + kBlock - 1) / kBlock;
    grow_to(filters_, blocks * kBlock * g.kernel_height * g.kernel_width * channels);
    grow_to(grid_, channels * grid_height(g) * grid_width(g) + kBlock);
    grow_to(phases_, g.phase_values());
    panels_.resize(static_cast<std::size_t>(g.kernel_height * g.kernel_width));
    offsets_.resize(static_cast<std::size_t>(g.kernel_height * g.kernel_width));
  }

  /// Packs `filters` (patch x channels, column-major) for run().
  void pack(const PatchGeometry& g, const float* filters, Index channels) {
    const Index taps = g.kernel_height * g.kernel_width, patch = g.patch_size();
    for (Index c = 0; c < g.channels; ++c)
      for (Index t = 0; t < taps; ++t) {
        float* panel = filters_.data() + ((c / kBlock) * taps + t) * channels * kBlock + c % kBlock;
        const float* from = filters + c * taps + t;
        for (Index k = 0; k < channels; ++k) panel[k * kBlock] = from[k * patch];
      }
  }

  /// image (one sample, g's image layout) = (or +=, with `accumulate`) the
  /// adjoint of `grid` (one sample, channels x g's grid) through the packed
  /// filters.
  void run(const PatchGeometry& g, Index channels, const float* grid, float* image,
           bool accumulate) {
#ifdef SCVAE_HAVE_DIRECT_CONVOLUTION
    const Index rows_above = taps_along(g.kernel_height, g.stride_height) - 1;
    const Index columns_before = taps_along(g.kernel_width, g.stride_width) - 1;
    const Index height = grid_height(g), width = grid_width(g), plane = height * width;
    float* const padded = grid_.data();
    avx512_direct::copy_into_padding(grid, channels, g.grid_height, g.grid_width, rows_above,
                                     columns_before, height, width, padded,
                                     padded + channels * plane);
    const Index taps = g.kernel_height * g.kernel_width, area = g.phase_height() * g.phase_width();
    for (Index first = 0; first < g.channels; first += kBlock) {
      const Index lanes = std::min(kBlock, g.channels - first);
      const float* block = filters_.data() + (first / kBlock) * taps * channels * kBlock;
      for (Index py = 0; py < g.stride_height; ++py)
        for (Index px = 0; px < g.stride_width; ++px) {
          // This phase's taps in their order, each with its grid offset.
          Index count = 0;
          for (Index ky = py; ky < g.kernel_height; ky += g.stride_height)
            for (Index kx = px; kx < g.kernel_width; kx += g.stride_width, ++count) {
              panels_[static_cast<std::size_t>(count)] =
                  block + (ky * g.kernel_width + kx) * channels * kBlock;
              offsets_[static_cast<std::size_t>(count)] =
                  -((ky / g.stride_height) * width + kx / g.stride_width);
            }
          // The phase rows and columns that hold image pixels (the others
          // are never merged).
          const Index first_row = first_holding(g.padding_height, py, g.stride_height);
          const Index end_row =
              std::min(g.phase_height(),
                       first_holding(g.padding_height + g.image_height, py, g.stride_height));
          const Index first_column = first_holding(g.padding_width, px, g.stride_width);
          const Index end_column = std::min(
              g.phase_width(), first_holding(g.padding_width + g.image_width, px, g.stride_width));
          float* const phase =
              phases_.data() + ((first * g.stride_height + py) * g.stride_width + px) * area;
          const Index channel_stride = g.stride_height * g.stride_width * area;
          for (Index u = first_row; u < end_row; ++u)
            for (Index v = first_column; v < end_column; v += avx512_direct::kAdjointColumns) {
              const float* base = padded + (u + rows_above) * width + v + columns_before;
              const Index columns = std::min<Index>(avx512_direct::kAdjointColumns, end_column - v);
              float* out = phase + u * g.phase_width() + v;
              if (lanes > kLanes)
                avx512_direct::adjoint_tile<2>(count, panels_.data(), offsets_.data(), channels,
                                               plane, base, columns, lanes, out, channel_stride);
              else
                avx512_direct::adjoint_tile<1>(count, panels_.data(), offsets_.data(), channels,
                                               plane, base, columns, lanes, out, channel_stride);
            }
        }
    }
    if (accumulate)
      merge_phases_add(g, phases_.data(), 1, image, g.image_features());
    else
      merge_phases(g, phases_.data(), 1, image, g.image_features());
#else
    (void)g, (void)channels, (void)grid, (void)image, (void)accumulate;
#endif
  }

 private:
  static constexpr Index kBlock = 32;
  static constexpr Index kLanes = 16;

  /// Taps of a kernel of `size` that one stride phase holds, at most.
  static Index taps_along(Index size, Index stride) { return (size + stride - 1) / stride; }
  /// The first phase row (or column) of phase `phase` at or past padded row `row`.
  static Index first_holding(Index row, Index phase, Index stride) {
    return row > phase ? (row - phase + stride - 1) / stride : 0;
  }
  /// The padded grid: room for every phase row a tap reads from.
  static Index grid_height(const PatchGeometry& g) {
    return std::max(g.grid_height, g.phase_height()) +
           taps_along(g.kernel_height, g.stride_height) - 1;
  }
  static Index grid_width(const PatchGeometry& g) {
    return std::max(g.grid_width, g.phase_width()) + taps_along(g.kernel_width, g.stride_width) - 1;
  }

  std::vector<float> filters_;
  std::vector<float> grid_;
  std::vector<float> phases_;
  std::vector<const float*> panels_;
  std::vector<Index> offsets_;
};

}  // namespace scvae::detail
