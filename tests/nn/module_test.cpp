// Every module through the one gradient harness (util/module_check.hpp), and
// what a network built from them promises: shapes, tokens, fusion.

#include <gtest/gtest.h>

#include "scvae/nn/dense.hpp"
#include "scvae/nn/elementwise.hpp"
#include "scvae/nn/gaussian_head.hpp"
#include "scvae/nn/sequential.hpp"
#include "scvae/util/module_check.hpp"

namespace scvae {
namespace {

TEST(ModuleCheck, Dense) {
  const DenseT<double> dense(Shape::vector(5), 3);
  const ModuleCheckResult result = check_module(dense);
  EXPECT_TRUE(result.passed()) << result.describe();
  EXPECT_EQ(dense.parameter_count(), 18);
  EXPECT_EQ(dense.token(), "dense(3)");
}

TEST(ModuleCheck, DenseReadsAnyShapeAsAVector) {
  const DenseT<double> dense(Shape(2, 3, 2), 4);
  EXPECT_EQ(dense.inputs(), 12);
  EXPECT_EQ(dense.output_shape(), Shape::vector(4));
  EXPECT_TRUE(check_module(dense).passed());
}

TEST(ModuleCheck, EveryActivation) {
  for (Activation a : {Activation::Identity, Activation::ReLU, Activation::Tanh,
                       Activation::Sigmoid, Activation::Softplus, Activation::LeakyReLU,
                       Activation::ELU}) {
    const ElementwiseT<double> module(Shape(2, 2, 3), a);
    const ModuleCheckResult result = check_module(module);
    EXPECT_TRUE(result.passed()) << activation_name(a) << ": " << result.describe();
    EXPECT_EQ(module.output_shape(), Shape(2, 2, 3));
    EXPECT_EQ(module.token(), activation_name(a));
  }
}

TEST(ModuleCheck, SequentialFusedAndNot) {
  for (Activation a : {Activation::ReLU, Activation::Tanh, Activation::ELU}) {
    SequentialT<double> net(Shape::vector(6));
    net.add<DenseT>(5).add(std::make_unique<ElementwiseT<double>>(Shape::vector(5), a));
    net.add<DenseT>(4).add<SigmoidT>().add<TanhT>().add<DenseT>(3);
    const ModuleCheckResult result = check_module(net);
    EXPECT_TRUE(result.passed()) << activation_name(a) << ": " << result.describe();
    EXPECT_EQ(net.gradient_part_count(), 3);
  }
}

TEST(ModuleCheck, NestedSequentialAndGaussianHead) {
  SequentialT<double> trunk(Shape::vector(7));
  trunk.add<DenseT>(6).add<ReLUT>();
  SequentialT<double> net(Shape::vector(7));
  net.add(trunk.clone()).add<GaussianHeadT>(2);
  EXPECT_EQ(net.outputs(), 4);
  EXPECT_EQ(net.token(), "[[dense(6) relu] gaussian(2)]");
  const ModuleCheckResult result = check_module(net);
  EXPECT_TRUE(result.passed()) << result.describe();
}

TEST(ModuleCheck, ClampedLogvarHasZeroGradient) {
  GaussianHeadT<double> head(Shape::vector(3), 2);
  Vector<double> p = Vector<double>::Zero(head.parameter_count());
  head.dense().bias(p.data())(3) = 100.0;  // second logvar far above the clamp
  Matrix<double> x = Matrix<double>::Ones(3, 1), y(4, 1);
  head.forward(p.data(), x, y, nullptr);
  EXPECT_EQ(y(3, 0), kLogVarMax);
  Matrix<double> dy = Matrix<double>::Ones(4, 1), dx(3, 1);
  MatrixRef<double> dx_ref(dx);
  head.backward(p.data(), x, y, dy, {&dx_ref, GradientWrite::Overwrite}, nullptr);
  EXPECT_EQ(dy(3, 0), 0.0);
  EXPECT_EQ(dy(2, 0), 1.0);
}

TEST(ModuleCheck, AWrongGradientFails) {
  // A module whose backward is off by a factor: the harness must catch it.
  struct Broken : DenseT<double> {
    using DenseT<double>::DenseT;
    void backward(const double* p, const ConstMatrixRef<double>& in,
                  const ConstMatrixRef<double>& out, MatrixRef<double> g, InputGradient<double> ig,
                  ModuleWorkspace* ws) const override {
      DenseT<double>::backward(p, in, out, g, ig, ws);
      if (ig.wanted()) *ig.matrix *= 1.01;
    }
  };
  const Broken broken(Shape::vector(4), 2);
  EXPECT_FALSE(check_module(broken).passed());
}

TEST(ModuleCheck, AConstantRowWithAGradientFails) {
  // Holding an input row fixed requires its gradient to be 0: a dense
  // module's is not, so the check must fail.
  const DenseT<double> dense(Shape::vector(4), 2);
  ModuleCheckOptions options;
  options.constant_input_rows = {3};
  const ModuleCheckResult result = check_module(dense, options);
  EXPECT_FALSE(result.constant_rows_have_zero_gradient);
  EXPECT_FALSE(result.passed());
}

TEST(Dense, RefusesSizesWhoseParameterCountOverflows) {
  EXPECT_THROW(DenseT<double>(Shape::vector(Index(1) << 30), Index(1) << 30), ArgumentError);
  EXPECT_THROW(GaussianHeadT<double>(Shape::vector(4), Index(1) << 62), ArgumentError);
}

TEST(Sequential, PlansLargeNetworksAsWhenBuiltAtOnce) {
  // add() plans only the new module; a copy plans the whole network again.
  SequentialT<double> net(Shape::vector(3));
  for (int i = 0; i < 50; ++i) net.add<DenseT>(3).add<TanhT>();
  const SequentialT<double> copy(net);
  EXPECT_EQ(net.gradient_part_count(), 50);
  EXPECT_EQ(copy.gradient_part_count(), 50);
  Vector<double> p(net.parameter_count());
  Rng rng(2);
  net.initialize(p.data(), rng, {});
  Matrix<double> x(3, 2), a(3, 2), b(3, 2);
  rng.fill_normal(x);
  auto ws = net.make_workspace();
  auto copy_ws = copy.make_workspace();
  net.forward(p.data(), x, a, ws.get());
  copy.forward(p.data(), x, b, copy_ws.get());
  EXPECT_EQ(a, b);
}

TEST(Sequential, RejectsAModuleOfTheWrongInputShape) {
  SequentialT<double> net(Shape::vector(4));
  net.add<DenseT>(3);
  EXPECT_THROW(net.add(std::make_unique<DenseT<double>>(Shape::vector(4), 2)), ShapeError);
}

TEST(Sequential, FusedForwardEqualsUnfused) {
  // The fused dense+activation pass gives the bits of the two modules run apart.
  SequentialT<float> net(Shape::vector(8));
  net.add<DenseT>(5).add<ReLUT>();
  Vector<float> p(net.parameter_count());
  Rng rng(3);
  net.initialize(p.data(), rng, {});
  Matrix<float> x(8, 4), fused(5, 4), plain(5, 4), out(5, 4);
  rng.fill_normal(x);
  auto ws = net.make_workspace();
  net.forward(p.data(), x, fused, ws.get());
  net.module(0).forward(p.data(), x, plain, nullptr);
  net.module(1).forward(p.data(), plain, out, nullptr);
  EXPECT_EQ(fused, out);
}

}  // namespace
}  // namespace scvae
