#pragma once
// The small raster the plots draw on (io/latent_map.hpp, io/curves_plot.hpp):
// a white RGB canvas with filled rectangles, frames, thick lines and text,
// and the colours they share. Text is drawn with stb_easy_font (Debian's
// libstb-dev): a stroke font of rectangles, so it needs no font files.

#include <stb/stb_easy_font.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "scvae/core/types.hpp"

namespace scvae {
namespace detail {

using Rgb = std::array<std::uint8_t, 3>;

/// Ten colours apart from one another (matplotlib's tab10); beyond ten
/// classes they repeat.
inline Rgb class_colour(Index c) {
  static const Rgb palette[10] = {{{31, 119, 180}},  {{255, 127, 14}}, {{44, 160, 44}},
                                  {{214, 39, 40}},   {{148, 103, 189}}, {{140, 86, 75}},
                                  {{227, 119, 194}}, {{127, 127, 127}}, {{188, 189, 34}},
                                  {{23, 190, 207}}};
  if (c < 0) return Rgb{{190, 190, 190}};  // no class: light grey
  return palette[c % 10];
}

/// The ink of text and axes, and the grey of frames and grid lines: none of
/// them is a class colour, so a test can tell data from decoration.
inline constexpr Rgb kInk{{30, 30, 30}};
inline constexpr Rgb kFrameGrey{{200, 200, 200}};
inline constexpr Rgb kGridGrey{{235, 235, 235}};

/// An RGB canvas, row-major, white.
class Canvas {
 public:
  Canvas(int width, int height)
      : width_(width), height_(height),
        pixels_(static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 3, 255) {}
  int width() const { return width_; }
  int height() const { return height_; }
  const std::vector<std::uint8_t>& pixels() const { return pixels_; }

  /// Fills [x0, x1) x [y0, y1), clipped to the canvas.
  void fill(int x0, int y0, int x1, int y1, const Rgb& colour) {
    for (int y = std::max(0, y0); y < std::min(height_, y1); ++y)
      for (int x = std::max(0, x0); x < std::min(width_, x1); ++x) {
        std::uint8_t* p = &pixels_[(static_cast<std::size_t>(y) * static_cast<std::size_t>(width_) +
                                    static_cast<std::size_t>(x)) * 3];
        p[0] = colour[0];
        p[1] = colour[1];
        p[2] = colour[2];
      }
  }

  /// A one-pixel outline just outside [x0, x1) x [y0, y1).
  void frame(int x0, int y0, int x1, int y1, const Rgb& colour) {
    fill(x0 - 1, y0 - 1, x1 + 1, y0, colour);
    fill(x0 - 1, y1, x1 + 1, y1 + 1, colour);
    fill(x0 - 1, y0 - 1, x0, y1 + 1, colour);
    fill(x1, y0 - 1, x1 + 1, y1 + 1, colour);
  }

  /// A line from (x0, y0) to (x1, y1), both ends included, `thickness`
  /// pixels wide (a square pen at each Bresenham step), clipped to
  /// [clip_x0, clip_x1) x [clip_y0, clip_y1) as well as to the canvas.
  void line(int x0, int y0, int x1, int y1, const Rgb& colour, int thickness,
            const std::array<int, 4>& clip) {
    const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
    const int step_x = x0 < x1 ? 1 : -1, step_y = y0 < y1 ? 1 : -1;
    const int before = (thickness - 1) / 2;
    int error = dx + dy;
    for (;;) {
      const int left = x0 - before, top = y0 - before;
      fill(std::max(left, clip[0]), std::max(top, clip[1]),
           std::min(left + thickness, clip[2]), std::min(top + thickness, clip[3]), colour);
      if (x0 == x1 && y0 == y1) break;
      const int twice = 2 * error;
      if (twice >= dy) {
        error += dy;
        x0 += step_x;
      }
      if (twice <= dx) {
        error += dx;
        y0 += step_y;
      }
    }
  }

  /// `text` with its top left at (x, y), each font pixel `scale` pixels wide.
  void text(int x, int y, const std::string& text, const Rgb& colour, int scale) {
    std::vector<char> chars(text.begin(), text.end());
    chars.push_back('\0');
    std::vector<char> quads(1024 * (text.size() + 1));  // stb: ~270 bytes per character
    unsigned char font_colour[4] = {0, 0, 0, 255};
    const int count = stb_easy_font_print(0, 0, chars.data(), font_colour, quads.data(),
                                          static_cast<int>(quads.size()));
    for (int q = 0; q < count; ++q) {
      // Each quad: four vertices of 16 bytes (x, y, z floats, colour), an
      // axis-aligned rectangle from vertex 0 to vertex 2.
      float corner[2][2];
      std::memcpy(corner[0], quads.data() + q * 64, sizeof(corner[0]));
      std::memcpy(corner[1], quads.data() + q * 64 + 32, sizeof(corner[1]));
      fill(x + scale * static_cast<int>(std::lround(corner[0][0])),
           y + scale * static_cast<int>(std::lround(corner[0][1])),
           x + scale * static_cast<int>(std::lround(corner[1][0])),
           y + scale * static_cast<int>(std::lround(corner[1][1])), colour);
    }
  }

  /// How many pixels wide text() draws `text` at `scale`.
  static int text_width(const std::string& text, int scale) {
    std::vector<char> chars(text.begin(), text.end());
    chars.push_back('\0');
    return scale * stb_easy_font_width(chars.data());
  }

 private:
  int width_;
  int height_;
  std::vector<std::uint8_t> pixels_;
};

/// `name` cut to `length` characters, a '~' marking the cut.
inline std::string shortened(const std::string& name, std::size_t length) {
  return name.size() > length ? name.substr(0, length - 1) + "~" : name;
}

/// `name` cut, a '~' marking the cut, to at most `width` pixels at `scale`.
inline std::string fitted(const std::string& name, int width, int scale) {
  if (Canvas::text_width(name, scale) <= width) return name;
  std::string cut = name;
  while (!cut.empty() && Canvas::text_width(cut + "~", scale) > width) cut.pop_back();
  return cut + "~";
}

}  // namespace detail
}  // namespace scvae
