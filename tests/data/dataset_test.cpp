// Dataset batches, seeded shuffling, subsets and the MNIST loader.

#include "scvae/data/dataset.hpp"

#include <gtest/gtest.h>

#include <unistd.h>
#include "../test_support.hpp"

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "scvae/core/random.hpp"
#include "scvae/data/idx.hpp"

namespace {

namespace fs = std::filesystem;
using scvae::Dataset;
using scvae::Index;
using Bytes = std::vector<std::uint8_t>;

class DatasetTest : public ::testing::Test {
 protected:
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  scvae::testing::TempDir temp_{"scvae_dataset_test"};
  const fs::path dir_ = temp_.path;
};

// n images of rows x cols; pixel p of image i is (i * 16 + p) % 256.
scvae::IdxImages make_images(Index n, Index rows, Index cols) {
  scvae::IdxImages images;
  images.count = n;
  images.rows = rows;
  images.cols = cols;
  for (Index i = 0; i < n; ++i)
    for (Index p = 0; p < rows * cols; ++p)
      images.pixels.push_back(static_cast<std::uint8_t>((i * 16 + p) % 256));
  return images;
}

Bytes make_labels(Index n) {
  Bytes labels;
  for (Index i = 0; i < n; ++i) labels.push_back(static_cast<std::uint8_t>((i * 3) % 10));
  return labels;
}

// Writes an MNIST-style split into dir_ with the given file names.
void write_split(const std::string& images_path, const std::string& labels_path, Index n,
                 Index rows = 4, Index cols = 3) {
  scvae::write_idx_images(images_path, make_images(n, rows, cols));
  scvae::write_idx_labels(labels_path, make_labels(n));
}

Dataset small_dataset() {
  // 3 images of 2x2: image i holds bytes 10*i + {0, 1, 2}, and 255 last.
  Bytes pixels = {0, 1, 2, 255, 10, 11, 12, 255, 20, 21, 22, 255};
  return Dataset(2, 2, pixels, {7, 8, 9}, 10, "small");
}

TEST(DatasetBasics, ShapeAndAccessors) {
  const Dataset data = small_dataset();
  EXPECT_EQ(data.size(), 3);
  EXPECT_EQ(data.features(), 4);
  EXPECT_EQ(data.image_rows(), 2);
  EXPECT_EQ(data.image_cols(), 2);
  EXPECT_TRUE(data.has_labels());
  EXPECT_EQ(data.num_classes(), 10);
  EXPECT_EQ(data.pixel_matrix().rows(), 4);
  EXPECT_EQ(data.pixel_matrix().cols(), 3);
  EXPECT_EQ(data.pixel_matrix()(1, 2), 21);  // feature 1 of sample 2
}

TEST(DatasetBasics, BatchConvertsToUnitInterval) {
  const Dataset data = small_dataset();
  const std::vector<Index> order = {2, 0, 1};
  scvae::Matrix<float> batch;
  data.batch(order, 0, 2, batch);
  ASSERT_EQ(batch.rows(), 4);
  ASSERT_EQ(batch.cols(), 2);
  EXPECT_FLOAT_EQ(batch(0, 0), 20.0f / 255.0f);
  EXPECT_FLOAT_EQ(batch(2, 0), 22.0f / 255.0f);
  EXPECT_EQ(batch(3, 0), 1.0f);  // 255 maps to exactly 1
  EXPECT_EQ(batch(0, 1), 0.0f);  // 0 maps to exactly 0
  EXPECT_FLOAT_EQ(batch(1, 1), 1.0f / 255.0f);

  scvae::Matrix<double> batch64;
  data.batch(order, 1, 3, batch64);
  ASSERT_EQ(batch64.cols(), 2);
  EXPECT_EQ(batch64(2, 0), 2.0 / 255.0);   // sample 0
  EXPECT_EQ(batch64(1, 1), 11.0 / 255.0);  // sample 1
  EXPECT_GE(batch64.minCoeff(), 0.0);
  EXPECT_LE(batch64.maxCoeff(), 1.0);
}

TEST(DatasetBasics, EveryByteMapsToExactlyItsValueOver255) {
  std::vector<std::uint8_t> pixels(256 * 2);
  for (int b = 0; b < 256; ++b) {
    pixels[static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(b);
    pixels[static_cast<std::size_t>(256 + b)] = static_cast<std::uint8_t>(255 - b);
  }
  const scvae::Dataset data(16, 16, std::move(pixels));
  scvae::Matrix<float> batch;
  scvae::Matrix<double> batch64;
  data.batch(std::vector<scvae::Index>{1, 0}, 0, 2, batch);
  data.batch(std::vector<scvae::Index>{1, 0}, 0, 2, batch64);
  for (int b = 0; b < 256; ++b) {
    EXPECT_EQ(batch(b, 1), static_cast<float>(b) / 255.0f) << b;
    EXPECT_EQ(batch(b, 0), static_cast<float>(255 - b) / 255.0f) << b;
    EXPECT_EQ(batch64(b, 1), static_cast<double>(b) / 255.0) << b;
  }
}

TEST(DatasetBasics, BatchReusesBufferOfSameSize) {
  const Dataset data = small_dataset();
  const std::vector<Index> order = {0, 1, 2, 0};
  scvae::Matrix<float> batch(4, 2);
  const float* storage = batch.data();
  data.batch(order, 0, 2, batch);
  EXPECT_EQ(batch.data(), storage);
  data.batch(order, 2, 4, batch);
  EXPECT_EQ(batch.data(), storage);
  EXPECT_FLOAT_EQ(batch(0, 0), 20.0f / 255.0f);
  data.batch(order, 0, 3, batch);  // a different size is resized
  EXPECT_EQ(batch.cols(), 3);
  data.batch(order, 1, 1, batch);  // an empty range gives 4 x 0
  EXPECT_EQ(batch.rows(), 4);
  EXPECT_EQ(batch.cols(), 0);
}

TEST(DatasetBasics, LabelBatches) {
  const Dataset data = small_dataset();
  const std::vector<Index> order = {2, 0, 1};
  scvae::Matrix<float> row;
  data.label_batch(order, 0, 3, row);
  ASSERT_EQ(row.rows(), 1);
  ASSERT_EQ(row.cols(), 3);
  EXPECT_EQ(row(0, 0), 9.0f);
  EXPECT_EQ(row(0, 1), 7.0f);
  EXPECT_EQ(row(0, 2), 8.0f);
  std::vector<int> ints;
  data.label_batch(order, 1, 3, ints);
  EXPECT_EQ(ints, (std::vector<int>{7, 8}));
}

TEST(DatasetBasics, BadRangesAndOrdersAreArgumentErrors) {
  const Dataset data = small_dataset();
  scvae::Matrix<float> batch;
  EXPECT_THROW(data.batch({0, 1}, 0, 3, batch), scvae::ArgumentError);
  EXPECT_THROW(data.batch({0, 1}, 2, 1, batch), scvae::ArgumentError);
  EXPECT_THROW(data.batch({0, 1}, -1, 1, batch), scvae::ArgumentError);
  EXPECT_THROW(data.batch({0, 3}, 0, 2, batch), scvae::ArgumentError);
  EXPECT_THROW(data.batch({-1}, 0, 1, batch), scvae::ArgumentError);
  const Dataset unlabelled(2, 2, Bytes(8, 0));
  std::vector<int> ints;
  EXPECT_FALSE(unlabelled.has_labels());
  EXPECT_THROW(unlabelled.label_batch({0}, 0, 1, ints), scvae::ArgumentError);
}

TEST(DatasetBasics, ConstructorChecksConsistency) {
  EXPECT_THROW(Dataset(2, 2, Bytes(7, 0)), scvae::ArgumentError);
  EXPECT_THROW(Dataset(0, 2, Bytes{}), scvae::ArgumentError);
  EXPECT_THROW(Dataset(2, 2, Bytes(8, 0), Bytes{1}, 10), scvae::ArgumentError);
  EXPECT_THROW(Dataset(2, 2, Bytes(8, 0), Bytes{1, 10}, 10), scvae::ArgumentError);
}

TEST(DatasetBasics, SubsetKeepsFirstSamples) {
  const Dataset data = small_dataset();
  const Dataset two = data.subset(2);
  EXPECT_EQ(two.size(), 2);
  EXPECT_EQ(two.pixels(), (Bytes{0, 1, 2, 255, 10, 11, 12, 255}));
  EXPECT_EQ(two.labels(), (Bytes{7, 8}));
  EXPECT_EQ(data.size(), 3);  // the original is untouched
  EXPECT_EQ(data.subset(3).pixels(), data.pixels());
  EXPECT_EQ(data.subset(0).size(), 0);
  EXPECT_THROW(data.subset(4), scvae::ArgumentError);
  EXPECT_THROW(data.subset(-1), scvae::ArgumentError);
}

TEST(DatasetBasics, ShufflingIsDeterministic) {
  const Dataset data(1, 1, Bytes(100, 0));
  scvae::Rng a(42), b(42), c(43);
  const std::vector<Index> first = data.shuffled_order(a);
  EXPECT_EQ(first, data.shuffled_order(b));
  EXPECT_NE(first, data.shuffled_order(c));
  // The next epoch's order differs from the first but is again reproducible.
  const std::vector<Index> second = data.shuffled_order(a);
  EXPECT_NE(first, second);
  EXPECT_EQ(second, data.shuffled_order(b));
  // It is a permutation, and the same as Rng::permutation's.
  EXPECT_EQ(std::set<Index>(first.begin(), first.end()).size(), 100u);
  scvae::Rng d(42);
  EXPECT_EQ(first, d.permutation(100));
  EXPECT_EQ(data.identity_order().front(), 0);
  EXPECT_EQ(data.identity_order().back(), 99);
}

TEST_F(DatasetTest, LoadMnistPlainFiles) {
  write_split(path("train-images-idx3-ubyte"), path("train-labels-idx1-ubyte"), 7);
  const Dataset data = scvae::load_mnist(dir_.string(), "train");
  EXPECT_EQ(data.size(), 7);
  EXPECT_EQ(data.image_rows(), 4);
  EXPECT_EQ(data.image_cols(), 3);
  EXPECT_EQ(data.num_classes(), 10);
  EXPECT_EQ(data.pixels(), make_images(7, 4, 3).pixels);
  EXPECT_EQ(data.labels(), make_labels(7));
  EXPECT_NE(data.name().find("train-images-idx3-ubyte"), std::string::npos);
}

TEST_F(DatasetTest, LoadMnistGzAndDottedNames) {
  write_split(path("t10k-images-idx3-ubyte.gz"), path("t10k-labels-idx1-ubyte.gz"), 5);
  EXPECT_EQ(scvae::load_mnist(dir_.string(), "t10k").labels(), make_labels(5));
  write_split(path("train-images.idx3-ubyte"), path("train-labels.idx1-ubyte"), 6);
  EXPECT_EQ(scvae::load_mnist(dir_.string(), "train").size(), 6);
}

TEST_F(DatasetTest, LoadMnistLimit) {
  write_split(path("train-images-idx3-ubyte.gz"), path("train-labels-idx1-ubyte"), 9);
  const Dataset data = scvae::load_mnist(dir_.string(), "train", 4);
  EXPECT_EQ(data.size(), 4);
  EXPECT_EQ(data.pixels(), make_images(4, 4, 3).pixels);
  EXPECT_EQ(data.labels(), make_labels(4));
  EXPECT_EQ(scvae::load_mnist(dir_.string(), "train", 100).size(), 9);
  EXPECT_THROW(scvae::load_mnist(dir_.string(), "train", -1), scvae::ArgumentError);
}

TEST_F(DatasetTest, LoadMnistNamesWhatItLookedFor) {
  try {
    scvae::load_mnist(dir_.string(), "train");
    ADD_FAILURE() << "no exception";
  } catch (const scvae::IoError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(dir_.string()), std::string::npos) << message;
    EXPECT_NE(message.find("train-images-idx3-ubyte.gz"), std::string::npos) << message;
    EXPECT_NE(message.find("train-images.idx3-ubyte"), std::string::npos) << message;
  }
  // Images present, labels missing: the message names the label files.
  scvae::write_idx_images(path("train-images-idx3-ubyte"), make_images(2, 2, 2));
  try {
    scvae::load_mnist(dir_.string(), "train");
    ADD_FAILURE() << "no exception";
  } catch (const scvae::IoError& error) {
    EXPECT_NE(std::string(error.what()).find("train-labels-idx1-ubyte"), std::string::npos)
        << error.what();
  }
  EXPECT_THROW(scvae::load_mnist(path("absent"), "train"), scvae::IoError);
}

TEST_F(DatasetTest, LoadMnistImageLabelCountMismatch) {
  scvae::write_idx_images(path("train-images-idx3-ubyte"), make_images(5, 2, 2));
  scvae::write_idx_labels(path("train-labels-idx1-ubyte.gz"), make_labels(4));
  try {
    scvae::load_mnist(dir_.string(), "train");
    ADD_FAILURE() << "no exception";
  } catch (const scvae::FormatError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("train-images-idx3-ubyte"), std::string::npos) << message;
    EXPECT_NE(message.find("train-labels-idx1-ubyte.gz"), std::string::npos) << message;
    EXPECT_NE(message.find("5 images"), std::string::npos) << message;
    EXPECT_NE(message.find("4 labels"), std::string::npos) << message;
    EXPECT_NE(message.find("mismatch"), std::string::npos) << message;
  }
}

TEST_F(DatasetTest, LoadMnistRejectsLabelPastTenClasses) {
  scvae::write_idx_images(path("train-images-idx3-ubyte"), make_images(2, 2, 2));
  scvae::write_idx_labels(path("train-labels-idx1-ubyte"), {3, 12});
  try {
    scvae::load_mnist(dir_.string(), "train");
    ADD_FAILURE() << "no exception";
  } catch (const scvae::FormatError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("train-labels-idx1-ubyte"), std::string::npos) << message;
    EXPECT_NE(message.find("label 12"), std::string::npos) << message;
  }
}

TEST_F(DatasetTest, ImageSizeDiffersBetweenTrainAndTest) {
  write_split(path("train-images-idx3-ubyte"), path("train-labels-idx1-ubyte"), 3, 28, 28);
  write_split(path("t10k-images-idx3-ubyte"), path("t10k-labels-idx1-ubyte"), 3, 32, 32);
  const Dataset train = scvae::load_mnist(dir_.string(), "train");
  const Dataset test = scvae::load_mnist(dir_.string(), "t10k");
  EXPECT_NO_THROW(scvae::check_same_image_size(train, train));
  try {
    scvae::check_same_image_size(train, test);
    ADD_FAILURE() << "no exception";
  } catch (const scvae::FormatError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("train-images-idx3-ubyte"), std::string::npos) << message;
    EXPECT_NE(message.find("t10k-images-idx3-ubyte"), std::string::npos) << message;
    EXPECT_NE(message.find("image size differs"), std::string::npos) << message;
    EXPECT_NE(message.find("28x28"), std::string::npos) << message;
    EXPECT_NE(message.find("32x32"), std::string::npos) << message;
  }
}

TEST(RealData, FashionMnistTestSplit) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(dir + "/train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << dir << "/train-images-idx3-ubyte.gz is absent";
  }
  const Dataset test = scvae::load_mnist(dir, "t10k");
  EXPECT_EQ(test.size(), 10000);
  EXPECT_EQ(test.image_rows(), 28);
  EXPECT_EQ(test.image_cols(), 28);
  EXPECT_EQ(test.features(), 784);
  ASSERT_EQ(test.labels().size(), 10000u);
  std::vector<int> counts(10, 0);
  for (const std::uint8_t label : test.labels()) {
    ASSERT_LT(label, 10);
    ++counts[label];
  }
  for (const int count : counts) EXPECT_EQ(count, 1000);  // Fashion-MNIST is balanced
  scvae::Matrix<float> batch;
  test.batch(test.identity_order(), 0, 100, batch);
  EXPECT_GT(batch.maxCoeff(), 0.9f);
  EXPECT_GE(batch.minCoeff(), 0.0f);
}

}  // namespace
