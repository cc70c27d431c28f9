#pragma once
// The precision of a model's matrix products (issue 24). Under Bf16 the dense
// layers round their operands to bf16 and sum the products in float
// (kernels/gemm_bf16.hpp); the weights (a float master copy), the
// activations between layers, the likelihoods, the KL, the loss sums and the
// optimizer stay float. The bits depend on the seed, the threads and the
// precision, not on the CPU: without AVX512_BF16 the same sums run in scalar
// code, exact but slow, which is why resolve_precision() lets a program fall
// back to Fp32 there.

#include <ostream>
#include <string>

#include "scvae/core/error.hpp"
#include "scvae/kernels/bf16.hpp"

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

/// Whether this CPU runs `precision` at speed: Bf16 needs AVX512_BF16.
inline bool precision_is_fast(Precision precision) {
  return precision != Precision::Bf16 || detail::cpu_has_bf16();
}

/// What a program should train in when `requested`: Bf16 where the CPU has
/// the instruction, else Fp32 (the scalar bf16 path is too slow to train
/// on); `note` is set to a line saying so, empty when nothing changed.
inline Precision resolve_precision(Precision requested, std::string& note) {
  note.clear();
  if (precision_is_fast(requested)) return requested;
  note = "precision: bf16 asked, but this CPU lacks AVX512_BF16: training in fp32";
  return Precision::Fp32;
}

}  // namespace scvae
