#include "scvae/eval/accuracy.hpp"

#include "../test_support.hpp"
#include "eval_support.hpp"

namespace scvae {
namespace {
using namespace eval_testing;

// The accuracy by an explicit loop over the whole data at once.
AccuracyResult by_hand(const SCVAET<double>& model, const Dataset& data,
                       const std::vector<std::uint8_t>& flags) {
  Matrix<double> x, mu, logvar, logits;
  data.batch(data.identity_order(), 0, data.size(), x);
  model.encode(x, mu, logvar);
  model.decode(1, mu, logits);
  AccuracyResult result;
  for (Index j = 0; j < data.size(); ++j) {
    if (!flags.empty() && flags[static_cast<std::size_t>(j)] == 0) continue;
    Index best = 0;
    for (Index c = 1; c < logits.rows(); ++c)
      if (logits(c, j) > logits(best, j)) best = c;
    ++result.total;
    if (best == data.labels()[static_cast<std::size_t>(j)]) ++result.correct;
  }
  result.accuracy = static_cast<double>(result.correct) / static_cast<double>(result.total);
  return result;
}

TEST(Accuracy, MatchesAnExplicitArgmaxLoop) {
  const Dataset data = make_data();
  SCVAET<double> model(image_label_spec(), 3);
  for (bool masked : {false, true}) {
    const std::vector<std::uint8_t> flags =
        masked ? labelled_flags(data.size()) : std::vector<std::uint8_t>();
    ImageLabelSource<double> source(data, flags);
    const AccuracyResult expected = by_hand(model, data, flags);
    EXPECT_EQ(expected.total, masked ? 25 : 37);
    for (Index batch_size : {1, 10, 37, 50}) {
      SCOPED_TRACE(batch_size);
      const AccuracyResult result = evaluate_accuracy(model, 1, source, batch_size);
      EXPECT_EQ(result.correct, expected.correct);
      EXPECT_EQ(result.total, expected.total);
      EXPECT_DOUBLE_EQ(result.accuracy, expected.accuracy);
      EXPECT_EQ(accuracy(model, 1, source, batch_size), result.accuracy);
    }
  }
}

TEST(Accuracy, AHandSetLabelHeadPredictsItsClass) {
  // A label decoder with no hidden layer, zero weights and a bias favouring
  // class c predicts c for every sample: accuracy = share of labels equal to c.
  const Dataset data = make_data();
  const std::vector<std::uint8_t> flags = labelled_flags(data.size());
  ImageLabelSource<double> source(data, flags);
  SCVAET<double> model(image_label_spec(), 3);
  const DecoderT<double>& decoder = model.decoder(1);
  const auto& network = decoder.network();
  const auto& head = dynamic_cast<const DenseT<double>&>(network.module(network.size() - 1));
  double* slice = model.parameters().data() + decoder.offset() + network.offset(network.size() - 1);
  for (Index c = 0; c < 3; ++c) {
    head.weights(slice).setZero();
    head.bias(slice).setZero();
    head.bias(slice)(c) = 2.0;
    Index expected = 0;
    for (std::size_t i = 0; i < flags.size(); ++i) expected += flags[i] && data.labels()[i] == c;
    const AccuracyResult result = evaluate_accuracy(model, 1, source, 10);
    EXPECT_EQ(result.correct, expected) << "class " << c;
    EXPECT_EQ(result.total, 25);
  }
}

TEST(Accuracy, AMaskedLabelChangesNothing) {
  const Dataset data = make_data();
  std::vector<std::uint8_t> labels = data.labels();
  for (std::size_t i = 1; i < labels.size(); i += 3)  // every unlabelled sample
    labels[i] = static_cast<std::uint8_t>((labels[i] + 1) % 3);
  const Dataset other(4, 4, data.pixels(), labels, 3);
  const std::vector<std::uint8_t> flags = labelled_flags(data.size());
  ImageLabelSource<double> source(data, flags), other_source(other, flags);
  SCVAET<double> model(image_label_spec(), 3);
  const AccuracyResult a = evaluate_accuracy(model, 1, source, 10);
  const AccuracyResult b = evaluate_accuracy(model, 1, other_source, 10);
  EXPECT_EQ(a.correct, b.correct);
  EXPECT_EQ(a.total, b.total);
}

TEST(Accuracy, FloatModelAgreesWithDouble) {
  const Dataset data = make_data();
  SCVAET<float> model(image_label_spec(), 3);
  SCVAET<double> model_double(image_label_spec(), 3);
  model_double.parameters() = model.parameters().cast<double>();
  ImageLabelSource<float> source(data);
  ImageLabelSource<double> source_double(data);
  const double value = accuracy(model, 1, source, 10);
  EXPECT_GE(value, 0.0);
  EXPECT_LE(value, 1.0);
  EXPECT_EQ(evaluate_accuracy(model, 1, source, 10).total, 37);
  // Ties within float rounding could flip a prediction; these random logits have none.
  EXPECT_EQ(value, accuracy(model_double, 1, source_double, 10));
}

TEST(Accuracy, RejectsBadArguments) {
  const Dataset data = make_data();
  ImageLabelSource<double> source(data);
  AutoencoderSource<double> images(data);
  SCVAET<double> model(image_label_spec(), 3);
  EXPECT_THROW(evaluate_accuracy(model, 0, source, 10), ArgumentError);  // bernoulli task
  EXPECT_THROW(evaluate_accuracy(model, 2, source, 10), ArgumentError);
  EXPECT_THROW(evaluate_accuracy(model, -1, source, 10), ArgumentError);
  EXPECT_THROW(evaluate_accuracy(model, 1, source, 0), ArgumentError);
  EXPECT_THROW(evaluate_accuracy(model, 1, images, 10), ShapeError);
  ImageLabelSource<double> unlabelled(data, std::vector<std::uint8_t>(37, 0));
  EXPECT_THROW(evaluate_accuracy(model, 1, unlabelled, 10), ArgumentError);
  try {
    accuracy(model, 0, source, 10);
    FAIL() << "no exception";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("expected a categorical likelihood, got bernoulli"),
              std::string::npos)
        << error.what();
  }
}

TEST(CountCorrect, HighestClassTiesToTheLowestAndMaskedColumnsDoNotCount) {
  Matrix<double> scores(3, 4);
  scores << 0.1, 0.5, 0.2, 0.9,  //
      0.7, 0.5, 0.2, 0.0,        //
      0.2, 0.0, 0.6, 0.1;
  Matrix<double> targets(1, 4);
  targets << 1, 1, 2, 1;  // right, wrong (the tie goes to class 0), right, wrong
  EXPECT_EQ(count_correct(scores, targets), 2);
  RowVector<double> mask(4);
  mask << 1, 1, 0, 1;
  EXPECT_EQ(count_correct(scores, targets, &mask), 1);
}

}  // namespace
}  // namespace scvae
