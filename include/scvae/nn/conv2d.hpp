#pragma once
// A 2-D convolution (cross-correlation, as PyTorch's nn.Conv2d): out_channels
// filters of in_channels x kernel, moved by stride over the input padded with
// zeros, plus a bias per output channel. Input and output are (channels,
// height, width) samples, one per column (nn/shape.hpp).
//
// Parameters: the filters as a column-major (in_channels * kh * kw) x
// out_channels matrix, which is PyTorch's weight (out, in, kh, kw) in its
// row-major order, then the bias. A chunk of a batch runs as three matrix
// products, block of samples after block: forward() reads each padded
// sample directly (kernels/direct_convolution.hpp, float on AVX-512), or
// unfolds the patches into rows (kernels/im2col.hpp) for our GEMM kernels;
// the weight gradient unfolds them too, and the input gradient folds its
// patches back.

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "scvae/core/check.hpp"
#include "scvae/kernels/direct_convolution.hpp"
#include "scvae/kernels/direct_convolution_adjoint.hpp"
#include "scvae/kernels/gemm_in_precision.hpp"
#include "scvae/kernels/im2col.hpp"
#include "scvae/nn/conv_options.hpp"
#include "scvae/nn/module.hpp"

namespace scvae {
namespace detail {

/// A convolution's scratch for one block of a chunk's samples: their phase
/// images, unfolded patches and channel rows. Grows to the largest block and
/// stays.
template <typename Scalar>
struct ConvWorkspace : ModuleWorkspace {
  std::vector<Scalar> phases;   ///< block * phase_values().
  std::vector<Scalar> patches;  ///< (positions * block) x patch size.
  std::vector<Scalar> rows;     ///< (positions * block) x channels.
  Bf16Operands bf16;            ///< A product's packed operands under Bf16.
  DirectConvolution direct;     ///< The direct path's buffers (float only).
  DirectConvolutionAdjoint adjoint;  ///< Those of its adjoint (float only).

  void reserve(const PatchGeometry& geometry, Index block, Index channels) {
    grow(phases, block * geometry.phase_values());
    grow(patches, geometry.positions() * block * geometry.patch_size());
    grow(rows, geometry.positions() * block * channels);
    if (std::is_same_v<Scalar, float> && direct_convolution_applies(geometry)) {
      direct.reserve(geometry, channels);
      if (direct_convolution_adjoint_applies(geometry)) adjoint.reserve(geometry, channels);
    }
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
  void take_rows(const PatchGeometry& geometry, const ConstMatrixRef<Scalar>& batch,
                 Index channels, Index first, Index count) {
    samples_to_rows(batch.data() + first * batch.outerStride(), batch.outerStride(),
                    geometry.positions(), channels, count, rows.data());
  }

 private:
  static void grow(std::vector<Scalar>& buffer, Index size) {
    if (static_cast<Index>(buffer.size()) < size) buffer.resize(static_cast<std::size_t>(size));
  }
};

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

/// Filters of fan_in inputs and fan_out outputs per position, then `biases`:
/// HeGlorot draws He-uniform before a ReLU, Glorot-uniform otherwise, zero
/// bias; PyTorch U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for both, as its
/// convolutions (its fan_in of a transposed one counts its output channels).
template <typename Scalar>
void initialize_filters(Scalar* parameters, Index weights, Index biases, double fan_in,
                        double fan_out, Rng& rng, const InitOptions& options) {
  double limit = 1.0 / std::sqrt(fan_in);
  if (options.scheme == Initialization::HeGlorot)
    limit = options.followed_by == Activation::ReLU ? std::sqrt(6.0 / fan_in)
                                                    : std::sqrt(6.0 / (fan_in + fan_out));
  for (Index i = 0; i < weights; ++i)
    parameters[i] = static_cast<Scalar>((2.0 * rng.uniform() - 1.0) * limit);
  for (Index i = weights; i < weights + biases; ++i)
    parameters[i] = options.scheme == Initialization::HeGlorot
                        ? Scalar(0)
                        : static_cast<Scalar>((2.0 * rng.uniform() - 1.0) * limit);
}

/// Where the kernel of `options` reads `image` at each position of `grid`
/// (the output of a convolution, the input of a transposed one).
inline PatchGeometry patch_geometry(const Shape& image, const Shape& grid,
                                    const ConvOptions& options) {
  PatchGeometry g;
  g.channels = image.channels;
  g.image_height = image.height;
  g.image_width = image.width;
  g.kernel_height = options.kernel.height;
  g.kernel_width = options.kernel.width;
  g.stride_height = options.stride.height;
  g.stride_width = options.stride.width;
  g.padding_height = options.padding.height;
  g.padding_width = options.padding.width;
  g.grid_height = grid.height;
  g.grid_width = grid.width;
  return g;
}

/// ArgumentError unless a filter bank of `patch` x `outputs` fits 2^40 parameters.
inline void check_filter_count(const std::string& what, Index patch, Index outputs) {
  if (patch > ((Index(1) << 40) - outputs) / outputs)
    throw ArgumentError(what + ": " + std::to_string(outputs) + " filters of " +
                        std::to_string(patch) + " values need more than 2^40 parameters");
}

}  // namespace detail

template <typename Scalar_>
class Conv2dT : public ModuleT<Scalar_> {
 public:
  using Scalar = Scalar_;
  using Base = ModuleT<Scalar>;

  Conv2dT(const Shape& input, const ConvOptions& options)
      : Base(input, output_shape_for(input, options)),
        options_(options),
        geometry_(detail::patch_geometry(input, this->output_shape(), options)) {}
  Conv2dT(const Shape& input, Index out_channels, Extent kernel, Extent stride = 1,
          Extent padding = 0)
      : Conv2dT(input, ConvOptions{out_channels, kernel, stride, padding, 0}) {}

  const ConvOptions& options() const { return options_; }
  const PatchGeometry& geometry() const { return geometry_; }

  std::string token() const override {
    return "conv2d(" + detail::conv_arguments_text(options_, false) + ")";
  }
  std::unique_ptr<Base> clone() const override { return std::make_unique<Conv2dT>(*this); }
  /// The gradients read the input (unfolded again) and the output gradient only.
  bool backward_reads_output() const override { return false; }
  Index parameter_count() const override { return weight_count() + options_.out_channels; }
  double parameter_gradient_cost() const override {
    return static_cast<double>(weight_count() * geometry_.positions());
  }

  void initialize(Scalar* parameters, Rng& rng, const InitOptions& options) const override {
    const double taps = static_cast<double>(options_.kernel.height * options_.kernel.width);
    detail::initialize_filters(parameters, weight_count(), options_.out_channels,
                               static_cast<double>(geometry_.patch_size()),
                               taps * static_cast<double>(options_.out_channels), rng, options);
  }

  /// Bf16 runs the three products on bf16 operands with float sums
  /// (kernels/gemm_in_precision.hpp); unfolding and folding stay float.
  void set_precision(Precision precision) override {
    detail::check_precision_for<Scalar>(precision, "conv2d");
    precision_ = precision;
  }

  std::unique_ptr<ModuleWorkspace> make_workspace() const override {
    return std::make_unique<detail::ConvWorkspace<Scalar>>();
  }
  void prepare(ModuleWorkspace* workspace, Index columns) const override {
    detail::conv_workspace<Scalar>(workspace, "conv2d")
        .reserve(geometry_, block_samples(columns), options_.out_channels);
  }

  void forward(const Scalar* parameters, const ConstMatrixRef<Scalar>& input,
               MatrixRef<Scalar> output, ModuleWorkspace* workspace) const override {
    detail::check_rows("conv2d input", input.rows(), this->inputs());
    detail::check_shape("conv2d output", output.rows(), output.cols(), this->outputs(),
                        input.cols());
    auto& ws = detail::conv_workspace<Scalar>(workspace, "conv2d");
    const Index n = input.cols();
    prepare(&ws, n);
    if (detail::uses_direct_convolution<Scalar>(geometry_, precision_))
      return ws.convolve(geometry_, parameters, options_.out_channels, input,
                         parameters + weight_count(), output, false);
    detail::for_each_even_block(n, pass_blocks(n), [&](Index first, Index count) {
      const Index rows = geometry_.positions() * count;
      ws.unfold(geometry_, input, first, count);
      // rows (positions * count x out) = patches (positions * count x patch) * filters
      detail::gemm_in_precision<false, false>(precision_, ws.bf16, rows, options_.out_channels,
                                              geometry_.patch_size(), ws.patches.data(), rows,
                                              parameters, geometry_.patch_size(), ws.rows.data(),
                                              rows, detail::ProductWrite::Overwrite);
      rows_to_samples(ws.rows.data(), geometry_.positions(), options_.out_channels, count,
                      parameters + weight_count(), output.data() + first * output.outerStride(),
                      output.outerStride());
    });
  }

  void backward(const Scalar* parameters, const ConstMatrixRef<Scalar>& input,
                const ConstMatrixRef<Scalar>& /*output*/, MatrixRef<Scalar> output_gradient,
                InputGradient<Scalar> input_gradient,
                ModuleWorkspace* workspace) const override {
    const Index n = input.cols();
    detail::check_shape("conv2d output gradient", output_gradient.rows(), output_gradient.cols(),
                        this->outputs(), n);
    if (!input_gradient.wanted()) return;
    MatrixRef<Scalar>& target = *input_gradient.matrix;
    detail::check_shape("conv2d input gradient", target.rows(), target.cols(), this->inputs(), n);
    auto& ws = detail::conv_workspace<Scalar>(workspace, "conv2d");
    prepare(&ws, n);
    if (detail::uses_direct_convolution_adjoint<Scalar>(geometry_, precision_))
      return ws.convolve_adjoint(geometry_, parameters, options_.out_channels, output_gradient,
                                 target, input_gradient.write == GradientWrite::Add);
    detail::for_each_even_block(n, pass_blocks(n), [&](Index first, Index count) {
      const Index rows = geometry_.positions() * count;
      ws.take_rows(geometry_, output_gradient, options_.out_channels, first, count);
      // patch gradient (positions * count x patch) = rows * filters^T
      detail::gemm_in_precision<false, true>(precision_, ws.bf16, rows, geometry_.patch_size(),
                                             options_.out_channels, ws.rows.data(), rows,
                                             parameters, geometry_.patch_size(), ws.patches.data(),
                                             rows, detail::ProductWrite::Overwrite);
      fold_phases(geometry_, ws.patches.data(), count, ws.phases.data());
      Scalar* images = target.data() + first * target.outerStride();
      if (input_gradient.write == GradientWrite::Overwrite)
        merge_phases(geometry_, ws.phases.data(), count, images, target.outerStride());
      else
        merge_phases_add(geometry_, ws.phases.data(), count, images, target.outerStride());
    });
  }

  /// dL/d(filters) = patches^T rows, block after block (the patches unfolded
  /// again: cheaper than keeping a chunk's), and dL/d(bias) = the sums of
  /// each output channel's gradient.
  void parameter_gradient(const ConstMatrixRef<Scalar>& input,
                          const ConstMatrixRef<Scalar>& output_gradient, Scalar* gradient,
                          GradientWrite write, ModuleWorkspace* workspace) const override {
    const Index n = input.cols();
    detail::check_shape("conv2d output gradient", output_gradient.rows(), output_gradient.cols(),
                        this->outputs(), n);
    auto& ws = detail::conv_workspace<Scalar>(workspace, "conv2d");
    prepare(&ws, n);
    detail::for_each_sample_block(n, block_samples(n), [&](Index first, Index count) {
      const Index rows = geometry_.positions() * count;
      ws.unfold(geometry_, input, first, count);
      ws.take_rows(geometry_, output_gradient, options_.out_channels, first, count);
      detail::gemm_in_precision<true, false>(
          precision_, ws.bf16, geometry_.patch_size(), options_.out_channels, rows,
          ws.patches.data(), rows, ws.rows.data(), rows, gradient, geometry_.patch_size(),
          write == GradientWrite::Add || first > 0 ? detail::ProductWrite::Add
                                                   : detail::ProductWrite::Overwrite);
    });
    channel_sums(output_gradient.data(), output_gradient.outerStride(), geometry_.positions(),
                 options_.out_channels, n, gradient + weight_count(),
                 write == GradientWrite::Add);
  }

 private:
  Index weight_count() const { return geometry_.patch_size() * options_.out_channels; }
  Index block_samples(Index n) const {
    return detail::conv_block_samples(geometry_, static_cast<Index>(sizeof(Scalar)), n);
  }
  Index pass_blocks(Index n) const {
    return detail::conv_pass_blocks(geometry_, options_.out_channels,
                                    static_cast<Index>(sizeof(Scalar)), n);
  }

  static Shape output_shape_for(const Shape& input, const ConvOptions& o) {
    detail::check_shape_sizes("conv2d input shape", input);
    detail::check_positive("conv2d out channels", o.out_channels);
    for (Index v : {o.kernel.height, o.kernel.width, o.stride.height, o.stride.width})
      detail::check_positive("conv2d kernel and stride", v);
    if (o.padding.height < 0 || o.padding.width < 0 || o.padding.height >= Index(1) << 40 ||
        o.padding.width >= Index(1) << 40)
      throw ArgumentError("conv2d padding: expected sizes >= 0, got " + o.padding.text());
    if (!(o.output_padding == Extent(0)))
      throw ArgumentError("conv2d: output padding is for conv_transpose2d, got " +
                          o.output_padding.text());
    const Index padded_height = input.height + 2 * o.padding.height;
    const Index padded_width = input.width + 2 * o.padding.width;
    if (padded_height < o.kernel.height || padded_width < o.kernel.width)
      throw ShapeError("conv2d: a " + o.kernel.text() + " kernel does not fit input " +
                       input.text() + " padded by " + o.padding.text());
    detail::check_filter_count("conv2d", input.channels * o.kernel.height * o.kernel.width,
                               o.out_channels);
    const Shape out(o.out_channels, (padded_height - o.kernel.height) / o.stride.height + 1,
                    (padded_width - o.kernel.width) / o.stride.width + 1);
    detail::check_shape_sizes("conv2d output shape", out);
    return out;
  }

  ConvOptions options_;
  PatchGeometry geometry_;
  Precision precision_ = Precision::Fp32;
};

using Conv2d = Conv2dT<float>;

}  // namespace scvae
