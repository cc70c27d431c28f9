#pragma once
// A 2-D convolution (cross-correlation, as PyTorch's nn.Conv2d): out_channels
// filters of in_channels x kernel, moved by stride over the input padded with
// zeros, plus a bias per output channel. Input and output are (channels,
// height, width) samples, one per column (nn/shape.hpp).
//
// Parameters: the filters as a column-major (in_channels * kh * kw) x
// out_channels matrix, which is PyTorch's weight (out, in, kh, kw) in its
// row-major order, then the bias. A chunk of a batch runs as three
// products. In float with fp32 products on AVX-512 they read each padded
// sample where it lies (kernels/direct_convolution.hpp for forward(),
// direct_convolution_adjoint.hpp for the input gradient from 16 input
// channels, direct_weight_gradient.hpp); otherwise, block of samples after
// block, the patches are unfolded into rows (kernels/im2col.hpp) for our
// GEMM kernels, again for the weight gradient, and folded back for the
// input gradient. Both give the same bits.

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "scvae/core/check.hpp"
#include "scvae/kernels/gemm_in_precision.hpp"
#include "scvae/kernels/im2col.hpp"
#include "scvae/nn/conv_options.hpp"
#include "scvae/nn/conv_workspace.hpp"
#include "scvae/nn/module.hpp"

namespace scvae {
namespace detail {

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
        .reserve(geometry_, block_samples(columns), options_.out_channels, precision_);
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
                InputGradient<Scalar> input_gradient, ModuleWorkspace* workspace) const override {
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
    const bool direct = detail::uses_direct_convolution<Scalar>(geometry_, precision_);
    detail::for_each_sample_block(n, block_samples(n), [&](Index first, Index count) {
      const bool added = write == GradientWrite::Add || first > 0;
      if (direct)
        return ws.weight_gradient(geometry_, options_.out_channels, input, output_gradient, first,
                                  count, gradient, added);
      const Index rows = geometry_.positions() * count;
      ws.unfold(geometry_, input, first, count);
      ws.take_rows(geometry_, output_gradient, options_.out_channels, first, count);
      detail::gemm_in_precision<true, false>(
          precision_, ws.bf16, geometry_.patch_size(), options_.out_channels, rows,
          ws.patches.data(), rows, ws.rows.data(), rows, gradient, geometry_.patch_size(),
          added ? detail::ProductWrite::Add : detail::ProductWrite::Overwrite);
    });
    channel_sums(output_gradient.data(), output_gradient.outerStride(), geometry_.positions(),
                 options_.out_channels, n, gradient + weight_count(), write == GradientWrite::Add);
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
