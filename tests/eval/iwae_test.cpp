#include "scvae/eval/iwae.hpp"

#include "../test_support.hpp"
#include "eval_support.hpp"
#include "scvae/eval/loss.hpp"

namespace scvae {
namespace {
using namespace eval_testing;

constexpr double kLog2Pi = 1.8378770664093454836;

// log N(z; 0, I) - log N(z; mu, diag exp(logvar)) per column, written out in
// full (normalising constants and (z - mu)^2 / var) rather than via eps.
RowVector<double> log_prior_over_posterior(const Matrix<double>& z, const Matrix<double>& mu,
                                           const Matrix<double>& logvar) {
  RowVector<double> out(z.cols());
  for (Index j = 0; j < z.cols(); ++j) {
    double log_p = 0.0, log_q = 0.0;
    for (Index d = 0; d < z.rows(); ++d) {
      log_p += -0.5 * kLog2Pi - 0.5 * z(d, j) * z(d, j);
      const double r = z(d, j) - mu(d, j);
      log_q += -0.5 * kLog2Pi - 0.5 * logvar(d, j) - 0.5 * r * r / std::exp(logvar(d, j));
    }
    out(j) = log_p - log_q;
  }
  return out;
}

// The single-draw estimate -log w by hand: the model's loss (beta 0, weights
// 1) with the same eps, plus the sampled KL, batch by batch like the evaluator.
double single_draw_by_hand(SCVAET<double> model, const BatchSource<double>& source,
                           Index batch_size, std::uint64_t seed) {
  for (Index t = 0; t < model.task_count(); ++t) model.set_task_weight(t, 1.0);
  Rng rng(seed);
  std::vector<Index> order(static_cast<std::size_t>(source.size()));
  for (Index i = 0; i < source.size(); ++i) order[static_cast<std::size_t>(i)] = i;
  double sum = 0.0;
  Batch<double> batch;
  for (Index begin = 0; begin < source.size(); begin += batch_size) {
    const Index end = std::min(begin + batch_size, source.size());
    source.fill(order, begin, end, batch);
    Matrix<double> eps(model.latent(), end - begin), mu, logvar;
    rng.fill_normal(eps);
    sum += model.loss(batch.x, task_batches(batch), eps, 0.0).total_sum;
    model.encode(batch.x, mu, logvar);
    const Matrix<double> z = mu.array() + (0.5 * logvar.array()).exp() * eps.array();
    sum -= log_prior_over_posterior(z, mu, logvar).sum();
  }
  return sum / static_cast<double>(source.size());
}

TEST(Iwae, OneDrawEqualsTheSampledElboOfTheSameNoise) {
  const Dataset data = make_data();
  AutoencoderSource<double> source(data);
  VAET<double> vae(16, {8}, 3, 2);
  for (Index batch_size : {10, 37}) {
    SCOPED_TRACE(batch_size);
    Rng rng(11);
    const IwaeResult result = evaluate_iwae(vae, source, 1, batch_size, rng);
    EXPECT_EQ(result.samples, 37);
    EXPECT_EQ(result.k, 1);
    EXPECT_NEAR(result.nll, single_draw_by_hand(vae, source, batch_size, 11), 1e-10);
    EXPECT_NEAR(result.elbo_loss, result.nll, 1e-12);
  }
}

TEST(Iwae, OneDrawOfAnScVaeIgnoresTaskWeightsAndRespectsMasks) {
  const Dataset data = make_data();
  const std::vector<std::uint8_t> flags = labelled_flags(data.size());
  ImageLabelSource<double> source(data, flags);
  for (DecoderInput input : {DecoderInput::Sample, DecoderInput::Mean}) {
    ModelSpec spec = image_label_spec();
    spec.tasks[1].input = input;
    SCVAET<double> model(spec, 3);
    Rng rng(5);
    const double nll = evaluate_iwae(model, source, 1, 10, rng).nll;
    EXPECT_NEAR(nll, single_draw_by_hand(model, source, 10, 5), 1e-10);
    model.set_task_weight(0, 3.0);
    Rng again(5);
    EXPECT_EQ(evaluate_iwae(model, source, 1, 10, again).nll, nll);
  }
}

TEST(Iwae, OneDrawAveragesToTheAnalyticElbo) {
  // evaluate_loss and evaluate_iwae(k = 1) draw the same eps for a seed and
  // batch size, so their difference is (sampled KL - analytic KL), whose
  // mean is zero: over 400 seeds it stays within 4 standard errors of 0.
  const Dataset data = make_data();
  AutoencoderSource<double> source(data);
  VAET<double> vae(16, {8}, 3, 2);
  const int runs = 400;
  double sum = 0.0, sum_sq = 0.0;
  for (int r = 0; r < runs; ++r) {
    Rng a(100 + r), b(100 + r);
    const double d =
        evaluate_iwae(vae, source, 1, 10, a).nll - evaluate_loss(vae, source, 10, b).total;
    sum += d;
    sum_sq += d * d;
  }
  const double mean = sum / runs;
  const double standard_error = std::sqrt((sum_sq / runs - mean * mean) / (runs - 1));
  EXPECT_GT(standard_error, 0.0);
  EXPECT_LT(std::abs(mean), 4.0 * standard_error) << mean << " +- " << standard_error;
}

TEST(Iwae, IsNoWorseThanTheMeanOfItsSingleDraws) {
  // With one batch, k draws of one evaluate_iwae(k) are the draws of k
  // successive evaluate_iwae(1) calls on the same generator; log mean w >=
  // mean log w (Jensen) then bounds the k-sample estimate by their mean.
  const Dataset data = make_data();
  const std::vector<std::uint8_t> flags = labelled_flags(data.size());
  ImageLabelSource<double> source(data, flags);
  SCVAET<double> model(image_label_spec(), 3);
  for (Index k : {2, 8, 64}) {
    SCOPED_TRACE(k);
    Rng rng(21), single_rng(21);
    const IwaeResult result = evaluate_iwae(model, source, k, 64, rng);
    double mean_single = 0.0;
    for (Index draw = 0; draw < k; ++draw)
      mean_single += evaluate_iwae(model, source, 1, 64, single_rng).nll / static_cast<double>(k);
    EXPECT_NEAR(result.elbo_loss, mean_single, 1e-10);
    EXPECT_LE(result.nll, mean_single + 1e-12);
    EXPECT_LT(result.nll, result.elbo_loss);
  }
}

TEST(Iwae, ManyDrawsAreBelowTheElbo) {
  const Dataset data = make_data();
  AutoencoderSource<double> source(data);
  VAET<double> vae(16, {8}, 3, 7);
  double elbo = 0.0;
  const int runs = 64;
  for (int r = 0; r < runs; ++r) {
    Rng rng(300 + r);
    elbo += evaluate_loss(vae, source, 10, rng).total / runs;
  }
  Rng rng(1);
  const IwaeResult result = evaluate_iwae(vae, source, 64, 10, rng);
  EXPECT_LE(result.nll, elbo + 1e-3) << "elbo " << elbo;
  Rng one(1);
  EXPECT_LE(result.nll, evaluate_iwae(vae, source, 1, 10, one).nll + 1e-3);
  EXPECT_GT(result.nll, 0.0);  // -log p of binarised-ish pixels is positive
}

TEST(Iwae, IsDeterministicForASeed) {
  const Dataset data = make_data();
  AutoencoderSource<double> source(data);
  VAET<double> vae(16, {8}, 3, 2);
  Rng a(3), b(3), c(4);
  const double first = evaluate_iwae(vae, source, 5, 10, a).nll;
  EXPECT_EQ(first, evaluate_iwae(vae, source, 5, 10, b).nll);
  EXPECT_NE(first, evaluate_iwae(vae, source, 5, 10, c).nll);
}

TEST(Iwae, SelectsTasks) {
  const Dataset data = make_data();
  const std::vector<std::uint8_t> flags = labelled_flags(data.size());
  ImageLabelSource<double> source(data, flags);
  AutoencoderSource<double> images(data);
  SCVAET<double> model(image_label_spec(), 3);

  // The image task alone: the one-draw estimate with only the image NLL.
  Rng rng(8);
  const double image_only = evaluate_iwae(model, source, 1, 10, rng, {0}).nll;
  ModelSpec image_spec = image_label_spec();
  image_spec.tasks.resize(1);
  SCVAET<double> image_model(image_spec, 3);
  image_model.parameters() = model.parameters().head(image_model.parameter_count());
  EXPECT_NEAR(image_only, single_draw_by_hand(image_model, images, 10, 8), 1e-10);

  Rng all_rng(8), both_rng(8);
  const double all = evaluate_iwae(model, source, 1, 10, all_rng).nll;
  EXPECT_EQ(all, evaluate_iwae(model, source, 1, 10, both_rng, {1, 0}).nll);
  EXPECT_GT(all, image_only);  // the label NLL adds to it
}

TEST(Iwae, AMaskedLabelChangesNothing) {
  const Dataset data = make_data();
  std::vector<std::uint8_t> labels = data.labels();
  labels[4] = static_cast<std::uint8_t>((labels[4] + 2) % 3);  // sample 4 is unlabelled
  const Dataset other(4, 4, data.pixels(), labels, 3);
  const std::vector<std::uint8_t> flags = labelled_flags(data.size());
  ImageLabelSource<double> source(data, flags), other_source(other, flags);
  SCVAET<double> model(image_label_spec(), 3);
  Rng a(6), b(6);
  EXPECT_EQ(evaluate_iwae(model, source, 4, 10, a).nll,
            evaluate_iwae(model, other_source, 4, 10, b).nll);
  ImageLabelSource<double> all_labelled(data), other_all_labelled(other);
  Rng c(6), d(6);
  EXPECT_NE(evaluate_iwae(model, all_labelled, 4, 10, c).nll,
            evaluate_iwae(model, other_all_labelled, 4, 10, d).nll);
}

TEST(Iwae, FloatModelIsFinite) {
  const Dataset data = make_data();
  AutoencoderSource<float> source(data);
  VAET<float> vae(16, {8}, 3, 2);
  Rng rng(1);
  const IwaeResult result = evaluate_iwae(vae, source, 16, 10, rng);
  EXPECT_TRUE(std::isfinite(result.nll));
  EXPECT_LE(result.nll, result.elbo_loss);
}

TEST(Iwae, RejectsBadArguments) {
  const Dataset data = make_data();
  AutoencoderSource<double> source(data);
  const std::vector<std::uint8_t> flags = labelled_flags(data.size());
  ImageLabelSource<double> labelled(data, flags);
  VAET<double> vae(16, {8}, 3, 2);
  SCVAET<double> model(image_label_spec(), 3);
  Rng rng(1);
  EXPECT_THROW(evaluate_iwae(vae, source, 0, 10, rng), ArgumentError);
  EXPECT_THROW(evaluate_iwae(vae, source, 4, 0, rng), ArgumentError);
  EXPECT_THROW(evaluate_iwae(model, labelled, 4, 10, rng, {2}), ArgumentError);
  EXPECT_THROW(evaluate_iwae(model, labelled, 4, 10, rng, {-1}), ArgumentError);
  EXPECT_THROW(evaluate_iwae(model, labelled, 4, 10, rng, {0, 0}), ArgumentError);
  EXPECT_THROW(evaluate_iwae(model, source, 4, 10, rng), ShapeError);
  try {
    evaluate_iwae(vae, source, 0, 10, rng);
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("expected at least 1, got 0"), std::string::npos);
  }
}

}  // namespace
}  // namespace scvae
