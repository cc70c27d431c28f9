#pragma once
// Whether bf16 products pay on this CPU. AVX512_BF16 says the instruction
// exists, not how fast it runs: vdpbf16ps issued at twice the float FMA
// rate (in multiply-adds) on the AMD EPYC of bench/RESULTS.md and at half
// of it on an Intel Xeon without AMX, where bf16 training was 1.4-1.7x
// slower than fp32. So the rate is measured, once, on the calling thread.

#include <algorithm>
#include <chrono>

#include "scvae/kernels/bf16.hpp"

namespace scvae::detail {

#ifdef SCVAE_HAVE_BF16_KERNEL
// Twelve independent chains of one instruction, enough to hide its latency,
// on zeros (no denormal can slow either), `rounds` times. In assembly so
// that the chains stay in registers at any optimisation level (at -O0 and
// -Og the intrinsics' version kept them in memory and measured 1.2-1.8
// where -O2 measured 0.55). vzeroupper leaves no upper halves dirty for
// the SSE code that may follow.
#define SCVAE_RATE_CHAINS(instruction)                                                     \
  "vpxord %%zmm0, %%zmm0, %%zmm0\n\t"                                                      \
  "vmovaps %%zmm0, %%zmm1\n\tvmovaps %%zmm0, %%zmm2\n\tvmovaps %%zmm0, %%zmm3\n\t"         \
  "vmovaps %%zmm0, %%zmm4\n\tvmovaps %%zmm0, %%zmm5\n\tvmovaps %%zmm0, %%zmm6\n\t"         \
  "vmovaps %%zmm0, %%zmm7\n\tvmovaps %%zmm0, %%zmm8\n\tvmovaps %%zmm0, %%zmm9\n\t"         \
  "vmovaps %%zmm0, %%zmm10\n\tvmovaps %%zmm0, %%zmm11\n\tvmovaps %%zmm0, %%zmm12\n\t"      \
  "vmovaps %%zmm0, %%zmm13\n\t"                                                            \
  "1:\n\t" instruction " %%zmm12, %%zmm13, %%zmm0\n\t" instruction                         \
  " %%zmm12, %%zmm13, %%zmm1\n\t" instruction " %%zmm12, %%zmm13, %%zmm2\n\t" instruction  \
  " %%zmm12, %%zmm13, %%zmm3\n\t" instruction " %%zmm12, %%zmm13, %%zmm4\n\t" instruction  \
  " %%zmm12, %%zmm13, %%zmm5\n\t" instruction " %%zmm12, %%zmm13, %%zmm6\n\t" instruction  \
  " %%zmm12, %%zmm13, %%zmm7\n\t" instruction " %%zmm12, %%zmm13, %%zmm8\n\t" instruction  \
  " %%zmm12, %%zmm13, %%zmm9\n\t" instruction " %%zmm12, %%zmm13, %%zmm10\n\t" instruction \
  " %%zmm12, %%zmm13, %%zmm11\n\t"                                                         \
  "dec %0\n\tjnz 1b\n\t"                                                                   \
  "vzeroupper\n\t"

SCVAE_TARGET_BF16 __attribute__((noinline)) inline void bf16_dot_chains(long rounds) {
  asm volatile(SCVAE_RATE_CHAINS("vdpbf16ps")
               : "+r"(rounds)
               :
               : "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                 "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

SCVAE_TARGET_BF16 __attribute__((noinline)) inline void float_fma_chains(long rounds) {
  asm volatile(SCVAE_RATE_CHAINS("vfmadd231ps")
               : "+r"(rounds)
               :
               : "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                 "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}
#undef SCVAE_RATE_CHAINS

/// The seconds one run of chains(rounds) takes.
template <typename Chains>
double seconds_of(Chains chains, long rounds) {
  const auto start = std::chrono::steady_clock::now();
  chains(rounds);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}
#endif

/// Multiply-adds per second of vdpbf16ps (2 per lane) over those of float
/// FMAs (1 per lane), measured at the first call (under 0.2 ms; the fastest
/// of 5 runs of each, so a busy machine lowers neither much); 0 where the
/// CPU lacks AVX512_BF16. Above 1, bf16 products can beat float ones.
inline double bf16_speed_against_float() {
#ifdef SCVAE_HAVE_BF16_KERNEL
  static const double speed = [] {
    if (!cpu_has_bf16()) return 0.0;
    constexpr long kRounds = 1024;
    // Interleaved after a warm-up of each, so that a clock still rising
    // (or a neighbour's burst) weighs on both alike.
    seconds_of(bf16_dot_chains, kRounds);
    seconds_of(float_fma_chains, kRounds);
    double bf16 = 1e30, fp32 = 1e30;
    for (int t = 0; t < 5; ++t) {
      bf16 = std::min(bf16, seconds_of(bf16_dot_chains, kRounds));
      fp32 = std::min(fp32, seconds_of(float_fma_chains, kRounds));
    }
    // The same instruction count: a bf16 one does twice the multiply-adds.
    return bf16 > 0.0 ? 2.0 * fp32 / bf16 : 0.0;
  }();
  return speed;
#else
  return 0.0;
#endif
}

}  // namespace scvae::detail
