// IDX reading and writing: round trips (plain and gzip) and a corpus of
// malformed files, each checked for the exception type and a message that
// names the file and the problem.

#include "scvae/data/idx.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "../largest_allocation.hpp"
#include "../reliability/child_process.hpp"
#include "../test_support.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <new>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using Bytes = scvae::testing::Bytes;

class IdxTest : public ::testing::Test {
 protected:
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  scvae::testing::TempDir temp_{"scvae_idx_test"};
  const fs::path dir_ = temp_.path;
};

using scvae::testing::concat;
using scvae::testing::idx_header;

void write_plain(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

Bytes gzip_bytes(const Bytes& bytes) {
  // Compress through a temporary gz file to get a genuine gzip stream.
  const fs::path tmp =
      fs::temp_directory_path() / ("scvae_idx_gzip_" + std::to_string(::getpid()) + ".gz");
  gzFile file = gzopen(tmp.string().c_str(), "wb");
  EXPECT_NE(file, nullptr);
  if (!bytes.empty()) gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(file);
  std::ifstream in(tmp, std::ios::binary);
  Bytes out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  fs::remove(tmp);
  return out;
}

Bytes read_plain(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

scvae::IdxImages sample_images() {
  scvae::IdxImages images;
  images.count = 3;
  images.rows = 4;
  images.cols = 5;
  for (int i = 0; i < 3 * 4 * 5; ++i) images.pixels.push_back(static_cast<std::uint8_t>(i * 4 + 1));
  images.pixels.back() = 255;
  images.pixels.front() = 0;
  return images;
}

// Runs `call`, requires exception type E, and checks that the message names
// the file and contains `word`.
template <typename E, typename F>
void expect_error(F&& call, const std::string& file, const std::string& word) {
  try {
    call();
    ADD_FAILURE() << "no exception for " << file << " (expected '" << word << "')";
  } catch (const E& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(fs::path(file).filename().string()), std::string::npos) << message;
    EXPECT_NE(message.find(word), std::string::npos) << "missing '" << word << "' in: " << message;
  } catch (const std::exception& error) {
    ADD_FAILURE() << "wrong exception type for " << file << ": " << error.what();
  }
}

TEST_F(IdxTest, ImagesRoundTripPlain) {
  const auto images = sample_images();
  const std::string file = path("images-idx3-ubyte");
  scvae::write_idx_images(file, images);
  const Bytes raw = read_plain(file);
  ASSERT_EQ(raw.size(), 16u + images.pixels.size());
  EXPECT_EQ(Bytes(raw.begin(), raw.begin() + 16), idx_header(0x08, {3, 4, 5}));
  const auto back = scvae::read_idx_images(file);
  EXPECT_EQ(back.count, 3);
  EXPECT_EQ(back.rows, 4);
  EXPECT_EQ(back.cols, 5);
  EXPECT_EQ(back.pixels, images.pixels);
}

TEST_F(IdxTest, ImagesRoundTripGz) {
  const auto images = sample_images();
  const std::string file = path("images-idx3-ubyte.gz");
  scvae::write_idx_images(file, images);
  const Bytes raw = read_plain(file);
  ASSERT_GE(raw.size(), 2u);
  EXPECT_EQ(raw[0], 0x1f);  // gzip magic: the file really is compressed
  EXPECT_EQ(raw[1], 0x8b);
  const auto back = scvae::read_idx_images(file);
  EXPECT_EQ(back.count, 3);
  EXPECT_EQ(back.rows, 4);
  EXPECT_EQ(back.cols, 5);
  EXPECT_EQ(back.pixels, images.pixels);
}

TEST_F(IdxTest, GzImagesLargerThanOneChunk) {
  scvae::IdxImages images;
  images.count = 3000;
  images.rows = 28;
  images.cols = 28;  // 2.35 MB: several read chunks and buffer growths
  images.pixels.resize(3000 * 28 * 28);
  for (std::size_t i = 0; i < images.pixels.size(); ++i) {
    images.pixels[i] = static_cast<std::uint8_t>((i * 2654435761u) >> 13);
  }
  const std::string file = path("big-images-idx3-ubyte.gz");
  scvae::write_idx_images(file, images);
  EXPECT_EQ(scvae::read_idx_images(file).pixels, images.pixels);
}

TEST_F(IdxTest, LabelsRoundTripPlainAndGz) {
  const Bytes labels = {0, 1, 2, 9, 5, 5, 3};
  for (const std::string name : {"labels-idx1-ubyte", "labels-idx1-ubyte.gz"}) {
    const std::string file = path(name);
    scvae::write_idx_labels(file, labels);
    EXPECT_EQ(scvae::read_idx_labels(file), labels) << name;
  }
  EXPECT_EQ(read_plain(path("labels-idx1-ubyte")).size(), 8u + labels.size());
}

TEST_F(IdxTest, LabelsWithMoreClasses) {
  const std::string file = path("labels-idx1-ubyte");
  scvae::write_idx_labels(file, {0, 42, 255});
  EXPECT_EQ(scvae::read_idx_labels(file, 256), (Bytes{0, 42, 255}));
  EXPECT_THROW(scvae::read_idx_labels(file, 0), scvae::ArgumentError);
}

TEST_F(IdxTest, WriteRejectsInconsistentImages) {
  auto images = sample_images();
  images.pixels.pop_back();
  const std::string file = path("bad-images-idx3-ubyte");
  expect_error<scvae::ArgumentError>([&] { scvae::write_idx_images(file, images); }, file,
                                     "pixels");
  images = sample_images();
  images.rows = 0;
  expect_error<scvae::ArgumentError>([&] { scvae::write_idx_images(file, images); }, file, "rows");
  expect_error<scvae::ArgumentError>([&] { scvae::write_idx_labels(file, {}); }, file,
                                     "label count");
}

TEST_F(IdxTest, WriteToMissingDirectoryIsIoError) {
  const std::string file = path("no-such-dir/images-idx3-ubyte");
  expect_error<scvae::IoError>([&] { scvae::write_idx_images(file, sample_images()); }, file,
                               "cannot open");
}

// ---- the malformed-file corpus ----

TEST_F(IdxTest, TruncatedPlainFile) {
  const std::string file = path("trunc-images-idx3-ubyte");
  write_plain(file, concat(idx_header(0x08, {2, 3, 3}), Bytes(10, 7)));  // needs 18
  expect_error<scvae::FormatError>([&] { scvae::read_idx_images(file); }, file,
                                   "truncated: header says 18 pixel bytes, file holds 10");
}

TEST_F(IdxTest, TruncatedHeader) {
  const std::string file = path("short-labels-idx1-ubyte");
  write_plain(file, {0, 0, 8, 1, 0, 0});
  expect_error<scvae::FormatError>([&] { scvae::read_idx_labels(file); }, file, "truncated");
  write_plain(file, {0, 0});
  expect_error<scvae::FormatError>([&] { scvae::read_idx_labels(file); }, file, "truncated");
}

TEST_F(IdxTest, TruncatedGzStream) {
  const std::string file = path("trunc-images-idx3-ubyte.gz");
  Bytes payload(5000);
  for (std::size_t i = 0; i < payload.size(); ++i)
    payload[i] = static_cast<std::uint8_t>(i * 7919 >> 3);
  Bytes gz = gzip_bytes(concat(idx_header(0x08, {5, 25, 40}), payload));
  gz.resize(gz.size() / 2);  // cut the compressed stream in the middle
  write_plain(file, gz);
  expect_error<scvae::FormatError>([&] { scvae::read_idx_images(file); }, file,
                                   "truncated gzip stream");
  expect_error<scvae::FormatError>([&] { scvae::read_idx_images(file); }, file,
                                   "header says 5000 pixel bytes");
}

TEST_F(IdxTest, GzMissingTrailerIsTruncated) {
  // The whole payload decompresses but the stream's CRC/length trailer is cut.
  const std::string file = path("notrailer-labels-idx1-ubyte.gz");
  Bytes gz = gzip_bytes(concat(idx_header(0x08, {4}), Bytes{1, 2, 3, 4}));
  gz.resize(gz.size() - 8);
  write_plain(file, gz);
  expect_error<scvae::FormatError>([&] { scvae::read_idx_labels(file); }, file, "truncated");
}

TEST_F(IdxTest, CorruptGzStream) {
  const std::string file = path("crc-labels-idx1-ubyte.gz");
  Bytes gz = gzip_bytes(concat(idx_header(0x08, {4}), Bytes{1, 2, 3, 4}));
  gz[gz.size() - 6] ^= 0xFF;  // damage the CRC
  write_plain(file, gz);
  expect_error<scvae::FormatError>([&] { scvae::read_idx_labels(file); }, file, "corrupt");
}

TEST_F(IdxTest, WrongMagic) {
  const std::string file = path("magic-images-idx3-ubyte");
  Bytes bytes = concat(idx_header(0x08, {1, 2, 2}), Bytes(4, 1));
  bytes[0] = 0x12;
  write_plain(file, bytes);
  expect_error<scvae::FormatError>([&] { scvae::read_idx_images(file); }, file, "magic");
  // Text in place of IDX data.
  write_plain(file, Bytes{'h', 'e', 'l', 'l', 'o', '\n'});
  expect_error<scvae::FormatError>([&] { scvae::read_idx_images(file); }, file, "magic");
}

TEST_F(IdxTest, WrongDataType) {
  const std::string file = path("float-images-idx3-ubyte.gz");
  write_plain(file, gzip_bytes(concat(idx_header(0x0D, {1, 2, 2}), Bytes(16, 0))));
  expect_error<scvae::FormatError>([&] { scvae::read_idx_images(file); }, file, "data type 0x0D");
}

TEST_F(IdxTest, WrongDimensionCount) {
  const std::string labels = path("labels-idx1-ubyte");
  write_plain(labels, concat(idx_header(0x08, {4}), Bytes{1, 2, 3, 4}));
  expect_error<scvae::FormatError>([&] { scvae::read_idx_images(labels); }, labels,
                                   "dimension count");
  const std::string images = path("images-idx3-ubyte");
  write_plain(images, concat(idx_header(0x08, {1, 2, 2}), Bytes(4, 0)));
  expect_error<scvae::FormatError>([&] { scvae::read_idx_labels(images); }, images,
                                   "dimension count");
}

TEST_F(IdxTest, DimensionsWhoseProductOverflows) {
  const std::string file = path("huge-images-idx3-ubyte");
  write_plain(file, concat(idx_header(0x08, {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}), Bytes(8, 0)));
  g_largest_allocation = 0;
  expect_error<scvae::FormatError>([&] { scvae::read_idx_images(file); }, file, "overflow");
  EXPECT_LT(g_largest_allocation.load(), std::size_t{16} << 20);
}

TEST_F(IdxTest, DimensionsExceedingPlainFileLength) {
  // 10^9 images claimed, 100 bytes present: must fail before allocating.
  const std::string file = path("liar-images-idx3-ubyte");
  write_plain(file, concat(idx_header(0x08, {1000000000u, 1, 1}), Bytes(84, 3)));
  g_largest_allocation = 0;
  expect_error<scvae::FormatError>([&] { scvae::read_idx_images(file); }, file,
                                   "truncated: header says 1000000000 pixel bytes, file holds 84");
  // No allocation near the claimed 1 GB (no wall-clock check: unit tests are not timed).
  EXPECT_LT(g_largest_allocation.load(), std::size_t{16} << 20);
}

TEST_F(IdxTest, DimensionsExceedingGzData) {
  const std::string file = path("liar-labels-idx1-ubyte.gz");
  write_plain(file, gzip_bytes(concat(idx_header(0x08, {1000000000u}), Bytes(92, 3))));
  g_largest_allocation = 0;
  expect_error<scvae::FormatError>([&] { scvae::read_idx_labels(file); }, file,
                                   "truncated: header says 1000000000 labels, file holds 92");
  EXPECT_LT(g_largest_allocation.load(), std::size_t{16} << 20);
}

TEST_F(IdxTest, GzImagesLandInOneBufferOfTheirSize) {
  // The gzip trailer agrees with the header: one allocation of the payload,
  // no doubling buffer (which took 4 MiB for these 2.35 MB) and no spare capacity.
  scvae::IdxImages images;
  images.count = 3000;
  images.rows = 28;
  images.cols = 28;
  images.pixels.assign(3000 * 28 * 28, 0);
  for (std::size_t i = 0; i < images.pixels.size(); ++i)
    images.pixels[i] = static_cast<std::uint8_t>((i * 2654435761u) >> 13);
  const std::string file = path("exact-images-idx3-ubyte.gz");
  scvae::write_idx_images(file, images);
  g_largest_allocation = 0;
  const auto back = scvae::read_idx_images(file);
  EXPECT_EQ(back.pixels, images.pixels);
  EXPECT_EQ(back.pixels.capacity(), back.pixels.size());
  EXPECT_EQ(g_largest_allocation.load(), images.pixels.size());
}

TEST_F(IdxTest, GzWithTwoMembersStillReadsWithNoSpareCapacity) {
  // The last member's trailer counts only its own bytes: the reader grows
  // its buffer as the data arrives, and still keeps no spare capacity.
  const Bytes pixels(3 * 1000 * 1000, 5);
  const std::string file = path("two-members-idx3-ubyte.gz");
  write_plain(file, concat(gzip_bytes(idx_header(0x08, {3, 1000, 1000})), gzip_bytes(pixels)));
  const auto back = scvae::read_idx_images(file);
  EXPECT_EQ(back.pixels, pixels);
  EXPECT_EQ(back.pixels.capacity(), back.pixels.size());
}

TEST_F(IdxTest, GzTrailerClaimingTheHeadersSizeIsNotTrustedBeyondTheFileLength) {
  // A trailer made to agree with a header claiming 10^9 labels: the file is
  // far too short to hold them, so nothing near 1 GB is allocated.
  const std::string file = path("trailer-liar-labels-idx1-ubyte.gz");
  Bytes bytes = gzip_bytes(concat(idx_header(0x08, {1000000000u}), Bytes(92, 3)));
  const std::uint32_t claimed = 8u + 1000000000u;
  for (int b = 0; b < 4; ++b)
    bytes[bytes.size() - 4 + static_cast<std::size_t>(b)] =
        static_cast<std::uint8_t>(claimed >> (8 * b));
  write_plain(file, bytes);
  g_largest_allocation = 0;
  EXPECT_THROW(scvae::read_idx_labels(file), scvae::FormatError);
  EXPECT_LT(g_largest_allocation.load(), std::size_t{16} << 20);
}

TEST_F(IdxTest, ZeroSizedDimensions) {
  const std::string file = path("empty-images-idx3-ubyte");
  write_plain(file, idx_header(0x08, {10, 0, 28}));
  expect_error<scvae::FormatError>([&] { scvae::read_idx_images(file); }, file, "zero-sized");
  const std::string labels = path("empty-labels-idx1-ubyte.gz");
  write_plain(labels, gzip_bytes(idx_header(0x08, {0})));
  expect_error<scvae::FormatError>([&] { scvae::read_idx_labels(labels); }, labels, "zero-sized");
}

TEST_F(IdxTest, LabelPastClassCount) {
  const std::string file = path("labels-idx1-ubyte.gz");
  scvae::write_idx_labels(file, {0, 9, 3, 10, 1});
  expect_error<scvae::FormatError>([&] { scvae::read_idx_labels(file); }, file,
                                   "label 10 at index 3 is out of range");
  EXPECT_EQ(scvae::read_idx_labels(file, 11).size(), 5u);
}

TEST_F(IdxTest, TrailingGarbagePlain) {
  const std::string file = path("tail-images-idx3-ubyte");
  write_plain(file, concat(idx_header(0x08, {1, 2, 2}), Bytes(4 + 3, 9)));
  expect_error<scvae::FormatError>([&] { scvae::read_idx_images(file); }, file,
                                   "trailing data: 3 bytes");
}

TEST_F(IdxTest, TrailingGarbageGz) {
  const std::string file = path("tail-labels-idx1-ubyte.gz");
  write_plain(file, gzip_bytes(concat(idx_header(0x08, {3}), Bytes{1, 2, 3, 4, 5})));
  expect_error<scvae::FormatError>([&] { scvae::read_idx_labels(file); }, file,
                                   "trailing data: 2 bytes");
  // A second gzip member appended after the first is trailing data too.
  write_plain(file, concat(gzip_bytes(concat(idx_header(0x08, {3}), Bytes{1, 2, 3})),
                           gzip_bytes(Bytes{4, 5})));
  expect_error<scvae::FormatError>([&] { scvae::read_idx_labels(file); }, file, "trailing data");
}

TEST_F(IdxTest, MissingFile) {
  const std::string file = path("absent-images-idx3-ubyte");
  expect_error<scvae::IoError>([&] { scvae::read_idx_images(file); }, file, "not found");
}

TEST_F(IdxTest, DirectoryInPlaceOfFile) {
  const std::string file = path("train-labels-idx1-ubyte");
  fs::create_directory(file);
  expect_error<scvae::IoError>([&] { scvae::read_idx_labels(file); }, file, "directory");
}

// A FIFO is refused before it is opened: gzopen would wait for a writer for
// ever (run in a child with an alarm so that a hang fails the test).
TEST_F(IdxTest, FifoInPlaceOfFileIsRefusedWithoutBlocking) {
  const std::string file = path("train-images-idx3-ubyte");
  ASSERT_EQ(::mkfifo(file.c_str(), 0600), 0);
  const scvae::testing::ChildOutcome outcome = scvae::testing::run_in_child([&] {
    int refused = 0;
    try {
      scvae::read_idx_images(file);
    } catch (const scvae::IoError& e) {
      refused += std::string(e.what()).find(file + ": cannot read: it is a FIFO") == 0;
    }
    try {
      scvae::read_idx_labels(file);
    } catch (const scvae::IoError& e) {
      refused += std::string(e.what()).find("FIFO") != std::string::npos;
    }
    return refused == 2 ? 0 : 1;
  });
  EXPECT_TRUE(outcome.exited && outcome.code == 0) << outcome.describe();
  expect_error<scvae::IoError>([&] { scvae::read_idx_labels("/dev/null"); }, "/dev/null",
                               "character device");
}

TEST_F(IdxTest, ImageLabelCountMismatch) {
  const std::string images_file = path("x-images-idx3-ubyte");
  const std::string labels_file = path("x-labels-idx1-ubyte");
  scvae::write_idx_images(images_file, sample_images());
  scvae::write_idx_labels(labels_file, {1, 2});
  const auto images = scvae::read_idx_images(images_file);
  const auto labels = scvae::read_idx_labels(labels_file);
  try {
    scvae::check_image_label_counts(images_file, images.count, labels_file,
                                    static_cast<scvae::Index>(labels.size()));
    ADD_FAILURE() << "no exception";
  } catch (const scvae::FormatError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(images_file), std::string::npos) << message;
    EXPECT_NE(message.find(labels_file), std::string::npos) << message;
    EXPECT_NE(message.find("mismatch"), std::string::npos) << message;
    EXPECT_NE(message.find("3 images"), std::string::npos) << message;
    EXPECT_NE(message.find("2 labels"), std::string::npos) << message;
  }
  EXPECT_NO_THROW(scvae::check_image_label_counts(images_file, 3, labels_file, 3));
}

TEST_F(IdxTest, ErrorsDeriveFromScvaeError) {
  const std::string file = path("absent");
  EXPECT_THROW(scvae::read_idx_labels(file), scvae::Error);
}

}  // namespace
