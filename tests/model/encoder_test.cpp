#include "scvae/model/encoder.hpp"

#include <gtest/gtest.h>

namespace scvae {
namespace {

// backward() is backward_head() then backward_trunk(): a second head that
// adds its input gradient at hidden_delta() in between gets the trunk's
// gradient of both heads.
TEST(Encoder, BackwardInTwoHalvesMatchesBackwardAndTakesASecondHead) {
  ParameterLayout layout;
  const EncoderT<double> encoder(5, {4, 3}, 2, Activation::Tanh, layout);
  Vector<double> values(layout.total());
  Rng rng(3);
  encoder.initialize(values.data(), rng, Initialization::HeGlorot);
  Matrix<double> x(5, 6);
  for (Index i = 0; i < x.size(); ++i) x(i) = rng.normal();
  Matrix<double> head_delta(4, 6);
  for (Index i = 0; i < head_delta.size(); ++i) head_delta(i) = rng.normal();

  typename EncoderT<double>::Workspace whole, halves;
  Vector<double> g_whole = Vector<double>::Zero(layout.total());
  Vector<double> g_halves = Vector<double>::Zero(layout.total());
  encoder.forward(values.data(), x, whole);
  whole.head_delta = head_delta;
  encoder.backward(values.data(), g_whole.data(), x, whole);
  encoder.forward(values.data(), x, halves);
  halves.head_delta = head_delta;
  encoder.backward_head(values.data(), g_halves.data(), halves);
  encoder.backward_trunk(values.data(), g_halves.data(), x, halves);
  EXPECT_EQ(g_whole, g_halves);
  EXPECT_GT(g_whole.norm(), 0.0);

  // A second head's gradient at the trunk's output changes the trunk's
  // gradient only (the Gaussian head's is the same).
  typename EncoderT<double>::Workspace extra;
  Vector<double> g_extra = Vector<double>::Zero(layout.total());
  encoder.forward(values.data(), x, extra);
  EXPECT_EQ(EncoderT<double>::hidden(extra).rows(), 3);
  extra.head_delta = head_delta;
  encoder.backward_head(values.data(), g_extra.data(), extra);
  EncoderT<double>::hidden_delta(extra).array() += 0.5;
  encoder.backward_trunk(values.data(), g_extra.data(), x, extra);
  const Index head_size = 3 * 4 + 4;  // the last layer: 3 -> [mu; logvar]
  const Index trunk_size = layout.total() - head_size;
  EXPECT_EQ(g_extra.tail(head_size), g_whole.tail(head_size));
  EXPECT_GT((g_extra.head(trunk_size) - g_whole.head(trunk_size)).norm(), 0.0);
}

}  // namespace
}  // namespace scvae
