// Class-probability targets for a Categorical task, through the whole SC-VAE:
// the loss and its gradient for every parameter, with a mask, and the same
// loss as class indices when the probabilities are one-hot.

#include "scvae/model/scvae.hpp"

#include "../test_support.hpp"

namespace scvae {
namespace {

ModelSpec label_spec(DecoderInput input) {
  ModelSpec spec;
  spec.inputs = 6;
  spec.encoder_hidden = {7};
  spec.latent = 3;
  spec.tasks.push_back({"image", 6, {5}, LikelihoodSpec::bernoulli()});
  spec.tasks.push_back(
      {"label", 4, {5}, LikelihoodSpec::categorical(4), 2.5, Activation::Tanh, input});
  return spec;
}

struct SoftBatch {
  explicit SoftBatch(Index n)
      : x(testing::random_uniform(6, n, 31)),
        soft(testing::random_uniform(4, n, 32)),
        mask(1, n),
        eps(testing::random_matrix(3, n, 33)) {
    for (Index j = 0; j < n; ++j) {
      soft.col(j) /= soft.col(j).sum();
      mask(j) = j % 3 == 1 ? 0.0 : 1.0;
      if (mask(j) == 0.0) soft.col(j).setConstant(-1.0);  // never read
    }
  }
  Matrix<double> x, soft;
  RowVector<double> mask;
  Matrix<double> eps;
};

class SoftTargetGradient : public ::testing::TestWithParam<DecoderInput> {};

TEST_P(SoftTargetGradient, WholeLossMatchesFiniteDifferencesForEveryParameter) {
  SCVAET<double> model(label_spec(GetParam()), 7);
  const SoftBatch batch(6);
  const std::vector<TaskBatch<double>> targets{TaskBatch<double>(batch.x),
                                               TaskBatch<double>(batch.soft, batch.mask)};
  const LossParts parts = model.loss_and_gradient(batch.x, targets, batch.eps, 0.6);
  ASSERT_TRUE(std::isfinite(parts.total));
  EXPECT_EQ(parts.task_count[1], 4);
  const Vector<double> analytic = model.gradients();
  auto loss = [&](const Vector<double>& flat) {
    model.parameters() = flat;
    return model.loss(batch.x, targets, batch.eps, 0.6).total;
  };
  testing::expect_gradient_ok(check_gradient(loss, Vector<double>(model.parameters()), analytic));
}

INSTANTIATE_TEST_SUITE_P(DecoderInputs, SoftTargetGradient,
                         ::testing::Values(DecoderInput::Sample, DecoderInput::Mean),
                         [](const auto& info) {
                           return info.param == DecoderInput::Sample ? std::string("Sample")
                                                                     : std::string("Mean");
                         });

TEST(SoftTargets, OneHotProbabilitiesGiveTheClassIndexLossAndGradient) {
  SCVAET<double> model(label_spec(DecoderInput::Sample), 7);
  const SoftBatch batch(6);
  Matrix<double> indices(1, 6), one_hot = Matrix<double>::Zero(4, 6);
  for (Index j = 0; j < 6; ++j) {
    indices(0, j) = static_cast<double>((j * 3) % 4);
    one_hot(static_cast<Index>(indices(0, j)), j) = 1.0;
  }
  const LossParts by_index = model.loss_and_gradient(
      batch.x, {TaskBatch<double>(batch.x), TaskBatch<double>(indices, batch.mask)}, batch.eps);
  const Vector<double> index_gradient = model.gradients();
  const LossParts by_probability = model.loss_and_gradient(
      batch.x, {TaskBatch<double>(batch.x), TaskBatch<double>(one_hot, batch.mask)}, batch.eps);
  EXPECT_NEAR(by_probability.total, by_index.total, 1e-12);
  EXPECT_NEAR(by_probability.task_nll[1], by_index.task_nll[1], 1e-12);
  EXPECT_LE((model.gradients() - index_gradient).norm(), 1e-12 * index_gradient.norm());
}

TEST(SoftTargets, BadProbabilitiesNameTheTaskColumnAndProblem) {
  SCVAET<double> model(label_spec(DecoderInput::Sample), 7);
  SoftBatch batch(6);
  batch.soft(0, 2) += 0.5;  // column 2 is labelled and now sums to 1.5
  try {
    model.loss(batch.x, {TaskBatch<double>(batch.x), TaskBatch<double>(batch.soft, batch.mask)},
               batch.eps);
    FAIL() << "expected ArgumentError";
  } catch (const ArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("in column 2"), std::string::npos) << e.what();
  }
  const Matrix<double> three_rows = Matrix<double>::Zero(3, 6);
  EXPECT_THROW(
      model.loss(batch.x, {TaskBatch<double>(batch.x), TaskBatch<double>(three_rows)}, batch.eps),
      ShapeError);
}

}  // namespace
}  // namespace scvae
