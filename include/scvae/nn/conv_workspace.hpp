#pragma once
// A convolution's scratch (ConvWorkspace) and how a chunk of samples is cut
// into blocks for it, shared by Conv2d and ConvTranspose2d: which of their
// products take the direct paths (kernels/direct_convolution.hpp and its
// adjoint and weight gradient), and the buffers of the unfolding path
// (kernels/im2col.hpp) for the others.

#include <algorithm>
#include <string>
#include <type_traits>
#include <vector>

#include "scvae/core/check.hpp"
#include "scvae/core/precision.hpp"
#include "scvae/kernels/direct_convolution.hpp"
#include "scvae/kernels/direct_convolution_adjoint.hpp"
#include "scvae/kernels/direct_weight_gradient.hpp"
#include "scvae/kernels/gemm_in_precision.hpp"
#include "scvae/kernels/im2col.hpp"
#include "scvae/nn/module.hpp"

namespace scvae::detail {

/// Whether a convolution's forward-shaped product (Conv2d's forward,
/// ConvTranspose2d's input gradient) takes the direct path: float, fp32
/// products (bf16 keeps its packed GEMM), a geometry the kernel takes.
template <typename Scalar>
bool uses_direct_convolution(const PatchGeometry& geometry, Precision precision) {
  return std::is_same_v<Scalar, float> && precision == Precision::Fp32 &&
         direct_convolution_applies(geometry);
}

/// Whether the adjoint-shaped product (Conv2d's input gradient,
/// ConvTranspose2d's forward) takes the direct path.
template <typename Scalar>
bool uses_direct_convolution_adjoint(const PatchGeometry& geometry, Precision precision) {
  return std::is_same_v<Scalar, float> && precision == Precision::Fp32 &&
         direct_convolution_adjoint_applies(geometry);
}

/// A convolution's scratch: the direct paths' buffers, and for the
/// unfolding path one block of a chunk's samples' phase images, unfolded
/// patches and channel rows. Grows to the largest block and stays.
template <typename Scalar>
struct ConvWorkspace : ModuleWorkspace {
  std::vector<Scalar> phases;        ///< block * phase_values().
  std::vector<Scalar> patches;       ///< (positions * block) x patch size.
  std::vector<Scalar> rows;          ///< (positions * block) x channels.
  Bf16Operands bf16;                 ///< A product's packed operands under Bf16.
  DirectConvolution direct;          ///< The direct path's buffers (float only).
  DirectConvolutionAdjoint adjoint;  ///< Those of its adjoint (float only).
  DirectWeightGradient weights;      ///< Those of its weight gradient (float only).

  /// The buffers of the products of `precision`: the direct paths' where
  /// they run, the unfolding path's where one of them does not (the
  /// adjoint with fewer than 16 image channels, bf16, double).
  void reserve(const PatchGeometry& geometry, Index block, Index channels, Precision precision) {
    const bool direct_forward = uses_direct_convolution<Scalar>(geometry, precision);
    if (direct_forward) {
      direct.reserve(geometry, channels);
      weights.reserve(geometry, channels);
    }
    const bool direct_adjoint = uses_direct_convolution_adjoint<Scalar>(geometry, precision);
    if (direct_adjoint) adjoint.reserve(geometry, channels);
    if (direct_forward && direct_adjoint) return;
    grow(phases, block * geometry.phase_values());
    grow(patches, geometry.positions() * block * geometry.patch_size());
    grow(rows, geometry.positions() * block * channels);
  }

  /// out.col(s) = (or +=, with `accumulate`) the convolution of images.col(s)
  /// with `filters` (patch x channels), + bias (nullptr: none), for every
  /// sample, on the direct path (kernels/direct_convolution.hpp); the same
  /// bits as unfolding and the GEMM. Only where uses_direct_convolution().
  void convolve(const PatchGeometry& geometry, const Scalar* filters, Index channels,
                const ConstMatrixRef<Scalar>& images, const Scalar* bias, MatrixRef<Scalar>& out,
                bool accumulate) {
    if constexpr (std::is_same_v<Scalar, float>) {
      direct.pack(geometry, filters, channels);
      for (Index s = 0; s < images.cols(); ++s)
        direct.run(geometry, channels, images.data() + s * images.outerStride(), bias,
                   out.data() + s * out.outerStride(), accumulate);
    } else {
      (void)geometry, (void)filters, (void)channels, (void)images, (void)bias, (void)out,
          (void)accumulate;
    }
  }

  /// gradient (patch x channels) = (or +=, with `accumulate`) the sum over
  /// the samples of images.col(first ..) (count of them) of each tap's
  /// pixels times the grid values of grids.col(first ..): a convolution's
  /// weight gradient for one block, on the direct path
  /// (kernels/direct_weight_gradient.hpp); the same bits as unfolding and
  /// the GEMM. Only where uses_direct_convolution().
  void weight_gradient(const PatchGeometry& geometry, Index channels,
                       const ConstMatrixRef<Scalar>& images, const ConstMatrixRef<Scalar>& grids,
                       Index first, Index count, Scalar* gradient, bool accumulate) {
    if constexpr (std::is_same_v<Scalar, float>) {
      weights.run(geometry, channels, images.data() + first * images.outerStride(),
                  images.outerStride(), grids.data() + first * grids.outerStride(),
                  grids.outerStride(), count, gradient, accumulate);
    } else {
      (void)geometry, (void)channels, (void)images, (void)grids, (void)first, (void)count,
          (void)gradient, (void)accumulate;
    }
  }

  /// images.col(s) = (or +=, with `accumulate`) the adjoint of convolve():
  /// grids.col(s) (channels x positions) spread through `filters` onto the
  /// image, for every sample, on the direct path
  /// (kernels/direct_convolution_adjoint.hpp); the same bits as the GEMM
  /// and folding. Only where uses_direct_convolution_adjoint().
  void convolve_adjoint(const PatchGeometry& geometry, const Scalar* filters, Index channels,
                        const ConstMatrixRef<Scalar>& grids, MatrixRef<Scalar>& images,
                        bool accumulate) {
    if constexpr (std::is_same_v<Scalar, float>) {
      adjoint.pack(geometry, filters, channels);
      for (Index s = 0; s < grids.cols(); ++s)
        adjoint.run(geometry, channels, grids.data() + s * grids.outerStride(),
                    images.data() + s * images.outerStride(), accumulate);
    } else {
      (void)geometry, (void)filters, (void)channels, (void)grids, (void)images, (void)accumulate;
    }
  }

  /// The patches of images.col(first .. first + count - 1) into `patches`,
  /// through their phase images in `phases`.
  void unfold(const PatchGeometry& geometry, const ConstMatrixRef<Scalar>& images, Index first,
              Index count) {
    split_phases(geometry, images.data() + first * images.outerStride(), images.outerStride(),
                 count, phases.data());
    unfold_phases(geometry, phases.data(), count, patches.data());
  }

  /// batch.col(first .. first + count - 1), `channels` x positions each, into `rows`.
  void take_rows(const PatchGeometry& geometry, const ConstMatrixRef<Scalar>& batch, Index channels,
                 Index first, Index count) {
    samples_to_rows(batch.data() + first * batch.outerStride(), batch.outerStride(),
                    geometry.positions(), channels, count, rows.data());
  }

 private:
  static void grow(std::vector<Scalar>& buffer, Index size) {
    if (static_cast<Index>(buffer.size()) < size) buffer.resize(static_cast<std::size_t>(size));
  }
};

/// Samples per block of a chunk: as many as keep one block's patches within
/// kConvBlockBytes, so that the unfolded rows are still in cache when the
/// GEMM reads them (a 128-sample chunk's 12.8 MB of patches ran its products
/// at 60-70 GFLOP/s against about 85 for 1-2 MB blocks on a 512 KB-L2 core).
inline constexpr Index kConvBlockBytes = Index(1) << 20;

inline Index conv_block_samples(const PatchGeometry& geometry, Index scalar_bytes, Index n) {
  const Index per_sample = geometry.positions() * geometry.patch_size() * scalar_bytes;
  return std::max<Index>(1, std::min(n, kConvBlockBytes / std::max<Index>(1, per_sample)));
}

/// Blocks of a forward or input-gradient pass, whose product reads or
/// writes `channels` values per position besides the patches: as few as
/// keep each block's patches and rows together within kConvBlockBytes. Few
/// channels of wide patches change little (the conv VAE's 32 -> 64 layers:
/// 8 blocks of 8 samples in a 64-sample chunk instead of 6 of 10 and one of 4);
/// many channels of narrow patches keep blocks in L2 that overflowed it (its
/// 1 -> 32 and 32 -> 1 layers: 3 blocks instead of 1, their forward passes
/// 0.79x and 0.78x on a 2 MiB-L2 Xeon). Each value of these products is a sum
/// over the patch or the channels, never over samples, so the blocks do not
/// change its bits; the weight gradients, summed over samples block after
/// block, keep conv_block_samples' blocks. No block is larger than those,
/// for which the workspace is reserved. None for no samples.
inline Index conv_pass_blocks(const PatchGeometry& geometry, Index channels, Index scalar_bytes,
                              Index n) {
  const Index per_sample = geometry.positions() * (geometry.patch_size() + channels) * scalar_bytes;
  const Index largest = std::max<Index>(1, kConvBlockBytes / std::max<Index>(1, per_sample));
  return (n + largest - 1) / largest;
}

/// Calls run(first sample, samples) for `blocks` consecutive blocks covering
/// 0 .. n-1 whose sizes differ by at most one (n >= blocks >= 0).
template <typename Run>
void for_each_even_block(Index n, Index blocks, Run&& run) {
  for (Index b = 0; b < blocks; ++b) {
    const Index first = n * b / blocks;
    run(first, n * (b + 1) / blocks - first);
  }
}

/// Calls run(first sample, samples) for consecutive blocks of `block`
/// samples covering 0 .. n-1.
template <typename Run>
void for_each_sample_block(Index n, Index block, Run&& run) {
  for (Index first = 0; first < n; first += block) run(first, std::min(block, n - first));
}

template <typename Scalar>
ConvWorkspace<Scalar>& conv_workspace(ModuleWorkspace* workspace, const char* what) {
  auto* ws = dynamic_cast<ConvWorkspace<Scalar>*>(workspace);
  if (ws == nullptr)
    throw ArgumentError(std::string(what) + ": expected the workspace from its make_workspace()");
  return *ws;
}

}  // namespace scvae::detail
