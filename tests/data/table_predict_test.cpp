// predict_table (data/table_predict.hpp): a model trained a few epochs on a
// small separable table predicts masked targets well, in the original units
// (checked against a manual inverse standardisation), imputes missing
// features with the training mean, and refuses rows of another table.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <sstream>
#include <string>

#include "scvae/core/random.hpp"
#include "scvae/data/csv.hpp"
#include "scvae/data/table_csv.hpp"
#include "scvae/data/table_predict.hpp"
#include "scvae/data/table_schema.hpp"
#include "scvae/data/table_source.hpp"
#include "scvae/data/table_split.hpp"
#include "scvae/data/table_standardizer.hpp"
#include "scvae/model/scvae.hpp"
#include "scvae/optim/adam.hpp"
#include "scvae/train/trainer.hpp"

namespace scvae {
namespace {

/// Three classes apart in (x1, x2, x3); "value" is 100 + 20 (x1 - x2) in
/// units far from standardised ones; "flag" is 1 for class "gamma".
std::string separable_csv(Index rows, std::uint64_t seed) {
  Rng rng(seed);
  const char* names[] = {"alpha", "beta", "gamma"};
  const double centres[3][3] = {{2, 0, 0}, {0, 2, 0}, {0, 0, 2}};
  std::ostringstream out;
  out.precision(7);
  out << "x1,x2,x3,class,value,flag\n";
  for (Index i = 0; i < rows; ++i) {
    const int c = static_cast<int>(i % 3);
    double x[3];
    for (int f = 0; f < 3; ++f) x[f] = centres[c][f] + 0.4 * rng.normal();
    for (int f = 0; f < 3; ++f) out << 10 * x[f] + 5 * f << ",";
    out << names[c] << "," << 100 + 20 * (x[0] - x[1]) << "," << (c == 2 ? 1 : 0) << "\n";
  }
  return out.str();
}

const TableColumns kColumns{{{"class", TargetKind::Categorical},
                             {"value", TargetKind::Real},
                             {"flag", TargetKind::Binary}}};

struct Trained {
  TableData data;
  TableSplit split;
  Standardizer standardizer;
  TableSchema schema;
  std::unique_ptr<SCVAE> model;
};

Trained train_on_separable_table() {
  const CsvTable table = parse_csv(separable_csv(240, 4), "separable.csv");
  TableData data = table_data_from_csv(table, kColumns);
  TableSplit split = split_table(data, 0.25, 3, SplitKind::stratified("class"));
  Standardizer standardizer = Standardizer::fit(split.train);
  const TableSource<float> train(split.train, standardizer);
  auto model = std::make_unique<SCVAE>(make_table_spec(data, 2, {32}), 5);
  AdamOptions adam_options;
  adam_options.learning_rate = 1e-2;
  Adam adam(adam_options);
  TrainerOptions options;
  options.epochs = 30;
  options.batch_size = 32;
  options.seed = 9;
  Trainer(*model, adam, options).fit(train);
  TableSchema schema = table_schema(data);
  return Trained{std::move(data), std::move(split), std::move(standardizer), std::move(schema),
                 std::move(model)};
}

const Trained& trained() {
  static const Trained t = train_on_separable_table();
  return t;
}

/// The test part with every target masked, as rows to predict arrive.
TableData without_targets(const TableData& rows) {
  TableData out = TableData::with_sources(rows.features(), rows.feature_sources(), rows.source());
  for (const TableTarget& t : rows.targets())
    out.add_target(t.name, t.kind,
                   Matrix<float>::Constant(t.values.rows(), rows.samples(),
                                           std::numeric_limits<float>::quiet_NaN()),
                   t.categories);
  return out;
}

TEST(PredictTable, FillsInMaskedTargetsWell) {
  const Trained& t = trained();
  const TableData& test = t.split.test;
  const TablePrediction p =
      predict_table(*t.model, t.standardizer, t.schema, without_targets(test));
  ASSERT_EQ(p.targets.size(), 3u);
  const TargetPrediction& cls = p.target("class");
  const TargetPrediction& value = p.target("value");
  const TargetPrediction& flag = p.target("flag");
  Index correct = 0, flags_right = 0;
  double squared = 0;
  const Index n = test.samples();
  for (Index j = 0; j < n; ++j) {
    const Index truth = static_cast<Index>(test.target(0).values(0, j));
    correct += static_cast<Index>(cls.values(0, j)) == truth;
    EXPECT_EQ(cls.class_names[static_cast<std::size_t>(j)],
              test.target(0).categories[static_cast<std::size_t>(cls.values(0, j))]);
    EXPECT_GE(cls.probability(0, j), 1.0 / 3.0);
    EXPECT_LE(cls.probability(0, j), 1.0);
    const double error = value.values(0, j) - test.target(1).values(0, j);
    squared += error * error;
    flags_right += flag.values(0, j) == test.target(2).values(0, j);
    EXPECT_GE(flag.probability(0, j), 0.5);
  }
  EXPECT_GE(static_cast<double>(correct) / static_cast<double>(n), 0.9);
  EXPECT_GE(static_cast<double>(flags_right) / static_cast<double>(n), 0.9);
  // "value" spreads about 20 * 0.4 * 2 ~ 16 units within a class and 40
  // between classes: well under that is a prediction in the original units.
  EXPECT_LT(std::sqrt(squared / static_cast<double>(n)), 12.0);
  EXPECT_TRUE(value.probability.size() == 0 && value.class_names.empty());
}

TEST(PredictTable, ValuesAreTheModelsMeansInverselyStandardised) {
  const Trained& t = trained();
  const TableData& test = t.split.test;
  const TablePrediction p = predict_table(*t.model, t.standardizer, t.schema, test, 7);
  Matrix<float> inputs, mu, logvar, standardised, original;
  t.standardizer.transform_features<float>(test.features(), inputs);
  t.model->encode(inputs, mu, logvar);
  t.model->predict(2, mu, standardised);
  for (Index j = 0; j < test.samples(); ++j) {
    const double manual = static_cast<double>(standardised(0, j)) * t.standardizer.target_scale(1)(0) +
                          t.standardizer.target_mean(1)(0);
    EXPECT_NEAR(p.target("value").values(0, j), manual, 1e-3 * (1 + std::fabs(manual)));
  }
  // Far from standardised units: the mean of "value" is about 100.
  EXPECT_GT(p.target("value").values.mean(), 60.0);
}

TEST(PredictTable, MissingFeaturesAreImputedWithTheTrainingMean) {
  const Trained& t = trained();
  const TableData& test = t.split.test;
  Matrix<float> with_gap = test.features();
  Matrix<float> with_mean = test.features();
  with_gap(1, 0) = std::numeric_limits<float>::quiet_NaN();
  with_mean(1, 0) = static_cast<float>(t.standardizer.feature_mean()(1));
  const TableData gap = without_targets(TableData::with_sources(with_gap, test.feature_sources(), "gap"));
  const TableData mean = without_targets(TableData::with_sources(with_mean, test.feature_sources(), "mean"));
  const TablePrediction from_gap = predict_table(*t.model, t.standardizer, t.schema, gap);
  const TablePrediction from_mean = predict_table(*t.model, t.standardizer, t.schema, mean);
  for (std::size_t k = 0; k < 3; ++k) {
    EXPECT_TRUE(std::isfinite(from_gap.targets[k].values(0, 0)));
    EXPECT_NEAR(from_gap.targets[k].values(0, 0), from_mean.targets[k].values(0, 0), 1e-4);
  }
}

TEST(PredictTable, ReadsNewCsvRowsWithTheSchemaAndRefusesOtherTables) {
  const Trained& t = trained();
  // New rows without the target columns and with a gap: every target predicted.
  const CsvTable fresh = parse_csv("x1,x2,x3\n20,5,10\n,25,10\n0,5,30\n", "new.csv");
  const TableData rows = table_data_from_csv(fresh, t.schema);
  const TablePrediction p = predict_table(*t.model, t.standardizer, t.schema, rows);
  EXPECT_EQ(p.target("class").class_names[0], "alpha");
  EXPECT_EQ(p.target("class").class_names[1], "beta");
  EXPECT_EQ(p.target("class").class_names[2], "gamma");
  EXPECT_EQ(p.target("flag").values(0, 2), 1.0);

  const TableData other = TableData(Matrix<float>::Zero(2, 3), {"x1", "x2"}, "other.csv");
  try {
    predict_table(*t.model, t.standardizer, t.schema, other);
    FAIL() << "rows of another table were accepted";
  } catch (const ArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("other.csv"), std::string::npos) << e.what();
  }
  EXPECT_THROW(p.target("absent"), ArgumentError);
}

}  // namespace
}  // namespace scvae
