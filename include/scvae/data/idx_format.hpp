#pragma once
// What the IDX reader and writer share: the image record (IdxImages), the
// unsigned-byte type code and the size limit on a file's payload.

#include <cstdint>
#include <vector>

#include "scvae/core/types.hpp"

namespace scvae {

/// Images of an IDX file: `count` images of `rows` x `cols` unsigned bytes.
/// Sample-major: image i occupies pixels[i*rows*cols, (i+1)*rows*cols), row by
/// row, which is also a features x count column-major matrix.
struct IdxImages {
  Index count = 0;
  Index rows = 0;
  Index cols = 0;
  std::vector<std::uint8_t> pixels;
};

namespace detail {

/// Largest payload an IDX file may declare (64 GiB); a guard against headers
/// whose dimension product is absurd, checked before the file length.
constexpr std::uint64_t kMaxIdxPayloadBytes = std::uint64_t{1} << 36;
constexpr std::uint8_t kIdxUnsignedByte = 0x08;

}  // namespace detail
}  // namespace scvae
