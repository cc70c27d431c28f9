#pragma once
// A 2-D transposed convolution (PyTorch's nn.ConvTranspose2d): the adjoint of
// a Conv2d from out_channels to in_channels with the same kernel, stride and
// padding, plus a bias per output channel. An input of H x W gives
// (H - 1) * stride - 2 * padding + kernel + output_padding rows (likewise
// columns), so that kernel 4, stride 2, padding 1 doubles 7 -> 14 -> 28.
//
// Parameters: the filters as a column-major (out_channels * kh * kw) x
// in_channels matrix, which is PyTorch's weight (in, out, kh, kw) in its
// row-major order, then the bias. Each input position spreads its channels
// through the filters into a patch of the output: one matrix product makes
// the patches of a chunk's rows, and folding them (kernels/im2col.hpp) sums
// the overlaps. Where Conv2d's products read their data directly (float,
// fp32 products, AVX-512), so do these: the forward pass is Conv2d's
// input gradient (direct_convolution_adjoint.hpp, from 16 output
// channels), the input gradient Conv2d's forward pass
// (direct_convolution.hpp), and the weight gradient reads the output
// gradient and the input (direct_weight_gradient.hpp).

#include <algorithm>
#include <memory>
#include <string>

#include "scvae/nn/conv2d.hpp"

namespace scvae {

template <typename Scalar_>
class ConvTranspose2dT : public ModuleT<Scalar_> {
 public:
  using Scalar = Scalar_;
  using Base = ModuleT<Scalar>;

  ConvTranspose2dT(const Shape& input, const ConvOptions& options)
      : Base(input, output_shape_for(input, options)),
        options_(options),
        // The patches are those of a convolution of the output onto the input grid.
        geometry_(detail::patch_geometry(this->output_shape(), input, options)) {}
  ConvTranspose2dT(const Shape& input, Index out_channels, Extent kernel, Extent stride = 1,
                   Extent padding = 0, Extent output_padding = 0)
      : ConvTranspose2dT(input,
                         ConvOptions{out_channels, kernel, stride, padding, output_padding}) {}

  const ConvOptions& options() const { return options_; }
  const PatchGeometry& geometry() const { return geometry_; }

  std::string token() const override {
    return "conv_transpose2d(" + detail::conv_arguments_text(options_, true) + ")";
  }
  std::unique_ptr<Base> clone() const override { return std::make_unique<ConvTranspose2dT>(*this); }
  /// The gradients read the input and the output gradient only.
  bool backward_reads_output() const override { return false; }
  Index parameter_count() const override { return weight_count() + options_.out_channels; }
  double parameter_gradient_cost() const override {
    return static_cast<double>(weight_count() * geometry_.positions());
  }

  void initialize(Scalar* parameters, Rng& rng, const InitOptions& options) const override {
    const double taps = static_cast<double>(options_.kernel.height * options_.kernel.width);
    detail::initialize_filters(parameters, weight_count(), options_.out_channels,
                               static_cast<double>(geometry_.patch_size()),
                               taps * static_cast<double>(in_channels()), rng, options);
  }

  /// Bf16 runs the three products on bf16 operands with float sums
  /// (kernels/gemm_in_precision.hpp); unfolding and folding stay float.
  void set_precision(Precision precision) override {
    detail::check_precision_for<Scalar>(precision, "conv_transpose2d");
    precision_ = precision;
  }

  std::unique_ptr<ModuleWorkspace> make_workspace() const override {
    return std::make_unique<detail::ConvWorkspace<Scalar>>();
  }
  void prepare(ModuleWorkspace* workspace, Index columns) const override {
    detail::conv_workspace<Scalar>(workspace, "conv_transpose2d")
        .reserve(geometry_, block_samples(columns), in_channels(), precision_);
  }

  void forward(const Scalar* parameters, const ConstMatrixRef<Scalar>& input,
               MatrixRef<Scalar> output, ModuleWorkspace* workspace) const override {
    detail::check_rows("conv_transpose2d input", input.rows(), this->inputs());
    detail::check_shape("conv_transpose2d output", output.rows(), output.cols(), this->outputs(),
                        input.cols());
    auto& ws = detail::conv_workspace<Scalar>(workspace, "conv_transpose2d");
    const Index n = input.cols();
    prepare(&ws, n);
    set_bias(parameters + weight_count(), output);
    if (detail::uses_direct_convolution_adjoint<Scalar>(geometry_, precision_))
      return ws.convolve_adjoint(geometry_, parameters, in_channels(), input, output, true);
    detail::for_each_even_block(n, pass_blocks(n), [&](Index first, Index count) {
      const Index rows = geometry_.positions() * count;
      ws.take_rows(geometry_, input, in_channels(), first, count);
      // patches (positions * count x patch) = rows * filters^T, folded onto the output
      detail::gemm_in_precision<false, true>(precision_, ws.bf16, rows, geometry_.patch_size(),
                                             in_channels(), ws.rows.data(), rows, parameters,
                                             geometry_.patch_size(), ws.patches.data(), rows,
                                             detail::ProductWrite::Overwrite);
      fold_phases(geometry_, ws.patches.data(), count, ws.phases.data());
      merge_phases_add(geometry_, ws.phases.data(), count,
                       output.data() + first * output.outerStride(), output.outerStride());
    });
  }

  void backward(const Scalar* parameters, const ConstMatrixRef<Scalar>& input,
                const ConstMatrixRef<Scalar>& /*output*/, MatrixRef<Scalar> output_gradient,
                InputGradient<Scalar> input_gradient, ModuleWorkspace* workspace) const override {
    const Index n = input.cols();
    detail::check_shape("conv_transpose2d output gradient", output_gradient.rows(),
                        output_gradient.cols(), this->outputs(), n);
    if (!input_gradient.wanted()) return;
    MatrixRef<Scalar>& target = *input_gradient.matrix;
    detail::check_shape("conv_transpose2d input gradient", target.rows(), target.cols(),
                        this->inputs(), n);
    auto& ws = detail::conv_workspace<Scalar>(workspace, "conv_transpose2d");
    prepare(&ws, n);
    if (detail::uses_direct_convolution<Scalar>(geometry_, precision_))
      return ws.convolve(geometry_, parameters, in_channels(), output_gradient,
                         static_cast<const Scalar*>(nullptr), target,
                         input_gradient.write == GradientWrite::Add);
    detail::for_each_even_block(n, pass_blocks(n), [&](Index first, Index count) {
      const Index rows = geometry_.positions() * count;
      ws.unfold(geometry_, output_gradient, first, count);
      detail::gemm_in_precision<false, false>(precision_, ws.bf16, rows, in_channels(),
                                              geometry_.patch_size(), ws.patches.data(), rows,
                                              parameters, geometry_.patch_size(), ws.rows.data(),
                                              rows, detail::ProductWrite::Overwrite);
      Scalar* samples = target.data() + first * target.outerStride();
      if (input_gradient.write == GradientWrite::Overwrite)
        rows_to_samples(ws.rows.data(), geometry_.positions(), in_channels(), count,
                        static_cast<const Scalar*>(nullptr), samples, target.outerStride());
      else
        add_rows_to_samples(ws.rows.data(), geometry_.positions(), in_channels(), count, samples,
                            target.outerStride());
    });
  }

  /// dL/d(filters) = (unfolded output gradient)^T (input rows), block after
  /// block; dL/d(bias) = the sums of each output channel's gradient.
  void parameter_gradient(const ConstMatrixRef<Scalar>& input,
                          const ConstMatrixRef<Scalar>& output_gradient, Scalar* gradient,
                          GradientWrite write, ModuleWorkspace* workspace) const override {
    const Index n = input.cols();
    detail::check_shape("conv_transpose2d output gradient", output_gradient.rows(),
                        output_gradient.cols(), this->outputs(), n);
    auto& ws = detail::conv_workspace<Scalar>(workspace, "conv_transpose2d");
    prepare(&ws, n);
    const bool direct = detail::uses_direct_convolution<Scalar>(geometry_, precision_);
    detail::for_each_sample_block(n, block_samples(n), [&](Index first, Index count) {
      const bool added = write == GradientWrite::Add || first > 0;
      if (direct)
        return ws.weight_gradient(geometry_, in_channels(), output_gradient, input, first, count,
                                  gradient, added);
      const Index rows = geometry_.positions() * count;
      ws.unfold(geometry_, output_gradient, first, count);
      ws.take_rows(geometry_, input, in_channels(), first, count);
      detail::gemm_in_precision<true, false>(
          precision_, ws.bf16, geometry_.patch_size(), in_channels(), rows, ws.patches.data(), rows,
          ws.rows.data(), rows, gradient, geometry_.patch_size(),
          added ? detail::ProductWrite::Add : detail::ProductWrite::Overwrite);
    });
    const Shape& out = this->output_shape();
    channel_sums(output_gradient.data(), output_gradient.outerStride(), out.height * out.width,
                 options_.out_channels, n, gradient + weight_count(), write == GradientWrite::Add);
  }

 private:
  Index in_channels() const { return this->input_shape().channels; }
  Index weight_count() const { return geometry_.patch_size() * in_channels(); }
  Index block_samples(Index n) const {
    return detail::conv_block_samples(geometry_, static_cast<Index>(sizeof(Scalar)), n);
  }
  Index pass_blocks(Index n) const {
    return detail::conv_pass_blocks(geometry_, in_channels(), static_cast<Index>(sizeof(Scalar)),
                                    n);
  }

  void set_bias(const Scalar* bias, MatrixRef<Scalar>& output) const {
    const Index area = this->output_shape().height * this->output_shape().width;
    for (Index s = 0; s < output.cols(); ++s)
      for (Index c = 0; c < options_.out_channels; ++c)
        output.col(s).segment(c * area, area).setConstant(bias[c]);
  }

  static Shape output_shape_for(const Shape& input, const ConvOptions& o) {
    detail::check_shape_sizes("conv_transpose2d input shape", input);
    detail::check_positive("conv_transpose2d out channels", o.out_channels);
    for (Index v : {o.kernel.height, o.kernel.width, o.stride.height, o.stride.width})
      detail::check_positive("conv_transpose2d kernel and stride", v);
    for (Index v :
         {o.padding.height, o.padding.width, o.output_padding.height, o.output_padding.width})
      if (v < 0 || v >= Index(1) << 40)
        throw ArgumentError("conv_transpose2d padding: expected sizes >= 0, got " +
                            o.padding.text() + " and output padding " + o.output_padding.text());
    if (o.output_padding.height >= o.stride.height || o.output_padding.width >= o.stride.width)
      throw ArgumentError("conv_transpose2d: expected an output padding below the stride " +
                          o.stride.text() + ", got " + o.output_padding.text());
    if (input.height > (Index(1) << 40) / o.stride.height ||
        input.width > (Index(1) << 40) / o.stride.width)
      throw ArgumentError("conv_transpose2d: input " + input.text() + " at stride " +
                          o.stride.text() + " is too large");
    const Index height = (input.height - 1) * o.stride.height - 2 * o.padding.height +
                         o.kernel.height + o.output_padding.height;
    const Index width = (input.width - 1) * o.stride.width - 2 * o.padding.width + o.kernel.width +
                        o.output_padding.width;
    if (height <= 0 || width <= 0)
      throw ShapeError("conv_transpose2d: input " + input.text() + " with kernel " +
                       o.kernel.text() + ", stride " + o.stride.text() + " and padding " +
                       o.padding.text() + " leaves no output");
    detail::check_filter_count("conv_transpose2d",
                               o.out_channels * o.kernel.height * o.kernel.width, input.channels);
    const Shape out(o.out_channels, height, width);
    detail::check_shape_sizes("conv_transpose2d output shape", out);
    return out;
  }

  ConvOptions options_;
  PatchGeometry geometry_;
  Precision precision_ = Precision::Fp32;
};

using ConvTranspose2d = ConvTranspose2dT<float>;

}  // namespace scvae
