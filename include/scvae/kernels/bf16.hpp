#pragma once
// bfloat16 numbers (the upper half of an IEEE float: 8 exponent bits, 7
// fraction bits) and whether this CPU multiplies them in hardware.
//
// bf16 products are what can make the AVX512_BF16 instruction vdpbf16ps
// (and AMX) twice as fast as float FMAs (not on every CPU that has it:
// bf16_rate.hpp): inputs are rounded to bf16, their products are exact in
// float, and sums stay in float. The rounding here is
// the hardware's (vcvtneps2bf16: to nearest, ties to even, NaN kept a quiet
// NaN, denormals read as zero), so a matrix converted in software equals one
// converted by the CPU.

#include <cstdint>
#include <cstring>

// -DSCVAE_NO_BF16_KERNEL leaves the kernels out, so that a CPU with
// AVX512_BF16 runs the scalar path of every other CPU (to test or time it).
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(SCVAE_NO_BF16_KERNEL)
#include <immintrin.h>
#define SCVAE_HAVE_BF16_KERNEL 1
// The bf16 kernels are compiled for AVX512_BF16 whatever the build's flags,
// and called only where the CPU reports it (cpu_has_bf16).
#define SCVAE_TARGET_BF16 __attribute__((target("avx512f,avx512bf16")))
#endif

namespace scvae::detail {

/// One bfloat16 number, as its 16 bits.
struct Bf16 {
  std::uint16_t bits = 0;
};

/// x rounded to the nearest bf16, ties to even; a NaN stays a (quiet) NaN,
/// infinities stay infinite, and a denormal float becomes a zero of its
/// sign, as the instruction reads it (checked against it in the tests).
inline Bf16 to_bf16(float x) {
  std::uint32_t word = 0;
  std::memcpy(&word, &x, sizeof word);
  if ((word & 0x7f800000u) == 0) return Bf16{static_cast<std::uint16_t>((word >> 16) & 0x8000u)};
  if ((word & 0x7fffffffu) > 0x7f800000u)  // NaN: keep the sign and make it quiet
    return Bf16{static_cast<std::uint16_t>((word >> 16) | 0x0040u)};
  const std::uint32_t round_half_to_even = 0x7fffu + ((word >> 16) & 1u);
  return Bf16{static_cast<std::uint16_t>((word + round_half_to_even) >> 16)};
}

/// The float that a bf16 number is (exact).
inline float to_float(Bf16 x) {
  const std::uint32_t word = static_cast<std::uint32_t>(x.bits) << 16;
  float value = 0.0f;
  std::memcpy(&value, &word, sizeof value);
  return value;
}

/// True when this CPU runs the AVX512_BF16 instructions (asked once, at
/// run time: the library may be compiled without -mavx512bf16 and still
/// use them where the CPU has them).
inline bool cpu_has_bf16() {
#ifdef SCVAE_HAVE_BF16_KERNEL
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
  return has;
#else
  return false;
#endif
}

}  // namespace scvae::detail
