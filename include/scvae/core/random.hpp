#pragma once
// A seeded random generator of our own, so that a seed gives the same numbers
// on every platform and standard library (std::normal_distribution does not).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <type_traits>
#include <vector>

#include "scvae/core/types.hpp"

namespace scvae {

/// xoshiro256++ seeded through splitmix64; normals by Box-Muller.
class Rng {
 public:
  explicit Rng(std::uint64_t seed = 1) { reseed(seed); }

  void reseed(std::uint64_t seed) {
    std::uint64_t x = seed;
    for (auto& word : state_) word = splitmix64(x);
    has_spare_normal_ = false;
  }

  /// 64 uniformly random bits.
  std::uint64_t next_u64() {
    const std::uint64_t result = rotl(state_[0] + state_[3], 23) + state_[0];
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  /// Uniform in [0, 1), 53 random bits.
  double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

  /// Uniform integer in [0, bound); bound must be positive.
  std::uint64_t uniform_index(std::uint64_t bound) {
    // Rejection of the short top range keeps the modulo unbiased.
    const std::uint64_t threshold = (0 - bound) % bound;
    for (;;) {
      const std::uint64_t r = next_u64();
      if (r >= threshold) return r % bound;
    }
  }

  /// Standard normal.
  double normal() {
    if (has_spare_normal_) {
      has_spare_normal_ = false;
      return spare_normal_;
    }
    constexpr double kTwoPi = 6.283185307179586476925286766559;
    double u1 = uniform();
    while (u1 <= 0.0) u1 = uniform();
    const double u2 = uniform();
    const double radius = std::sqrt(-2.0 * std::log(u1));
    spare_normal_ = radius * std::sin(kTwoPi * u2);
    has_spare_normal_ = true;
    return radius * std::cos(kTwoPi * u2);
  }

  /// Fills a matrix with standard normals, column by column.
  ///
  /// Float matrices take a vectorised Box-Muller in float (a train step
  /// draws latent x batch of them, and the scalar double path was 3-4% of a
  /// 2-thread mnist_vae epoch): each 64-bit draw gives two 24-bit uniforms
  /// and two normals; |z| stays below 5.8 (a tail of probability 7e-9 is
  /// cut). Other scalar types take normal(), one by one.
  template <typename Derived>
  void fill_normal(Eigen::DenseBase<Derived>& out) {
    if constexpr (std::is_same_v<typename Derived::Scalar, float>) {
      fill_normal_float(out);
    } else {
      for (Index j = 0; j < out.cols(); ++j)
        for (Index i = 0; i < out.rows(); ++i)
          out(i, j) = static_cast<typename Derived::Scalar>(normal());
    }
  }
  template <typename Derived>
  void fill_normal(Eigen::DenseBase<Derived>&& out) {
    fill_normal(out);
  }

  /// A uniformly random permutation of 0..n-1 (Fisher-Yates).
  std::vector<Index> permutation(Index n) {
    std::vector<Index> order(static_cast<std::size_t>(n));
    std::iota(order.begin(), order.end(), Index{0});
    shuffle(order);
    return order;
  }

  template <typename T>
  void shuffle(std::vector<T>& values) {
    for (std::size_t i = values.size(); i > 1; --i) {
      const auto j = static_cast<std::size_t>(uniform_index(i));
      std::swap(values[i - 1], values[j]);
    }
  }

 private:
  template <typename Derived>
  void fill_normal_float(Eigen::DenseBase<Derived>& out) {
    constexpr Index kPairs = 128;
    constexpr float kTwoPi = 6.28318530717958647692f;
    constexpr float kUnit = 0x1.0p-24f;
    Eigen::Array<float, kPairs, 1> u1, u2, radius, first, second;
    const Index rows = out.rows();
    const Index total = out.size();
    for (Index start = 0; start < total; start += 2 * kPairs) {
      for (Index k = 0; k < kPairs; ++k) {
        const std::uint64_t bits = next_u64();
        u1(k) = static_cast<float>((bits >> 40) + 1) * kUnit;  // (0, 1]: log is finite
        u2(k) = static_cast<float>((bits >> 16) & 0xFFFFFFu) * kUnit;
      }
      radius = (-2.0f * u1.log()).sqrt();
      first = radius * (kTwoPi * u2).cos();
      second = radius * (kTwoPi * u2).sin();
      const Index count = std::min<Index>(2 * kPairs, total - start);
      for (Index e = 0; e < count; ++e) {
        const Index at = start + e;
        out(at % rows, at / rows) = (e % 2 == 0 ? first : second)(e / 2);
      }
    }
  }

  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static std::uint64_t splitmix64(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

  std::uint64_t state_[4] = {};
  double spare_normal_ = 0.0;
  bool has_spare_normal_ = false;
};

}  // namespace scvae
