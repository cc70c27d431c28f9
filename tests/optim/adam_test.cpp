// Adam against hand-computed steps, state save/restore, and no allocation
// after the first step.

#include "../eigen_assert_counter.hpp"

#include "scvae/optim/adam.hpp"

#include <gtest/gtest.h>

#include "optim_test_support.hpp"

#include <cmath>
#include <string>

namespace {

using scvae::Vector;
using AdamD = scvae::AdamT<double>;

using namespace scvae::optim_testing;

AdamD::Options hand_options(double weight_decay = 0.0) {
  AdamD::Options o;
  o.learning_rate = 0.1;  // beta1 0.9, beta2 0.999, epsilon 1e-8: the defaults
  o.weight_decay = weight_decay;
  return o;
}

TEST(AdamTest, DefaultOptionsArePyTorchs) {
  const scvae::Adam adam;
  EXPECT_EQ(adam.options().learning_rate, 1e-3);
  EXPECT_EQ(adam.options().beta1, 0.9);
  EXPECT_EQ(adam.options().beta2, 0.999);
  EXPECT_EQ(adam.options().epsilon, 1e-8);
  EXPECT_EQ(adam.options().weight_decay, 0.0);
  EXPECT_EQ(adam.step_count(), 0);
  EXPECT_EQ(adam.first_moment().size(), 0);
}

TEST(AdamTest, ThreeStepsMatchHandComputation) {
  AdamD adam(hand_options());
  Vector<double> p = kP0;
  const double eps = 1e-8;

  // Step 1: m = 0.1 g1 = (0.05, -0.1, 0.2), v = 0.001 g1^2 = (0.00025, 0.001, 0.004).
  // 1 - 0.9^1 = 0.1, 1 - 0.999^1 = 0.001, so m / 0.1 = g1 and
  // sqrt(v) / sqrt(0.001) = |g1|: p1 = p0 - (0.1 / 0.1) * m / (|g1| + eps),
  // about p0 - 0.1 sign(g1).
  adam.step(p, kG1);
  EXPECT_EQ(adam.step_count(), 1);
  expect_near3(adam.first_moment(), 0.05, -0.1, 0.2);
  expect_near3(adam.second_moment(), 0.00025, 0.001, 0.004);
  const Vector<double> p1 = vec3(1.0 - (0.1 / 0.1) * 0.05 / (0.5 + eps),  //
                                 -2.0 + (0.1 / 0.1) * 0.1 / (1.0 + eps),  //
                                 0.5 - (0.1 / 0.1) * 0.2 / (2.0 + eps));
  expect_near3(p, p1[0], p1[1], p1[2]);

  // Step 2: m = 0.9 m + 0.1 g2 = (0.045 + 0.1, -0.09 + 0.05, 0.18 - 0.1)
  //           = (0.145, -0.04, 0.08)
  //         v = 0.999 v + 0.001 g2^2 = (0.00024975 + 0.001, 0.000999 + 0.00025,
  //             0.003996 + 0.001) = (0.00124975, 0.001249, 0.004996)
  // 1 - 0.9^2 = 0.19, 1 - 0.999^2 = 0.001999.
  adam.step(p, kG2);
  expect_near3(adam.first_moment(), 0.145, -0.04, 0.08);
  expect_near3(adam.second_moment(), 0.00124975, 0.001249, 0.004996);
  const double s2 = 0.1 / 0.19, c2 = std::sqrt(0.001999);
  const Vector<double> p2 = vec3(p1[0] - s2 * 0.145 / (std::sqrt(0.00124975) / c2 + eps),
                                 p1[1] - s2 * -0.04 / (std::sqrt(0.001249) / c2 + eps),
                                 p1[2] - s2 * 0.08 / (std::sqrt(0.004996) / c2 + eps));
  expect_near3(p, p2[0], p2[1], p2[2]);

  // Step 3: m = 0.9 m + 0.1 g3 = (0.1305 - 0.05, -0.036 + 0.025, 0.072 + 0.1)
  //           = (0.0805, -0.011, 0.172)
  //         v = 0.999 v + 0.001 g3^2 = (0.00124850025 + 0.00025,
  //             0.001247751 + 0.0000625, 0.004991004 + 0.001)
  //           = (0.00149850025, 0.001310251, 0.005991004)
  // 1 - 0.9^3 = 0.271, 1 - 0.999^3 = 0.002997001.
  adam.step(p, kG3);
  EXPECT_EQ(adam.step_count(), 3);
  expect_near3(adam.first_moment(), 0.0805, -0.011, 0.172);
  expect_near3(adam.second_moment(), 0.00149850025, 0.001310251, 0.005991004);
  const double s3 = 0.1 / 0.271, c3 = std::sqrt(0.002997001);
  expect_near3(p, p2[0] - s3 * 0.0805 / (std::sqrt(0.00149850025) / c3 + eps),
               p2[1] - s3 * -0.011 / (std::sqrt(0.001310251) / c3 + eps),
               p2[2] - s3 * 0.172 / (std::sqrt(0.005991004) / c3 + eps));
}

TEST(AdamTest, DecoupledWeightDecayMatchesHandComputation) {
  // AdamW: p <- p * (1 - lr * wd) = 0.95 p first; the moments are those of
  // plain Adam, since the decay never enters the gradient.
  AdamD adam(hand_options(0.5));
  Vector<double> p = kP0;
  const double eps = 1e-8;

  adam.step(p, kG1);
  expect_near3(adam.first_moment(), 0.05, -0.1, 0.2);
  const Vector<double> p1 = vec3(0.95 * 1.0 - (0.1 / 0.1) * 0.05 / (0.5 + eps),  //
                                 0.95 * -2.0 + (0.1 / 0.1) * 0.1 / (1.0 + eps),  //
                                 0.95 * 0.5 - (0.1 / 0.1) * 0.2 / (2.0 + eps));
  expect_near3(p, p1[0], p1[1], p1[2]);

  adam.step(p, kG2);
  expect_near3(adam.second_moment(), 0.00124975, 0.001249, 0.004996);
  const double s2 = 0.1 / 0.19, c2 = std::sqrt(0.001999);
  expect_near3(p, 0.95 * p1[0] - s2 * 0.145 / (std::sqrt(0.00124975) / c2 + eps),
               0.95 * p1[1] - s2 * -0.04 / (std::sqrt(0.001249) / c2 + eps),
               0.95 * p1[2] - s2 * 0.08 / (std::sqrt(0.004996) / c2 + eps));
}

TEST(AdamTest, WorksOnAMapIntoALargerBuffer) {
  Vector<double> buffer = Vector<double>::Zero(5);
  buffer.segment(1, 3) = kP0;
  scvae::VectorMap<double> view(buffer.data() + 1, 3);
  AdamD adam(hand_options());
  adam.step(view, kG1);
  EXPECT_NEAR(buffer[1], 1.0 - (0.1 / 0.1) * 0.05 / (0.5 + 1e-8), kTol);
  EXPECT_EQ(buffer[0], 0.0);
  EXPECT_EQ(buffer[4], 0.0);
}

Vector<double> adam_test_gradient(int step, Eigen::Index size) {
  Vector<double> g(size);
  for (Eigen::Index i = 0; i < size; ++i) {
    g[i] = std::sin(0.7 * static_cast<double>(i) + 1.3 * step) + 0.1 * step;
  }
  return g;
}

TEST(AdamTest, FloatAndDoubleAgree) {
  const Eigen::Index n = 64;
  AdamD::Options o;
  o.learning_rate = 0.01;
  o.weight_decay = 0.1;
  AdamD adam_d(o);
  scvae::Adam adam_f(o);
  Vector<double> p_d = Vector<double>::LinSpaced(n, -1.0, 1.0);
  Vector<float> p_f = p_d.cast<float>();
  for (int step = 0; step < 20; ++step) {
    const Vector<double> g = adam_test_gradient(step, n);
    adam_d.step(p_d, g);
    adam_f.step(p_f, g.cast<float>());
  }
  EXPECT_EQ(adam_f.step_count(), 20);
  EXPECT_LT((p_f.cast<double>() - p_d).cwiseAbs().maxCoeff(), 1e-5);
  EXPECT_LT((adam_f.first_moment().cast<double>() - adam_d.first_moment()).cwiseAbs().maxCoeff(),
            1e-5);
}

TEST(AdamTest, EveryElementIsUpdatedAsIfAlone) {
  // The update runs block by block; each element must still see exactly its
  // own arithmetic, across block boundaries and in the last partial block.
  const Eigen::Index n = 600;
  AdamD::Options o = hand_options(0.01);
  AdamD adam(o);
  Vector<double> p = Vector<double>::LinSpaced(n, -1.0, 1.0);
  const Vector<double> p_start = p;
  for (int step = 0; step < 3; ++step) adam.step(p, adam_test_gradient(step, n));
  for (const Eigen::Index i : {0, 255, 256, 257, 511, 512, 599}) {
    AdamD alone(o);
    Vector<double> q = p_start.segment(i, 1);
    for (int step = 0; step < 3; ++step) alone.step(q, adam_test_gradient(step, n).segment(i, 1));
    EXPECT_DOUBLE_EQ(p[i], q[0]) << "element " << i;
    EXPECT_DOUBLE_EQ(adam.second_moment()[i], alone.second_moment()[0]) << "element " << i;
  }
}

TEST(AdamTest, RestoredStateContinuesIdentically) {
  const Eigen::Index n = 16;
  AdamD::Options o;
  o.learning_rate = 0.05;
  o.weight_decay = 0.01;
  AdamD original(o);
  Vector<double> p = Vector<double>::LinSpaced(n, -2.0, 2.0);
  for (int step = 0; step < 3; ++step) original.step(p, adam_test_gradient(step, n));

  // A checkpoint: the parameters and the optimizer's state.
  const Vector<double> saved_p = p;
  AdamD restored(o);
  restored.restore_state(original.first_moment(), original.second_moment(), original.step_count());
  EXPECT_EQ(restored.step_count(), 3);

  Vector<double> q = saved_p;
  for (int step = 3; step < 6; ++step) {
    original.step(p, adam_test_gradient(step, n));
    restored.step(q, adam_test_gradient(step, n));
  }
  EXPECT_TRUE((p.array() == q.array()).all());
  EXPECT_TRUE((original.first_moment().array() == restored.first_moment().array()).all());
  EXPECT_TRUE((original.second_moment().array() == restored.second_moment().array()).all());
  EXPECT_EQ(restored.step_count(), 6);
}

TEST(AdamTest, ResetClearsTheState) {
  AdamD adam(hand_options());
  Vector<double> p = kP0;
  adam.step(p, kG1);
  adam.reset(3);
  EXPECT_EQ(adam.step_count(), 0);
  EXPECT_TRUE(adam.first_moment().isZero());
  EXPECT_TRUE(adam.second_moment().isZero());
  // After the reset the next step is a first step again.
  Vector<double> q = kP0;
  adam.step(q, kG1);
  expect_near3(q, 1.0 - (0.1 / 0.1) * 0.05 / (0.5 + 1e-8), -2.0 + (0.1 / 0.1) * 0.1 / (1.0 + 1e-8),
               0.5 - (0.1 / 0.1) * 0.2 / (2.0 + 1e-8));
}

TEST(AdamTest, SizeMismatchThrowsShapeError) {
  AdamD adam;
  Vector<double> p = kP0;
  const Vector<double> g4 = Vector<double>::Ones(4);
  expect_shape_error([&] { adam.step(p, g4); });
  EXPECT_EQ(adam.step_count(), 0);

  adam.step(p, kG1);  // the state now holds 3 parameters
  Vector<double> p4 = Vector<double>::Ones(4);
  expect_shape_error([&] { adam.step(p4, g4); });
  EXPECT_EQ(adam.step_count(), 1);

  expect_shape_error(
      [&] { adam.restore_state(Vector<double>::Zero(3), Vector<double>::Zero(2), 1); });

  AdamD reset_adam;
  reset_adam.reset(5);
  expect_shape_error([&] { reset_adam.step(p, kG1); });
}

TEST(AdamTest, InvalidOptionsThrowArgumentError) {
  AdamD::Options o;
  o.learning_rate = -1.0;
  EXPECT_THROW(AdamD{o}, scvae::ArgumentError);
  o = AdamD::Options();
  o.beta1 = 1.0;
  EXPECT_THROW(AdamD{o}, scvae::ArgumentError);
  o = AdamD::Options();
  o.beta2 = -0.1;
  EXPECT_THROW(AdamD{o}, scvae::ArgumentError);
  o = AdamD::Options();
  o.epsilon = -1e-8;
  EXPECT_THROW(AdamD{o}, scvae::ArgumentError);
  o = AdamD::Options();
  o.weight_decay = std::nan("");
  EXPECT_THROW(AdamD{o}, scvae::ArgumentError);

  AdamD adam;
  EXPECT_THROW(adam.set_learning_rate(-0.5), scvae::ArgumentError);
  EXPECT_THROW(adam.restore_state(Vector<double>(), Vector<double>(), -1), scvae::ArgumentError);
  adam.set_learning_rate(0.25);
  EXPECT_EQ(adam.learning_rate(), 0.25);
}

TEST(AdamTest, MallocDetectorWorks) {
  // The negative control of the next test: an allocation under the guard is seen.
  const long before = scvae::testing::eigen_assert_failures();
  Eigen::internal::set_is_malloc_allowed(false);
  Vector<double> allocated(1000);
  Eigen::internal::set_is_malloc_allowed(true);
  allocated.setZero();
  EXPECT_GT(scvae::testing::eigen_assert_failures(), before);
}

template <typename Scalar>
void expect_no_allocation_after_first_step(bool preallocate) {
  const Eigen::Index n = 1000;
  scvae::AdamOptions o;
  o.weight_decay = 0.01;
  scvae::AdamT<Scalar> adam(o);
  Vector<Scalar> p = Vector<Scalar>::Ones(n);
  const Vector<Scalar> g = Vector<Scalar>::LinSpaced(n, Scalar(-1), Scalar(1));
  if (preallocate) {
    adam.reset(n);
  } else {
    adam.step(p, g);  // the first step allocates the moments
  }
  const long before = scvae::testing::eigen_assert_failures();
  Eigen::internal::set_is_malloc_allowed(false);
  for (int step = 0; step < 5; ++step) adam.step(p, g);
  adam.set_learning_rate(1e-4);
  adam.step(p, g);
  Eigen::internal::set_is_malloc_allowed(true);
  EXPECT_EQ(scvae::testing::eigen_assert_failures(), before);
}

TEST(AdamTest, NoAllocationAfterTheFirstStep) {
  expect_no_allocation_after_first_step<float>(false);
  expect_no_allocation_after_first_step<double>(false);
}

TEST(AdamTest, NoAllocationAfterReset) {
  expect_no_allocation_after_first_step<float>(true);
  expect_no_allocation_after_first_step<double>(true);
}

TEST(AdamTest, OnAThreadPoolGivesTheSameBits) {
  {
    scvae::AdamT<float>::Options o;
    o.weight_decay = 0.0;
    expect_pool_gives_same_bits<scvae::AdamT<float>>(o);
  }
  {
    scvae::AdamT<float>::Options o;
    o.weight_decay = 0.01;
    expect_pool_gives_same_bits<scvae::AdamT<float>>(o);
  }
}

// The step reports parameters that it made non-finite (a learning rate that
// overflows float), on one thread and on a pool; finite ones stay reported.
TEST(AdamTParametersFinite, ReportsAnOverflowingStep) {
  for (int threads : {1, 2}) {
    scvae::ThreadPool pool(threads);
    scvae::AdamOptions options;
    options.learning_rate = 1e-3;
    scvae::AdamT<float> optimizer(options);
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
