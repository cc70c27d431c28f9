// SGD (plain, momentum, Nesterov, weight decay) against hand-computed steps.

#include "../eigen_assert_counter.hpp"

#include "scvae/optim/sgd.hpp"

#include <gtest/gtest.h>

#include "optim_test_support.hpp"

#include <cmath>
#include <string>

namespace {

using scvae::Vector;
using SgdD = scvae::SgdT<double>;

using namespace scvae::optim_testing;

SgdD::Options options(double momentum, bool nesterov = false, double weight_decay = 0.0) {
  SgdD::Options o;
  o.learning_rate = 0.1;
  o.momentum = momentum;
  o.nesterov = nesterov;
  o.weight_decay = weight_decay;
  return o;
}

TEST(SgdTest, PlainStepsMatchHandComputation) {
  SgdD sgd(options(0.0));
  Vector<double> p = kP0;
  sgd.step(p, kG1);  // p - 0.1 g1 = (1 - 0.05, -2 + 0.1, 0.5 - 0.2)
  expect_near3(p, 0.95, -1.9, 0.3);
  sgd.step(p, kG2);  // p - 0.1 g2 = (0.95 - 0.1, -1.9 - 0.05, 0.3 + 0.1)
  expect_near3(p, 0.85, -1.95, 0.4);
  EXPECT_EQ(sgd.step_count(), 2);
  EXPECT_EQ(sgd.momentum_buffer().size(), 0);  // no momentum: no state
}

TEST(SgdTest, MomentumStepsMatchHandComputation) {
  SgdD sgd(options(0.9));
  Vector<double> p = kP0;
  // Step 1: b = g1 = (0.5, -1, 2); p = p0 - 0.1 b = (0.95, -1.9, 0.3).
  sgd.step(p, kG1);
  expect_near3(sgd.momentum_buffer(), 0.5, -1.0, 2.0);
  expect_near3(p, 0.95, -1.9, 0.3);
  // Step 2: b = 0.9 b + g2 = (0.45 + 1, -0.9 + 0.5, 1.8 - 1) = (1.45, -0.4, 0.8);
  //         p = p - 0.1 b = (0.95 - 0.145, -1.9 + 0.04, 0.3 - 0.08).
  sgd.step(p, kG2);
  expect_near3(sgd.momentum_buffer(), 1.45, -0.4, 0.8);
  expect_near3(p, 0.805, -1.86, 0.22);
  // Step 3: b = 0.9 b + g3 = (1.305 - 0.5, -0.36 + 0.25, 0.72 + 1) = (0.805, -0.11, 1.72);
  //         p = p - 0.1 b = (0.805 - 0.0805, -1.86 + 0.011, 0.22 - 0.172).
  sgd.step(p, kG3);
  expect_near3(sgd.momentum_buffer(), 0.805, -0.11, 1.72);
  expect_near3(p, 0.7245, -1.849, 0.048);
}

TEST(SgdTest, NesterovStepsMatchHandComputation) {
  SgdD sgd(options(0.9, true));
  Vector<double> p = kP0;
  // Step 1: b = g1; d = g1 + 0.9 b = 1.9 g1 = (0.95, -1.9, 3.8);
  //         p = p0 - 0.1 d = (1 - 0.095, -2 + 0.19, 0.5 - 0.38).
  sgd.step(p, kG1);
  expect_near3(p, 0.905, -1.81, 0.12);
  // Step 2: b = 0.9 g1 + g2 = (1.45, -0.4, 0.8);
  //         d = g2 + 0.9 b = (1 + 1.305, 0.5 - 0.36, -1 + 0.72) = (2.305, 0.14, -0.28);
  //         p = p - 0.1 d = (0.905 - 0.2305, -1.81 - 0.014, 0.12 + 0.028).
  sgd.step(p, kG2);
  expect_near3(sgd.momentum_buffer(), 1.45, -0.4, 0.8);
  expect_near3(p, 0.6745, -1.824, 0.148);
}

TEST(SgdTest, CoupledWeightDecayMatchesHandComputation) {
  // Without momentum: d = g1 + 0.1 p0 = (0.6, -1.2, 2.05); p = p0 - 0.1 d.
  SgdD plain(options(0.0, false, 0.1));
  Vector<double> p = kP0;
  plain.step(p, kG1);
  expect_near3(p, 0.94, -1.88, 0.295);

  // With momentum 0.9:
  // Step 1: d = (0.6, -1.2, 2.05) = b; p = (0.94, -1.88, 0.295) as above.
  // Step 2: d = g2 + 0.1 p = (1 + 0.094, 0.5 - 0.188, -1 + 0.0295) = (1.094, 0.312, -0.9705);
  //         b = 0.9 b + d = (0.54 + 1.094, -1.08 + 0.312, 1.845 - 0.9705)
  //           = (1.634, -0.768, 0.8745);
  //         p = p - 0.1 b = (0.94 - 0.1634, -1.88 + 0.0768, 0.295 - 0.08745).
  SgdD momentum(options(0.9, false, 0.1));
  Vector<double> q = kP0;
  momentum.step(q, kG1);
  expect_near3(momentum.momentum_buffer(), 0.6, -1.2, 2.05);
  expect_near3(q, 0.94, -1.88, 0.295);
  momentum.step(q, kG2);
  expect_near3(momentum.momentum_buffer(), 1.634, -0.768, 0.8745);
  expect_near3(q, 0.7766, -1.8032, 0.20755);
}

Vector<double> sgd_test_gradient(int step, Eigen::Index size) {
  Vector<double> g(size);
  for (Eigen::Index i = 0; i < size; ++i) {
    g[i] = std::cos(0.3 * static_cast<double>(i) + 0.9 * step) - 0.05 * step;
  }
  return g;
}

TEST(SgdTest, FloatAndDoubleAgree) {
  const Eigen::Index n = 64;
  const SgdD::Options o = options(0.9, true, 0.01);
  SgdD sgd_d(o);
  scvae::Sgd sgd_f(o);
  Vector<double> p_d = Vector<double>::LinSpaced(n, -1.0, 1.0);
  Vector<float> p_f = p_d.cast<float>();
  for (int step = 0; step < 20; ++step) {
    const Vector<double> g = sgd_test_gradient(step, n);
    sgd_d.step(p_d, g);
    sgd_f.step(p_f, g.cast<float>());
  }
  EXPECT_LT((p_f.cast<double>() - p_d).cwiseAbs().maxCoeff(), 1e-5);
}

TEST(SgdTest, EveryElementIsUpdatedAsIfAlone) {
  // The update runs block by block; each element must still see exactly its
  // own arithmetic, across block boundaries and in the last partial block.
  const Eigen::Index n = 600;
  for (const auto& o : {options(0.0, false, 0.01), options(0.9, true, 0.01)}) {
    SgdD sgd(o);
    Vector<double> p = Vector<double>::LinSpaced(n, -1.0, 1.0);
    const Vector<double> p_start = p;
    for (int step = 0; step < 3; ++step) sgd.step(p, sgd_test_gradient(step, n));
    for (const Eigen::Index i : {0, 255, 256, 257, 511, 512, 599}) {
      SgdD alone(o);
      Vector<double> q = p_start.segment(i, 1);
      for (int step = 0; step < 3; ++step) alone.step(q, sgd_test_gradient(step, n).segment(i, 1));
      EXPECT_DOUBLE_EQ(p[i], q[0]) << "element " << i;
    }
  }
}

TEST(SgdTest, RestoredStateContinuesIdentically) {
  const Eigen::Index n = 16;
  const SgdD::Options o = options(0.9, false, 0.01);
  SgdD original(o);
  Vector<double> p = Vector<double>::LinSpaced(n, -2.0, 2.0);
  for (int step = 0; step < 3; ++step) original.step(p, sgd_test_gradient(step, n));

  SgdD restored(o);
  restored.restore_state(original.momentum_buffer(), original.step_count());
  Vector<double> q = p;
  for (int step = 3; step < 6; ++step) {
    original.step(p, sgd_test_gradient(step, n));
    restored.step(q, sgd_test_gradient(step, n));
  }
  EXPECT_TRUE((p.array() == q.array()).all());
  EXPECT_TRUE((original.momentum_buffer().array() == restored.momentum_buffer().array()).all());
  EXPECT_EQ(restored.step_count(), 6);
}

TEST(SgdTest, ResetMakesTheNextStepAFirstStep) {
  SgdD sgd(options(0.9));
  Vector<double> p = kP0;
  sgd.step(p, kG1);
  sgd.step(p, kG2);
  sgd.reset(3);
  EXPECT_EQ(sgd.step_count(), 0);
  Vector<double> q = kP0;
  sgd.step(q, kG1);  // b = g1, not 0.9 b + g1
  expect_near3(sgd.momentum_buffer(), 0.5, -1.0, 2.0);
  expect_near3(q, 0.95, -1.9, 0.3);
}

TEST(SgdTest, SizeMismatchThrowsShapeError) {
  SgdD plain(options(0.0));
  Vector<double> p = kP0;
  const Vector<double> g4 = Vector<double>::Ones(4);
  expect_shape_error([&] { plain.step(p, g4); });

  SgdD momentum(options(0.9));
  momentum.step(p, kG1);
  Vector<double> p4 = Vector<double>::Ones(4);
  expect_shape_error([&] { momentum.step(p4, g4); });
  EXPECT_EQ(momentum.step_count(), 1);

  expect_shape_error([&] { plain.restore_state(Vector<double>::Zero(3), 1); });
}

TEST(SgdTest, InvalidOptionsThrowArgumentError) {
  EXPECT_THROW(SgdD{options(0.0, true)}, scvae::ArgumentError);  // nesterov needs momentum
  EXPECT_THROW(SgdD{options(-0.5)}, scvae::ArgumentError);
  EXPECT_THROW(SgdD{options(0.9, false, -1.0)}, scvae::ArgumentError);
  SgdD::Options o;
  o.learning_rate = -0.1;
  EXPECT_THROW(SgdD{o}, scvae::ArgumentError);

  SgdD sgd;
  EXPECT_THROW(sgd.set_learning_rate(std::nan("")), scvae::ArgumentError);
  sgd.set_learning_rate(0.5);
  EXPECT_EQ(sgd.learning_rate(), 0.5);
}

template <typename Scalar>
void expect_no_allocation_after_first_step(const scvae::SgdOptions& o) {
  const Eigen::Index n = 1000;
  scvae::SgdT<Scalar> sgd(o);
  Vector<Scalar> p = Vector<Scalar>::Ones(n);
  const Vector<Scalar> g = Vector<Scalar>::LinSpaced(n, Scalar(-1), Scalar(1));
  sgd.step(p, g);
  const long before = scvae::testing::eigen_assert_failures();
  Eigen::internal::set_is_malloc_allowed(false);
  for (int step = 0; step < 5; ++step) sgd.step(p, g);
  Eigen::internal::set_is_malloc_allowed(true);
  EXPECT_EQ(scvae::testing::eigen_assert_failures(), before);
}

TEST(SgdTest, NoAllocationAfterTheFirstStep) {
  for (const auto& o :
       {options(0.0), options(0.0, false, 0.1), options(0.9), options(0.9, true, 0.1)}) {
    expect_no_allocation_after_first_step<float>(o);
    expect_no_allocation_after_first_step<double>(o);
  }
  // The detector itself works: an allocation under the guard is seen.
  const long before = scvae::testing::eigen_assert_failures();
  Eigen::internal::set_is_malloc_allowed(false);
  Vector<double> allocated(100);
  Eigen::internal::set_is_malloc_allowed(true);
  allocated.setZero();
  EXPECT_GT(scvae::testing::eigen_assert_failures(), before);
}

TEST(SgdTest, OnAThreadPoolGivesTheSameBits) {
  {
    scvae::SgdT<float>::Options o;
    o.momentum = 0.9;
    expect_pool_gives_same_bits<scvae::SgdT<float>>(o);
  }
  {
    scvae::SgdT<float>::Options o;
    o.momentum = 0.9;
    o.nesterov = true;
    o.weight_decay = 0.01;
    expect_pool_gives_same_bits<scvae::SgdT<float>>(o);
  }
}

// The step reports parameters that it made non-finite (a learning rate that
// overflows float), on one thread and on a pool; finite ones stay reported.
TEST(SgdTParametersFinite, ReportsAnOverflowingStep) {
  for (int threads : {1, 2}) {
    scvae::ThreadPool pool(threads);
    scvae::SgdOptions options;
    options.learning_rate = 1e-3;
    scvae::SgdT<float> optimizer(options);
    scvae::Vector<float> params = scvae::Vector<float>::Ones(3000);
    const scvae::Vector<float> grads = scvae::Vector<float>::Constant(3000, 0.5f);
    optimizer.step(params, grads, &pool);
    EXPECT_TRUE(optimizer.parameters_finite()) << threads;
    optimizer.set_learning_rate(1e39);
    optimizer.step(params, grads, &pool);
    EXPECT_FALSE(optimizer.parameters_finite()) << threads;
    EXPECT_FALSE(scvae::detail::all_finite(params));
  }
}

}  // namespace
