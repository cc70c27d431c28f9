#pragma once
// The precision of a model's matrix products (issue 24). Under Bf16 the dense
// layers round their operands to bf16 and sum the products in float
// (kernels/gemm_bf16.hpp); the weights (a float master copy), the
// activations between layers, the likelihoods, the KL, the loss sums and the
// optimizer stay float. The bits depend on the seed, the threads and the
// precision, not on the CPU: without AVX512_BF16 the same sums run in scalar
// code, exact but slow, which is why resolve_precision() lets a program fall
// back to Fp32 there, and leaves a note where the instruction exists but runs
// slower than float FMAs (an Intel Xeon without AMX, bench/RESULTS.md).

#include <ostream>
#include <sstream>
#include <string>

#include "scvae/core/error.hpp"
#include "scvae/kernels/bf16.hpp"
#include "scvae/kernels/bf16_rate.hpp"

namespace scvae {

enum class Precision {
  Fp32,  ///< Float operands and sums (the default).
  Bf16,  ///< bf16 operands, float sums, in the dense layers' products.
};

inline const char* precision_name(Precision precision) {
  return precision == Precision::Bf16 ? "bf16" : "fp32";
}

inline std::ostream& operator<<(std::ostream& out, Precision precision) {
  return out << precision_name(precision);
}

/// "fp32" or "bf16"; `what` names the flag or field in the error.
inline Precision parse_precision(const std::string& text, const std::string& what) {
  if (text == "fp32") return Precision::Fp32;
  if (text == "bf16") return Precision::Bf16;
  throw ArgumentError(what + ": expected fp32 or bf16, got '" + text + "'");
}

namespace detail {
/// Whether bf16 products at `speed` times the float rate
/// (bf16_speed_against_float()) are worth it: no slower than float.
inline bool bf16_speed_is_fast(double speed) { return speed >= 1.0; }
}  // namespace detail

/// Whether this CPU runs `precision` at least as fast as Fp32: Bf16 needs
/// AVX512_BF16 and bf16 products no slower than float ones (measured once,
/// kernels/bf16_rate.hpp; an Intel Xeon without AMX has the instruction at
/// half the float rate).
inline bool precision_is_fast(Precision precision) {
  return precision != Precision::Bf16 ||
         (detail::cpu_has_bf16() && detail::bf16_speed_is_fast(detail::bf16_speed_against_float()));
}

namespace detail {

/// resolve_precision's rule, on what the CPU reported and measured
/// (has_bf16, bf16_speed_against_float()), for the tests to reach every case.
inline Precision resolve_precision_on(Precision requested, bool has_bf16, double bf16_speed,
                                      std::string& note) {
  note.clear();
  if (requested != Precision::Bf16) return requested;
  if (!has_bf16) {
    note = "precision: bf16 asked, but this CPU lacks AVX512_BF16: training in fp32";
    return Precision::Fp32;
  }
  if (!bf16_speed_is_fast(bf16_speed)) {
    std::ostringstream out;
    out.precision(2);
    out << "precision: training in bf16, but this CPU's bf16 products run at " << bf16_speed
        << "x its float multiply-adds, so bf16 is slower than fp32 here";
    note = out.str();
  }
  return Precision::Bf16;
}

}  // namespace detail

/// What a program should train in when `requested`: Bf16 where the CPU has
/// the instruction, else Fp32 (the scalar bf16 path is too slow to train
/// on). `note` is set to a line for the user when Bf16 falls back to Fp32,
/// or stays Bf16 on a CPU whose bf16 products are slower than its float
/// ones (measured once: kernels/bf16_rate.hpp); empty otherwise.
inline Precision resolve_precision(Precision requested, std::string& note) {
  const bool has_bf16 = detail::cpu_has_bf16();
  const bool asks_bf16 = requested == Precision::Bf16;
  return detail::resolve_precision_on(
      requested, has_bf16, asks_bf16 && has_bf16 ? detail::bf16_speed_against_float() : 0.0, note);
}

}  // namespace scvae
