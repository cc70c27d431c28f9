// Conv2dT and ConvTranspose2dT: shapes and tokens, the forward pass against
// a direct loop over the definition, the transposed convolution as the
// adjoint of the convolution, the gradient harness over strides, paddings,
// odd and even sizes and several channels, chunks of any size on one
// workspace, parsing, and the refusals.

#include <gtest/gtest.h>

#include <string>
#include <tuple>

#include "scvae/core/random.hpp"
#include "scvae/nn/conv2d.hpp"
#include "scvae/nn/conv_transpose2d.hpp"
#include "scvae/nn/dense.hpp"
#include "scvae/nn/elementwise.hpp"
#include "scvae/nn/parse.hpp"
#include "scvae/nn/reshape.hpp"
#include "scvae/nn/sequential.hpp"
#include "scvae/util/module_check.hpp"

namespace scvae {
namespace {

Matrix<double> random_matrix(Index rows, Index cols, std::uint64_t seed) {
  Rng rng(seed);
  Matrix<double> m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = rng.normal();
  return m;
}

Vector<double> random_parameters(const ModuleT<double>& module, std::uint64_t seed) {
  Vector<double> p = random_matrix(module.parameter_count(), 1, seed);
  return p;
}

Matrix<double> run_forward(const ModuleT<double>& module, const Vector<double>& parameters,
                           const Matrix<double>& x) {
  Matrix<double> y(module.outputs(), x.cols());
  auto workspace = module.make_workspace();
  module.prepare(workspace.get(), x.cols());
  module.forward(parameters.data(), x, y, workspace.get());
  return y;
}

/// y(o, oy, ox) = b(o) + sum over c, ky, kx of w(o, c, ky, kx) x(c, oy*s - p + ky, ox*s - p + kx),
/// with w(o, c, ky, kx) at ((c * kh + ky) * kw + kx) + patch * o: the definition.
Matrix<double> direct_convolution(const Conv2dT<double>& conv, const Vector<double>& w,
                                  const Matrix<double>& x) {
  const Shape in = conv.input_shape(), out = conv.output_shape();
  const ConvOptions& o = conv.options();
  const Index patch = in.channels * o.kernel.height * o.kernel.width;
  Matrix<double> y(out.features(), x.cols());
  for (Index s = 0; s < x.cols(); ++s)
    for (Index oc = 0; oc < out.channels; ++oc)
      for (Index oy = 0; oy < out.height; ++oy)
        for (Index ox = 0; ox < out.width; ++ox) {
          double sum = w(patch * out.channels + oc);
          for (Index c = 0; c < in.channels; ++c)
            for (Index ky = 0; ky < o.kernel.height; ++ky)
              for (Index kx = 0; kx < o.kernel.width; ++kx) {
                const Index iy = oy * o.stride.height - o.padding.height + ky;
                const Index ix = ox * o.stride.width - o.padding.width + kx;
                if (iy < 0 || iy >= in.height || ix < 0 || ix >= in.width) continue;
                sum += w((c * o.kernel.height + ky) * o.kernel.width + kx + patch * oc) *
                       x((c * in.height + iy) * in.width + ix, s);
              }
          y((oc * out.height + oy) * out.width + ox, s) = sum;
        }
  return y;
}

TEST(Conv2d, ShapesTokenAndParameters) {
  const Conv2dT<float> first(Shape(1, 28, 28), 32, 4, 2, 1);
  EXPECT_EQ(first.output_shape(), Shape(32, 14, 14));
  EXPECT_EQ(first.token(), "conv2d(32,4,2,1)");
  EXPECT_EQ(first.parameter_count(), 32 * 16 + 32);  // as torch.nn.Conv2d(1, 32, 4, 2, 1)
  const Conv2dT<float> second(first.output_shape(), 64, 4, 2, 1);
  EXPECT_EQ(second.output_shape(), Shape(64, 7, 7));
  EXPECT_EQ(second.parameter_count(), 64 * 32 * 16 + 64);
  const Conv2dT<float> odd(Shape(2, 9, 8), 3, Extent(3, 2), Extent(2, 1), Extent(0, 1));
  EXPECT_EQ(odd.output_shape(), Shape(3, 4, 9));
  EXPECT_EQ(odd.token(), "conv2d(3,3x2,2x1,0x1)");
  EXPECT_EQ(odd.clone()->token(), odd.token());
}

TEST(Conv2d, ForwardIsTheDefinition) {
  for (const auto& [input, options] :
       {std::make_tuple(Shape(2, 7, 6), ConvOptions{3, 3, 1, 0, 0}),
        std::make_tuple(Shape(3, 8, 9), ConvOptions{2, Extent(4, 3), 2, 1, 0}),
        std::make_tuple(Shape(1, 5, 5), ConvOptions{4, 2, Extent(1, 3), Extent(2, 0), 0})}) {
    const Conv2dT<double> conv(input, options);
    const Vector<double> w = random_parameters(conv, 3);
    const Matrix<double> x = random_matrix(conv.inputs(), 3, 4);
    const Matrix<double> expected = direct_convolution(conv, w, x);
    EXPECT_LT((run_forward(conv, w, x) - expected).cwiseAbs().maxCoeff(), 1e-12) << conv.token();
  }
}

TEST(Conv2d, GradientCheckOverStridesPaddingsAndSizes) {
  for (Index stride : {1, 2})
    for (Index padding : {0, 1})
      for (Index size : {5, 6}) {
        const Conv2dT<double> conv(Shape(2, size, size + 1), 3, Extent(3, 2), stride, padding);
        const ModuleCheckResult result = check_module(conv);
        EXPECT_TRUE(result.passed()) << conv.token() << " on " << conv.input_shape().text()
                                     << ": " << result.describe();
      }
}

TEST(Conv2d, ChunksOfAnySizeShareOneWorkspace) {
  const Conv2dT<double> conv(Shape(2, 6, 6), 3, 3, 2, 1);
  const Vector<double> w = random_parameters(conv, 5);
  const Matrix<double> x = random_matrix(conv.inputs(), 4, 6);
  auto workspace = conv.make_workspace();
  conv.prepare(workspace.get(), 4);
  Matrix<double> all(conv.outputs(), 4), part(conv.outputs(), 2);
  conv.forward(w.data(), x, all, workspace.get());
  conv.forward(w.data(), x.rightCols(2), part, workspace.get());
  EXPECT_EQ(part, all.rightCols(2));
}

ConvTranspose2dT<double> adjoint_of(const Conv2dT<double>& conv) {
  const Shape in = conv.input_shape(), out = conv.output_shape();
  const ConvOptions& o = conv.options();
  const Extent output_padding(
      (in.height + 2 * o.padding.height - o.kernel.height) % o.stride.height,
      (in.width + 2 * o.padding.width - o.kernel.width) % o.stride.width);
  return ConvTranspose2dT<double>(out, in.channels, o.kernel, o.stride, o.padding,
                                  output_padding);
}

TEST(ConvTranspose2d, ShapesTokenAndParameters) {
  const ConvTranspose2dT<float> first(Shape(64, 7, 7), 32, 4, 2, 1);
  EXPECT_EQ(first.output_shape(), Shape(32, 14, 14));
  EXPECT_EQ(first.token(), "conv_transpose2d(32,4,2,1,0)");
  EXPECT_EQ(first.parameter_count(), 64 * 32 * 16 + 32);  // torch.nn.ConvTranspose2d(64, 32, 4, 2, 1)
  const ConvTranspose2dT<float> second(first.output_shape(), 1, 4, 2, 1);
  EXPECT_EQ(second.output_shape(), Shape(1, 28, 28));
  const ConvTranspose2dT<float> padded(Shape(2, 4, 3), 3, 3, Extent(2, 3), 1, Extent(1, 2));
  EXPECT_EQ(padded.output_shape(), Shape(3, 8, 9));
  EXPECT_EQ(padded.token(), "conv_transpose2d(3,3,2x3,1,1x2)");
}

// With the same filters and no bias, <conv(x), y> = <x, conv_transpose(y)>:
// the transposed convolution is the convolution's adjoint.
TEST(ConvTranspose2d, IsTheAdjointOfTheConvolution) {
  for (const auto& [input, options] :
       {std::make_tuple(Shape(2, 7, 6), ConvOptions{3, 3, 1, 0, 0}),
        std::make_tuple(Shape(3, 9, 8), ConvOptions{2, Extent(4, 3), 2, 1, 0}),
        std::make_tuple(Shape(1, 28, 28), ConvOptions{4, 4, 2, 1, 0})}) {
    const Conv2dT<double> conv(input, options);
    const ConvTranspose2dT<double> transposed = adjoint_of(conv);
    ASSERT_EQ(transposed.output_shape(), conv.input_shape());
    ASSERT_EQ(transposed.parameter_count() - input.channels,
              conv.parameter_count() - options.out_channels);
    const Index weights = conv.parameter_count() - options.out_channels;
    Vector<double> conv_parameters = random_parameters(conv, 7);
    conv_parameters.tail(options.out_channels).setZero();
    Vector<double> transposed_parameters = Vector<double>::Zero(transposed.parameter_count());
    transposed_parameters.head(weights) = conv_parameters.head(weights);
    const Matrix<double> x = random_matrix(conv.inputs(), 2, 8);
    const Matrix<double> y = random_matrix(conv.outputs(), 2, 9);
    const double left = (run_forward(conv, conv_parameters, x).array() * y.array()).sum();
    const double right =
        (x.array() * run_forward(transposed, transposed_parameters, y).array()).sum();
    EXPECT_NEAR(left, right, 1e-9 * std::abs(left)) << conv.token();
  }
}

TEST(ConvTranspose2d, GradientCheckOverStridesPaddingsAndSizes) {
  for (Index stride : {1, 2})
    for (Index padding : {0, 1})
      for (Index size : {3, 4}) {
        const ConvTranspose2dT<double> conv(Shape(3, size, size + 1), 2, Extent(3, 2), stride,
                                            padding, stride - 1);
        const ModuleCheckResult result = check_module(conv);
        EXPECT_TRUE(result.passed()) << conv.token() << " on " << conv.input_shape().text()
                                     << ": " << result.describe();
      }
}

TEST(ConvTranspose2d, ManyInputChannelsFewFilters) {
  // More input channels than values in an output patch: the scratch must hold both.
  const ConvTranspose2dT<double> conv(Shape(9, 3, 3), 1, 2, 2, 0);
  EXPECT_TRUE(check_module(conv).passed());
}

// Samples whose patches fill the block budget (conv_block_samples) run one
// block each. The passes are linear, so without the bias <y, dy> = <x, dx>
// = <w, dL/dw> for output y and its gradient dy: a check of the blocked
// forward, backward and parameter gradient that needs no finite differences
// over these large inputs.
void expect_blocks_agree(const ModuleT<double>& module, const PatchGeometry& geometry) {
  const Index n = 3;
  ASSERT_EQ(detail::conv_block_samples(geometry, sizeof(double), n), 1) << module.token();
  const Index channels = module.output_shape().channels;
  const Index weights = module.parameter_count() - channels;
  Vector<double> w = random_parameters(module, 11);
  w.tail(channels).setZero();
  const Matrix<double> x = random_matrix(module.inputs(), n, 12);
  const Matrix<double> dy = random_matrix(module.outputs(), n, 13);
  auto workspace = module.make_workspace();
  module.prepare(workspace.get(), n);
  Matrix<double> y(module.outputs(), n), dx(module.inputs(), n), dy_kept = dy;
  module.forward(w.data(), x, y, workspace.get());
  MatrixRef<double> dx_ref(dx);
  module.backward(w.data(), x, y, dy_kept, {&dx_ref, GradientWrite::Overwrite}, workspace.get());
  Vector<double> gradient(module.parameter_count());
  module.parameter_gradient(x, dy_kept, gradient.data(), GradientWrite::Overwrite,
                            workspace.get());
  const double output_side = (y.array() * dy.array()).sum();
  EXPECT_NEAR((x.array() * dx.array()).sum(), output_side, 1e-9 * std::abs(output_side));
  EXPECT_NEAR(gradient.head(weights).dot(w.head(weights)), output_side,
              1e-9 * std::abs(output_side));
  const Index area = dy.rows() / channels;
  for (Index c = 0; c < channels; ++c)
    EXPECT_NEAR(gradient(weights + c), dy.middleRows(c * area, area).sum(), 1e-9);
  // Add adds the same values.
  Matrix<double> added = Matrix<double>::Ones(module.inputs(), n);
  MatrixRef<double> added_ref(added);
  module.backward(w.data(), x, y, dy_kept, {&added_ref, GradientWrite::Add}, workspace.get());
  EXPECT_LT((added.array() - 1.0 - dx.array()).abs().maxCoeff(), 1e-12);
}

TEST(Conv, BlocksOfSamplesAgreeWithLinearity) {
  const Conv2dT<double> conv(Shape(16, 24, 24), 4, 3, 1, 1);
  expect_blocks_agree(conv, conv.geometry());
  const Vector<double> w = random_parameters(conv, 14);
  const Matrix<double> x = random_matrix(conv.inputs(), 3, 15);
  EXPECT_LT((run_forward(conv, w, x) - direct_convolution(conv, w, x)).cwiseAbs().maxCoeff(),
            1e-12);
  const ConvTranspose2dT<double> transposed(Shape(4, 24, 24), 16, 3, 1, 1);
  expect_blocks_agree(transposed, transposed.geometry());
}

TEST(Conv, ANetworkOfConvolutionsPassesTheHarness) {
  auto network = parse_network<double>(
      "[conv2d(3,3,2,1) elu conv_transpose2d(2,3,2,1,1) tanh flatten dense(4)]", Shape(2, 6, 6));
  EXPECT_EQ(network->module(1).output_shape(), Shape(3, 3, 3));
  EXPECT_EQ(network->module(3).output_shape(), Shape(2, 6, 6));
  const ModuleCheckResult result = check_module(*network);
  EXPECT_TRUE(result.passed()) << result.describe();
}

TEST(Conv, TheConvVaeOfTheConvolutionIssueParses) {
  const Shape image(1, 28, 28);
  auto encoder = parse_network<float>(
      "[conv2d(32,4,2,1) relu conv2d(64,4,2,1) relu flatten dense(256) relu gaussian(20)]", image);
  EXPECT_EQ(encoder->parameter_count(), 544 + 32832 + 803072 + 10280);
  auto decoder = parse_network<float>(
      "[dense(256) relu dense(3136) relu reshape(64x7x7) conv_transpose2d(32,4,2,1) relu "
      "conv_transpose2d(1,4,2,1)]",
      Shape::vector(20));
  EXPECT_EQ(decoder->output_shape(), image);
  for (std::size_t i = 0; i < decoder->size(); ++i)
    EXPECT_EQ(parse_module<float>(decoder->module(i).token(), decoder->module(i).input_shape())
                  ->token(),
              decoder->module(i).token());
}

// Float runs on the GEMM kernels of the build (AVX-512 under -march=native):
// forward, input gradient and parameter gradient agree with double.
template <template <typename> class Module>
void expect_float_matches_double(const Shape& input, const ConvOptions& options) {
  const Module<double> wide(input, options);
  const Module<float> narrow(input, options);
  const Index n = 5;
  const Vector<double> w = random_parameters(wide, 11);
  const Matrix<double> x = random_matrix(wide.inputs(), n, 12);
  const Matrix<double> dy = random_matrix(wide.outputs(), n, 13);
  const Vector<float> wf = w.cast<float>();
  const Matrix<float> xf = x.cast<float>();
  Matrix<double> y(wide.outputs(), n), dx(wide.inputs(), n), dyd = dy;
  Matrix<float> yf(wide.outputs(), n), dxf(wide.inputs(), n), dyf = dy.cast<float>();
  Vector<double> g(wide.parameter_count());
  Vector<float> gf(wide.parameter_count());
  auto ws = wide.make_workspace();
  auto wsf = narrow.make_workspace();
  wide.prepare(ws.get(), n);
  narrow.prepare(wsf.get(), n);
  wide.forward(w.data(), x, y, ws.get());
  narrow.forward(wf.data(), xf, yf, wsf.get());
  MatrixRef<double> dx_ref(dx);
  MatrixRef<float> dxf_ref(dxf);
  wide.backward(w.data(), x, y, dyd, {&dx_ref, GradientWrite::Overwrite}, ws.get());
  narrow.backward(wf.data(), xf, yf, dyf, {&dxf_ref, GradientWrite::Overwrite}, wsf.get());
  wide.parameter_gradient(x, dyd, g.data(), GradientWrite::Overwrite, ws.get());
  narrow.parameter_gradient(xf, dyf, gf.data(), GradientWrite::Overwrite, wsf.get());
  auto relative = [](const auto& a, const auto& b) {
    return (a.template cast<double>() - b).norm() / b.norm();
  };
  EXPECT_LT(relative(yf, y), 1e-5) << narrow.token();
  EXPECT_LT(relative(dxf, dx), 1e-5) << narrow.token();
  EXPECT_LT(relative(gf, g), 1e-5) << narrow.token();
}

TEST(Conv, FloatMatchesDouble) {
  expect_float_matches_double<Conv2dT>(Shape(3, 14, 13), ConvOptions{32, 4, 2, 1, 0});
  expect_float_matches_double<Conv2dT>(Shape(32, 7, 7), ConvOptions{17, 3, 1, 1, 0});
  expect_float_matches_double<ConvTranspose2dT>(Shape(64, 7, 7), ConvOptions{32, 4, 2, 1, 0});
  expect_float_matches_double<ConvTranspose2dT>(Shape(5, 4, 3), ConvOptions{3, 3, 2, 0, 1});
}

// The example of docs/API.md's nn section, as written there.
TEST(Conv, TheApiDocsExampleBuildsAConvEncoderAndDecoder) {
  auto encoder = scvae::parse_network<float>(
      "[conv2d(32,4,2,1) relu conv2d(64,4,2,1) relu flatten dense(256) relu gaussian(20)]",
      scvae::Shape(1, 28, 28));
  scvae::SequentialT<float> decoder(scvae::Shape::vector(20));
  decoder.add<scvae::DenseT>(256).add<scvae::ReLUT>().add<scvae::DenseT>(3136)
      .add<scvae::ReLUT>().add<scvae::ReshapeT>(scvae::Shape(64, 7, 7))
      .add<scvae::ConvTranspose2dT>(32, 4, 2, 1).add<scvae::ReLUT>()
      .add<scvae::ConvTranspose2dT>(1, 4, 2, 1);  // 1 x 28 x 28 logits
  EXPECT_EQ(encoder->output_shape(), Shape::vector(40));
  EXPECT_EQ(decoder.output_shape(), Shape(1, 28, 28));
  EXPECT_EQ(decoder.token(),
            "[dense(256) relu dense(3136) relu reshape(64x7x7) conv_transpose2d(32,4,2,1,0) relu "
            "conv_transpose2d(1,4,2,1,0)]");
}

TEST(Conv, Refusals) {
  EXPECT_THROW(Conv2dT<double>(Shape(1, 3, 3), 2, 4), ShapeError);  // kernel larger than input
  EXPECT_NO_THROW(Conv2dT<double>(Shape(1, 3, 3), 2, 4, 1, 1));     // fits once padded
  EXPECT_THROW(Conv2dT<double>(Shape(1, 3, 3), 0, 2), ArgumentError);
  EXPECT_THROW(Conv2dT<double>(Shape(1, 3, 3), 2, 2, 0), ArgumentError);
  EXPECT_THROW(ConvTranspose2dT<double>(Shape(1, 3, 3), 2, 2, 2, 0, 2), ArgumentError);
  EXPECT_THROW(ConvTranspose2dT<double>(Shape(1, 1, 1), 2, 1, 1, 1), ShapeError);
  for (const char* text : {"conv2d(32)", "conv2d(32,4,2,1,0)", "conv2d(0,4)", "conv2d(32,4x)",
                           "conv2d(32,04)", "conv2d(32,4,0)", "conv2d(32,-4)",
                           "conv_transpose2d(1,4,2,1,0,0)", "conv2d(1,99999999999999)"})
    EXPECT_THROW(parse_module<double>(text, Shape(1, 8, 8)), ArgumentError) << text;
  try {
    parse_module<double>("conv2d(2,9)", Shape(1, 8, 8));
    FAIL() << "expected a ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("1x8x8"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace scvae
