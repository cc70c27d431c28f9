#pragma once
// One product C = or += op(A) op(B) in a model's precision: the float GEMM
// (kernels/gemm.hpp) under Fp32, or, under Bf16 for float operands, both
// operands rounded and packed in pairs into the caller's scratch and
// multiplied by the bf16 kernel (kernels/gemm_bf16.hpp) with float sums. For
// a layer whose products have no operand to share between them (a
// convolution's); a dense layer packs its own (nn/dense_bf16.hpp).

#include <cstdint>
#include <string>
#include <type_traits>

#include "scvae/core/cache_line_allocator.hpp"
#include "scvae/core/error.hpp"
#include "scvae/core/precision.hpp"
#include "scvae/kernels/bf16_packing.hpp"
#include "scvae/kernels/gemm.hpp"
#include "scvae/kernels/gemm_bf16.hpp"

namespace scvae::detail {

/// The packed operands of one bf16 product; they keep the largest size met,
/// so that a step allocates nothing once the largest product has run.
struct Bf16Operands {
  CacheLineVector<std::uint32_t> a, b;
};

/// Refuses Bf16 for a layer whose Scalar is not float; `layer` names it.
template <typename Scalar>
void check_precision_for(Precision precision, const char* layer) {
  if (precision == Precision::Bf16 && !std::is_same_v<Scalar, float>)
    throw ArgumentError(std::string(layer) + ": bf16 products need a float layer (this one is " +
                        "double)");
}

/// C (m x n, ldc) = op(A) op(B), or += with ProductWrite::Add; op(A) is m x k
/// (A stored k x m when TransA), op(B) k x n (B stored n x k when TransB).
template <bool TransA, bool TransB, typename Scalar>
void gemm_in_precision(Precision precision, Bf16Operands& packed, Index m, Index n, Index k,
                       const Scalar* a, Index lda, const Scalar* b, Index ldb, Scalar* c, Index ldc,
                       ProductWrite write) {
  if constexpr (std::is_same_v<Scalar, float>) {
    if (precision == Precision::Bf16) {
      const Index depth = bf16_pairs(k);
      if (static_cast<Index>(packed.a.size()) < depth * m)
        packed.a.resize(static_cast<std::size_t>(depth * m));
      if (static_cast<Index>(packed.b.size()) < depth * n)
        packed.b.resize(static_cast<std::size_t>(depth * n));
      pack_rows_in_pairs(m, k, a, lda, TransA ? Stored::Transposed : Stored::AsIs, packed.a.data());
      pack_columns_in_pairs(k, n, b, ldb, TransB ? Stored::Transposed : Stored::AsIs,
                            packed.b.data(), depth);
      gemm_bf16(m, n, depth, packed.a.data(), packed.b.data(), depth, c, ldc, write);
      return;
    }
  }
  gemm<TransA, TransB>(m, n, k, a, lda, b, ldb, c, ldc, write == ProductWrite::Add);
}

}  // namespace scvae::detail
