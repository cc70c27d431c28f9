#pragma once
// Tiles images (one per column, as the model sees them) into one greyscale
// PNG, written atomically like a checkpoint (io/png_file.hpp).

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "scvae/core/check.hpp"
#include "scvae/core/error.hpp"
#include "scvae/core/types.hpp"
#include "scvae/io/png_file.hpp"

namespace scvae {

/// Grey level of the padding lines and of empty tiles: mid grey, so the
/// lines stand out against both black backgrounds and white strokes.
inline constexpr std::uint8_t kImageGridPadValue = 128;

namespace detail {

/// A float in [0, 1] (clamped; NaN gives 0) as a byte, rounded to nearest.
template <typename Scalar>
std::uint8_t grey_level(Scalar value) {
  if constexpr (std::is_same_v<Scalar, std::uint8_t>) {
    return value;
  } else {
    static_assert(std::is_floating_point_v<Scalar>,
                  "write_image_grid takes floating-point values in [0, 1] or uint8 in [0, 255]");
    const double v = static_cast<double>(value);
    if (!(v > 0.0)) return 0;  // also NaN
    if (v >= 1.0) return 255;
    return static_cast<std::uint8_t>(std::lround(v * 255.0));
  }
}

}  // namespace detail

/// Writes `images` (features x n: one image per column, pixels in row-major
/// order within a column, as in MNIST) as a greyscale PNG with `grid_cols`
/// tiles per row and as many rows as needed. Floating-point values are
/// clamped to [0, 1] and scaled to 0..255 with rounding (NaN becomes 0);
/// uint8 values are used as they are. `padding` pixels of mid grey
/// (kImageGridPadValue) surround every tile, the outer border included, and
/// fill the tiles of a last, incomplete row. The image is
/// grid_cols * (image_cols + padding) + padding pixels wide.
template <typename Derived>
void write_image_grid(const std::string& path, const Eigen::MatrixBase<Derived>& images,
                      Index image_rows, Index image_cols, Index grid_cols, Index padding = 2) {
  detail::check_positive("write_image_grid: image_rows", image_rows);
  detail::check_positive("write_image_grid: image_cols", image_cols);
  detail::check_positive("write_image_grid: grid_cols", grid_cols);
  detail::check_positive("write_image_grid: number of images (columns)", images.cols());
  if (padding < 0) {
    std::ostringstream out;
    out << "write_image_grid: padding must not be negative, got " << padding;
    throw ArgumentError(out.str());
  }
  if (images.rows() != image_rows * image_cols) {
    std::ostringstream out;
    out << "write_image_grid: images have " << images.rows() << " features per column, but "
        << image_rows << "x" << image_cols << " images need " << image_rows * image_cols;
    throw ShapeError(out.str());
  }

  const Index n = images.cols();
  const Index grid_rows = (n + grid_cols - 1) / grid_cols;
  // Sizes in double first, so absurd arguments cannot overflow Index.
  const double width_d =
      static_cast<double>(grid_cols) * static_cast<double>(image_cols + padding) +
      static_cast<double>(padding);
  const double height_d =
      static_cast<double>(grid_rows) * static_cast<double>(image_rows + padding) +
      static_cast<double>(padding);
  constexpr double kIntMax = static_cast<double>(std::numeric_limits<int>::max());
  if (width_d > kIntMax || height_d > kIntMax || width_d * height_d > kIntMax) {
    std::ostringstream out;
    out << "write_image_grid: a " << width_d << "x" << height_d
        << " pixel image is too large to write as PNG";
    throw ArgumentError(out.str());
  }
  const Index width = static_cast<Index>(width_d);
  const Index height = static_cast<Index>(height_d);

  std::vector<std::uint8_t> pixels(static_cast<std::size_t>(width * height), kImageGridPadValue);
  for (Index k = 0; k < n; ++k) {
    const Index top = padding + (k / grid_cols) * (image_rows + padding);
    const Index left = padding + (k % grid_cols) * (image_cols + padding);
    for (Index r = 0; r < image_rows; ++r) {
      std::uint8_t* row = pixels.data() + (top + r) * width + left;
      for (Index c = 0; c < image_cols; ++c)
        row[c] = detail::grey_level(images(r * image_cols + c, k));
    }
  }

  detail::write_png_file(path, "image grid", static_cast<int>(width), static_cast<int>(height), 1,
                         pixels.data());
}

}  // namespace scvae
