#pragma once
// A dense layer's three products in bf16 (Precision::Bf16): y = W x, the
// input gradient W^T D and the weight gradient D X^T, each with its operands
// rounded to bf16 and packed in pairs (kernels/bf16_packing.hpp) and its sums
// in float (kernels/gemm_bf16.hpp). The packed operands live in the layer's
// per-chunk workspace, so a step allocates nothing once a chunk of its size
// has run.
//
// Each chunk packs W (and W^T) for itself. Chunks run one per thread, so the
// threads pack at once and the wall time is one packing per step; a phase that
// packed each weight once per step and shared it would save the work, not the
// time, at 1 or 2 threads.
//
// D is packed for the weight gradient in backward(), on the chunk's own
// thread: the weight gradient comes in parts (blocks of W's columns) that
// other threads compute at once, and each part then packs only its own
// columns of X^T into its own region.

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>

#include "scvae/core/cache_line_allocator.hpp"
#include "scvae/core/error.hpp"
#include "scvae/core/types.hpp"
#include "scvae/kernels/bf16_packing.hpp"
#include "scvae/kernels/gemm_bf16.hpp"
#include "scvae/nn/module.hpp"

namespace scvae::detail {

/// For a float layer; a double layer refuses Bf16 (DenseT::set_precision),
/// and its calls here only throw.
template <typename Scalar>
class DenseBf16Workspace : public ModuleWorkspace {
 public:
  /// Room for a layer of `outputs` x `inputs` on `columns` samples; grows to
  /// the largest size met, never shrinks.
  void reserve(Index outputs, Index inputs, Index columns) {
    grow(weights_, bf16_pairs(inputs) * outputs);
    grow(input_, bf16_pairs(inputs) * columns);
    grow(weights_transposed_, bf16_pairs(outputs) * inputs);
    grow(delta_columns_, bf16_pairs(outputs) * columns);
    grow(delta_rows_, bf16_pairs(columns) * outputs);
    grow(input_transposed_, bf16_pairs(columns) * inputs);
  }

  /// output (outputs x n) = W x, W column-major outputs x inputs.
  void forward(const Scalar* weights, Index outputs, Index inputs,
               const ConstMatrixRef<Scalar>& input, MatrixRef<Scalar> output) {
    if constexpr (!std::is_same_v<Scalar, float>) {
      refuse();
    } else {
      const Index n = input.cols();
      reserve(outputs, inputs, n);
      pack_rows_in_pairs(outputs, inputs, weights, outputs, Stored::AsIs, weights_.data());
      const Index depth = bf16_pairs(inputs);
      pack_columns_in_pairs(inputs, n, input.data(), input.outerStride(), Stored::AsIs,
                            input_.data(), depth);
      gemm_bf16(outputs, n, depth, weights_.data(), input_.data(), depth, output.data(),
                output.outerStride(), ProductWrite::Overwrite);
    }
  }

  /// Keeps D (outputs x n), rounded, for weight_gradient(); call it after D
  /// is final and before any part of the weight gradient.
  void keep_delta(Index outputs, Index inputs, const ConstMatrixRef<Scalar>& delta) {
    if constexpr (!std::is_same_v<Scalar, float>) {
      refuse();
    } else {
      const Index n = delta.cols();
      reserve(outputs, inputs, n);
      columns_kept_ = n;
      pack_rows_in_pairs(outputs, n, delta.data(), delta.outerStride(), Stored::AsIs,
                         delta_rows_.data());
    }
  }

  /// target (inputs x n) = or += W^T D.
  void input_gradient(const Scalar* weights, Index outputs, Index inputs,
                      const ConstMatrixRef<Scalar>& delta, MatrixRef<Scalar>& target,
                      ProductWrite write) {
    if constexpr (!std::is_same_v<Scalar, float>) {
      refuse();
    } else {
      const Index n = delta.cols();
      reserve(outputs, inputs, n);
      pack_rows_in_pairs(inputs, outputs, weights, outputs, Stored::Transposed,
                         weights_transposed_.data());
      const Index depth = bf16_pairs(outputs);
      pack_columns_in_pairs(outputs, n, delta.data(), delta.outerStride(), Stored::AsIs,
                            delta_columns_.data(), depth);
      gemm_bf16(inputs, n, depth, weights_transposed_.data(), delta_columns_.data(), depth,
                target.data(), target.outerStride(), write);
    }
  }

  /// Columns [first, first + count) of dL/dW = D X^T into `gradient` (W's
  /// column `first`, leading dimension `outputs`), from the D of
  /// keep_delta() and the input X (inputs x n). Parts with different columns
  /// may run at once on one workspace.
  void weight_gradient(Index outputs, Index first, Index count, const ConstMatrixRef<Scalar>& input,
                       Scalar* gradient, ProductWrite write) {
    if constexpr (!std::is_same_v<Scalar, float>) {
      refuse();
    } else {
      const Index n = input.cols();
      if (n != columns_kept_)
        throw ArgumentError("dense bf16 weight gradient: expected the " +
                            std::to_string(columns_kept_) +
                            " samples of the last backward pass, got " + std::to_string(n));
      const Index depth = bf16_pairs(n);
      std::uint32_t* block = input_transposed_.data() + first * depth;
      pack_columns_in_pairs(n, count, input.data() + first, input.outerStride(), Stored::Transposed,
                            block, depth);
      gemm_bf16(outputs, count, depth, delta_rows_.data(), block, depth, gradient, outputs, write);
    }
  }

 private:
  [[noreturn]] static void refuse() {
    throw ArgumentError("dense: bf16 products need a float layer (this one is double)");
  }
  static void grow(CacheLineVector<std::uint32_t>& buffer, Index size) {
    if (static_cast<Index>(buffer.size()) < size) buffer.resize(static_cast<std::size_t>(size));
  }

  CacheLineVector<std::uint32_t> weights_;             ///< W, rows in pairs.
  CacheLineVector<std::uint32_t> input_;               ///< X, columns in pairs.
  CacheLineVector<std::uint32_t> weights_transposed_;  ///< W^T, rows in pairs.
  CacheLineVector<std::uint32_t> delta_columns_;       ///< D, columns in pairs.
  CacheLineVector<std::uint32_t> delta_rows_;          ///< D, rows in pairs (along samples).
  CacheLineVector<std::uint32_t> input_transposed_;    ///< X^T, columns in pairs.
  Index columns_kept_ = -1;
};

}  // namespace scvae::detail
