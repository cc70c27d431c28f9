// M2 with networks written as module text (LabelConditionedSpec::trunk_network,
// decoder_network): a convolutional trunk and decoder on 8x8 images, as
// mnist_multitask --design m2 --arch conv builds them on 28x28.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../test_support.hpp"
#include "scvae/io/checkpoint.hpp"
#include "scvae/io/load_model.hpp"
#include "scvae/model/label_conditioned_vae.hpp"
#include "scvae/model/spec_parse.hpp"
#include "scvae/util/gradient_check.hpp"

namespace scvae {
namespace {

LabelConditionedSpec conv_m2_spec(bool latent_reads_label, double entropy_weight = 1.0) {
  LabelConditionedSpec spec;
  spec.inputs = 64;
  spec.encoder_hidden.clear();
  spec.decoder_hidden.clear();
  spec.input_shape = Shape(1, 8, 8);
  spec.trunk_network = "[conv2d(2,4,2,1) relu flatten dense(6) relu]";
  spec.decoder_network = "[dense(32) relu reshape(2x4x4) conv_transpose2d(1,4,2,1)]";
  spec.latent = 3;
  spec.classes = 4;
  spec.latent_reads_label = latent_reads_label;
  spec.label_weight = 2.5;
  spec.entropy_weight = entropy_weight;
  return spec;
}

struct ConvM2Batch {
  explicit ConvM2Batch(Index n) : x(64, n), labels(n), mask(n), eps(3, n) {
    Rng rng(17);
    for (Index i = 0; i < x.size(); ++i) x(i) = rng.uniform();
    for (Index i = 0; i < eps.size(); ++i) eps(i) = rng.normal();
    for (Index j = 0; j < n; ++j) {
      mask(j) = j % 3 == 0 ? 1.0 : 0.0;
      labels(j) = mask(j) == 1.0 ? static_cast<double>(j % 4) : -1.0;
    }
  }
  Matrix<double> x;
  RowVector<double> labels, mask;
  Matrix<double> eps;
};

class ConvM2Gradient : public ::testing::TestWithParam<bool> {};

// The whole loss through the conv trunk and the transposed-conv decoder,
// labelled and unlabelled samples, against central differences.
TEST_P(ConvM2Gradient, MatchesFiniteDifferences) {
  LabelConditionedVAET<double> model(conv_m2_spec(GetParam()), 4);
  const ConvM2Batch batch(6);
  const double beta = 0.7;
  model.loss_and_gradient(batch.x, batch.labels, batch.mask, batch.eps, beta);
  const Vector<double> analytic = model.gradients();
  auto loss = [&](const Vector<double>& flat) {
    model.parameters() = flat;
    return model.loss(batch.x, batch.labels, batch.mask, batch.eps, beta).total;
  };
  testing::expect_gradient_ok(check_gradient(loss, model.parameters(), analytic));
  EXPECT_GT(analytic.norm(), 0.0);
}

INSTANTIATE_TEST_SUITE_P(LatentReadsLabel, ConvM2Gradient, ::testing::Bool());

// Chunks over threads only regroup the sums; a seed and thread count give
// the same bits on every run.
TEST(ConvM2, ThreadsGiveTheSingleThreadLossAndTheSameBitsPerThreadCount) {
  const ConvM2Batch batch(40);
  LabelConditionedVAET<double> single(conv_m2_spec(true, 0.5), 4);
  const LabelConditionedLoss expected =
      single.loss_and_gradient(batch.x, batch.labels, batch.mask, batch.eps, 0.7);
  LabelConditionedVAET<double> two(conv_m2_spec(true, 0.5), 4);
  two.set_threads(2);
  const LabelConditionedLoss parts =
      two.loss_and_gradient(batch.x, batch.labels, batch.mask, batch.eps, 0.7);
  EXPECT_NEAR(parts.total, expected.total, 1e-12);
  EXPECT_TRUE(two.gradients().isApprox(single.gradients(), 1e-12));
  LabelConditionedVAET<double> again(conv_m2_spec(true, 0.5), 4);
  again.set_threads(2);
  const LabelConditionedLoss repeated =
      again.loss_and_gradient(batch.x, batch.labels, batch.mask, batch.eps, 0.7);
  EXPECT_EQ(repeated.total, parts.total);
  EXPECT_EQ(again.gradients(), two.gradients());
}

// The 0.1.0 line of an MLP M2 is unchanged, byte for byte: checkpoints compare it.
TEST(ConvM2, MlpArchitectureLineIsTheOneOf010) {
  LabelConditionedSpec spec;
  spec.inputs = 784;
  spec.latent = 20;
  spec.classifier_hidden = {100};
  spec.latent_reads_label = true;
  EXPECT_EQ(spec.architecture(),
            "scvae-m2-v1 encoder=784-400 latent=20|y classes=10 classifier=400-100-10 "
            "decoder=20+10-400-784 relu bernoulli");
}

TEST(ConvM2, ArchitectureLineNamesTheNetworksAndParsesBack) {
  const LabelConditionedSpec spec = conv_m2_spec(true);
  const std::string line =
      "scvae-m2-v2 input=1x8x8 trunk=[conv2d(2,4,2,1) relu flatten dense(6) relu] latent=3|y "
      "classes=4 classifier=4 decoder=[dense(32) relu reshape(2x4x4) conv_transpose2d(1,4,2,1)] "
      "relu bernoulli";
  EXPECT_EQ(spec.architecture(), line);
  const LabelConditionedSpec parsed = parse_label_conditioned_spec(line);
  EXPECT_EQ(parsed.architecture(), line);
  EXPECT_EQ(parsed.trunk_network, spec.trunk_network);
  EXPECT_EQ(parsed.decoder_network, spec.decoder_network);
  EXPECT_EQ(detail::described_parameter_count(parsed, line),
            static_cast<std::uint64_t>(LabelConditionedVAET<float>(parsed).parameter_count()));

  // One network as text, the other as hidden sizes: the MLP is written as its modules.
  LabelConditionedSpec mixed = spec;
  mixed.decoder_network.clear();
  mixed.decoder_hidden = {5};
  mixed.classifier_hidden = {7};
  const std::string mixed_line = mixed.architecture();
  EXPECT_NE(mixed_line.find("classifier=7-4 decoder=[dense(5) relu dense(64)] relu"),
            std::string::npos)
      << mixed_line;
  const LabelConditionedVAET<double> built(mixed, 2);
  const LabelConditionedVAET<double> rebuilt(parse_label_conditioned_spec(mixed_line), 2);
  EXPECT_EQ(rebuilt.architecture(), mixed_line);
  EXPECT_EQ(rebuilt.parameters(), built.parameters());
}

TEST(ConvM2, SavedModelLoadsFromItsArchitectureAlone) {
  testing::TempDir dir("scvae_conv_m2_checkpoint");
  const std::string path = (dir.path / "m2.scvae").string();
  const LabelConditionedVAET<double> saved(conv_m2_spec(false), 3);
  save_model(path, saved);
  const LabelConditionedVAET<double> loaded = load_label_conditioned_model<double>(path);
  EXPECT_EQ(loaded.architecture(), saved.architecture());
  EXPECT_EQ(loaded.parameters(), saved.parameters());
  EXPECT_THROW(load_model<double>(path), CheckpointError);  // not a SC-VAE
}

TEST(ConvM2, RefusesNetworksThatDoNotFit) {
  LabelConditionedSpec spec = conv_m2_spec(false);
  spec.encoder_hidden = {6};
  EXPECT_THROW(spec.validate(), ArgumentError);  // hidden sizes and text
  spec = conv_m2_spec(false);
  spec.decoder_hidden = {6};
  EXPECT_THROW(spec.validate(), ArgumentError);
  spec = conv_m2_spec(false);
  spec.trunk_network.clear();
  spec.encoder_hidden = {6};
  EXPECT_THROW(spec.validate(), ArgumentError);  // a shape only a trunk network reads
  spec = conv_m2_spec(false);
  spec.input_shape = Shape(1, 8, 7);
  EXPECT_THROW(spec.validate(), ArgumentError);
  spec = conv_m2_spec(false);
  spec.trunk_network = "[conv2d(2,4,2,1) relu]";  // ends in an image, not a vector
  EXPECT_THROW(LabelConditionedVAET<double>(spec, 1), ShapeError);
  spec = conv_m2_spec(false);
  spec.decoder_network = "[dense(32) relu dense(63)]";
  EXPECT_THROW(LabelConditionedVAET<double>(spec, 1), ShapeError);
  spec = conv_m2_spec(false);
  spec.decoder_network = "[dense(32) no_such_module]";
  EXPECT_THROW(LabelConditionedVAET<double>(spec, 1), ArgumentError);
  EXPECT_THROW(parse_label_conditioned_spec(
                   "scvae-m2-v2 input=1x8x8 trunk=[flatten dense(6) relu] latent=3 classes=4 "
                   "classifier=5 decoder=[dense(64)] relu bernoulli"),
               FormatError);  // the classifier must end in the classes
}

}  // namespace
}  // namespace scvae
