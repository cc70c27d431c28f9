// Float tables (data/table_*.hpp): TableData from matrices and from CSV, the
// errors naming file, column and row, shuffled and stratified splits, the
// standardizer and its checkpoint round trip, TableSource batches, and a
// small CSV trained end to end with the Trainer.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "../test_support.hpp"
#include "scvae/data/csv.hpp"
#include "scvae/data/table_csv.hpp"
#include "scvae/data/table_data.hpp"
#include "scvae/data/table_schema.hpp"
#include "scvae/data/table_source.hpp"
#include "scvae/data/table_split.hpp"
#include "scvae/data/table_standardizer.hpp"
#include "scvae/io/checkpoint.hpp"
#include "scvae/io/load_model.hpp"
#include "scvae/model/scvae.hpp"
#include "scvae/optim/adam.hpp"
#include "scvae/train/trainer.hpp"

namespace scvae {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

template <typename Expected, typename Action>
std::string message_of(Action action) {
  return testing::thrown_message<Expected>(action);
}

#define EXPECT_MENTIONS(message, text) \
  EXPECT_NE((message).find(text), std::string::npos) << (message) << "\n  should mention: " << (text)

TableData small_table() {
  Matrix<float> features(2, 5);
  features << 1, 2, kNaN, 4, 5,  //
      10, 10, 10, 10, kNaN;
  TableData data(features, {"a", "b"}, "mem");
  Matrix<float> classes(1, 5);
  classes << 0, 1, kNaN, 1, 0;
  data.add_target("kind", TargetKind::Categorical, classes, {"cat", "dog"});
  Matrix<float> height(1, 5);
  height << 1.5f, kNaN, 2.5f, 3.5f, 4.5f;
  data.add_target("height", TargetKind::Real, height);
  return data;
}

TEST(TableData, FromMatricesMasksMissingFeaturesAndTargets) {
  const TableData data = small_table();
  EXPECT_EQ(data.samples(), 5);
  EXPECT_EQ(data.feature_count(), 2);
  EXPECT_EQ(data.feature_names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(data.feature_mask()(0, 2), 0.0f);
  EXPECT_EQ(data.feature_mask()(1, 4), 0.0f);
  EXPECT_EQ(data.feature_mask().sum(), 8.0f);
  const TableTarget& kind = data.target(data.target_index("kind"));
  EXPECT_EQ(kind.classes(), 2);
  EXPECT_EQ(kind.mask(2), 0.0f);
  EXPECT_EQ(kind.values(0, 2), 0.0f) << "a missing target's value is 0, finite";
  EXPECT_EQ(kind.present(), 4);
  const TableTarget& height = data.target(1);
  EXPECT_EQ(height.mask(1), 0.0f);
  EXPECT_EQ(height.values(0, 1), 0.0f);
  EXPECT_EQ(height.values(0, 3), 3.5f);

  const TableData part = data.subset({4, 0});
  EXPECT_EQ(part.samples(), 2);
  EXPECT_EQ(part.features()(0, 0), 5.0f);
  EXPECT_EQ(part.feature_mask()(1, 0), 0.0f);
  EXPECT_EQ(part.target(1).values(0, 1), 1.5f);
}

TEST(TableData, FromMatricesRefusesBadTargets) {
  TableData data = small_table();
  Matrix<float> values(1, 5);
  values << 0, 1, 2, 1, 0;
  EXPECT_MENTIONS(message_of<ArgumentError>(
                      [&] { data.add_target("flag", TargetKind::Binary, values); }),
                  "target \"flag\", sample 2: expected 0 or 1");
  EXPECT_MENTIONS(message_of<ArgumentError>(
                      [&] { data.add_target("kind", TargetKind::Real, values); }),
                  "\"kind\" is listed twice");
  Matrix<float> one_class = Matrix<float>::Zero(1, 5);
  EXPECT_MENTIONS(message_of<ArgumentError>(
                      [&] { data.add_target("one", TargetKind::Categorical, one_class); }),
                  "at least two classes");
  values(0, 3) = 0.5f;
  EXPECT_MENTIONS(message_of<ArgumentError>(
                      [&] { data.add_target("c", TargetKind::Categorical, values); }),
                  "sample 3: expected a class index");
  Matrix<float> features = Matrix<float>::Ones(2, 3);
  features(1, 2) = std::numeric_limits<float>::infinity();
  EXPECT_MENTIONS(message_of<ArgumentError>([&] { TableData bad(features, {"a", "b"}); }),
                  "feature \"b\", sample 2");
  EXPECT_THROW(TableData(features, {"a"}), ShapeError);
}

const char* kCsv =
    "id,colour,size,species,weight,flag,note\n"
    "1,red,1.5,setosa,10,0,x\n"
    "2,blue,2.5,virginica,,1,y\n"
    "3,,3.5,,12,1,z\n"
    "4,red,NA,setosa,13,0,w\n"
    "5,green,5.5,virginica,14,,v\n";

TEST(TableCsv, TextFeaturesBecomeOneHotAndTargetsAreMasked) {
  const CsvTable table = parse_csv(kCsv, "pets.csv");
  const TableData data = table_data_from_csv(
      table, TableColumns{{{"species", TargetKind::Categorical},
                           {"weight", TargetKind::Real},
                           {"flag", TargetKind::Binary}},
                          {},
                          {"id", "note"}});
  EXPECT_EQ(data.source(), "pets.csv");
  EXPECT_EQ(data.feature_names(),
            (std::vector<std::string>{"colour=blue", "colour=green", "colour=red", "size"}));
  EXPECT_EQ(data.features()(2, 0), 1.0f);  // red
  EXPECT_EQ(data.features()(0, 0), 0.0f);
  EXPECT_EQ(data.feature_mask().col(2).head(3).sum(), 0.0f) << "a missing text cell";
  EXPECT_EQ(data.feature_mask()(3, 3), 0.0f) << "NA in a numeric column";
  EXPECT_TRUE(std::isnan(data.features()(3, 3)));
  ASSERT_EQ(data.target_count(), 3);
  const TableTarget& species = data.target(0);
  EXPECT_EQ(species.categories, (std::vector<std::string>{"setosa", "virginica"}));
  EXPECT_EQ(species.values(0, 1), 1.0f);
  EXPECT_EQ(species.mask, (RowVector<float>(5) << 1, 1, 0, 1, 1).finished());
  EXPECT_EQ(data.target(1).mask(1), 0.0f);
  EXPECT_EQ(data.target(1).values(0, 4), 14.0f);
  EXPECT_EQ(data.target(2).mask(4), 0.0f);

  // Listed features only, in the order given; an integer class column.
  const TableData listed = table_data_from_csv(
      table, TableColumns{{{"id", TargetKind::Categorical}}, {"size", "weight"}});
  EXPECT_EQ(listed.feature_names(), (std::vector<std::string>{"size", "weight"}));
  EXPECT_EQ(listed.target(0).categories, (std::vector<std::string>{"1", "2", "3", "4", "5"}));
}

TEST(TableCsv, ErrorsNameTheFileColumnAndLine) {
  const CsvTable table = parse_csv(kCsv, "pets.csv");
  const auto convert = [&](TableColumns columns) {
    return [&table, columns] { table_data_from_csv(table, columns); };
  };
  std::string m = message_of<ArgumentError>(
      convert({{{"specie", TargetKind::Categorical}}}));
  EXPECT_MENTIONS(m, "pets.csv");
  EXPECT_MENTIONS(m, "no column named \"specie\"");
  m = message_of<ArgumentError>(
      convert({{{"weight", TargetKind::Real}, {"weight", TargetKind::Real}}}));
  EXPECT_MENTIONS(m, "column \"weight\" is listed twice");
  m = message_of<ArgumentError>(convert({{{"weight", TargetKind::Real}}, {"weight"}}));
  EXPECT_MENTIONS(m, "as a real target and as a feature");
  m = message_of<ArgumentError>(convert({{{"weight", TargetKind::Real}}, {"bogus"}}));
  EXPECT_MENTIONS(m, "\"bogus\"");
  // Text in a real target: the cell's line and column.
  m = message_of<FormatError>(convert({{{"note", TargetKind::Real}}, {"size"}}));
  EXPECT_MENTIONS(m, "pets.csv: line 2, column 7 (\"note\")");
  m = message_of<FormatError>(convert({{{"size", TargetKind::Categorical}}, {"weight"}}));
  EXPECT_MENTIONS(m, "line 2, column 3 (\"size\"): \"1.5\" is not an integer or text");
  m = message_of<FormatError>(convert({{{"weight", TargetKind::Binary}}, {"size"}}));
  EXPECT_MENTIONS(m, "line 2, column 5 (\"weight\"): \"10\" is not 0 or 1");
  m = message_of<ArgumentError>(convert({{{"weight", TargetKind::Real}}, {}, {"id", "colour", "size",
                                         "species", "flag", "note"}}));
  EXPECT_MENTIONS(m, "no feature column is left");

  // A numeric feature column with one text cell: that cell is named.
  const CsvTable typo = parse_csv("x,y\n1,a\n2,b\n3o,a\n4,b\n", "typo.csv");
  m = message_of<FormatError>([&] { table_data_from_csv(typo, {{{"y", TargetKind::Categorical}}}); });
  EXPECT_MENTIONS(m, "typo.csv: line 4, column 1 (\"x\"): \"3o\"");
  // A feature column with no value at all, and an unknown ignored column.
  const CsvTable empty = parse_csv("x,e,y\n1,,a\n2,NA,b\n", "empty.csv");
  m = message_of<FormatError>([&] { table_data_from_csv(empty, {{{"y", TargetKind::Categorical}}}); });
  EXPECT_MENTIONS(m, "empty.csv: column 2 (\"e\"): every value is missing");
  m = message_of<ArgumentError>([&] {
    table_data_from_csv(empty, {{{"y", TargetKind::Categorical}}, {}, {"nothing"}});
  });
  EXPECT_MENTIONS(m, "empty.csv: no column named \"nothing\"");
  // A categorical target of one class.
  const CsvTable one = parse_csv("x,y\n1,a\n2,a\n3,\n", "one.csv");
  m = message_of<FormatError>([&] { table_data_from_csv(one, {{{"y", TargetKind::Categorical}}}); });
  EXPECT_MENTIONS(m, "one.csv: column 2 (\"y\"): a categorical target needs at least two classes");
  // A text feature that is an identifier.
  std::string ids = "name,v\n";
  for (int i = 0; i < 12; ++i) ids += "n" + std::to_string(i) + "," + std::to_string(i) + "\n";
  const CsvTable named = parse_csv(ids, "ids.csv");
  TableColumns few{{{"v", TargetKind::Real}}};
  few.max_categories = 10;
  m = message_of<FormatError>([&] { table_data_from_csv(named, few); });
  EXPECT_MENTIONS(m, "ids.csv: column 1 (\"name\"): a text feature with 12 categories");
}

TEST(TableCsv, NewRowsAreReadWithTheTrainingSchema) {
  const CsvTable table = parse_csv(kCsv, "pets.csv");
  const TableData data = table_data_from_csv(
      table, TableColumns{{{"species", TargetKind::Categorical}, {"weight", TargetKind::Real},
                           {"id", TargetKind::Categorical}},
                          {"colour", "size"}});
  const TableSchema schema = table_schema(data);
  // Other column order, an unused column, no "weight" column, a class "3.0".
  const CsvTable rows = parse_csv(
      "size,extra,species,colour,id\n7,q,virginica,green,3.0\n,q,,red,\n", "new.csv");
  const TableData read = table_data_from_csv(rows, schema);
  EXPECT_EQ(read.feature_names(), data.feature_names());
  EXPECT_EQ(read.features().col(0), (Vector<float>(4) << 0, 1, 0, 7).finished());
  EXPECT_EQ(read.features()(2, 1), 1.0f);
  EXPECT_EQ(read.feature_mask()(3, 1), 0.0f);
  EXPECT_EQ(read.target(0).values(0, 0), 1.0f);
  EXPECT_EQ(read.target(0).mask(1), 0.0f);
  EXPECT_EQ(read.target(1).present(), 0) << "an absent target column: every row to predict";
  EXPECT_EQ(read.target(2).values(0, 0), 2.0f) << "\"3.0\" is the class \"3\"";
  EXPECT_EQ(read.target(0).categories, data.target(0).categories);

  std::string m = message_of<FormatError>([&] {
    table_data_from_csv(parse_csv("size,colour\n1,red\n2,purple\n", "new.csv"), schema);
  });
  EXPECT_MENTIONS(m, "new.csv: line 3, column 2 (\"colour\"): \"purple\" is not a category seen");
  m = message_of<FormatError>([&] {
    table_data_from_csv(parse_csv("size,colour,species\n1,red,lion\n", "new.csv"), schema);
  });
  EXPECT_MENTIONS(m, "line 2, column 3 (\"species\"): \"lion\" is not a class seen");
  m = message_of<ArgumentError>(
      [&] { table_data_from_csv(parse_csv("colour\nred\n", "new.csv"), schema); });
  EXPECT_MENTIONS(m, "new.csv: no column named \"size\"");
}

/// n samples of one feature, class i % 3 with every 7th class missing.
TableData three_classes(Index n) {
  Matrix<float> features(1, n);
  Matrix<float> classes(1, n);
  for (Index i = 0; i < n; ++i) {
    features(0, i) = static_cast<float>(i);
    classes(0, i) = i % 7 == 0 ? kNaN : static_cast<float>(i % 3 == 2 && i % 2 ? 0 : i % 3);
  }
  TableData data(features, {"i"});
  data.add_target("c", TargetKind::Categorical, classes);
  return data;
}

TEST(TableSplit, ShuffledIsDeterministicAndCoversEverySample) {
  const TableData data = three_classes(103);
  const TableSplit split = split_table(data, 0.2, 7);
  EXPECT_EQ(split.test.samples(), 21);
  EXPECT_EQ(split.train.samples(), 82);
  std::set<Index> all(split.train_rows.begin(), split.train_rows.end());
  all.insert(split.test_rows.begin(), split.test_rows.end());
  EXPECT_EQ(all.size(), 103u);
  EXPECT_EQ(split_table(data, 0.2, 7).test_rows, split.test_rows);
  EXPECT_NE(split_table(data, 0.2, 8).test_rows, split.test_rows);
  EXPECT_EQ(split.test.features()(0, 0), static_cast<float>(split.test_rows[0]));
  EXPECT_THROW(split_table(data, 0.0, 7), ArgumentError);
  EXPECT_THROW(split_table(data, 1.0, 7), ArgumentError);
  EXPECT_THROW(split_table(data, 0.001, 7), ArgumentError);
}

TEST(TableSplit, StratifiedKeepsEachClassShareWithinOneSample) {
  const TableData data = three_classes(211);
  const TableTarget& c = data.target(0);
  for (const double fraction : {0.1, 0.25, 0.5}) {
    for (const std::uint64_t seed : {1u, 2u, 3u}) {
      const TableSplit split = split_table(data, fraction, seed, SplitKind::stratified("c"));
      // Groups: the three classes and the missing ones.
      for (Index g = 0; g < 4; ++g) {
        const auto in_group = [&](Index i) {
          return g == 3 ? c.mask(i) == 0.0f : c.mask(i) != 0.0f && c.values(0, i) == g;
        };
        Index total = 0;
        Index tested = 0;
        for (Index i = 0; i < data.samples(); ++i) total += in_group(i);
        for (const Index i : split.test_rows) tested += in_group(i);
        const double share = static_cast<double>(total) * static_cast<double>(split.test_rows.size()) /
                             static_cast<double>(data.samples());
        EXPECT_LE(std::fabs(static_cast<double>(tested) - share), 1.0)
            << "group " << g << " fraction " << fraction << " seed " << seed;
      }
    }
  }
  TableData real = data;
  real.add_target("r", TargetKind::Real, data.features());
  EXPECT_MENTIONS(message_of<ArgumentError>(
                      [&] { split_table(real, 0.2, 1, SplitKind::stratified("r")); }),
                  "needs a categorical");
  EXPECT_MENTIONS(message_of<ArgumentError>(
                      [&] { split_table(real, 0.2, 1, SplitKind::stratified("zz")); }),
                  "no target named \"zz\"");
}

TEST(Standardizer, FitsOnPresentValuesImputesAndRoundTrips) {
  const TableData data = small_table();
  const Standardizer s = Standardizer::fit(data);
  EXPECT_DOUBLE_EQ(s.feature_mean()(0), 3.0);  // 1, 2, 4, 5
  EXPECT_DOUBLE_EQ(s.feature_scale()(0), std::sqrt(2.5));
  EXPECT_DOUBLE_EQ(s.feature_mean()(1), 10.0);
  EXPECT_DOUBLE_EQ(s.feature_scale()(1), 1.0) << "a constant column keeps scale 1";
  EXPECT_DOUBLE_EQ(s.target_mean(1)(0), 3.0);  // 1.5, 2.5, 3.5, 4.5
  EXPECT_DOUBLE_EQ(s.target_scale(1)(0), std::sqrt(1.25));
  EXPECT_DOUBLE_EQ(s.target_mean(0)(0), 0.0) << "classes stay as they are";

  Matrix<float> z;
  s.transform_features<float>(data.features(), z);
  EXPECT_EQ(z(0, 2), 0.0f) << "missing: the training mean";
  EXPECT_EQ(z(1, 4), 0.0f);
  EXPECT_NEAR(z.row(0).sum(), 0.0f, 1e-6);
  Matrix<float> back;
  s.inverse_features<float>(z, back);
  for (Index j = 0; j < 5; ++j)
    for (Index f = 0; f < 2; ++f)
      if (data.feature_mask()(f, j) != 0.0f) {
        EXPECT_NEAR(back(f, j), data.features()(f, j), 1e-5);
      }
  EXPECT_NEAR(back(0, 2), 3.0f, 1e-6);
  Matrix<float> y;
  Matrix<float> y_back;
  s.transform_target<float>(1, data.target(1).values, y);
  EXPECT_NEAR(y(0, 0), (1.5 - 3.0) / std::sqrt(1.25), 1e-6);
  s.inverse_target<float>(1, y, y_back);
  EXPECT_TRUE(y_back.isApprox(data.target(1).values, 1e-6f));
  EXPECT_THROW(s.transform_features<float>(Matrix<float>::Zero(3, 2), z), ShapeError);
}

TEST(Standardizer, SchemaAndScalesRoundTripThroughACheckpoint) {
  const CsvTable table = parse_csv(kCsv, "pets.csv");
  const TableData data = table_data_from_csv(
      table, TableColumns{{{"species", TargetKind::Categorical}, {"weight", TargetKind::Real}},
                          {},
                          {"id", "note", "flag"}});
  const Standardizer s = Standardizer::fit(data);
  CheckpointExtras extras;
  save_table_schema(table_schema(data), extras);
  s.save(extras);
  testing::TempDir dir("scvae_table");
  const std::string path = (dir.path / "table.scvae").string();
  save_checkpoint<float>(path, "table-test", Vector<float>::Zero(3), extras);
  CheckpointExtras loaded;
  load_checkpoint<float>(path, "table-test", &loaded);
  const TableSchema schema = load_table_schema(loaded);
  EXPECT_EQ(schema, table_schema(data));
  EXPECT_EQ(schema.features[0].feature_name(), "colour=blue");
  EXPECT_EQ(schema.targets[0].categories, (std::vector<std::string>{"setosa", "virginica"}));
  EXPECT_EQ(schema.targets[1].kind, TargetKind::Real);
  const Standardizer back = Standardizer::load(loaded);
  EXPECT_TRUE(back.feature_mean() == s.feature_mean());
  EXPECT_TRUE(back.feature_scale() == s.feature_scale());
  ASSERT_EQ(back.target_count(), 2);
  EXPECT_TRUE(back.target_mean(1) == s.target_mean(1));
  EXPECT_TRUE(back.target_scale(1) == s.target_scale(1));

  CheckpointExtras broken = loaded;
  std::vector<std::uint8_t> bytes = loaded.bytes("table.schema");
  bytes.resize(bytes.size() - 3);
  broken.set_bytes("table.schema", bytes);
  EXPECT_MENTIONS(message_of<CheckpointError>([&] { load_table_schema(broken); }),
                  "'table.schema': malformed");
  broken = loaded;
  broken.set_values("table.feature_scale", std::vector<double>(s.feature_count(), 0.0));
  EXPECT_MENTIONS(message_of<CheckpointError>([&] { Standardizer::load(broken); }),
                  "feature scale is not positive");
  EXPECT_MENTIONS(message_of<ArgumentError>([&] { load_table_schema(CheckpointExtras{}); }),
                  "no 'table.schema'");
}

TEST(TableSource, BatchesFollowTheTaskOrderWithMasks) {
  const TableData data = small_table();
  const Standardizer s = Standardizer::fit(data);
  const TableSource<float> source(data, s);
  EXPECT_EQ(source.size(), 5);
  EXPECT_EQ(source.task_count(), 3);
  Batch<float> batch;
  const std::vector<Index> order{2, 1, 0, 3, 4};
  source.fill(order, 0, 3, batch);
  EXPECT_TRUE(batch.target_is_input[0]);
  EXPECT_FALSE(batch.has_mask(0));
  EXPECT_EQ(batch.x(0, 0), 0.0f) << "sample 2's missing feature, imputed";
  EXPECT_NEAR(batch.x(0, 1), (2.0 - 3.0) / std::sqrt(2.5), 1e-6);
  EXPECT_EQ(batch.targets[1], (Matrix<float>(1, 3) << 0, 1, 0).finished());
  EXPECT_EQ(batch.masks[1], (RowVector<float>(3) << 0, 1, 1).finished());
  EXPECT_EQ(batch.masks[2], (RowVector<float>(3) << 1, 0, 1).finished());
  EXPECT_EQ(batch.targets[2](0, 1), 0.0f) << "a masked real target stays 0";
  EXPECT_NEAR(batch.targets[2](0, 0), (2.5 - 3.0) / std::sqrt(1.25), 1e-6);
  const float* x_data = batch.x.data();
  const float* target_data = batch.targets[2].data();
  source.fill(order, 2, 5, batch);
  EXPECT_EQ(batch.x.data(), x_data) << "a same-size batch reuses its buffers";
  EXPECT_EQ(batch.targets[2].data(), target_data);
  EXPECT_THROW(source.fill(order, 3, 6, batch), ArgumentError);

  const ModelSpec spec = make_table_spec(data, 3, {8, 4});
  ASSERT_EQ(spec.tasks.size(), 3u);
  EXPECT_EQ(spec.inputs, 2);
  EXPECT_EQ(spec.tasks[0].name, "features");
  EXPECT_EQ(spec.tasks[0].likelihood.kind, LikelihoodSpec::Kind::Gaussian);
  EXPECT_EQ(spec.tasks[0].hidden, (std::vector<Index>{4, 8}));
  EXPECT_EQ(spec.tasks[1].name, "kind");
  EXPECT_EQ(spec.tasks[1].likelihood.kind, LikelihoodSpec::Kind::Categorical);
  EXPECT_EQ(spec.tasks[1].outputs, 2);
  EXPECT_EQ(spec.tasks[1].input, DecoderInput::Mean);  // a classifier reads the mean
  EXPECT_TRUE(spec.tasks[1].hidden.empty()) << "a class is read from the mean";
  EXPECT_EQ(spec.tasks[1].network, "[centres(2)]") << "by its distance to the prior's centres";
  EXPECT_EQ(spec.class_prior, "kind");
  EXPECT_EQ(spec.initialization, Initialization::PyTorch);
  const ModelSpec standard = make_table_spec(data, 3, {8, 4}, TablePrior::Standard);
  EXPECT_TRUE(standard.class_prior.empty());
  EXPECT_TRUE(standard.tasks[1].network.empty()) << "a linear read-out: dense(2)";
  EXPECT_EQ(make_table_spec(data, 3, {8, 4}, TablePrior::Classes).architecture(),
            spec.architecture());
  EXPECT_DOUBLE_EQ(spec.tasks[1].weight, 12.5) << "10 / (4 of 5 rows labelled)";
  EXPECT_DOUBLE_EQ(spec.tasks[0].weight, 1.0);
  EXPECT_DOUBLE_EQ(spec.tasks[2].weight, 1.0) << "a real target keeps weight 1";
  EXPECT_EQ(spec.tasks[2].hidden, (std::vector<Index>{4, 8}));
  EXPECT_EQ(spec.tasks[2].likelihood.kind, LikelihoodSpec::Kind::Gaussian);
  EXPECT_EQ(spec.tasks[2].input, DecoderInput::Sample);
  TableData binary = data;
  binary.add_target("flags", TargetKind::Binary, Matrix<float>::Ones(2, 5));
  EXPECT_EQ(make_table_spec(binary, 2, {4}).tasks[3].likelihood.kind,
            LikelihoodSpec::Kind::Bernoulli);
  EXPECT_EQ(make_table_spec(binary, 2, {4}).tasks[3].outputs, 2);
  EXPECT_DOUBLE_EQ(make_table_spec(binary, 2, {4}).tasks[3].weight, 1.0);
  TableData unlabelled(data.features(), {"a", "b"}, "mem");
  unlabelled.add_target("kind", TargetKind::Categorical,
                        Matrix<float>::Constant(1, 5, kNaN), {"cat", "dog"});
  EXPECT_DOUBLE_EQ(make_table_spec(unlabelled, 2, {4}).tasks[1].weight, 1.0)
      << "no labelled row: an empty term, weight 1";
  TableData values_only(data.features(), {"a", "b"}, "mem");
  values_only.add_target("size", TargetKind::Real, Matrix<float>::Ones(1, 5));
  EXPECT_TRUE(make_table_spec(values_only, 2, {4}).class_prior.empty())
      << "Auto without a categorical target: N(0, I)";
  EXPECT_THROW(make_table_spec(values_only, 2, {4}, TablePrior::Classes), ArgumentError);
}

/// 200 rows: 4 features around one of three class centres, a text class and
/// a real target depending on the features, 30% of the target cells empty,
/// a few feature cells missing.
std::string synthetic_csv() {
  Rng rng(11);
  const char* names[] = {"alpha", "beta", "gamma"};
  const double centres[3][4] = {{2, 0, 0, 1}, {0, 2, 0, -1}, {0, 0, 2, 0}};
  std::ostringstream out;
  out.precision(6);
  out << "x1,x2,x3,x4,class,value\n";
  for (int i = 0; i < 200; ++i) {
    const int c = i % 3;
    double x[4];
    for (int f = 0; f < 4; ++f) x[f] = centres[c][f] + 0.6 * rng.normal();
    for (int f = 0; f < 4; ++f) {
      if (rng.uniform() < 0.03) {
        out << "NA,";
      } else {
        out << 10 * x[f] + 5 * f << ",";
      }
    }
    if (rng.uniform() >= 0.3) out << names[c];
    out << ",";
    if (rng.uniform() >= 0.3) out << 100 + 20 * (x[0] - x[1]) + rng.normal();
    out << "\n";
  }
  return out.str();
}

TEST(TableEndToEnd, CsvTrainsAnScvaeThatBeatsChanceAndItsFileAlonePredicts) {
  const CsvTable table = parse_csv(synthetic_csv(), "synthetic.csv");
  const TableData data = table_data_from_csv(
      table, TableColumns{{{"class", TargetKind::Categorical}, {"value", TargetKind::Real}}});
  ASSERT_EQ(data.feature_count(), 4);
  const TableSplit split = split_table(data, 0.25, 3, SplitKind::stratified("class"));
  const Standardizer standardizer = Standardizer::fit(split.train);
  const TableSource<float> train(split.train, standardizer);
  const TableSource<float> test(split.test, standardizer);

  const ModelSpec spec = make_table_spec(data, 4, {32});
  SCVAET<float> model(spec, 5);
  AdamOptions adam_options;
  adam_options.learning_rate = 1e-2;
  Adam adam(adam_options);
  TrainerOptions options;
  options.epochs = 40;
  options.batch_size = 32;
  options.seed = 9;
  Trainer trainer(model, adam, options);
  trainer.fit(train);

  // Categorical accuracy on the labelled test rows, from the posterior mean.
  Matrix<float> mu, logvar, probabilities, value;
  model.encode(test.inputs(), mu, logvar);
  model.predict(1, mu, probabilities);
  model.predict(2, mu, value);
  Index correct = 0, labelled = 0;
  double squared = 0, spread = 0;
  Index valued = 0;
  Matrix<float> value_original;
  standardizer.inverse_target<float>(1, value, value_original);
  const TableTarget& value_truth = split.test.target(1);
  const double value_mean = standardizer.target_mean(1)(0);
  for (Index j = 0; j < test.size(); ++j) {
    if (test.mask(0)(j) != 0.0f) {
      Index best = 0;
      probabilities.col(j).maxCoeff(&best);
      correct += best == static_cast<Index>(test.target(0)(0, j));
      ++labelled;
    }
    if (value_truth.mask(j) != 0.0f) {
      const double d = value_original(0, j) - value_truth.values(0, j);
      squared += d * d;
      spread += std::pow(value_truth.values(0, j) - value_mean, 2);
      ++valued;
    }
  }
  ASSERT_GT(labelled, 20);
  const double accuracy = static_cast<double>(correct) / static_cast<double>(labelled);
  EXPECT_GE(accuracy, 0.8) << correct << " of " << labelled;
  // The real target in original units: clearly better than its training mean.
  ASSERT_GT(valued, 20);
  EXPECT_LT(squared, 0.5 * spread) << "rmse " << std::sqrt(squared / valued);

  // Same seeds, same bits.
  SCVAET<float> again(spec, 5);
  Adam adam_again(adam_options);
  Trainer(again, adam_again, options).fit(train);
  EXPECT_TRUE(testing::bit_identical(again.parameters(), model.parameters()));

  // The model file alone: rebuilt, it reads the CSV with its schema and
  // predicts the real target in original units as the trained model does.
  CheckpointExtras extras;
  save_table_schema(table_schema(data), extras);
  standardizer.save(extras);
  testing::TempDir dir("scvae_table_model");
  const std::string path = (dir.path / "model.scvae").string();
  save_model(path, model, extras);
  CheckpointExtras loaded_extras;
  const SCVAET<float> loaded = load_model<float>(path, &loaded_extras);
  const TableData rows = table_data_from_csv(table, load_table_schema(loaded_extras));
  const Standardizer loaded_standardizer = Standardizer::load(loaded_extras);
  const TableSource<float> all_rows(rows, loaded_standardizer);
  const TableSource<float> all_rows_before(data, standardizer);
  EXPECT_TRUE(all_rows.inputs() == all_rows_before.inputs());
  Matrix<float> mu_loaded, value_loaded, original_loaded, original_before;
  loaded.encode(all_rows.inputs(), mu_loaded, logvar);
  loaded.predict(loaded.task_index("value"), mu_loaded, value_loaded);
  loaded_standardizer.inverse_target<float>(1, value_loaded, original_loaded);
  model.encode(all_rows_before.inputs(), mu, logvar);
  model.predict(2, mu, value);
  standardizer.inverse_target<float>(1, value, original_before);
  EXPECT_TRUE(original_loaded == original_before);
  EXPECT_GT(original_loaded.mean(), 80.0f) << "original units: the values are around 100";
}

}  // namespace
}  // namespace scvae

// The folder's files share one translation unit (tests/CMakeLists.txt).
#undef EXPECT_MENTIONS
