// SequentialT's buffers between steps: which steps share them (reshape and
// flatten always, an activation over a convolution's output), that a network
// sharing them still passes the gradient harness, and that a forward pass
// alone sizes no gradient buffer.

#include <gtest/gtest.h>

#include <memory>

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

TEST(SequentialBuffers, AConvEncoderKeepsOneSlotPerConvolution) {
  // conv+relu share one slot, conv+relu+flatten the next; dense+relu its own.
  auto encoder = parse_network<double>(
      "[conv2d(3,4,2,1) relu conv2d(4,4,2,1) relu flatten dense(6) relu dense(4)]",
      Shape(1, 8, 8));
  EXPECT_EQ(encoder->slot_count(), 3u);
  EXPECT_EQ(encoder->slot_of(0), encoder->slot_of(1));
  EXPECT_EQ(encoder->slot_of(2), encoder->slot_of(4));
  EXPECT_NE(encoder->slot_of(1), encoder->slot_of(2));
  const ModuleCheckResult result = check_module(*encoder);
  EXPECT_TRUE(result.passed()) << result.describe();
}

TEST(SequentialBuffers, AConvDecoderKeepsOneSlotPerProduct) {
  // dense+relu (fused) and the reshape share a slot; the transposed
  // convolution and its relu the next; the last step writes the caller's output.
  auto decoder = parse_network<double>(
      "[dense(5) relu dense(16) relu reshape(4x2x2) conv_transpose2d(3,4,2,1) relu "
      "conv_transpose2d(1,4,2,1)]",
      Shape::vector(3));
  EXPECT_EQ(decoder->slot_count(), 3u);
  const ModuleCheckResult result = check_module(*decoder);
  EXPECT_TRUE(result.passed()) << result.describe();
}

TEST(SequentialBuffers, AnActivationKeepsItsOwnBufferWhenTheStepBeforeReadsItsOutput) {
  // The fused dense+relu reads its output in backward(): the tanh after it
  // must not overwrite it, nor may a second activation overwrite the first's.
  SequentialT<double> net(Shape::vector(4));
  net.add<DenseT>(5).add<ReLUT>().add<TanhT>().add<SigmoidT>().add<DenseT>(2);
  EXPECT_EQ(net.slot_count(), 3u);
  const ModuleCheckResult result = check_module(net);
  EXPECT_TRUE(result.passed()) << result.describe();
}

TEST(SequentialBuffers, AFirstReshapeCopiesTheCallersInput) {
  // The network's input is the caller's, read-only: a reshape or activation
  // at the first step writes a buffer of its own.
  SequentialT<double> net(Shape(1, 3, 3));
  net.add<FlattenT>().add<ReLUT>().add<DenseT>(2);
  EXPECT_EQ(net.slot_count(), 1u);
  EXPECT_EQ(net.slot_of(0), net.slot_of(1));
  const ModuleCheckResult result = check_module(net);
  EXPECT_TRUE(result.passed()) << result.describe();
}

TEST(SequentialBuffers, AForwardPassAloneSizesNoGradientBuffer) {
  auto net = parse_network<double>("[conv2d(2,3,1,1) relu flatten dense(3)]", Shape(1, 5, 5));
  auto workspace = net->make_workspace();
  const Matrix<double> x = Matrix<double>::Random(net->inputs(), 4);
  Matrix<double> y(net->outputs(), 4);
  const Vector<double> parameters = Vector<double>::Random(net->parameter_count());
  net->forward(parameters.data(), x, y, workspace.get());
  auto& ws = dynamic_cast<SequentialT<double>::Workspace&>(*workspace);
  ASSERT_EQ(ws.outputs.size(), net->slot_count());
  for (const auto& gradient : ws.gradients) EXPECT_EQ(gradient.capacity(), 0);
  Matrix<double> delta = Matrix<double>::Ones(net->outputs(), 4);
  net->backward(parameters.data(), x, y, delta, {}, workspace.get());
  ASSERT_EQ(ws.gradients.size(), net->slot_count());
  for (const auto& gradient : ws.gradients) EXPECT_GE(gradient.capacity(), 4 * gradient.rows());
}

}  // namespace
}  // namespace scvae
