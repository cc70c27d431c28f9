#pragma once
// A seeded random generator of our own, so that a seed gives the same numbers
// on every platform and standard library (std::normal_distribution does not).

#include <cmath>
#include <cstdint>
#include <numeric>
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
  template <typename Derived>
  void fill_normal(Eigen::DenseBase<Derived>& out) {
    for (Index j = 0; j < out.cols(); ++j)
      for (Index i = 0; i < out.rows(); ++i)
        out(i, j) = static_cast<typename Derived::Scalar>(normal());
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
