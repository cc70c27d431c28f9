#pragma once
// A PNG read back with stb_image, as RGB, for tests that look at what a
// picture writer drew.

#include <stb/stb_image.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

namespace scvae::testing {

struct DecodedPng {
  explicit DecodedPng(const std::string& path)
      : pixels(stbi_load(path.c_str(), &width, &height, &channels, 3), &std::free) {}
  bool ok() const { return pixels != nullptr; }
  std::array<std::uint8_t, 3> at(int x, int y) const {
    const unsigned char* p = pixels.get() + (static_cast<std::size_t>(y) * width + x) * 3;
    return {{p[0], p[1], p[2]}};
  }
  /// Pixels of exactly `colour` in [x0, x1) x [y0, y1).
  int count(int x0, int y0, int x1, int y1, const std::array<std::uint8_t, 3>& colour) const {
    int found = 0;
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) found += at(x, y) == colour;
    return found;
  }
  /// Whether `colour` is within `radius` pixels of (x, y).
  bool near(int x, int y, int radius, const std::array<std::uint8_t, 3>& colour) const {
    return count(x - radius, y - radius, x + radius + 1, y + radius + 1, colour) > 0;
  }

  int width = 0, height = 0, channels = 0;
  std::unique_ptr<unsigned char, void (*)(void*)> pixels;
};

}  // namespace scvae::testing
