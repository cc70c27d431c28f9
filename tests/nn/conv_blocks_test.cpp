// The blocks of samples that Conv2d and ConvTranspose2d run their forward
// passes and input gradients in: even, within the budget, and invisible in
// the results. Also built with the examples' flags (native_tests), where the
// AVX-512 kernels make "invisible" bit for bit.

#include <gtest/gtest.h>

#include <algorithm>

#include "scvae/core/random.hpp"
#include "scvae/nn/conv2d.hpp"
#include "scvae/nn/conv_transpose2d.hpp"

namespace scvae {
namespace {

TEST(Conv, PassBlocksAreEvenAndFitTheBudget) {
  for (const Shape& shape : {Shape(1, 28, 28), Shape(32, 14, 14), Shape(3, 5, 7)})
    for (const Index channels : {Index(1), Index(32), Index(64)}) {
      const Conv2d conv(shape, channels, 4, 2, 1);
      const PatchGeometry& g = conv.geometry();
      const Index per_sample = g.positions() * (g.patch_size() + channels) * Index(sizeof(float));
      EXPECT_EQ(detail::conv_pass_blocks(g, channels, sizeof(float), 0), 0);
      for (Index n = 1; n <= 300; ++n) {
        const Index blocks = detail::conv_pass_blocks(g, channels, sizeof(float), n);
        ASSERT_GE(blocks, 1);
        ASSERT_LE(blocks, n);
        Index covered = 0, smallest = n, largest = 0;
        detail::for_each_even_block(n, blocks, [&](Index first, Index count) {
          EXPECT_EQ(first, covered) << "n " << n;
          covered += count;
          smallest = std::min(smallest, count);
          largest = std::max(largest, count);
        });
        EXPECT_EQ(covered, n);
        EXPECT_LE(largest - smallest, 1) << "n " << n;
        if (largest > 1) {
          EXPECT_LE(largest * per_sample, detail::kConvBlockBytes) << "n " << n;
        }
        // As few blocks as the budget allows: one fewer would overflow it.
        if (blocks > 1) {
          EXPECT_GT((n + blocks - 2) / (blocks - 1) * per_sample, detail::kConvBlockBytes);
        }
        // No larger than the weight gradients' blocks, for which the
        // workspace is reserved.
        EXPECT_LE(largest, detail::conv_block_samples(g, sizeof(float), n));
      }
    }
}

// The forward pass and the input gradient run in blocks of samples; each of
// their values sums over a patch or over channels, never over samples, so a
// batch gives every sample what it gets alone (bit for bit on the AVX-512
// kernels, whose sums run over k in order).
template <typename Module>
void expect_samples_as_alone(const Module& module, Index product_channels) {
  const Index n = 61;
  ASSERT_GT(detail::conv_pass_blocks(module.geometry(), product_channels, sizeof(float), n), 1);
  Rng rng(21);
  Vector<float> w(module.parameter_count());
  for (Index i = 0; i < w.size(); ++i) w(i) = static_cast<float>(rng.normal() * 0.2);
  Matrix<float> x(module.inputs(), n), dy(module.outputs(), n);
  for (Index i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(rng.normal());
  for (Index i = 0; i < dy.size(); ++i) dy.data()[i] = static_cast<float>(rng.normal());
  auto passes = [&](Index first, Index count, Matrix<float>& y, Matrix<float>& dx) {
    auto workspace = module.make_workspace();
    module.prepare(workspace.get(), count);
    Matrix<float> xs = x.middleCols(first, count), dys = dy.middleCols(first, count);
    y.resize(module.outputs(), count);
    dx.resize(module.inputs(), count);
    module.forward(w.data(), xs, y, workspace.get());
    MatrixRef<float> dx_ref(dx);
    module.backward(w.data(), xs, y, dys, {&dx_ref, GradientWrite::Overwrite}, workspace.get());
  };
  Matrix<float> y, dx;
  passes(0, n, y, dx);
  for (Index s = 0; s < n; ++s) {
    Matrix<float> y1, dx1;
    passes(s, 1, y1, dx1);
#if defined(__AVX512F__)
    ASSERT_EQ(y.col(s), y1.col(0)) << module.token() << ", sample " << s;
    ASSERT_EQ(dx.col(s), dx1.col(0)) << module.token() << ", sample " << s;
#else
    ASSERT_LT((y.col(s) - y1.col(0)).cwiseAbs().maxCoeff(), 1e-4f) << module.token();
    ASSERT_LT((dx.col(s) - dx1.col(0)).cwiseAbs().maxCoeff(), 1e-4f) << module.token();
#endif
  }
}

TEST(Conv, ABatchGivesEachSampleWhatItGetsAlone) {
  expect_samples_as_alone(Conv2d(Shape(1, 28, 28), 32, 4, 2, 1), 32);
  expect_samples_as_alone(ConvTranspose2d(Shape(32, 14, 14), 1, 4, 2, 1), 32);
}

}  // namespace
}  // namespace scvae
