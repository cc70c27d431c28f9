#include "scvae/io/image_grid.hpp"

#include <gtest/gtest.h>
#include <stb/stb_image.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <utility>

namespace {

namespace fs = std::filesystem;
using scvae::Index;
using scvae::Matrix;

struct Png {
  int width = 0;
  int height = 0;
  int channels = 0;
  std::unique_ptr<unsigned char, void (*)(void*)> data{nullptr, stbi_image_free};
  int at(int x, int y) const { return data.get()[y * width + x]; }
};

Png read_png(const std::string& path) {
  Png png;
  png.data.reset(stbi_load(path.c_str(), &png.width, &png.height, &png.channels, 1));
  return png;
}

class ImageGridTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("scvae_image_grid_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
};

TEST_F(ImageGridTest, WritesTilesAndPaddingWhereExpected) {
  // Three 2x3 images in a grid of 2 columns: 2 rows of tiles, the last one empty.
  Matrix<float> images(6, 3);
  images.col(0) << 0.0f, 0.2f, 0.4f, 0.6f, 0.8f, 1.0f;  // row-major within the image
  images.col(1).setConstant(1.0f);
  images.col(2) << -0.5f, 1.5f, std::numeric_limits<float>::quiet_NaN(), 0.5f, 0.002f, 0.998f;
  const std::string file = path("grid.png");
  scvae::write_image_grid(file, images, 2, 3, 2, 1);

  const Png png = read_png(file);
  ASSERT_NE(png.data, nullptr) << stbi_failure_reason();
  EXPECT_EQ(png.channels, 1);
  EXPECT_EQ(png.width, 2 * (3 + 1) + 1);
  EXPECT_EQ(png.height, 2 * (2 + 1) + 1);

  // Image 0 at (x, y) = (1, 1): pixel (r, c) is value index r * 3 + c.
  EXPECT_EQ(png.at(1, 1), 0);
  EXPECT_EQ(png.at(2, 1), 51);   // 0.2 * 255
  EXPECT_EQ(png.at(3, 1), 102);  // 0.4 * 255
  EXPECT_EQ(png.at(1, 2), 153);
  EXPECT_EQ(png.at(3, 2), 255);
  // Image 1 at (5, 1), all white.
  EXPECT_EQ(png.at(5, 1), 255);
  EXPECT_EQ(png.at(7, 2), 255);
  // Image 2 at (1, 4): clamping, NaN as 0, rounding.
  EXPECT_EQ(png.at(1, 4), 0);
  EXPECT_EQ(png.at(2, 4), 255);
  EXPECT_EQ(png.at(3, 4), 0);
  EXPECT_EQ(png.at(1, 5), 128);  // 127.5 rounds up
  EXPECT_EQ(png.at(2, 5), 1);    // 0.51 rounds to 1
  EXPECT_EQ(png.at(3, 5), 254);  // 254.49
  // Padding lines and the empty fourth tile are mid grey.
  const std::pair<int, int> padding_pixels[] = {{0, 0}, {4, 1}, {8, 2}, {2, 3},
                                                {0, 6}, {5, 4}, {7, 5}};
  for (const auto& [x, y] : padding_pixels)
    EXPECT_EQ(png.at(x, y), scvae::kImageGridPadValue) << "at " << x << "," << y;
}

TEST_F(ImageGridTest, AcceptsDoubleExpressionsAndUint8) {
  const std::string file = path("d.png");
  Matrix<double> images = Matrix<double>::Constant(4, 5, 0.5);
  scvae::write_image_grid(file, images.leftCols(2) * 2.0, 2, 2, 5, 0);
  Png png = read_png(file);
  ASSERT_NE(png.data, nullptr);
  EXPECT_EQ(png.width, 10);
  EXPECT_EQ(png.height, 2);
  EXPECT_EQ(png.at(0, 0), 255);
  EXPECT_EQ(png.at(4, 0), scvae::kImageGridPadValue);  // tiles 3..5 are empty

  Eigen::Matrix<std::uint8_t, Eigen::Dynamic, Eigen::Dynamic> bytes(4, 1);
  bytes << 0, 7, 200, 255;
  scvae::write_image_grid(file, bytes, 2, 2, 1, 0);
  png = read_png(file);
  ASSERT_NE(png.data, nullptr);
  EXPECT_EQ(png.at(1, 0), 7);
  EXPECT_EQ(png.at(0, 1), 200);
}

TEST_F(ImageGridTest, RejectsBadArguments) {
  const std::string file = path("bad.png");
  const Matrix<float> images = Matrix<float>::Zero(6, 2);
  EXPECT_THROW(scvae::write_image_grid(file, images, 2, 2, 2), scvae::ShapeError);
  EXPECT_THROW(scvae::write_image_grid(file, Matrix<float>(6, 0), 2, 3, 2), scvae::ArgumentError);
  EXPECT_THROW(scvae::write_image_grid(file, images, 2, 3, 0), scvae::ArgumentError);
  EXPECT_THROW(scvae::write_image_grid(file, images, 0, 3, 2), scvae::ArgumentError);
  EXPECT_THROW(scvae::write_image_grid(file, images, 2, 3, 2, -1), scvae::ArgumentError);
  EXPECT_THROW(scvae::write_image_grid(file, images, 2, 3, 2, Index{1} << 40),
               scvae::ArgumentError);
  EXPECT_FALSE(fs::exists(file));
}

TEST_F(ImageGridTest, FailedWriteIsIoErrorNamingThePath) {
  const std::string file = path("no/such/dir/grid.png");
  try {
    scvae::write_image_grid(file, Matrix<float>::Zero(4, 1), 2, 2, 1);
    FAIL() << "expected IoError";
  } catch (const scvae::IoError& error) {
    EXPECT_NE(std::string(error.what()).find(file), std::string::npos) << error.what();
  }
}

TEST_F(ImageGridTest, WriteBelowARegularFileIsIoErrorNamingThePath) {
  scvae::write_image_grid(path("plain"), Matrix<float>::Zero(4, 1), 2, 2, 1);
  const std::string file = path("plain/grid.png");
  try {
    scvae::write_image_grid(file, Matrix<float>::Zero(4, 1), 2, 2, 1);
    FAIL() << "expected IoError";
  } catch (const scvae::IoError& error) {
    EXPECT_NE(std::string(error.what()).find(file), std::string::npos) << error.what();
  }
}

// A full disk while writing (the temporary file is /dev/full): an IoError
// naming the picture, the previous picture intact, no temporary file left.
// It used to succeed silently, leaving a cut-off or empty PNG.
TEST_F(ImageGridTest, FullDiskIsIoErrorAndKeepsThePreviousPicture) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "needs /dev/full";
  const std::string file = path("grid.png");
  scvae::write_image_grid(file, Matrix<float>::Ones(4, 3), 2, 2, 3);
  const auto size = fs::file_size(file);
  const std::string temp = scvae::detail::temp_path_for(file);
  fs::create_symlink("/dev/full", temp);
  try {
    scvae::write_image_grid(file, Matrix<float>::Zero(4, 9), 2, 2, 3);
    FAIL() << "expected IoError";
  } catch (const scvae::IoError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(file), std::string::npos) << message;
    EXPECT_NE(message.find("No space left"), std::string::npos) << message;
  }
  EXPECT_FALSE(fs::exists(fs::symlink_status(temp))) << "the temporary file must be removed";
  EXPECT_EQ(fs::file_size(file), size);
  const Png png = read_png(file);
  ASSERT_NE(png.data, nullptr);
  EXPECT_EQ(png.at(3, 3), 255);  // still the picture of ones
}

TEST_F(ImageGridTest, APictureIsReplacedWholeAndOnlyRegularFilesAre) {
  const std::string file = path("grid.png");
  scvae::write_image_grid(file, Matrix<float>::Ones(4, 3), 2, 2, 3);
  scvae::write_image_grid(file, Matrix<float>::Zero(4, 1), 2, 2, 1);
  EXPECT_EQ(read_png(file).at(2, 2), 0);
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir_)) ++entries;
  EXPECT_EQ(entries, 1u) << "a temporary file was left behind";
  fs::create_directory(path("dir.png"));
  EXPECT_THROW(scvae::write_image_grid(path("dir.png"), Matrix<float>::Zero(4, 1), 2, 2, 1),
               scvae::IoError);
  EXPECT_TRUE(fs::is_directory(path("dir.png")));
}

}  // namespace
