#pragma once
// Every parameter of a model lives in one flat buffer. A layer owns no memory:
// it reserves a slice at construction and reads it through Eigen::Map views.
// Optimizers, clipping, checkpoints and gradient checks then see one vector,
// and data-parallel threads each get a whole gradient buffer of that size.

#include "scvae/core/types.hpp"

namespace scvae {

/// Hands out consecutive slices of the flat buffer while a model is built.
class ParameterLayout {
 public:
  /// Reserves `count` scalars and returns the offset of the first one.
  Index reserve(Index count) {
    const Index offset = total_;
    total_ += count;
    return offset;
  }
  Index total() const { return total_; }

 private:
  Index total_ = 0;
};

}  // namespace scvae
