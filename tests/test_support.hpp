#pragma once
// Helpers shared by the tests: seeded random matrices and a flat-buffer
// gradient check of a loss that reads its parameters from a vector.

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

#include "scvae/scvae.hpp"

namespace scvae::testing {

inline Matrix<double> random_matrix(Index rows, Index cols, std::uint64_t seed,
                                    double scale = 1.0) {
  Rng rng(seed);
  Matrix<double> m(rows, cols);
  rng.fill_normal(m);
  return m * scale;
}

inline Matrix<double> random_uniform(Index rows, Index cols, std::uint64_t seed) {
  Rng rng(seed);
  Matrix<double> m(rows, cols);
  for (Index j = 0; j < cols; ++j)
    for (Index i = 0; i < rows; ++i) m(i, j) = rng.uniform();
  return m;
}

/// Expects a gradient check to pass with relative error at most 1e-6.
inline void expect_gradient_ok(const GradientCheckResult& result, double tolerance = 1e-6) {
  EXPECT_LE(result.relative_error, tolerance) << result.describe();
}

/// A fresh directory named after the running test, removed with everything
/// in it when the test ends.
struct TempDir {
  explicit TempDir(const std::string& prefix = "scvae_test") {
    // A parameterised test is named "Name/0": one folder, not a folder in a
    // folder that the destructor would leave behind.
    std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(test.begin(), test.end(), '/', '_');
    path = std::filesystem::temp_directory_path() /
           (prefix + "_" + std::to_string(::getpid()) + "_" + test);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code error;
    std::filesystem::remove_all(path, error);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::filesystem::path path;
};

/// `count` noisy 6x6 images drawn around 3 prototypes, labelled by prototype.
inline Dataset make_images(Index count = 300, std::uint64_t seed = 5) {
  Rng rng(seed);
  std::vector<std::uint8_t> pixels, labels;
  for (Index i = 0; i < count; ++i) {
    const int label = static_cast<int>(i % 3);
    for (Index p = 0; p < 36; ++p) {
      const bool on =
          (label == 0 && p % 6 < 3) || (label == 1 && p / 6 < 3) || (label == 2 && p % 7 == 0);
      const double value = (on ? 200.0 : 30.0) + 25.0 * rng.normal();
      pixels.push_back(static_cast<std::uint8_t>(std::clamp(value, 0.0, 255.0)));
    }
    labels.push_back(static_cast<std::uint8_t>(label));
  }
  return Dataset(6, 6, pixels, labels, 3, "generated");
}

using Bytes = std::vector<std::uint8_t>;

/// An IDX header: magic 0x0000, data type, dimension count, big-endian dims.
inline Bytes idx_header(std::uint8_t type, const std::vector<std::uint32_t>& dims) {
  Bytes bytes = {0, 0, type, static_cast<std::uint8_t>(dims.size())};
  for (const std::uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8)
      bytes.push_back(static_cast<std::uint8_t>(d >> shift));
  return bytes;
}

inline Bytes concat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

/// Same size and the same bytes (NaN payloads and signed zeros included).
inline bool bit_identical(const Vector<float>& a, const Vector<float>& b) {
  return a.size() == b.size() &&
         (a.size() == 0 ||
          std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.size()) * sizeof(float)) == 0);
}

/// The message of the `Expected` exception `action` throws; a test failure
/// (and "") if it throws another or none.
template <typename Expected, typename Action>
std::string thrown_message(Action action) {
  try {
    action();
  } catch (const Expected& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "unexpected exception type: " << e.what();
    return {};
  }
  ADD_FAILURE() << "expected an exception";
  return {};
}

/// A file's bytes (empty when it cannot be opened).
inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace scvae::testing
