#pragma once
// The data movement around a convolution's matrix products: unfolding image
// patches into rows (im2col), folding them back (col2im, its adjoint), and
// moving between a batch's layout (one sample per column, channel after
// channel) and the row layout the products want (one row per position of
// every sample, one column per channel).
//
// A convolution then runs as one GEMM per chunk of a batch instead of one per
// sample: the rows of all samples are stacked, position p of sample s in row
// p + positions * s.

#include <algorithm>

#include "scvae/core/types.hpp"

namespace scvae {

/// Where a kernel of kernel_height x kernel_width reads an image of
/// image_height x image_width, moved by stride and padded with zeros by
/// padding on each side; grid_height x grid_width positions.
struct PatchGeometry {
  Index channels = 1;
  Index image_height = 1, image_width = 1;
  Index kernel_height = 1, kernel_width = 1;
  Index stride_height = 1, stride_width = 1;
  Index padding_height = 0, padding_width = 0;
  Index grid_height = 1, grid_width = 1;

  Index positions() const { return grid_height * grid_width; }
  Index image_features() const { return channels * image_height * image_width; }
  /// Columns of an unfolded row: (channel, ky, kx), kx fastest.
  Index patch_size() const { return channels * kernel_height * kernel_width; }
};

namespace detail {

/// Calls visit(row offset of the patch's first position in the grid row,
/// image offset of that position, count) for every run of positions of one grid row
/// that read inside the image, and blank(first, count) for those that read padding,
/// for kernel tap (ky, kx) and grid row gy.
template <typename Visit, typename Blank>
void for_each_tap_run(const PatchGeometry& g, Index ky, Index kx, Index gy, Visit&& visit,
                      Blank&& blank) {
  const Index iy = gy * g.stride_height - g.padding_height + ky;
  if (iy < 0 || iy >= g.image_height) {
    blank(Index(0), g.grid_width);
    return;
  }
  // Grid columns gx with 0 <= gx * stride - padding + kx < image_width.
  const Index shift = kx - g.padding_width;
  const Index first =
      shift >= 0 ? 0 : std::min(g.grid_width, (-shift + g.stride_width - 1) / g.stride_width);
  const Index limit = g.image_width - shift;  // gx * stride < limit
  const Index end = limit <= 0 ? 0
                               : std::min(g.grid_width, (limit + g.stride_width - 1) / g.stride_width);
  if (end <= first) {
    blank(Index(0), g.grid_width);
    return;
  }
  blank(Index(0), first);
  visit(first, iy * g.image_width + first * g.stride_width + shift, end - first);
  blank(end, g.grid_width - end);
}

}  // namespace detail

/// rows(p + positions * s, k) = the value patch k of position p of sample s
/// reads from images.col(s) (0 in the padding); rows is (positions * n) x
/// patch_size() with leading dimension positions * n.
template <typename Scalar>
void unfold_patches(const PatchGeometry& g, const Scalar* images, Index image_stride, Index n,
                    Scalar* rows) {
  const Index positions = g.positions();
  const Index ld = positions * n;
  for (Index c = 0; c < g.channels; ++c)
    for (Index ky = 0; ky < g.kernel_height; ++ky)
      for (Index kx = 0; kx < g.kernel_width; ++kx) {
        const Index k = (c * g.kernel_height + ky) * g.kernel_width + kx;
        for (Index s = 0; s < n; ++s) {
          const Scalar* image = images + s * image_stride + c * g.image_height * g.image_width;
          Scalar* out = rows + k * ld + s * positions;
          for (Index gy = 0; gy < g.grid_height; ++gy) {
            Scalar* row = out + gy * g.grid_width;
            detail::for_each_tap_run(
                g, ky, kx, gy,
                [&](Index first, Index offset, Index count) {
                  const Scalar* in = image + offset;
                  for (Index i = 0; i < count; ++i) row[first + i] = in[i * g.stride_width];
                },
                [&](Index first, Index count) { std::fill(row + first, row + first + count, Scalar(0)); });
          }
        }
      }
}

/// The adjoint of unfold_patches: adds every value of rows to the image value
/// it was read from (padding reads are dropped). Sums in a fixed order.
template <typename Scalar>
void fold_patches_add(const PatchGeometry& g, const Scalar* rows, Index n, Scalar* images,
                      Index image_stride) {
  const Index positions = g.positions();
  const Index ld = positions * n;
  for (Index c = 0; c < g.channels; ++c)
    for (Index ky = 0; ky < g.kernel_height; ++ky)
      for (Index kx = 0; kx < g.kernel_width; ++kx) {
        const Index k = (c * g.kernel_height + ky) * g.kernel_width + kx;
        for (Index s = 0; s < n; ++s) {
          Scalar* image = images + s * image_stride + c * g.image_height * g.image_width;
          const Scalar* in = rows + k * ld + s * positions;
          for (Index gy = 0; gy < g.grid_height; ++gy) {
            const Scalar* row = in + gy * g.grid_width;
            detail::for_each_tap_run(
                g, ky, kx, gy,
                [&](Index first, Index offset, Index count) {
                  Scalar* out = image + offset;
                  for (Index i = 0; i < count; ++i) out[i * g.stride_width] += row[first + i];
                },
                [](Index, Index) {});
          }
        }
      }
}

/// rows(p + positions * s, c) = batch(p + positions * c, s): a batch of
/// channels x positions samples (batch has leading dimension batch_stride)
/// as (positions * n) x channels rows.
template <typename Scalar>
void samples_to_rows(const Scalar* batch, Index batch_stride, Index positions, Index channels,
                     Index n, Scalar* rows) {
  const Index ld = positions * n;
  for (Index c = 0; c < channels; ++c)
    for (Index s = 0; s < n; ++s)
      std::copy_n(batch + s * batch_stride + c * positions, positions, rows + c * ld + s * positions);
}

/// The inverse of samples_to_rows, plus bias(c) on every value of channel c
/// when bias is given.
template <typename Scalar>
void rows_to_samples(const Scalar* rows, Index positions, Index channels, Index n,
                     const Scalar* bias, Scalar* batch, Index batch_stride) {
  const Index ld = positions * n;
  for (Index s = 0; s < n; ++s)
    for (Index c = 0; c < channels; ++c) {
      const Scalar* in = rows + c * ld + s * positions;
      Scalar* out = batch + s * batch_stride + c * positions;
      const Scalar b = bias != nullptr ? bias[c] : Scalar(0);
      for (Index p = 0; p < positions; ++p) out[p] = in[p] + b;
    }
}

/// bias_gradient(c) (+)= the sum of batch's values of channel c, sample after
/// sample, position after position: the same sum on every thread count.
template <typename Scalar>
void channel_sums(const Scalar* batch, Index batch_stride, Index positions, Index channels,
                  Index n, Scalar* sums, bool accumulate) {
  for (Index c = 0; c < channels; ++c) {
    Scalar sum = accumulate ? sums[c] : Scalar(0);
    for (Index s = 0; s < n; ++s) {
      const Scalar* in = batch + s * batch_stride + c * positions;
      for (Index p = 0; p < positions; ++p) sum += in[p];
    }
    sums[c] = sum;
  }
}

}  // namespace scvae
