#include "scvae/eval/loss.hpp"

#include "../test_support.hpp"
#include "eval_support.hpp"

namespace scvae {
namespace {
using namespace eval_testing;

void expect_parts_near(const LossParts& a, const LossParts& b, double tolerance) {
  EXPECT_EQ(a.samples, b.samples);
  EXPECT_NEAR(a.total, b.total, tolerance);
  EXPECT_NEAR(a.kl, b.kl, tolerance);
  ASSERT_EQ(a.task_nll.size(), b.task_nll.size());
  for (std::size_t t = 0; t < a.task_nll.size(); ++t) {
    EXPECT_NEAR(a.task_nll[t], b.task_nll[t], tolerance) << "task " << t;
    EXPECT_EQ(a.task_count[t], b.task_count[t]) << "task " << t;
  }
}

TEST(EvaluateLoss, WithMeanEqualsOneCallOnTheWholeData) {
  const Dataset data = make_data();
  const std::vector<std::uint8_t> flags = labelled_flags(data.size());
  ImageLabelSource<double> source(data, flags);
  SCVAET<double> model(image_label_spec(), 3);

  Batch<double> all;
  source.fill(data.identity_order(), 0, data.size(), all);
  const Matrix<double> zero = Matrix<double>::Zero(model.latent(), data.size());
  const LossParts expected = model.loss(all.x, task_batches(all), zero, 1.0);
  EXPECT_EQ(expected.task_count[1], 25);

  Rng rng(1);
  const LossParts parts = evaluate_loss(model, source, 10, rng, 1.0, true);
  expect_parts_near(parts, expected, 1e-12);
}

TEST(EvaluateLoss, WithMeanDoesNotDependOnTheBatchSizeNorDrawNoise) {
  const Dataset data = make_data();
  AutoencoderSource<double> source(data);
  VAET<double> vae(16, {8}, 3, 2);
  Rng rng(1);
  const LossParts reference = evaluate_loss(vae, source, 37, rng, 1.0, true);
  for (Index batch_size : {1, 5, 10, 36, 64}) {
    SCOPED_TRACE(batch_size);
    expect_parts_near(evaluate_loss(vae, source, batch_size, rng, 1.0, true), reference, 1e-12);
  }
  Rng fresh(1);
  EXPECT_EQ(rng.normal(), fresh.normal());  // use_mean leaves the generator alone
}

TEST(EvaluateLoss, SampledEqualsAHandLoopDrawingEpsPerBatch) {
  const Dataset data = make_data();
  AutoencoderSource<double> source(data);
  VAET<double> vae(16, {8}, 3, 2);
  const std::vector<Index> order = data.identity_order();

  Rng hand_rng(9);
  double total = 0.0, kl = 0.0, nll = 0.0;
  for (Index begin = 0; begin < data.size(); begin += 10) {
    const Index end = std::min<Index>(begin + 10, data.size());
    Matrix<double> x;
    data.batch(order, begin, end, x);
    Matrix<double> eps(3, end - begin);
    hand_rng.fill_normal(eps);
    const LossParts parts = vae.loss(x, eps, 0.5);
    total += parts.total * static_cast<double>(end - begin);
    kl += parts.kl * static_cast<double>(end - begin);
    nll += parts.task_nll[0] * static_cast<double>(end - begin);
  }
  Rng rng(9);
  const LossParts parts = evaluate_loss(vae, source, 10, rng, 0.5);
  const double n = static_cast<double>(data.size());
  EXPECT_EQ(parts.samples, data.size());
  EXPECT_NEAR(parts.total, total / n, 1e-12);
  EXPECT_NEAR(parts.kl, kl / n, 1e-12);
  EXPECT_NEAR(parts.task_nll[0], nll / n, 1e-12);
  EXPECT_NEAR(parts.total, parts.task_nll[0] + 0.5 * parts.kl, 1e-12);
  EXPECT_EQ(rng.normal(), hand_rng.normal());  // the same draws, no more
}

TEST(EvaluateLoss, OneBatchEqualsTheWholeDataLossWithTheSameNoise) {
  const Dataset data = make_data();
  AutoencoderSource<double> source(data);
  VAET<double> vae(16, {8}, 3, 2);
  Matrix<double> x;
  data.batch(data.identity_order(), 0, data.size(), x);
  Matrix<double> eps(3, data.size());
  Rng eps_rng(4);
  eps_rng.fill_normal(eps);
  const LossParts expected = vae.loss(x, eps, 1.0);
  for (Index batch_size : {37, 100}) {
    Rng rng(4);
    expect_parts_near(evaluate_loss(vae, source, batch_size, rng), expected, 1e-12);
  }
}

TEST(EvaluateLoss, AMaskedLabelChangesNothing) {
  const Dataset data = make_data();
  std::vector<std::uint8_t> labels = data.labels();
  labels[1] = static_cast<std::uint8_t>((labels[1] + 1) % 3);  // sample 1 is unlabelled
  const Dataset other(4, 4, data.pixels(), labels, 3);
  const std::vector<std::uint8_t> flags = labelled_flags(data.size());
  ImageLabelSource<double> source(data, flags), other_source(other, flags);
  SCVAET<double> model(image_label_spec(), 3);
  Rng rng(2), other_rng(2);
  const LossParts parts = evaluate_loss(model, source, 10, rng);
  const LossParts other_parts = evaluate_loss(model, other_source, 10, other_rng);
  expect_parts_near(parts, other_parts, 0.0);

  // ... whereas the same change to a labelled sample does change the loss.
  ImageLabelSource<double> all_labelled(data), other_all_labelled(other);
  Rng a(2), b(2);
  EXPECT_NE(evaluate_loss(model, all_labelled, 10, a).task_nll[1],
            evaluate_loss(model, other_all_labelled, 10, b).task_nll[1]);
}

TEST(EvaluateLoss, FloatModelGivesAFiniteLossCloseToDouble) {
  const Dataset data = make_data();
  AutoencoderSource<float> source(data);
  AutoencoderSource<double> source_double(data);
  VAET<float> vae(16, {8}, 3, 2);
  VAET<double> vae_double(16, {8}, 3, 2);
  vae_double.parameters() = vae.parameters().cast<double>();
  Rng rng(1), rng_double(1);
  EXPECT_TRUE(std::isfinite(evaluate_loss(vae, source, 10, rng).total));
  // z = mu: no noise, whose float and double streams differ (Rng::fill_normal).
  EXPECT_NEAR(evaluate_loss(vae, source, 10, rng, 1.0, true).total,
              evaluate_loss(vae_double, source_double, 10, rng_double, 1.0, true).total, 1e-4);
}

TEST(EvaluateLoss, RejectsBadArguments) {
  const Dataset data = make_data();
  AutoencoderSource<double> source(data);
  VAET<double> vae(16, {8}, 3, 2);
  SCVAET<double> model(image_label_spec(), 3);
  Rng rng(1);
  EXPECT_THROW(evaluate_loss(vae, source, 0, rng), ArgumentError);
  EXPECT_THROW(evaluate_loss(model, source, 10, rng), ShapeError);  // 1 task, model has 2
  const Dataset empty(4, 4, {});
  AutoencoderSource<double> empty_source(empty);
  EXPECT_THROW(evaluate_loss(vae, empty_source, 10, rng), ArgumentError);
  try {
    evaluate_loss(vae, source, -3, rng);
    FAIL() << "no exception";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("expected at least 1, got -3"), std::string::npos)
        << error.what();
  }
}

}  // namespace
}  // namespace scvae
