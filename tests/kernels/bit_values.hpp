#pragma once
// Values for the kernels' bit-for-bit tests: sentinels that mark what a
// function must not write, and operands with every kind of bits a
// function must keep.

#include <cstdint>
#include <cstring>

namespace scvae::bit_values {

/// A NaN with a payload no computation in these tests makes: a write of
/// anything, even of an unchanged value's bits, shows.
inline float sentinel() {
  const std::uint32_t bits = 0x7fc0beefu;
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

inline bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

/// Both zeros, small and large magnitudes, from a 64-bit LCG `state`.
inline float value_for(std::uint64_t& state) {
  state = state * 6364136223846793005ull + 1442695040888963407ull;
  const auto r = static_cast<std::uint32_t>(state >> 33);
  switch (r % 8) {
    case 0: return 0.0f;
    case 1: return -0.0f;
    default: return (static_cast<float>(r % 20011) - 10005.0f) * 1e-3f;
  }
}

}  // namespace scvae::bit_values
