#pragma once
// The hand-computation fixture and checks shared by the optimizer tests.

#include <gtest/gtest.h>

#include <string>

#include "scvae/core/error.hpp"
#include "scvae/core/thread_pool.hpp"
#include "scvae/core/types.hpp"

#include "../test_support.hpp"

namespace scvae::optim_testing {

inline constexpr double kTol = 1e-12;

inline Vector<double> vec3(double a, double b, double c) {
  Vector<double> v(3);
  v << a, b, c;
  return v;
}

inline void expect_near3(const Vector<double>& got, double a, double b, double c,
                         double tol = kTol) {
  ASSERT_EQ(got.size(), 3);
  EXPECT_NEAR(got[0], a, tol);
  EXPECT_NEAR(got[1], b, tol);
  EXPECT_NEAR(got[2], c, tol);
}

// The fixture of the hand computations: p0, and the gradients of steps 1-3.
inline const Vector<double> kP0 = vec3(1.0, -2.0, 0.5);
inline const Vector<double> kG1 = vec3(0.5, -1.0, 2.0);
inline const Vector<double> kG2 = vec3(1.0, 0.5, -1.0);
inline const Vector<double> kG3 = vec3(-0.5, 0.25, 1.0);

/// Expects `call` to throw a ShapeError saying what was expected and got.
template <typename Call>
void expect_shape_error(Call call) {
  try {
    call();
    FAIL() << "no ShapeError thrown";
  } catch (const ShapeError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("expected"), std::string::npos) << message;
    EXPECT_NE(message.find("got"), std::string::npos) << message;
  }
}

/// An optimizer stepping on a ThreadPool gives the bits of the serial step.
template <typename Optimizer>
void expect_pool_gives_same_bits(const typename Optimizer::Options& options) {
  // Slices that do not fall on the optimizers' 256-element blocks.
  const Index size = 256 * 5 + 7;
  Vector<float> serial = Vector<float>::Random(size), pooled = serial;
  Optimizer alone(options), shared(options);
  for (int threads : {2, 3}) {
    ThreadPool pool(threads);
    for (int step = 0; step < 3; ++step) {
      const Vector<float> grads = Vector<float>::Random(size);
      alone.step(serial, grads);
      shared.step(pooled, grads, &pool);
      ASSERT_TRUE(testing::bit_identical(serial, pooled)) << threads << " threads";
    }
  }
}

}  // namespace scvae::optim_testing
