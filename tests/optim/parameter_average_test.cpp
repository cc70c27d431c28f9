#include "scvae/optim/parameter_average.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace scvae {
namespace {

TEST(ParameterAverage, IsTheNormalisedExponentiallyWeightedMeanOfTheUpdates) {
  const double decay = 0.9;
  ParameterAverageT<double> average(decay);
  std::vector<Vector<double>> steps;
  for (int step = 1; step <= 6; ++step) {
    Vector<double> p(2);
    p << static_cast<double>(step), std::sin(3.0 * step);
    steps.push_back(p);
    average.update(p);
    // sum_i (1 - d) d^(t - i) p_i / (1 - d^t), written out.
    Vector<double> expected = Vector<double>::Zero(2);
    double weight_sum = 0.0;
    for (std::size_t i = 0; i < steps.size(); ++i) {
      const double w = (1.0 - decay) * std::pow(decay, static_cast<double>(steps.size() - 1 - i));
      expected += w * steps[i];
      weight_sum += w;
    }
    EXPECT_NEAR(weight_sum, 1.0 - std::pow(decay, static_cast<double>(steps.size())), 1e-12);
    expected /= weight_sum;
    EXPECT_NEAR((average.average() - expected).norm(), 0.0, 1e-12) << "after update " << step;
  }
  EXPECT_EQ(average.steps(), 6);
}

TEST(ParameterAverage, OneUpdateIsThatUpdateWhateverTheDecay) {
  // Without the bias correction, a decay of 0.999 would leave the average
  // near its starting point for hundreds of steps.
  ParameterAverageT<float> average(0.999);
  const Vector<float> p = Vector<float>::Constant(3, 2.5f);
  average.update(p);
  EXPECT_EQ(average.average(), p);
  average.update(Vector<float>::Constant(3, 4.5f));
  // Weights 0.999 and 1 over 1.999.
  EXPECT_NEAR(average.average()(0), (0.999 * 2.5 + 4.5) / 1.999, 1e-6);
}

TEST(ParameterAverage, DecayZeroIsTheLastUpdate) {
  ParameterAverageT<double> last(0.0);
  last.update(Vector<double>::Constant(2, 4.0));
  const Vector<double> p = Vector<double>::Constant(2, -1.0);
  last.update(p);
  EXPECT_EQ(last.average(), p);
}

TEST(ParameterAverage, SwapExchangesAndResetStartsAfresh) {
  ParameterAverageT<float> average(0.5);
  average.update(Vector<float>::Constant(3, 2.0f));
  average.update(Vector<float>::Constant(3, 4.0f));
  // Weights 0.25 and 0.5 normalised: (0.5 + 2) / 0.75.
  EXPECT_NEAR(average.average()(1), 10.0f / 3.0f, 1e-6f);
  Vector<float> model = Vector<float>::Constant(3, 7.0f);
  average.swap(model);
  EXPECT_NEAR(model(2), 10.0f / 3.0f, 1e-6f);
  EXPECT_EQ(average.average(), Vector<float>::Constant(3, 7.0f));

  average.reset();
  EXPECT_EQ(average.steps(), 0);
  EXPECT_EQ(average.average().size(), 0);
  average.update(Vector<float>::Constant(5, 1.0f));  // a new size after reset() is fine
  EXPECT_EQ(average.average(), Vector<float>::Constant(5, 1.0f));
}

TEST(ParameterAverage, RejectsBadDecaySizesAndSwapBeforeUpdate) {
  EXPECT_THROW(ParameterAverageT<float>(1.0), ArgumentError);
  EXPECT_THROW(ParameterAverageT<float>(-0.1), ArgumentError);
  EXPECT_THROW(ParameterAverageT<float>(std::nan("")), ArgumentError);
  ParameterAverageT<float> average(0.9);
  Vector<float> params = Vector<float>::Zero(3);
  EXPECT_THROW(average.swap(params), ArgumentError);
  average.update(Vector<float>::Zero(3));
  EXPECT_THROW(average.update(Vector<float>::Zero(4)), ShapeError);
  Vector<float> wrong = Vector<float>::Zero(2);
  EXPECT_THROW(average.swap(wrong), ShapeError);
}

TEST(ParameterAverage, RestoredAverageContinuesBitForBit) {
  const double decay = 0.999;
  ParameterAverageT<float> straight(decay), first_half(decay);
  Vector<float> p(3);
  for (int step = 1; step <= 40; ++step) {
    p << std::sin(0.1f * step), std::cos(0.3f * step), 1.0f / step;
    straight.update(p);
    if (step <= 25) first_half.update(p);
  }
  ParameterAverageT<float> resumed(decay);
  resumed.restore(first_half.average(), first_half.steps());
  for (int step = 26; step <= 40; ++step) {
    p << std::sin(0.1f * step), std::cos(0.3f * step), 1.0f / step;
    resumed.update(p);
  }
  EXPECT_EQ(resumed.steps(), 40);
  EXPECT_TRUE((resumed.average().array() == straight.average().array()).all())
      << resumed.average().transpose() << " vs " << straight.average().transpose();
  EXPECT_THROW(resumed.restore(Vector<float>(), 3), ArgumentError);
  EXPECT_THROW(resumed.restore(p, 0), ArgumentError);
}

}  // namespace
}  // namespace scvae
