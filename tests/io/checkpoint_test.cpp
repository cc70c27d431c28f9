#include "scvae/io/checkpoint.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "scvae/core/random.hpp"

namespace {

namespace fs = std::filesystem;
using scvae::CheckpointError;
using scvae::CheckpointExtras;
using scvae::Index;
using scvae::IoError;
using scvae::Vector;

const std::string kArchitecture = "encoder 784-400-20 relu; task image bernoulli 20-400-784 w=1";

// A stand-in for the model classes: only the duck-typed checkpoint interface.
template <typename ScalarT>
struct FakeModel {
  using Scalar = ScalarT;
  std::string arch;
  Vector<Scalar> params;
  std::string architecture() const { return arch; }
  Vector<Scalar>& parameters() { return params; }
  const Vector<Scalar>& parameters() const { return params; }
};

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("scvae_checkpoint_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  static std::vector<unsigned char> read_bytes(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    return std::vector<unsigned char>(std::istreambuf_iterator<char>(in), {});
  }
  static void write_bytes(const std::string& file, const std::vector<unsigned char>& bytes) {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
  }

  template <typename Scalar>
  static Vector<Scalar> random_parameters(Index n, std::uint64_t seed) {
    scvae::Rng rng(seed);
    Vector<Scalar> v(n);
    rng.fill_normal(v);
    return v;
  }

  // Edge values first (signed zeros, denormals, extremes), then random ones.
  // Infinities and NaN are refused by save_checkpoint (NonFinite... tests).
  template <typename Scalar>
  static Vector<Scalar> special_parameters() {
    using Limits = std::numeric_limits<Scalar>;
    Vector<Scalar> v = random_parameters<Scalar>(64, 7);
    v(0) = Scalar(0);
    v(1) = -Scalar(0);
    v(2) = Limits::min();
    v(3) = -Limits::denorm_min();
    v(4) = Limits::denorm_min();
    v(5) = Limits::max();
    v(6) = Limits::lowest();
    v(7) = Limits::epsilon();
    v(8) = Scalar(1) / Scalar(3);
    return v;
  }

  template <typename Scalar>
  static bool bit_identical(const Vector<Scalar>& a, const Vector<Scalar>& b) {
    return a.size() == b.size() &&
           (a.size() == 0 || std::memcmp(a.data(), b.data(),
                                         sizeof(Scalar) * static_cast<std::size_t>(a.size())) == 0);
  }

  static CheckpointExtras sample_extras() {
    CheckpointExtras extras;
    extras.set_scalar("epoch", 12);
    extras.set_values("adam.m", {0.5, -1.25, std::numeric_limits<double>::quiet_NaN(), -0.0});
    extras.set_bytes("note", {'h', 'i', 0, 255});
    extras.set_values("empty", {});
    return extras;
  }

  // Asserts that fn throws an exception of type E whose message contains all needles.
  template <typename E>
  static void expect_throw_with(const std::function<void()>& fn,
                                const std::vector<std::string>& needles) {
    try {
      fn();
      ADD_FAILURE() << "expected an exception";
    } catch (const E& error) {
      const std::string message = error.what();
      for (const auto& needle : needles)
        EXPECT_NE(message.find(needle), std::string::npos)
            << "message \"" << message << "\" lacks \"" << needle << "\"";
    } catch (const std::exception& error) {
      ADD_FAILURE() << "wrong exception type: " << error.what();
    }
  }

  fs::path dir_;
};

TEST_F(CheckpointTest, FloatRoundTripIsBitIdentical) {
  const Vector<float> params = special_parameters<float>();
  const std::string file = path("f.ckpt");
  scvae::save_checkpoint(file, kArchitecture, params);
  const Vector<float> loaded = scvae::load_checkpoint<float>(file, kArchitecture);
  EXPECT_TRUE(bit_identical(params, loaded));
}

TEST_F(CheckpointTest, DoubleRoundTripIsBitIdentical) {
  const Vector<double> params = special_parameters<double>();
  const std::string file = path("d.ckpt");
  scvae::save_checkpoint(file, kArchitecture, params);
  const Vector<double> loaded = scvae::load_checkpoint<double>(file, kArchitecture);
  EXPECT_TRUE(bit_identical(params, loaded));
}

TEST_F(CheckpointTest, EmptyParametersAndArchitectureRoundTrip) {
  const std::string file = path("empty.ckpt");
  scvae::save_checkpoint(file, "", Vector<float>());
  EXPECT_EQ(scvae::load_checkpoint<float>(file, "").size(), 0);
}

TEST_F(CheckpointTest, SavingTwiceGivesIdenticalFiles) {
  const Vector<float> params = random_parameters<float>(100, 3);
  scvae::save_checkpoint(path("a"), kArchitecture, params, sample_extras());
  scvae::save_checkpoint(path("b"), kArchitecture, params, sample_extras());
  EXPECT_EQ(read_bytes(path("a")), read_bytes(path("b")));
}

TEST_F(CheckpointTest, FileSizeMatchesLayout) {
  const std::string file = path("size.ckpt");
  scvae::save_checkpoint(file, "ab", Vector<double>::Zero(3).eval());
  // magic 8, version 4, scalar 4+7, architecture 8+2, count 8, 3 doubles 24,
  // extras count 4, crc 4.
  EXPECT_EQ(fs::file_size(file), 8u + 4 + 11 + 10 + 8 + 24 + 4 + 4);
  const auto bytes = read_bytes(file);
  EXPECT_EQ(std::string(bytes.begin(), bytes.begin() + 8), "SCVAECKP");
  EXPECT_EQ(bytes[8], 1);  // version 1, little-endian
  EXPECT_EQ(bytes[9] | bytes[10] | bytes[11], 0);
}

TEST_F(CheckpointTest, ExtrasRoundTrip) {
  const std::string file = path("extras.ckpt");
  const Vector<float> params = random_parameters<float>(10, 4);
  CheckpointExtras extras = sample_extras();
  const Vector<float> moment = random_parameters<float>(10, 5);
  extras.set_vector("adam.v", moment);
  scvae::save_checkpoint(file, kArchitecture, params, extras);

  CheckpointExtras loaded;
  loaded.set_scalar("stale", 1);  // replaced, not merged
  scvae::load_checkpoint<float>(file, kArchitecture, &loaded);
  EXPECT_TRUE(loaded == extras);
  EXPECT_FALSE(loaded.contains("stale"));
  EXPECT_EQ(loaded.scalar("epoch"), 12);
  EXPECT_EQ(loaded.bytes("note"), (std::vector<std::uint8_t>{'h', 'i', 0, 255}));
  EXPECT_TRUE(bit_identical(loaded.vector<float>("adam.v"), moment));
  EXPECT_EQ(loaded.names(),
            (std::vector<std::string>{"adam.m", "adam.v", "empty", "epoch", "note"}));
  EXPECT_THROW(loaded.values("note"), scvae::ArgumentError);
  EXPECT_THROW(loaded.bytes("epoch"), scvae::ArgumentError);
  EXPECT_THROW(loaded.values("missing"), scvae::ArgumentError);
  EXPECT_THROW(loaded.scalar("adam.m"), scvae::ShapeError);
  EXPECT_THROW(loaded.set_scalar("", 1), scvae::ArgumentError);
}

TEST_F(CheckpointTest, ExtrasAreLeftAloneWhenLoadingFails) {
  const std::string file = path("x.ckpt");
  scvae::save_checkpoint(file, kArchitecture, random_parameters<float>(5, 1), sample_extras());
  CheckpointExtras mine;
  mine.set_scalar("keep", 3);
  EXPECT_THROW(scvae::load_checkpoint<float>(file, "other", &mine), CheckpointError);
  EXPECT_TRUE(mine.contains("keep"));
  EXPECT_EQ(mine.size(), 1u);
}

TEST_F(CheckpointTest, ReadCheckpointInfo) {
  const std::string file = path("info.ckpt");
  scvae::save_checkpoint(file, kArchitecture, random_parameters<double>(37, 2), sample_extras());
  const scvae::CheckpointInfo info = scvae::read_checkpoint_info(file);
  EXPECT_EQ(info.version, 1u);
  EXPECT_EQ(info.scalar, "float64");
  EXPECT_EQ(info.architecture, kArchitecture);
  EXPECT_EQ(info.parameter_count, 37u);
  EXPECT_EQ(info.extra_names, sample_extras().names());
  EXPECT_EQ(info.file_size, fs::file_size(file));
}

TEST_F(CheckpointTest, SaveModelAndLoadModelWithAFakeModel) {
  const std::string file = path("model.ckpt");
  FakeModel<float> trained{kArchitecture, random_parameters<float>(50, 9)};
  CheckpointExtras extras;
  extras.set_scalar("epoch", 3);
  scvae::save_model(file, trained, extras);

  FakeModel<float> fresh{kArchitecture, Vector<float>::Zero(50)};
  const float* buffer = fresh.params.data();
  CheckpointExtras loaded;
  scvae::load_model(file, fresh, &loaded);
  EXPECT_TRUE(bit_identical(fresh.params, trained.params));
  EXPECT_EQ(fresh.params.data(), buffer) << "views into the flat buffer must stay valid";
  EXPECT_EQ(loaded.scalar("epoch"), 3);
}

TEST_F(CheckpointTest, LoadModelRejectsOtherParameterCountWithoutTouchingTheModel) {
  const std::string file = path("model.ckpt");
  scvae::save_model(file, FakeModel<double>{kArchitecture, random_parameters<double>(50, 9)});
  FakeModel<double> other{kArchitecture, Vector<double>::Constant(49, 2.0)};
  expect_throw_with<CheckpointError>([&] { scvae::load_model(file, other); },
                                     {file, "holds 50 parameters, this model has 49"});
  EXPECT_TRUE((other.params.array() == 2.0).all());
}

TEST_F(CheckpointTest, LoadModelRejectsOtherArchitecture) {
  const std::string file = path("model.ckpt");
  scvae::save_model(file, FakeModel<float>{kArchitecture, random_parameters<float>(8, 9)});
  FakeModel<float> other{"encoder 784-200-10 relu", Vector<float>::Zero(8)};
  expect_throw_with<CheckpointError>([&] { scvae::load_model(file, other); },
                                     {file, kArchitecture, "encoder 784-200-10 relu"});
}

TEST_F(CheckpointTest, LoadIntoAMapWritesInPlace) {
  const std::string file = path("map.ckpt");
  const Vector<double> params = random_parameters<double>(6, 11);
  scvae::save_checkpoint(file, "a", params);
  Vector<double> storage = Vector<double>::Zero(10);
  Eigen::Map<Vector<double>> view(storage.data() + 2, 6);
  scvae::load_checkpoint_into(file, "a", view);
  EXPECT_TRUE(bit_identical(Vector<double>(storage.segment(2, 6)), params));
  EXPECT_EQ(storage(0), 0.0);
  EXPECT_EQ(storage(9), 0.0);
}

TEST_F(CheckpointTest, MissingFileIsIoError) {
  const std::string file = path("nope.ckpt");
  expect_throw_with<IoError>([&] { scvae::load_checkpoint<float>(file, "a"); },
                             {file, "No such file"});
  EXPECT_THROW(scvae::read_checkpoint_info(file), IoError);
}

TEST_F(CheckpointTest, DirectoryIsIoError) {
  expect_throw_with<IoError>([&] { scvae::load_checkpoint<float>(dir_.string(), "a"); },
                             {dir_.string(), "directory"});
}

TEST_F(CheckpointTest, TruncationAtEveryLengthIsDetected) {
  const std::string file = path("full.ckpt");
  scvae::save_checkpoint(file, kArchitecture, random_parameters<float>(20, 1), sample_extras());
  const auto bytes = read_bytes(file);
  const std::string cut = path("cut.ckpt");
  for (std::size_t length = 0; length < bytes.size(); ++length) {
    write_bytes(
        cut, std::vector<unsigned char>(bytes.begin(), bytes.begin() + static_cast<long>(length)));
    SCOPED_TRACE("length " + std::to_string(length));
    expect_throw_with<CheckpointError>([&] { scvae::load_checkpoint<float>(cut, kArchitecture); },
                                       {cut, "truncated"});
  }
}

TEST_F(CheckpointTest, WrongMagicIsNotACheckpoint) {
  const std::string file = path("image.png");
  write_bytes(file, {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'});
  expect_throw_with<CheckpointError>([&] { scvae::load_checkpoint<float>(file, "a"); },
                                     {file, "not an scvae checkpoint"});
  write_bytes(file, {'S', 'C', 'X'});  // short and wrong
  EXPECT_THROW(scvae::read_checkpoint_info(file), scvae::FormatError);
}

TEST_F(CheckpointTest, UnsupportedVersionNamesTheSupportedOnes) {
  const std::string file = path("v2.ckpt");
  scvae::save_checkpoint(file, "a", random_parameters<float>(3, 1));
  auto bytes = read_bytes(file);
  bytes[8] = 2;
  write_bytes(file, bytes);
  expect_throw_with<CheckpointError>([&] { scvae::load_checkpoint<float>(file, "a"); },
                                     {file, "version 2", "only version 1"});
}

TEST_F(CheckpointTest, OtherScalarTypeIsRejected) {
  const std::string file = path("d.ckpt");
  scvae::save_checkpoint(file, "a", random_parameters<double>(3, 1));
  expect_throw_with<CheckpointError>([&] { scvae::load_checkpoint<float>(file, "a"); },
                                     {file, "holds float64 parameters, this model uses float32"});
  scvae::save_checkpoint(file, "a", random_parameters<float>(3, 1));
  expect_throw_with<CheckpointError>([&] { scvae::load_checkpoint<double>(file, "a"); },
                                     {"holds float32 parameters, this model uses float64"});
}

TEST_F(CheckpointTest, OtherArchitectureShowsBoth) {
  const std::string file = path("a.ckpt");
  scvae::save_checkpoint(file, kArchitecture, random_parameters<float>(3, 1));
  expect_throw_with<CheckpointError>([&] { scvae::load_checkpoint<float>(file, "mine"); },
                                     {file, "\"" + kArchitecture + "\"", "\"mine\""});
}

TEST_F(CheckpointTest, FlippedByteAnywhereIsDetected) {
  const std::string file = path("good.ckpt");
  scvae::save_checkpoint(file, kArchitecture, random_parameters<float>(16, 1), sample_extras());
  const auto bytes = read_bytes(file);
  const std::size_t payload_start = bytes.size() - 4 - 150;  // well inside params/extras
  const std::string bad = path("bad.ckpt");
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (const unsigned char mask : {0x01, 0x80}) {
      auto copy = bytes;
      copy[i] = static_cast<unsigned char>(copy[i] ^ mask);
      write_bytes(bad, copy);
      SCOPED_TRACE("byte " + std::to_string(i) + " mask " + std::to_string(mask));
      EXPECT_THROW(scvae::load_checkpoint<float>(bad, kArchitecture), CheckpointError);
      EXPECT_THROW(scvae::read_checkpoint_info(bad), CheckpointError);
    }
  }
  // A flip in the parameter values is reported as a checksum mismatch.
  auto copy = bytes;
  copy[payload_start] ^= 0x10;
  write_bytes(bad, copy);
  expect_throw_with<CheckpointError>([&] { scvae::load_checkpoint<float>(bad, kArchitecture); },
                                     {bad, "corrupted", "CRC32"});
}

TEST_F(CheckpointTest, CorruptedArchitectureMentionsTheChecksum) {
  const std::string file = path("arch.ckpt");
  scvae::save_checkpoint(file, "abcdef", random_parameters<float>(4, 1));
  auto bytes = read_bytes(file);
  bytes[8 + 4 + 4 + 7 + 8] = 'X';  // first byte of the architecture
  write_bytes(file, bytes);
  expect_throw_with<CheckpointError>([&] { scvae::load_checkpoint<float>(file, "abcdef"); },
                                     {"\"Xbcdef\"", "checksum does not match"});
}

TEST_F(CheckpointTest, TrailingBytesAreRejected) {
  const std::string file = path("t.ckpt");
  scvae::save_checkpoint(file, "a", random_parameters<float>(4, 1));
  auto bytes = read_bytes(file);
  bytes.push_back(0);
  write_bytes(file, bytes);
  expect_throw_with<CheckpointError>([&] { scvae::load_checkpoint<float>(file, "a"); },
                                     {file, "after its checksum"});
}

TEST_F(CheckpointTest, HugeDeclaredCountIsTruncationNotAllocation) {
  const std::string file = path("huge.ckpt");
  scvae::save_checkpoint(file, "a", random_parameters<float>(4, 1));
  auto bytes = read_bytes(file);
  const std::size_t count_at = 8 + 4 + 4 + 7 + 8 + 1;
  for (std::size_t b = 0; b < 8; ++b) bytes[count_at + b] = 0xFF;
  write_bytes(file, bytes);
  expect_throw_with<CheckpointError>([&] { scvae::load_checkpoint<float>(file, "a"); },
                                     {"truncated", "parameters"});
}

TEST_F(CheckpointTest, OverwriteReplacesAndLeavesNoTemporaryFile) {
  const std::string file = path("w.ckpt");
  scvae::save_checkpoint(file, "a", random_parameters<float>(4, 1));
  const Vector<float> second = random_parameters<float>(5, 2);
  scvae::save_checkpoint(file, "b", second);
  EXPECT_TRUE(bit_identical(scvae::load_checkpoint<float>(file, "b"), second));
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir_)) ++entries;
  EXPECT_EQ(entries, 1u);
}

TEST_F(CheckpointTest, SaveIntoMissingDirectoryIsIoError) {
  const std::string file = path("no/such/dir/m.ckpt");
  expect_throw_with<IoError>(
      [&] { scvae::save_checkpoint(file, "a", Vector<float>::Zero(2).eval()); },
      {file, "No such file"});
}

TEST_F(CheckpointTest, SaveBelowARegularFileIsIoError) {
  write_bytes(path("plain"), {1, 2, 3});
  const std::string file = path("plain/m.ckpt");
  expect_throw_with<IoError>(
      [&] { scvae::save_checkpoint(file, "a", Vector<float>::Zero(2).eval()); }, {file});
  EXPECT_EQ(read_bytes(path("plain")), (std::vector<unsigned char>{1, 2, 3}));
}

TEST_F(CheckpointTest, FailedSaveKeepsThePreviousCheckpoint) {
  const std::string file = path("keep.ckpt");
  const Vector<float> old = random_parameters<float>(30, 1);
  scvae::save_checkpoint(file, kArchitecture, old, sample_extras());
  const auto old_bytes = read_bytes(file);

  // A directory sitting at the temporary file's name: open fails, even as root.
  const std::string temp = scvae::detail::checkpoint_temp_path(file);
  fs::create_directory(temp);
  expect_throw_with<IoError>(
      [&] { scvae::save_checkpoint(file, kArchitecture, random_parameters<float>(30, 2)); },
      {file});
  EXPECT_TRUE(fs::is_directory(temp)) << "save must not remove what it did not create";
  fs::remove(temp);
  EXPECT_EQ(read_bytes(file), old_bytes);
  EXPECT_TRUE(bit_identical(scvae::load_checkpoint<float>(file, kArchitecture), old));
}

TEST_F(CheckpointTest, WriteErrorMidwayKeepsThePreviousCheckpoint) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "needs /dev/full";
  const std::string file = path("keep.ckpt");
  const Vector<double> old = random_parameters<double>(30, 1);
  scvae::save_checkpoint(file, kArchitecture, old);
  const auto old_bytes = read_bytes(file);

  // The temporary name points at /dev/full: every write fails with ENOSPC.
  const std::string temp = scvae::detail::checkpoint_temp_path(file);
  fs::create_symlink("/dev/full", temp);
  expect_throw_with<IoError>(
      [&] { scvae::save_checkpoint(file, kArchitecture, random_parameters<double>(30, 2)); },
      {file, "No space left"});
  EXPECT_FALSE(fs::exists(fs::symlink_status(temp))) << "the temporary file must be removed";
  EXPECT_EQ(read_bytes(file), old_bytes);
  EXPECT_TRUE(bit_identical(scvae::load_checkpoint<double>(file, kArchitecture), old));
}

TEST_F(CheckpointTest, SaveOntoADirectoryIsRefusedBeforeWriting) {
  const std::string target = path("occupied");
  fs::create_directories(target + "/inside");
  expect_throw_with<IoError>(
      [&] { scvae::save_checkpoint(target, "a", Vector<float>::Zero(2).eval()); },
      {target, "it is a directory", "not a regular file"});
  EXPECT_FALSE(fs::exists(scvae::detail::checkpoint_temp_path(target)));
  EXPECT_TRUE(fs::is_directory(target + "/inside"));
}

}  // namespace
