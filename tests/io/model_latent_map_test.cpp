// The latent map of a model (io/model_latent_map.hpp): means encoded in
// batches, classes from a categorical task's targets and masks.

#include "scvae/io/model_latent_map.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../test_support.hpp"
#include "decoded_png.hpp"

namespace scvae {
namespace {

using testing::DecodedPng;
using testing::TempDir;

/// A model whose latent mean is its input's first two rows, with an image
/// task and a 3-class label task: enough of the contract for the map.
struct PlaneModel {
  using Scalar = float;
  std::vector<TaskSpec> tasks{{"image", 3, {}, LikelihoodSpec::gaussian()},
                              {"label", 3, {}, LikelihoodSpec::categorical(3)}};
  Index task_count() const { return static_cast<Index>(tasks.size()); }
  const TaskSpec& task(Index t) const { return tasks[static_cast<std::size_t>(t)]; }
  Index latent() const { return 2; }
  void encode(const ConstMatrixRef<float>& x, Matrix<float>& mu, Matrix<float>& logvar) const {
    mu = x.topRows(2);
    logvar = Matrix<float>::Zero(2, x.cols());
  }
};

/// Seven samples; sample j at (j, j mod 2, 0), class j mod 3, the label of
/// sample 4 masked out. With `probabilities` the label targets are one-hot
/// columns instead of class indices.
class SevenSamples final : public BatchSource<float> {
 public:
  explicit SevenSamples(bool probabilities) : probabilities_(probabilities) {}
  Index size() const override { return 7; }
  Index task_count() const override { return 2; }
  void fill(const std::vector<Index>& order, Index begin, Index end,
            Batch<float>& batch) const override {
    const Index n = end - begin;
    batch.x = Matrix<float>::Zero(3, n);
    batch.targets.assign(2, Matrix<float>());
    batch.masks.assign(2, RowVector<float>());
    batch.target_is_input = {true, false};
    batch.targets[1] = Matrix<float>::Zero(probabilities_ ? 3 : 1, n);
    batch.masks[1] = RowVector<float>::Ones(n);
    for (Index j = 0; j < n; ++j) {
      const Index i = order[static_cast<std::size_t>(begin + j)];
      batch.x(0, j) = static_cast<float>(i);
      batch.x(1, j) = static_cast<float>(i % 2);
      if (probabilities_)
        batch.targets[1](i % 3, j) = 1.0f;
      else
        batch.targets[1](0, j) = static_cast<float>(i % 3);
      if (i == 4) batch.masks[1](j) = 0.0f;
    }
  }

 private:
  bool probabilities_;
};

TEST(LatentMeans, EncodesEverySampleInOrderInBatches) {
  const PlaneModel model;
  const SevenSamples source(false);
  for (const Index batch : {1, 3, 7, 100}) {
    const Matrix<float> means = latent_means(model, source, batch);
    ASSERT_EQ(means.rows(), 2);
    ASSERT_EQ(means.cols(), 7);
    for (Index j = 0; j < 7; ++j) {
      EXPECT_EQ(means(0, j), static_cast<float>(j)) << "batch " << batch;
      EXPECT_EQ(means(1, j), static_cast<float>(j % 2)) << "batch " << batch;
    }
  }
  EXPECT_THROW(latent_means(model, source, 0), ArgumentError);
}

TEST(LatentMeans, OfARealModelAreItsEncoderMeans) {
  const Dataset images = testing::make_images(50);
  const VAE vae(36, {8}, 3, 7);
  const AutoencoderSource<float> source(images);
  Matrix<float> all, mu, logvar;
  images.batch(images.identity_order(), 0, images.size(), all);
  vae.encode(all, mu, logvar);
  EXPECT_TRUE(latent_means(vae, source, 16).isApprox(mu, 1e-6f));
  EXPECT_EQ(first_categorical_task(vae), -1);
}

TEST(SourceClasses, AreTheTargetClassesWithMaskedOnesMinusOne) {
  const PlaneModel model;
  const std::vector<Index> expected{0, 1, 2, 0, -1, 2, 0};
  EXPECT_EQ(first_categorical_task(model), 1);
  EXPECT_EQ(source_classes(model, SevenSamples(false), 1, 3), expected);
  EXPECT_EQ(source_classes(model, SevenSamples(true), 1, 2), expected);  // probabilities
  EXPECT_THROW(source_classes(model, SevenSamples(false), 0, 3), ArgumentError);
}

TEST(ModelLatentMap, ColoursEachSampleByItsClass) {
  const TempDir dir;
  const std::string path = (dir.path / "latent.png").string();
  write_model_latent_map(path, PlaneModel(), SevenSamples(false), 3);
  const DecodedPng png(path);
  ASSERT_TRUE(png.ok());
  EXPECT_EQ(png.width, 680);
  EXPECT_EQ(png.height, 480);
  for (Index c = 0; c < 3; ++c)
    EXPECT_GT(png.count(0, 0, 480, 480, detail::class_colour(c)), 10) << "class " << c;
  EXPECT_GT(png.count(0, 0, 480, 480, detail::class_colour(-1)), 10);  // the masked sample
  // The legend names the classes by number.
  EXPECT_GT(png.count(480, 0, png.width, 480, detail::kInk), 20);

  // Classes given by the caller: all one class, none grey.
  write_model_latent_map(path, PlaneModel(), SevenSamples(false), 3, std::vector<Index>(7, 1),
                         {"a", "b"});
  const DecodedPng given(path);
  ASSERT_TRUE(given.ok());
  EXPECT_GT(given.count(0, 0, 480, 480, detail::class_colour(1)), 10);
  EXPECT_EQ(given.count(0, 0, 480, 480, detail::class_colour(0)), 0);
  EXPECT_EQ(given.count(0, 0, 480, 480, detail::class_colour(-1)), 0);
}

TEST(ModelLatentMap, AnUnwritablePathIsAnIoErrorNamingIt) {
  const TempDir dir;
  const std::string path = (dir.path / "missing" / "latent.png").string();
  try {
    write_model_latent_map(path, PlaneModel(), SevenSamples(false), 3);
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace scvae
