#pragma once
// Splitting [0, size) into nearly equal parts on aligned starts: how threads
// share elementwise work and the rows of a gradient.

#include "scvae/core/types.hpp"

namespace scvae {

namespace detail {
/// Start of part `part` of `parts` equal slices of [0, size), on a multiple of
/// `align` elements (the last part ends at size).
inline Index slice_begin(Index size, int part, int parts, Index align) {
  if (part >= parts) return size;
  return size * part / parts / align * align;
}
}  // namespace detail

}  // namespace scvae
