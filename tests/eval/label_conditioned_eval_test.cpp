// M2 (LabelConditionedVAET) through the evaluators and the pictures, by the
// model contract's entries (model/contract.hpp): evaluate_accuracy with its
// evidence-weighted prediction, evaluate_iwae against -log p(x) and
// -log p(x, y) integrated numerically, evaluate_loss, and the pictures'
// reconstructions and prior samples.

#include <cmath>
#include <filesystem>
#include <limits>

#include "../test_support.hpp"
#include "eval_support.hpp"
#include "scvae/eval/accuracy.hpp"
#include "scvae/eval/iwae.hpp"
#include "scvae/eval/loss.hpp"
#include "scvae/io/pictures.hpp"
#include "scvae/model/label_conditioned_vae.hpp"

namespace scvae {
namespace {
using namespace eval_testing;

// 16 inputs (the eval data's 4x4 images), 3 classes; latent 1 so that
// p(x) can be integrated on a grid.
LabelConditionedSpec small_spec(bool latent_reads_label, Index latent = 1) {
  LabelConditionedSpec spec;
  spec.inputs = 16;
  spec.encoder_hidden = {8};
  spec.latent = latent;
  spec.classes = 3;
  spec.decoder_hidden = {8};
  spec.latent_reads_label = latent_reads_label;
  return spec;
}

class M2Eval : public ::testing::TestWithParam<bool> {};

TEST_P(M2Eval, AccuracyCountsTheEvidenceWeightedPrediction) {
  const Dataset data = make_data();
  const ImageLabelSource<float> source(data, labelled_flags(data.size()));
  const LabelConditionedVAET<float> model(small_spec(GetParam(), 2), 3);
  Matrix<float> x, y, weighted, q;
  data.batch(data.identity_order(), 0, data.size(), x);
  data.label_batch(data.identity_order(), 0, data.size(), y);
  model.evidence_weighted_class_probabilities(x, weighted);
  model.class_probabilities(x, q);
  const std::vector<std::uint8_t> labelled = labelled_flags(data.size());
  RowVector<float> mask(data.size());
  for (Index j = 0; j < data.size(); ++j) mask(j) = labelled[static_cast<std::size_t>(j)];
  const AccuracyResult result = evaluate_accuracy(model, 1, source, 10);
  EXPECT_EQ(result.total, static_cast<Index>(mask.sum()));
  EXPECT_EQ(result.correct, count_correct(weighted, y, &mask));
  // q(y|x) alone through the predictor overload.
  const AccuracyResult alone =
      evaluate_accuracy(model, 1, source, 10, [&](const Matrix<float>& batch, Matrix<float>& p) {
        model.class_probabilities(batch, p);
      });
  EXPECT_EQ(alone.correct, count_correct(q, y, &mask));
  EXPECT_THROW(evaluate_accuracy(model, 0, source, 10), ArgumentError);  // the image task
}

// -log p(x) and -log p(x, y) by quadrature over the one latent dimension:
// p(x, y) = 1/K * integral p(x|z,y) N(z; 0, 1) dz.
std::vector<std::vector<double>> log_joint_by_quadrature(const LabelConditionedVAET<double>& model,
                                                         const Matrix<double>& x) {
  const double step = 0.005, low = -9.0;
  const Index points = 3601;
  Matrix<double> z(1, points);
  for (Index i = 0; i < points; ++i) z(0, i) = low + step * static_cast<double>(i);
  std::vector<std::vector<double>> log_joint(static_cast<std::size_t>(model.classes()),
                                             std::vector<double>(static_cast<std::size_t>(x.cols())));
  for (Index k = 0; k < model.classes(); ++k) {
    Matrix<double> pixels;
    model.decode(z, RowVector<double>::Constant(points, static_cast<double>(k)), pixels);
    for (Index j = 0; j < x.cols(); ++j) {
      RowVector<double> terms(points);
      for (Index i = 0; i < points; ++i) {
        const auto p = pixels.col(i).array();
        const auto t = x.col(j).array();
        terms(i) = (t * p.log() + (1.0 - t) * (1.0 - p).log()).sum() - 0.5 * z(0, i) * z(0, i) -
                   0.5 * std::log(2.0 * M_PI);
      }
      const double top = terms.maxCoeff();
      log_joint[static_cast<std::size_t>(k)][static_cast<std::size_t>(j)] =
          top + std::log((terms.array() - top).exp().sum() * step) -
          std::log(static_cast<double>(model.classes()));
    }
  }
  return log_joint;
}

TEST_P(M2Eval, IwaeApproachesTheIntegratedMarginalAndJoint) {
  const Dataset data = make_data(5, 12);
  const std::vector<std::uint8_t> labelled = labelled_flags(data.size());
  const ImageLabelSource<double> source(data, labelled);
  const LabelConditionedVAET<double> model(small_spec(GetParam()), 4);
  Matrix<double> x, y;
  data.batch(data.identity_order(), 0, data.size(), x);
  data.label_batch(data.identity_order(), 0, data.size(), y);
  const auto log_joint = log_joint_by_quadrature(model, x);
  double marginal = 0.0, mixed = 0.0;
  for (Index j = 0; j < x.cols(); ++j) {
    double top = -std::numeric_limits<double>::infinity(), sum = 0.0;
    for (const auto& per_class : log_joint) top = std::max(top, per_class[std::size_t(j)]);
    for (const auto& per_class : log_joint) sum += std::exp(per_class[std::size_t(j)] - top);
    const double log_p_x = top + std::log(sum);
    marginal -= log_p_x;
    mixed -= labelled[std::size_t(j)] ? log_joint[std::size_t(y(0, j))][std::size_t(j)] : log_p_x;
  }
  marginal /= static_cast<double>(x.cols());
  mixed /= static_cast<double>(x.cols());

  Rng rng(21);
  const IwaeResult image = evaluate_iwae(model, source, 3000, 6, rng, {0});
  EXPECT_NEAR(image.nll, marginal, 0.02);
  EXPECT_GE(image.elbo_loss, image.nll);
  Rng again(21);
  const IwaeResult both = evaluate_iwae(model, source, 3000, 6, again);
  EXPECT_NEAR(both.nll, mixed, 0.02);
  EXPECT_GT(both.nll, image.nll);  // a label is information p(x) does not have
  // One draw: the mean of -log w, for a seed the same bits.
  Rng one(3), one_again(3);
  const IwaeResult single = evaluate_iwae(model, source, 1, 5, one, {0});
  EXPECT_DOUBLE_EQ(single.nll, single.elbo_loss);
  EXPECT_EQ(single.nll, evaluate_iwae(model, source, 1, 5, one_again, {0}).nll);
  Rng unused(1);
  EXPECT_THROW(evaluate_iwae(model, source, 4, 5, unused, {1}), ArgumentError);
}

TEST_P(M2Eval, LossIsTheModelsLossOverTheSource) {
  const Dataset data = make_data();
  const ImageLabelSource<double> source(data, labelled_flags(data.size()));
  LabelConditionedVAET<double> model(small_spec(GetParam(), 2), 5);
  Rng rng(8);
  const LossParts parts = evaluate_loss(model, source, 37, rng);
  Matrix<double> x, y, eps(2, data.size());
  data.batch(data.identity_order(), 0, data.size(), x);
  data.label_batch(data.identity_order(), 0, data.size(), y);
  RowVector<double> mask(data.size());
  for (Index j = 0; j < data.size(); ++j) mask(j) = labelled_flags(data.size())[std::size_t(j)];
  Rng same(8);
  same.fill_normal(eps);
  const LabelConditionedLoss direct = model.loss(x, y.cwiseProduct(mask), mask, eps);
  EXPECT_NEAR(parts.total, direct.total, 1e-12);
  EXPECT_NEAR(parts.task_nll[1], direct.label_nll, 1e-12);
  EXPECT_EQ(parts.task_count[1], direct.labelled);
}

TEST_P(M2Eval, PicturesDecodeInThePredictedClassAndCycleClassesFromThePrior) {
  const Dataset data = make_data();
  const LabelConditionedVAET<float> model(small_spec(GetParam(), 2), 6);
  Matrix<float> x;
  data.batch(data.identity_order(), 0, 6, x);
  Matrix<float> weighted, mu, logvar, expected, got;
  model.evidence_weighted_class_probabilities(x, weighted);
  RowVector<float> predicted(6);
  for (Index j = 0; j < 6; ++j) {
    Index best = 0;
    weighted.col(j).maxCoeff(&best);
    predicted(j) = static_cast<float>(best);
  }
  model.encode(x, predicted, mu, logvar);
  model.decode(mu, predicted, expected);
  reconstruct(model, 0, x, got);
  EXPECT_EQ(got, expected);
  reconstruct(model, 1, x, got);
  EXPECT_EQ(got, weighted);

  Matrix<float> z(2, 7);
  Rng rng(2);
  rng.fill_normal(z);
  RowVector<float> cycled(7);
  for (Index j = 0; j < 7; ++j) cycled(j) = static_cast<float>(j % 3);
  model.decode(z, cycled, expected);
  decode_prior(model, 0, z, got);
  EXPECT_EQ(got, expected);
  EXPECT_THROW(decode_prior(model, 1, z, got), ArgumentError);

  const auto dir = std::filesystem::temp_directory_path() /
                   ("m2_pictures_" + std::to_string(GetParam()) + "_" +
                    std::to_string(::testing::UnitTest::GetInstance()->random_seed()));
  std::filesystem::create_directories(dir);
  write_reconstructions((dir / "r.png").string(), model, 0, x, 4, 4, 3);
  write_prior_samples((dir / "p.png").string(), model, 0, 6, 4, 4, 3, rng);
  write_class_samples((dir / "c.png").string(), model, 4, 4, 4, rng);
  for (const char* name : {"r.png", "p.png", "c.png"})
    EXPECT_GT(std::filesystem::file_size(dir / name), 0u) << name;
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(LatentReadsLabel, M2Eval, ::testing::Bool());

}  // namespace
}  // namespace scvae
