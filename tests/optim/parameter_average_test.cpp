#include "scvae/optim/parameter_average.hpp"

#include <gtest/gtest.h>

namespace scvae {
namespace {

TEST(ParameterAverage, IsTheExponentialMovingAverageOfTheSteps) {
  ParameterAverageT<double> average(0.9);
  Vector<double> p(2);
  p << 1.0, -2.0;
  average.start(p);
  Vector<double> expected = p;
  for (int step = 1; step <= 5; ++step) {
    p << static_cast<double>(step), 3.0 * step;
    average.update(p);
    expected = 0.9 * expected + 0.1 * p;
  }
  EXPECT_EQ(average.steps(), 5);
  EXPECT_NEAR((average.average() - expected).norm(), 0.0, 1e-12);
  // Decay 0 is the last step's parameters.
  ParameterAverageT<double> last(0.0);
  last.update(Vector<double>::Constant(2, 4.0));
  last.update(p);
  EXPECT_EQ(last.average(), p);
}

TEST(ParameterAverage, FirstUpdateWithoutStartCopiesAndSwapExchanges) {
  ParameterAverageT<float> average(0.5);
  Vector<float> p = Vector<float>::Constant(3, 2.0f);
  average.update(p);
  EXPECT_EQ(average.average(), p);
  average.update(Vector<float>::Constant(3, 4.0f));
  EXPECT_EQ(average.average(), Vector<float>::Constant(3, 3.0f));
  Vector<float> model = Vector<float>::Constant(3, 7.0f);
  average.swap(model);
  EXPECT_EQ(model, Vector<float>::Constant(3, 3.0f));
  EXPECT_EQ(average.average(), Vector<float>::Constant(3, 7.0f));
}

TEST(ParameterAverage, RejectsBadDecayAndSizes) {
  EXPECT_THROW(ParameterAverageT<float>(1.0), ArgumentError);
  EXPECT_THROW(ParameterAverageT<float>(-0.1), ArgumentError);
  EXPECT_THROW(ParameterAverageT<float>(std::nan("")), ArgumentError);
  ParameterAverageT<float> average(0.9);
  average.start(Vector<float>::Zero(3));
  EXPECT_THROW(average.update(Vector<float>::Zero(4)), ShapeError);
  Vector<float> wrong = Vector<float>::Zero(2);
  EXPECT_THROW(average.swap(wrong), ShapeError);
}

}  // namespace
}  // namespace scvae
