#pragma once
// The data movement around a convolution's matrix products: unfolding image
// patches into rows (im2col), folding them back (col2im, its adjoint), and
// moving between a batch's layout (one sample per column, channel after
// channel) and the row layout the products want (one row per position of
// every sample, one column per channel).
//
// A convolution runs as one GEMM per block of samples: the rows of the
// block's samples are stacked, position p of sample s in row
// p + positions * s.
//
// Unfolding goes through "phase images": the zero-padded image split by
// stride phase, phase (py, px) holding padded pixels (y * stride + py,
// x * stride + px). A kernel tap (ky, kx) then reads a contiguous run of
// grid_width values from one phase row, for every grid row, with no edge
// tests: the padding is already in the phases. Gathering a stride-2 image
// tap by tap with edge tests cost about as much as the GEMM itself. With
// AVX-512, float runs move a vector at a time (kernels/avx512_runs.hpp),
// with the same values and sums as the loops here.

#include <algorithm>
#include <type_traits>

#include "scvae/core/types.hpp"
#include "scvae/kernels/avx512_runs.hpp"

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

  /// Rows and columns of one phase image: the padded image's, divided by the
  /// stride and rounded up.
  Index phase_height() const {
    return (image_height + 2 * padding_height + stride_height - 1) / stride_height;
  }
  Index phase_width() const {
    return (image_width + 2 * padding_width + stride_width - 1) / stride_width;
  }
  /// Values of one sample's phase images: (channel, py, px, row, column).
  Index phase_values() const {
    return channels * stride_height * stride_width * phase_height() * phase_width();
  }
};

namespace detail {

/// Calls visit(image offset, phase offset, count) for every run of one
/// sample's pixels that one phase row holds: pixels image offset + i *
/// stride_width in phase values phase offset + i, i < count.
template <typename Visit>
void for_each_phase_run(const PatchGeometry& geometry, Visit&& visit) {
  // A copy: the AVX-512 stores a visit makes may alias anything, and the
  // geometry's fields (and divisions) would be reloaded after every run.
  const PatchGeometry g = geometry;
  const Index phase_area = g.phase_height() * g.phase_width();
  for (Index c = 0; c < g.channels; ++c)
    for (Index py = 0; py < g.stride_height; ++py)
      for (Index px = 0; px < g.stride_width; ++px) {
        const Index phase = (c * g.stride_height + py) * g.stride_width + px;
        // Phase row Y holds image row Y * stride + py - padding (likewise columns).
        const Index first_row = (g.padding_height - py + g.stride_height - 1) / g.stride_height;
        const Index end_row = std::min(
            g.phase_height(),
            (g.image_height + g.padding_height - py + g.stride_height - 1) / g.stride_height);
        const Index first_column = (g.padding_width - px + g.stride_width - 1) / g.stride_width;
        const Index end_column = std::min(
            g.phase_width(),
            (g.image_width + g.padding_width - px + g.stride_width - 1) / g.stride_width);
        if (end_column <= first_column) continue;
        for (Index Y = first_row; Y < end_row; ++Y) {
          const Index y = Y * g.stride_height + py - g.padding_height;
          const Index x = first_column * g.stride_width + px - g.padding_width;
          visit((c * g.image_height + y) * g.image_width + x,
                phase * phase_area + Y * g.phase_width() + first_column,
                end_column - first_column);
        }
      }
}

/// Calls run(k, phase offset of the tap's first value) for every kernel tap k
/// = (channel, ky, kx); the tap reads grid_width values from there in each
/// grid row, a phase row apart.
template <typename Run>
void for_each_tap(const PatchGeometry& geometry, Run&& run) {
  const PatchGeometry g = geometry;  // as in for_each_phase_run
  const Index phase_area = g.phase_height() * g.phase_width();
  for (Index c = 0; c < g.channels; ++c)
    for (Index ky = 0; ky < g.kernel_height; ++ky)
      for (Index kx = 0; kx < g.kernel_width; ++kx) {
        const Index phase =
            (c * g.stride_height + ky % g.stride_height) * g.stride_width + kx % g.stride_width;
        run((c * g.kernel_height + ky) * g.kernel_width + kx,
            phase * phase_area + (ky / g.stride_height) * g.phase_width() + kx / g.stride_width);
      }
}

/// Whether split_phases and merge_phases take whole image rows at a time
/// (avx512_runs::split_stride2): stride 2 both ways. (Other strides go run
/// by run, stride 1 a vector at a time.)
inline bool splits_rows_by_two(const PatchGeometry& g) {
  return g.stride_height == 2 && g.stride_width == 2;
}

/// out[i] = in[i * stride], i < count; the values from out + count up to
/// `end` may be overwritten with zeros (split_phases writes in ascending order).
template <typename Scalar>
void gather_run(const Scalar* in, Index stride, Scalar* out, Index count, const Scalar* end) {
#ifdef SCVAE_HAVE_AVX512_RUNS
  if constexpr (std::is_same_v<Scalar, float>) {
    if (stride == 1) return avx512_runs::copy(in, out, count, end);
  }
#endif
  (void)end;
  for (Index i = 0; i < count; ++i) out[i] = in[i * stride];
}

/// out[i * stride] = in[i] (or += with `accumulate`), i < count; the
/// values of out below `end` that it does not write are read and written
/// back unchanged.
template <typename Scalar>
void scatter_run(const Scalar* in, Scalar* out, Index stride, Index count, bool accumulate,
                 const Scalar* end) {
#ifdef SCVAE_HAVE_AVX512_RUNS
  if constexpr (std::is_same_v<Scalar, float>) {
    if (stride == 1) return avx512_runs::blend(in, out, count, accumulate, end);
  }
#endif
  (void)end;
  for (Index i = 0; i < count; ++i) {
    Scalar& pixel = out[i * stride];
    pixel = accumulate ? pixel + in[i] : in[i];
  }
}

}  // namespace detail

/// The phase images of samples images.col(0 .. n-1) (leading dimension
/// image_stride) into phases, n * phase_values() values, padding as zeros.
template <typename Scalar>
void split_phases(const PatchGeometry& g, const Scalar* images, Index image_stride, Index n,
                  Scalar* phases) {
  const Index values = g.phase_values(), stride = g.stride_width;
  const Scalar* const end = phases + values * n;
  std::fill(phases, phases + values * n, Scalar(0));
#ifdef SCVAE_HAVE_AVX512_RUNS
  if constexpr (std::is_same_v<Scalar, float>) {
    if (detail::splits_rows_by_two(g)) {
      for (Index s = 0; s < n; ++s)
        detail::avx512_runs::split_stride2(images + s * image_stride, g.channels, g.image_height,
                                           g.image_width, g.padding_height, g.padding_width,
                                           g.phase_height(), g.phase_width(), phases + s * values);
      return;
    }
  }
#endif
  for (Index s = 0; s < n; ++s) {
    const Scalar* const image = images + s * image_stride;
    Scalar* const phase = phases + s * values;
    detail::for_each_phase_run(g, [image, phase, stride, end](Index pixel, Index at, Index count) {
      detail::gather_run(image + pixel, stride, phase + at, count, end);
    });
  }
}

namespace detail {

/// Every pixel of the n samples' images = or += its phase value.
template <typename Scalar>
void merge_phases_into(const PatchGeometry& g, const Scalar* phases, Index n, Scalar* images,
                       Index image_stride, bool accumulate) {
  const Index values = g.phase_values(), stride = g.stride_width, features = g.image_features();
  for (Index s = 0; s < n; ++s) {
    Scalar* const image = images + s * image_stride;
    // Values past the sample's image are the caller's (rows below it in a
    // taller matrix): never written, not even unchanged.
    const Scalar* const end = image + features;
    const Scalar* const phase = phases + s * values;
#ifdef SCVAE_HAVE_AVX512_RUNS
    if constexpr (std::is_same_v<Scalar, float>) {
      if (splits_rows_by_two(g)) {
        avx512_runs::merge_stride2(phase, g.channels, g.image_height, g.image_width,
                                   g.padding_height, g.padding_width, g.phase_height(),
                                   g.phase_width(), image, accumulate, end);
        continue;
      }
    }
#endif
    for_each_phase_run(g, [=](Index pixel, Index at, Index count) {
      scatter_run(phase + at, image + pixel, stride, count, accumulate, end);
    });
  }
}

}  // namespace detail

/// The adjoint of split_phases, added to the images: every phase value that
/// holds a pixel goes back to it; the padding's values are dropped.
template <typename Scalar>
void merge_phases_add(const PatchGeometry& g, const Scalar* phases, Index n, Scalar* images,
                      Index image_stride) {
  detail::merge_phases_into(g, phases, n, images, image_stride, true);
}

/// As merge_phases_add, written over the images: each pixel has one phase value.
template <typename Scalar>
void merge_phases(const PatchGeometry& g, const Scalar* phases, Index n, Scalar* images,
                  Index image_stride) {
  detail::merge_phases_into(g, phases, n, images, image_stride, false);
}

/// rows(p + positions * s, k) = the value patch k of position p of sample s
/// reads from its phase images (split_phases); rows is (positions * n) x
/// patch_size() with leading dimension positions * n.
template <typename Scalar>
void unfold_phases(const PatchGeometry& g, const Scalar* phases, Index n, Scalar* rows) {
  const Index positions = g.positions(), ld = positions * n, width = g.grid_width;
#ifdef SCVAE_HAVE_AVX512_RUNS
  if constexpr (std::is_same_v<Scalar, float>) {
    const Index values = g.phase_values(), step = g.phase_width(), height = g.grid_height;
    detail::for_each_tap(g, [=](Index k, Index start) {
      detail::avx512_runs::unfold_tap(phases + start, n, values, height, step, width,
                                      rows + k * ld);
    });
    return;
  }
#endif
  detail::for_each_tap(g, [&](Index k, Index start) {
    for (Index s = 0; s < n; ++s) {
      const Scalar* in = phases + s * g.phase_values() + start;
      Scalar* out = rows + k * ld + s * positions;
      for (Index gy = 0; gy < g.grid_height; ++gy, in += g.phase_width(), out += width)
        for (Index i = 0; i < width; ++i) out[i] = in[i];
    }
  });
}

/// The adjoint of unfold_phases: phases = the sum of every row value over the
/// phase value it was read from. Sums tap after tap, the same on every
/// thread count.
template <typename Scalar>
void fold_phases(const PatchGeometry& g, const Scalar* rows, Index n, Scalar* phases) {
  const Index positions = g.positions(), ld = positions * n, width = g.grid_width;
  const Index values = g.phase_values(), step = g.phase_width(), height = g.grid_height;
  std::fill(phases, phases + values * n, Scalar(0));
#ifdef SCVAE_HAVE_AVX512_RUNS
  if constexpr (std::is_same_v<Scalar, float>) {
    if (detail::avx512_runs::kLanes % step == 0) {
      detail::for_each_tap(g, [=](Index k, Index start) {
        detail::avx512_runs::fold_tap(rows + k * ld, n, values, height, step, width,
                                      phases + start, phases + values * n);
      });
      return;
    }
  }
#endif
  detail::for_each_tap(g, [&](Index k, Index start) {
    const Scalar* in = rows + k * ld;
    for (Index s = 0; s < n; ++s) {
      Scalar* out = phases + s * values + start;
      for (Index gy = 0; gy < height; ++gy, out += step, in += width)
        for (Index i = 0; i < width; ++i) out[i] += in[i];
    }
  });
}

/// rows(p + positions * s, c) = batch(p + positions * c, s): a batch of
/// channels x positions samples (batch has leading dimension batch_stride)
/// as (positions * n) x channels rows.
template <typename Scalar>
void samples_to_rows(const Scalar* batch, Index batch_stride, Index positions, Index channels,
                     Index n, Scalar* rows) {
  const Index ld = positions * n;
  for (Index c = 0; c < channels; ++c)
    for (Index s = 0; s < n; ++s) {
      // A loop rather than std::copy_n: a memmove call per 49 values cost
      // more than the copy.
      const Scalar* in = batch + s * batch_stride + c * positions;
      Scalar* out = rows + c * ld + s * positions;
      for (Index p = 0; p < positions; ++p) out[p] = in[p];
    }
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

/// As rows_to_samples without a bias, added to the batch.
template <typename Scalar>
void add_rows_to_samples(const Scalar* rows, Index positions, Index channels, Index n,
                         Scalar* batch, Index batch_stride) {
  const Index ld = positions * n;
  for (Index s = 0; s < n; ++s)
    for (Index c = 0; c < channels; ++c) {
      const Scalar* in = rows + c * ld + s * positions;
      Scalar* out = batch + s * batch_stride + c * positions;
      for (Index p = 0; p < positions; ++p) out[p] += in[p];
    }
}

/// bias_gradient(c) (+)= the sum of batch's values of channel c, sample after
/// sample, position after position: the same sum on every thread count.
/// Eight channels at a time, each its own chain of additions in that order:
/// one channel's chain alone waits out each addition's latency (the conv
/// VAE's 32 x 14 x 14 sums took 14% of the transposed convolution's weight
/// gradient).
template <typename Scalar>
void channel_sums(const Scalar* batch, Index batch_stride, Index positions, Index channels,
                  Index n, Scalar* sums, bool accumulate) {
  constexpr Index kGroup = 8;
  Index c = 0;
  for (; c + kGroup <= channels; c += kGroup) {
    Scalar sum[kGroup];
    for (Index j = 0; j < kGroup; ++j) sum[j] = accumulate ? sums[c + j] : Scalar(0);
    for (Index s = 0; s < n; ++s) {
      const Scalar* in = batch + s * batch_stride + c * positions;
      for (Index p = 0; p < positions; ++p)
#pragma GCC unroll 8
        for (Index j = 0; j < kGroup; ++j) sum[j] += in[j * positions + p];
    }
    for (Index j = 0; j < kGroup; ++j) sums[c + j] = sum[j];
  }
  for (; c < channels; ++c) {
    Scalar sum = accumulate ? sums[c] : Scalar(0);
    for (Index s = 0; s < n; ++s) {
      const Scalar* in = batch + s * batch_stride + c * positions;
      for (Index p = 0; p < positions; ++p) sum += in[p];
    }
    sums[c] = sum;
  }
}

}  // namespace scvae
