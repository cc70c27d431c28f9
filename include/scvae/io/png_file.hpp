#pragma once
// A PNG encoded in memory (stb_image_write), then written atomically
// (temporary file, fsync, rename): a full disk or a crash leaves the previous
// picture or none, never a cut-off PNG, and every write error is an IoError.

#include <stb/stb_image_write.h>

#include <string>
#include <vector>

#include "scvae/core/error.hpp"
#include "scvae/io/atomic_file.hpp"

namespace scvae {
namespace detail {

/// Writes `pixels` (height rows of width x channels bytes) to `path`;
/// `what` ("image grid") names the picture in errors.
inline void write_png_file(const std::string& path, const std::string& what, int width,
                           int height, int channels, const unsigned char* pixels) {
  std::vector<unsigned char> png;
  const int ok = stbi_write_png_to_func(
      [](void* context, void* data, int size) {
        auto* out = static_cast<std::vector<unsigned char>*>(context);
        const auto* bytes = static_cast<const unsigned char*>(data);
        out->insert(out->end(), bytes, bytes + size);
      },
      &png, width, height, channels, pixels, width * channels);
  if (ok == 0 || png.empty())
    throw IoError("cannot write " + what + " " + quoted_path(path) +
                  ": the PNG encoder failed (out of memory?)");
  AtomicFile file(path, what);
  file.write(png.data(), png.size());
  file.commit();
}

}  // namespace detail
}  // namespace scvae
