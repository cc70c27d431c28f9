#include "scvae/kernels/direct_convolution.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "scvae/nn/conv2d.hpp"
#include "scvae/nn/conv_transpose2d.hpp"

#include "../test_support.hpp"
#include "bit_values.hpp"

// The direct path of the convolutions' forward-shaped products (Conv2d's
// forward, ConvTranspose2d's input gradient; kernels/direct_convolution.hpp)
// against their definition over many geometries. Built twice: with the
// test flags, where the product runs on Eigen (the sums agree to rounding),
// and in native_tests with -march=native, where on an AVX-512 machine the
// direct kernel runs and must give the bits of the unfolding path's GEMM:
// each value an FMA chain over the taps in order from zero, then the bias
// (or 0) added, or added to what the output held. Rows between the samples
// hold NaN sentinels that no write may change.

namespace scvae {
namespace direct_convolution_test {
namespace {

using Mat = Matrix<float>;

using bit_values::same_bits;
using bit_values::sentinel;
using bit_values::value_for;

constexpr Index kGap = 3;  ///< Sentinel rows below each sample.

/// n samples of `features` values, kGap sentinel rows below each.
Mat random_samples(Index features, Index n, std::uint64_t& state) {
  Mat samples = Mat::Constant(features + kGap, n, sentinel());
  for (Index s = 0; s < n; ++s)
    for (Index i = 0; i < features; ++i) samples(i, s) = value_for(state);
  return samples;
}

/// The pixel of sample s that tap (ci, ky, kx) reads at grid position (i,
/// j): 0 in the padding.
float pixel_at(const PatchGeometry& g, const Mat& images, Index s, Index ci, Index ky, Index kx,
               Index i, Index j) {
  const Index y = i * g.stride_height + ky - g.padding_height;
  const Index x = j * g.stride_width + kx - g.padding_width;
  const bool inside = y >= 0 && y < g.image_height && x >= 0 && x < g.image_width;
  return inside ? images((ci * g.image_height + y) * g.image_width + x, s) : 0.0f;
}

/// The definition: out(c, p) = the FMA chain over taps k of pixel(k, p) *
/// filters[c * taps + k] from 0, then + bias[c] (0 without), or added to
/// `before` with `accumulate`.
Mat reference(const PatchGeometry& g, Index channels, const float* filters, const float* bias,
              const Mat& images, const Mat& before, bool accumulate) {
  Mat out = before;
  const Index taps = g.patch_size();
  for (Index s = 0; s < images.cols(); ++s)
    for (Index c = 0; c < channels; ++c)
      for (Index i = 0; i < g.grid_height; ++i)
        for (Index j = 0; j < g.grid_width; ++j) {
          float sum = 0.0f;
          for (Index ci = 0; ci < g.channels; ++ci)
            for (Index ky = 0; ky < g.kernel_height; ++ky)
              for (Index kx = 0; kx < g.kernel_width; ++kx) {
                const Index k = (ci * g.kernel_height + ky) * g.kernel_width + kx;
                sum =
                    std::fma(pixel_at(g, images, s, ci, ky, kx, i, j), filters[c * taps + k], sum);
              }
          float& at = out((c * g.grid_height + i) * g.grid_width + j, s);
          at = accumulate ? at + sum : sum + (bias != nullptr ? bias[c] : 0.0f);
        }
  return out;
}

/// The adjoint's definition, the unfolding path's order: image(c, y, x) =
/// the sum from +0, tap after tap k = (c, ky, kx) that carries a grid
/// position (i, j) to the pixel, of the FMA chain over the grid's channels g
/// of grid(g, i, j) * filters[g * patch + k]; written, or added to `before`.
Mat reference_adjoint(const PatchGeometry& g, Index channels, const float* filters,
                      const Mat& grids, const Mat& before, bool accumulate) {
  Mat out = before;
  const Index patch = g.patch_size();
  for (Index s = 0; s < grids.cols(); ++s)
    for (Index c = 0; c < g.channels; ++c)
      for (Index y = 0; y < g.image_height; ++y)
        for (Index x = 0; x < g.image_width; ++x) {
          float total = 0.0f;
          for (Index ky = 0; ky < g.kernel_height; ++ky)
            for (Index kx = 0; kx < g.kernel_width; ++kx) {
              const Index row = y + g.padding_height - ky, column = x + g.padding_width - kx;
              if (row < 0 || column < 0 || row % g.stride_height != 0 ||
                  column % g.stride_width != 0)
                continue;
              const Index i = row / g.stride_height, j = column / g.stride_width;
              if (i >= g.grid_height || j >= g.grid_width) continue;
              const Index k = (c * g.kernel_height + ky) * g.kernel_width + kx;
              float chain = 0.0f;
              for (Index channel = 0; channel < channels; ++channel)
                chain = std::fma(grids((channel * g.grid_height + i) * g.grid_width + j, s),
                                 filters[channel * patch + k], chain);
              total += chain;
            }
          float& at = out((c * g.image_height + y) * g.image_width + x, s);
          at = accumulate ? at + total : total;
        }
  return out;
}

/// The weight gradient's definition, the unfolding path's order: per block
/// of the samples (conv_block_samples), gradient[c * patch + k] = the FMA
/// chain from zero over the block's samples and grid positions p of (the
/// pixel tap k reads at p) * grids(c, p), written for the first block
/// (unless `added`) and added after; then the bias: each channel's grid
/// values (of `bias_source`: the output gradient, the grid of a convolution
/// and the image of a transposed one) summed sample after sample, position
/// after position, from zero (or from the bias gradient before, when added).
std::vector<float> reference_parameter_gradient(const PatchGeometry& g, Index channels,
                                                const Mat& images, const Mat& grids,
                                                const Mat& bias_source, std::vector<float> gradient,
                                                bool added) {
  const Index patch = g.patch_size(), positions = g.positions(), n = images.cols();
  const Index block = detail::conv_block_samples(g, sizeof(float), n);
  for (Index first = 0; first < n; first += block)
    for (Index c = 0; c < channels; ++c)
      for (Index ci = 0; ci < g.channels; ++ci)
        for (Index ky = 0; ky < g.kernel_height; ++ky)
          for (Index kx = 0; kx < g.kernel_width; ++kx) {
            float chain = 0.0f;
            for (Index s = first; s < std::min(n, first + block); ++s)
              for (Index i = 0; i < g.grid_height; ++i)
                for (Index j = 0; j < g.grid_width; ++j)
                  chain = std::fma(pixel_at(g, images, s, ci, ky, kx, i, j),
                                   grids(c * positions + i * g.grid_width + j, s), chain);
            const Index k = (ci * g.kernel_height + ky) * g.kernel_width + kx;
            float& at = gradient[static_cast<std::size_t>(c * patch + k)];
            at = added || first > 0 ? at + chain : chain;
          }
  const Index bias = channels * patch, biases = static_cast<Index>(gradient.size()) - bias;
  const Index area = bias_source.rows() / std::max<Index>(1, biases);
  for (Index c = 0; c < biases; ++c) {
    float sum = added ? gradient[static_cast<std::size_t>(bias + c)] : 0.0f;
    for (Index s = 0; s < n; ++s)
      for (Index p = 0; p < area; ++p) sum += bias_source(c * area + p, s);
    gradient[static_cast<std::size_t>(bias + c)] = sum;
  }
  return gradient;
}

/// Bit for bit where the direct kernel runs (it must match the unfolding
/// path's FMA chains); to rounding on Eigen's GEMM. The sentinels always.
void expect_matches(const Mat& got, const Mat& want, Index features, const std::string& what) {
  for (Index s = 0; s < got.cols(); ++s)
    for (Index i = 0; i < got.rows(); ++i) {
      if (i >= features) {
        ASSERT_TRUE(same_bits(got(i, s), sentinel()))
            << what << ": sentinel row " << i << " of sample " << s << " written";
        continue;
      }
#ifdef SCVAE_HAVE_DIRECT_CONVOLUTION
      ASSERT_TRUE(same_bits(got(i, s), want(i, s)))
          << what << ": value " << i << " of sample " << s << " is " << got(i, s) << ", expected "
          << want(i, s);
#else
      ASSERT_NEAR(got(i, s), want(i, s), 1e-3 * (1.0 + std::abs(want(i, s))))
          << what << ": value " << i << " of sample " << s;
#endif
    }
}

struct Case {
  Index in_channels, height, width, out_channels;
  Extent kernel, stride, padding;
  std::string name() const {
    return std::to_string(in_channels) + "x" + std::to_string(height) + "x" +
           std::to_string(width) + " -> " + std::to_string(out_channels) + " kernel " +
           kernel.text() + " stride " + stride.text() + " padding " + padding.text();
  }
};

/// The case's convolution.
Conv2d conv_of(const Case& c) {
  return Conv2d(Shape(c.in_channels, c.height, c.width),
                ConvOptions{c.out_channels, c.kernel, c.stride, c.padding, 0});
}

/// The transposed convolution whose output has the case's image shape (and
/// whose input the case's convolution's output shape).
ConvTranspose2d transposed_of(const Case& c) {
  const Index rows = c.height + 2 * c.padding.height - c.kernel.height;
  const Index columns = c.width + 2 * c.padding.width - c.kernel.width;
  return ConvTranspose2d(
      Shape(c.out_channels, rows / c.stride.height + 1, columns / c.stride.width + 1),
      ConvOptions{c.in_channels, c.kernel, c.stride, c.padding,
                  Extent(rows % c.stride.height, columns % c.stride.width)});
}

/// The conv VAE's four, odd and even sizes, grids narrower and wider than a
/// tile's 7 columns (and not a multiple of them), 1 to 65 channels (one and
/// two vectors of a 32-channel block, and a block's tail), strides 1 to 3.
/// The adjoint runs directly from 16 image channels (in_channels) on.
std::vector<Case> cases() {
  std::vector<Case> all = {
      {1, 28, 28, 32, 4, 2, 1},
      {32, 14, 14, 64, 4, 2, 1},
      {64, 7, 7, 32, 4, 2, 1},
      {32, 14, 14, 1, 4, 2, 1},
      {16, 28, 28, 16, 3, 1, 1},
      {3, 9, 11, 5, 3, 1, 0},
      {2, 17, 15, 17, 3, 2, 1},
      {5, 6, 20, 33, 2, 1, 0},
      {4, 13, 13, 65, {3, 2}, {3, 2}, {2, 1}},
      {1, 5, 5, 48, 5, 1, 2},
      {7, 8, 31, 16, {1, 4}, {1, 2}, {0, 1}},
      {3, 10, 10, 7, 3, 3, 1},  // stride 3 along the rows: the unfolding path
      // Image channels past a vector for the adjoint, phases of 5 to 9 columns.
      {17, 9, 11, 5, 3, 1, 0},
      {40, 10, 17, 3, {4, 3}, 2, 1},
  };
  return all;
}

TEST(DirectConvolution, TakesStridesOneAndTwoAlongRowsInFloatAndFp32Only) {
  PatchGeometry g;
  for (Index stride : {1, 2, 3}) {
    g.stride_width = stride;
#ifdef SCVAE_HAVE_DIRECT_CONVOLUTION
    EXPECT_EQ(detail::direct_convolution_applies(g), stride < 3) << stride;
#else
    EXPECT_FALSE(detail::direct_convolution_applies(g)) << stride;
#endif
    EXPECT_FALSE(detail::uses_direct_convolution<double>(g, Precision::Fp32));
    EXPECT_FALSE(detail::uses_direct_convolution<float>(g, Precision::Bf16));
    EXPECT_EQ(detail::uses_direct_convolution<float>(g, Precision::Fp32),
              detail::direct_convolution_applies(g));
    // The adjoint's tiles hold 16 image channels a vector: not for fewer.
    for (Index channels : {1, 15, 16, 64}) {
      g.channels = channels;
      EXPECT_EQ(detail::direct_convolution_adjoint_applies(g),
                detail::direct_convolution_applies(g) && channels >= 16);
      EXPECT_FALSE(detail::uses_direct_convolution_adjoint<double>(g, Precision::Fp32));
      EXPECT_FALSE(detail::uses_direct_convolution_adjoint<float>(g, Precision::Bf16));
    }
  }
}

TEST(DirectConvolution, Conv2dForwardIsItsDefinition) {
  std::uint64_t state = 11;
  for (const Case& c : cases()) {
    const Conv2d conv = conv_of(c);
    std::vector<float> parameters(static_cast<std::size_t>(conv.parameter_count()));
    for (float& p : parameters) p = value_for(state);
    for (Index n : {1, 3}) {
      const Mat input = random_samples(conv.inputs(), n, state);
      Mat output = Mat::Constant(conv.outputs() + kGap, n, sentinel());
      const Mat want = reference(conv.geometry(), c.out_channels, parameters.data(),
                                 parameters.data() + conv.geometry().patch_size() * c.out_channels,
                                 input, output, false);
      auto workspace = conv.make_workspace();
      MatrixRef<float> out(output.topRows(conv.outputs()));
      conv.forward(parameters.data(), input.topRows(conv.inputs()), out, workspace.get());
      expect_matches(output, want, conv.outputs(), c.name() + ", n " + std::to_string(n));
      // Again in the same workspace: the padding it keeps must still be zeros.
      const Mat again = random_samples(conv.inputs(), n, state);
      conv.forward(parameters.data(), again.topRows(conv.inputs()), out, workspace.get());
      expect_matches(output,
                     reference(conv.geometry(), c.out_channels, parameters.data(),
                               parameters.data() + conv.geometry().patch_size() * c.out_channels,
                               again, output, false),
                     conv.outputs(), c.name() + ", second call");
    }
  }
}

/// `module`'s input gradient, written and added, against want(output
/// gradient, the gradient before, whether added), on random parameters.
template <typename Module, typename Want>
void expect_input_gradient(const Module& module, const std::string& name, std::uint64_t& state,
                           Want&& want) {
  std::vector<float> parameters(static_cast<std::size_t>(module.parameter_count()));
  for (float& p : parameters) p = value_for(state);
  for (GradientWrite write : {GradientWrite::Overwrite, GradientWrite::Add}) {
    const Index n = 2;
    const Mat input = random_samples(module.inputs(), n, state);
    const Mat output_gradient = random_samples(module.outputs(), n, state);
    Mat gradient = random_samples(module.inputs(), n, state);
    const Mat expected =
        want(parameters.data(), output_gradient, gradient, write == GradientWrite::Add);
    auto workspace = module.make_workspace();
    Mat output(module.outputs(), n);
    Mat upstream = output_gradient.topRows(module.outputs());
    MatrixRef<float> target(gradient.topRows(module.inputs()));
    module.backward(parameters.data(), input.topRows(module.inputs()), output, upstream,
                    InputGradient<float>{&target, write}, workspace.get());
    expect_matches(gradient, expected, module.inputs(),
                   name + (write == GradientWrite::Add ? ", added" : ", written"));
  }
}

TEST(DirectConvolution, ConvTranspose2dInputGradientIsItsDefinitionWrittenOrAdded) {
  std::uint64_t state = 12;
  for (const Case& c : cases()) {
    const ConvTranspose2d transposed = transposed_of(c);
    ASSERT_EQ(transposed.outputs(), c.in_channels * c.height * c.width) << c.name();
    expect_input_gradient(
        transposed, c.name(), state,
        [&](const float* filters, const Mat& output_gradient, const Mat& before, bool added) {
          return reference(transposed.geometry(), c.out_channels, filters, nullptr, output_gradient,
                           before, added);
        });
  }
}

TEST(DirectConvolution, Conv2dInputGradientIsItsAdjointWrittenOrAdded) {
  std::uint64_t state = 13;
  for (const Case& c : cases()) {
    const Conv2d conv = conv_of(c);
    expect_input_gradient(
        conv, c.name(), state,
        [&](const float* filters, const Mat& output_gradient, const Mat& before, bool added) {
          return reference_adjoint(conv.geometry(), c.out_channels, filters, output_gradient,
                                   before, added);
        });
  }
}

TEST(DirectConvolution, ConvTranspose2dForwardIsItsBiasPlusTheAdjoint) {
  std::uint64_t state = 14;
  for (const Case& c : cases()) {
    const ConvTranspose2d transposed = transposed_of(c);
    std::vector<float> parameters(static_cast<std::size_t>(transposed.parameter_count()));
    for (float& p : parameters) p = value_for(state);
    const float* bias = parameters.data() + transposed.geometry().patch_size() * c.out_channels;
    for (Index n : {1, 3}) {
      const Mat input = random_samples(transposed.inputs(), n, state);
      Mat output = Mat::Constant(transposed.outputs() + kGap, n, sentinel());
      Mat biased = output;
      for (Index s = 0; s < n; ++s)
        for (Index i = 0; i < transposed.outputs(); ++i)
          biased(i, s) = bias[i / (c.height * c.width)];
      const Mat want = reference_adjoint(transposed.geometry(), c.out_channels, parameters.data(),
                                         input, biased, true);
      auto workspace = transposed.make_workspace();
      MatrixRef<float> out(output.topRows(transposed.outputs()));
      transposed.forward(parameters.data(), input.topRows(transposed.inputs()), out,
                         workspace.get());
      expect_matches(output, want, transposed.outputs(), c.name() + ", n " + std::to_string(n));
    }
  }
}

/// `module`'s parameter gradient on 23 samples (several blocks of the large
/// convolutions, several parts of a block of the small ones), written and
/// added, against want(input, output gradient, gradient before, added).
template <typename Module, typename Want>
void expect_parameter_gradient(const Module& module, const std::string& name, std::uint64_t& state,
                               Want&& want) {
  for (GradientWrite write : {GradientWrite::Overwrite, GradientWrite::Add}) {
    const Index n = 23;
    const Mat input = random_samples(module.inputs(), n, state);
    const Mat output_gradient = random_samples(module.outputs(), n, state);
    std::vector<float> gradient(static_cast<std::size_t>(module.parameter_count()));
    for (float& g : gradient) g = value_for(state);
    const std::vector<float> expected =
        want(input.topRows(module.inputs()), output_gradient.topRows(module.outputs()), gradient,
             write == GradientWrite::Add);
    auto workspace = module.make_workspace();
    module.parameter_gradient(input.topRows(module.inputs()),
                              output_gradient.topRows(module.outputs()), gradient.data(), write,
                              workspace.get());
    for (std::size_t i = 0; i < gradient.size(); ++i) {
#ifdef SCVAE_HAVE_DIRECT_CONVOLUTION
      ASSERT_TRUE(same_bits(gradient[i], expected[i]))
          << name << (write == GradientWrite::Add ? ", added" : ", written") << ": parameter " << i
          << " is " << gradient[i] << ", expected " << expected[i];
#else
      // Sums of about 10^4 terms up to 100 that cancel: Eigen's blocked
      // order differs from the chain's by a few float roundings of the terms.
      ASSERT_NEAR(gradient[i], expected[i], 0.05 + 1e-3 * std::abs(expected[i]))
          << name << ": parameter " << i;
#endif
    }
  }
}

TEST(DirectConvolution, Conv2dParameterGradientIsItsDefinitionWrittenOrAdded) {
  std::uint64_t state = 15;
  for (const Case& c : cases()) {
    const Conv2d conv = conv_of(c);
    expect_parameter_gradient(
        conv, c.name(), state,
        [&](const Mat& input, const Mat& output_gradient, std::vector<float> before, bool added) {
          return reference_parameter_gradient(conv.geometry(), c.out_channels, input,
                                              output_gradient, output_gradient, std::move(before),
                                              added);
        });
  }
}

TEST(DirectConvolution, ConvTranspose2dParameterGradientIsItsDefinitionWrittenOrAdded) {
  std::uint64_t state = 16;
  for (const Case& c : cases()) {
    const ConvTranspose2d transposed = transposed_of(c);
    expect_parameter_gradient(
        transposed, c.name(), state,
        [&](const Mat& input, const Mat& output_gradient, std::vector<float> before, bool added) {
          return reference_parameter_gradient(transposed.geometry(), c.out_channels,
                                              output_gradient, input, output_gradient,
                                              std::move(before), added);
        });
  }
}

}  // namespace
}  // namespace direct_convolution_test
}  // namespace scvae
