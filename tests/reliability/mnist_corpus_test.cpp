// The malformed-file corpus of issue 4, end to end: each case is a data
// directory with train and t10k files of which one is broken, loaded the way
// the examples load it (load_mnist for both splits, then
// check_same_image_size). Each must give the right scvae::Error subclass and a
// message naming the broken file and the problem. tests/data/idx_test.cpp
// checks the same cases one file at a time; tests/examples/run_corpus.sh runs
// the example programs against them.

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "../test_support.hpp"
#include "scvae/data/dataset.hpp"
#include "scvae/data/idx.hpp"

namespace {

namespace fs = std::filesystem;
using Bytes = scvae::testing::Bytes;

using scvae::testing::concat;
using scvae::testing::idx_header;

void write_bytes(const fs::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

Bytes read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

Bytes image_file(std::uint32_t count, std::uint32_t rows, std::uint32_t cols) {
  Bytes pixels(std::size_t{count} * rows * cols);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(i * 7);
  return concat(idx_header(0x08, {count, rows, cols}), pixels);
}

Bytes label_file(const Bytes& labels) {
  return concat(idx_header(0x08, {static_cast<std::uint32_t>(labels.size())}), labels);
}

const Bytes kTenLabels = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};

/// gzip-compresses `bytes` (a real gzip stream, written through zlib).
Bytes gzip(const Bytes& bytes, const fs::path& scratch) {
  gzFile file = gzopen(scratch.string().c_str(), "wb");
  EXPECT_NE(file, nullptr);
  gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(file);
  Bytes out = read_bytes(scratch);
  fs::remove(scratch);
  return out;
}

class MnistCorpus : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
    root_ = fs::temp_directory_path() /
            ("scvae_corpus_test_" + std::to_string(::getpid()) + "_" + std::to_string(stamp));
    fs::create_directories(root_);
  }
  void TearDown() override {
    std::error_code error;
    fs::remove_all(root_, error);
  }

  /// A valid directory: 10 train and 10 test images of 4x4, labels 0..9.
  fs::path valid_case(const std::string& name) {
    const fs::path dir = root_ / name;
    fs::create_directories(dir);
    write_bytes(dir / "train-images-idx3-ubyte", image_file(10, 4, 4));
    write_bytes(dir / "train-labels-idx1-ubyte", label_file(kTenLabels));
    write_bytes(dir / "t10k-images-idx3-ubyte", image_file(10, 4, 4));
    write_bytes(dir / "t10k-labels-idx1-ubyte", label_file(kTenLabels));
    return dir;
  }

  fs::path root_;
};

/// What the examples do with --data.
void load_like_the_examples(const fs::path& dir) {
  const scvae::Dataset train = scvae::load_mnist(dir.string(), "train");
  const scvae::Dataset test = scvae::load_mnist(dir.string(), "t10k");
  scvae::check_same_image_size(train, test);
}

enum class Kind { kFormat, kIo };

struct Case {
  std::string name;
  /// Breaks one file of a valid directory.
  std::function<void(const fs::path& dir, const fs::path& scratch)> damage;
  Kind kind;
  std::vector<std::string> words;  ///< the message holds each of them
};

std::vector<Case> corpus() {
  const auto images = [](const fs::path& d) { return d / "train-images-idx3-ubyte"; };
  const auto labels = [](const fs::path& d) { return d / "train-labels-idx1-ubyte"; };
  const auto test_images = [](const fs::path& d) { return d / "t10k-images-idx3-ubyte"; };
  const auto test_labels = [](const fs::path& d) { return d / "t10k-labels-idx1-ubyte"; };
  return {
      {"truncated plain file",
       [=](const fs::path& d, const fs::path&) {
         Bytes b = read_bytes(images(d));
         b.resize(100);
         write_bytes(images(d), b);
       },
       Kind::kFormat,
       {"train-images-idx3-ubyte", "truncated: header says 160 pixel bytes, file holds 84"}},
      {"truncated header",
       [=](const fs::path& d, const fs::path&) {
         write_bytes(test_labels(d), {0, 0, 8, 1, 0});
       },
       Kind::kFormat,
       {"t10k-labels-idx1-ubyte", "truncated"}},
      {"truncated gz stream",
       [=](const fs::path& d, const fs::path& scratch) {
         Bytes gz = gzip(read_bytes(images(d)), scratch);
         gz.resize(gz.size() / 2);
         write_bytes(d / "train-images-idx3-ubyte.gz", gz);
         fs::remove(images(d));
       },
       Kind::kFormat,
       {"train-images-idx3-ubyte.gz", "truncated"}},
      {"gz trailer cut off",
       [=](const fs::path& d, const fs::path& scratch) {
         Bytes gz = gzip(read_bytes(labels(d)), scratch);
         gz.resize(gz.size() - 4);
         write_bytes(d / "train-labels-idx1-ubyte.gz", gz);
         fs::remove(labels(d));
       },
       Kind::kFormat,
       {"train-labels-idx1-ubyte.gz", "truncated"}},
      {"bad gz data",
       [=](const fs::path& d, const fs::path&) {
         Bytes gz = {0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3};
         gz.resize(200, 0xFF);
         write_bytes(d / "train-labels-idx1-ubyte.gz", gz);
         fs::remove(labels(d));
       },
       Kind::kFormat,
       {"train-labels-idx1-ubyte.gz", "corrupt gzip stream"}},
      {"bad gz checksum",
       [=](const fs::path& d, const fs::path& scratch) {
         Bytes gz = gzip(read_bytes(test_labels(d)), scratch);
         gz[gz.size() - 8] ^= 0x5A;
         write_bytes(d / "t10k-labels-idx1-ubyte.gz", gz);
         fs::remove(test_labels(d));
       },
       Kind::kFormat,
       {"t10k-labels-idx1-ubyte.gz", "corrupt gzip stream"}},
      {"wrong magic",
       [=](const fs::path& d, const fs::path&) {
         write_bytes(images(d), {'P', '5', '\n', '4', ' ', '4', '\n', '2', '5', '5', '\n'});
       },
       Kind::kFormat,
       {"train-images-idx3-ubyte", "bad magic"}},
      {"wrong data type",
       [=](const fs::path& d, const fs::path&) {
         write_bytes(images(d), concat(idx_header(0x0D, {10, 4, 4}), Bytes(640, 0)));
       },
       Kind::kFormat,
       {"train-images-idx3-ubyte", "unsupported data type 0x0D"}},
      {"label file in place of images",
       [=](const fs::path& d, const fs::path&) {
         write_bytes(test_images(d), label_file(kTenLabels));
       },
       Kind::kFormat,
       {"t10k-images-idx3-ubyte", "wrong dimension count"}},
      {"dimensions whose product overflows",
       [=](const fs::path& d, const fs::path&) {
         write_bytes(images(d), concat(idx_header(0x08, {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}),
                                       Bytes(64, 0)));
       },
       Kind::kFormat,
       {"train-images-idx3-ubyte", "overflow"}},
      {"dimensions exceeding the file",
       [=](const fs::path& d, const fs::path&) {
         write_bytes(images(d), concat(idx_header(0x08, {1000000000u, 4, 4}), Bytes(160, 0)));
       },
       Kind::kFormat,
       {"train-images-idx3-ubyte", "truncated: header says 16000000000 pixel bytes"}},
      {"dimensions exceeding gz data",
       [=](const fs::path& d, const fs::path& scratch) {
         write_bytes(d / "t10k-labels-idx1-ubyte.gz",
                     gzip(concat(idx_header(0x08, {4000000000u}), kTenLabels), scratch));
         fs::remove(test_labels(d));
       },
       Kind::kFormat,
       {"t10k-labels-idx1-ubyte.gz", "header says 4000000000 labels"}},
      {"zero-sized image dimension",
       [=](const fs::path& d, const fs::path&) {
         write_bytes(images(d), idx_header(0x08, {10, 0, 4}));
       },
       Kind::kFormat,
       {"train-images-idx3-ubyte", "zero-sized dimension"}},
      {"zero labels",
       [=](const fs::path& d, const fs::path&) { write_bytes(labels(d), idx_header(0x08, {0})); },
       Kind::kFormat,
       {"train-labels-idx1-ubyte", "zero-sized dimension"}},
      {"label past the class count",
       [=](const fs::path& d, const fs::path&) {
         write_bytes(labels(d), label_file({0, 1, 2, 3, 4, 5, 6, 7, 8, 10}));
       },
       Kind::kFormat,
       {"train-labels-idx1-ubyte", "label 10 at index 9 is out of range"}},
      {"trailing data",
       [=](const fs::path& d, const fs::path&) {
         write_bytes(test_images(d), concat(image_file(10, 4, 4), {1, 2, 3}));
       },
       Kind::kFormat,
       {"t10k-images-idx3-ubyte", "trailing data: 3 bytes"}},
      {"image and label counts differ",
       [=](const fs::path& d, const fs::path&) {
         write_bytes(labels(d), label_file({0, 1, 2, 3, 4, 5, 6, 7, 8}));
       },
       Kind::kFormat,
       {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "count mismatch", "10 images",
        "9 labels"}},
      {"image size differs between train and test",
       [=](const fs::path& d, const fs::path&) {
         write_bytes(test_images(d), image_file(10, 5, 5));
       },
       Kind::kFormat,
       {"train-images-idx3-ubyte", "t10k-images-idx3-ubyte", "image size differs", "4x4", "5x5"}},
      {"missing file",
       [=](const fs::path& d, const fs::path&) { fs::remove(test_labels(d)); },
       Kind::kIo,
       {"no MNIST labels file for split 't10k'", "t10k-labels-idx1-ubyte.gz"}},
      {"directory in place of a file",
       [=](const fs::path& d, const fs::path&) {
         fs::remove(images(d));
         fs::create_directory(images(d));
       },
       Kind::kIo,
       {"train-images-idx3-ubyte", "is a directory"}},
      {"empty file",
       [=](const fs::path& d, const fs::path&) { write_bytes(labels(d), {}); },
       Kind::kFormat,
       {"train-labels-idx1-ubyte", "truncated"}},
  };
}

TEST_F(MnistCorpus, TheValidDirectoryLoads) {
  EXPECT_NO_THROW(load_like_the_examples(valid_case("valid")));
}

TEST_F(MnistCorpus, EachMalformedCaseGivesTheRightErrorAndMessage) {
  int index = 0;
  for (const Case& c : corpus()) {
    SCOPED_TRACE(c.name);
    const fs::path dir = valid_case("case" + std::to_string(index++));
    c.damage(dir, root_ / "scratch.gz");
    try {
      load_like_the_examples(dir);
      ADD_FAILURE() << "no exception";
    } catch (const scvae::FormatError& e) {
      EXPECT_EQ(c.kind, Kind::kFormat) << "a FormatError: " << e.what();
      for (const std::string& word : c.words)
        EXPECT_NE(std::string(e.what()).find(word), std::string::npos)
            << "'" << word << "' missing in: " << e.what();
    } catch (const scvae::IoError& e) {
      EXPECT_EQ(c.kind, Kind::kIo) << "an IoError: " << e.what();
      for (const std::string& word : c.words)
        EXPECT_NE(std::string(e.what()).find(word), std::string::npos)
            << "'" << word << "' missing in: " << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not a FormatError or IoError: " << e.what();
    }
  }
}

TEST_F(MnistCorpus, MissingOrNonDirectoryDataIsIoError) {
  EXPECT_THROW(load_like_the_examples(root_ / "absent"), scvae::IoError);
  write_bytes(root_ / "plain-file", {1, 2, 3});
  EXPECT_THROW(load_like_the_examples(root_ / "plain-file"), scvae::IoError);
  fs::create_directories(root_ / "empty");
  try {
    load_like_the_examples(root_ / "empty");
    ADD_FAILURE() << "no exception";
  } catch (const scvae::IoError& e) {
    EXPECT_NE(std::string(e.what()).find("train-images-idx3-ubyte"), std::string::npos) << e.what();
  }
}

}  // namespace
