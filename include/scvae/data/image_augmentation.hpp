#pragma once
// Random shifts, mirror images, small turns and erased squares of the images a source
// gives, drawn anew each time a sample is trained on: a classifier that
// learns from few labels sees each of them in many positions, and must
// recognise an image from part of it. The draw is a function of the seed,
// the sample and its position in the epoch's order alone, so it is the same
// for any number of threads or ranks, and a resumed run draws as the
// uninterrupted one did.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "scvae/core/error.hpp"
#include "scvae/core/random.hpp"
#include "scvae/data/batch_source.hpp"
#include "scvae/nn/shape.hpp"

namespace scvae {

struct ImageAugmentation {
  /// Each image moves by up to this many pixels along each axis (uniform in
  /// [-max_shift, max_shift]); the pixels it uncovers are 0.
  Index max_shift = 0;
  /// Each image is mirrored left to right with probability 1/2.
  bool horizontal_flip = false;
  /// After the move, a square of erase_size x erase_size pixels centred on a
  /// uniformly drawn pixel (clipped at the edges) is set to 0 in the
  /// encoder's input (DeVries and Taylor's cutout); the image task still
  /// reconstructs the whole moved image. 0: off.
  Index erase_size = 0;
  /// Each image turns about its centre by an angle uniform in [-max_degrees,
  /// max_degrees] (bilinear; what comes in from outside is 0), before the
  /// move. 0: off. (Last, so that {shift, flip, erase} reads as before.)
  double max_degrees = 0.0;

  bool any() const {
    return max_shift > 0 || horizontal_flip || erase_size > 0 || max_degrees > 0.0;
  }
};

/// ArgumentError unless `augmentation` fits images of `shape`: a shift in
/// [0, min(height, width) - 1], an erased square no wider than the image.
inline void check_image_augmentation(const ImageAugmentation& augmentation, const Shape& shape) {
  const Index side = std::min(shape.height, shape.width);
  if (augmentation.max_shift < 0 || augmentation.max_shift >= side)
    throw ArgumentError("image augmentation: expected a shift in [0, " + std::to_string(side - 1) +
                        "] pixels for " + shape.text() + " images, got " +
                        std::to_string(augmentation.max_shift));
  if (!(augmentation.max_degrees >= 0.0 && augmentation.max_degrees <= 180.0))
    throw ArgumentError("image augmentation: expected a rotation of [0, 180] degrees, got " +
                        std::to_string(augmentation.max_degrees));
  if (augmentation.erase_size < 0 || augmentation.erase_size > side)
    throw ArgumentError("image augmentation: expected an erased square of [0, " +
                        std::to_string(side) + "] pixels for " + shape.text() + " images, got " +
                        std::to_string(augmentation.erase_size));
}

/// One image's draw: its shift and whether it is mirrored.
struct ImageMove {
  Index down = 0;
  Index right = 0;
  bool mirror = false;
};

/// A pixel of an image: its row and column.
struct ImagePixel {
  Index row = 0;
  Index column = 0;
};

/// The draw for sample `sample` at `position` in the epoch's order.
inline ImageMove draw_image_move(const ImageAugmentation& a, std::uint64_t seed, Index sample,
                                 Index position) {
  // Rng seeds through splitmix64, so nearby keys give unrelated streams.
  Rng rng(seed ^ (static_cast<std::uint64_t>(sample) * 0x9E3779B97F4A7C15ull) ^
          (static_cast<std::uint64_t>(position) * 0xC2B2AE3D27D4EB4Full));
  ImageMove move;
  const auto span = static_cast<std::uint64_t>(2 * a.max_shift + 1);
  move.down = static_cast<Index>(rng.uniform_index(span)) - a.max_shift;
  move.right = static_cast<Index>(rng.uniform_index(span)) - a.max_shift;
  move.mirror = a.horizontal_flip && (rng.next_u64() >> 63) != 0;
  return move;
}

/// The centre of the square erased from sample `sample` at `position`,
/// uniform over the pixels of `shape`. A stream of its own: turning erasing
/// on leaves every move's draw as it was.
inline ImagePixel draw_erase_centre(const Shape& shape, std::uint64_t seed, Index sample,
                                    Index position) {
  Rng rng(seed ^ 0x6572617365ull ^  // "erase"
          (static_cast<std::uint64_t>(sample) * 0xD6E8FEB86659FD93ull) ^
          (static_cast<std::uint64_t>(position) * 0xA0761D6478BD642Full));
  ImagePixel centre;
  centre.row = static_cast<Index>(rng.uniform_index(static_cast<std::uint64_t>(shape.height)));
  centre.column = static_cast<Index>(rng.uniform_index(static_cast<std::uint64_t>(shape.width)));
  return centre;
}

/// The angle in degrees by which sample `sample` at `position` turns: a
/// stream of its own, so turning rotation on leaves the other draws as they were.
inline double draw_rotation_degrees(double max_degrees, std::uint64_t seed, Index sample,
                                    Index position) {
  Rng rng(seed ^ 0x726F74617465ull ^  // "rotate"
          (static_cast<std::uint64_t>(sample) * 0x8EBC6AF09C88C6E3ull) ^
          (static_cast<std::uint64_t>(position) * 0x589965CC75374CC3ull));
  return max_degrees * (2.0 * rng.uniform() - 1.0);
}

/// Turns one image of `shape` by `degrees` (clockwise as seen with
/// row 0 at the top) about its centre, in place, each channel alone: every
/// pixel takes the bilinear value at the point that turns onto it, and 0
/// where that point is outside the image. `scratch` holds a copy of a
/// channel (resized once).
template <typename Derived, typename Scalar>
void rotate_image(const Shape& shape, double degrees, Eigen::DenseBase<Derived>& image,
                  std::vector<Scalar>& scratch) {
  if (degrees == 0.0) return;
  const Index rows = shape.height, cols = shape.width;
  const double radians = degrees * 3.14159265358979323846 / 180.0;
  const double cosine = std::cos(radians), sine = std::sin(radians);
  const double centre_r = 0.5 * static_cast<double>(rows - 1);
  const double centre_x = 0.5 * static_cast<double>(cols - 1);
  scratch.resize(static_cast<std::size_t>(rows * cols));
  for (Index c = 0; c < shape.channels; ++c) {
    const Index base = c * rows * cols;
    for (Index i = 0; i < rows * cols; ++i) scratch[static_cast<std::size_t>(i)] = image(base + i);
    auto at = [&](Index r, Index x) -> double {
      if (r < 0 || r >= rows || x < 0 || x >= cols) return 0.0;
      return static_cast<double>(scratch[static_cast<std::size_t>(r * cols + x)]);
    };
    for (Index r = 0; r < rows; ++r) {
      for (Index x = 0; x < cols; ++x) {
        // The inverse turn of (r, x): where its value comes from.
        const double dr = static_cast<double>(r) - centre_r;
        const double dx = static_cast<double>(x) - centre_x;
        const double from_r = centre_r + cosine * dr - sine * dx;
        const double from_x = centre_x + sine * dr + cosine * dx;
        const double floor_r = std::floor(from_r), floor_x = std::floor(from_x);
        const auto r0 = static_cast<Index>(floor_r), x0 = static_cast<Index>(floor_x);
        const double wr = from_r - floor_r, wx = from_x - floor_x;
        const double value = (1.0 - wr) * ((1.0 - wx) * at(r0, x0) + wx * at(r0, x0 + 1)) +
                             wr * ((1.0 - wx) * at(r0 + 1, x0) + wx * at(r0 + 1, x0 + 1));
        image(base + r * cols + x) = static_cast<typename Derived::Scalar>(value);
      }
    }
  }
}

/// Sets to 0, in every channel, the pixels of the size x size square whose
/// centre is `centre` (its top-left corner size / 2 up and left of it),
/// clipped at the image's edges.
template <typename Derived>
void erase_square(const Shape& shape, Index size, const ImagePixel& centre,
                  Eigen::DenseBase<Derived>& image) {
  const Index top = std::max<Index>(0, centre.row - size / 2);
  const Index bottom = std::min(shape.height, centre.row - size / 2 + size);
  const Index left = std::max<Index>(0, centre.column - size / 2);
  const Index right = std::min(shape.width, centre.column - size / 2 + size);
  for (Index c = 0; c < shape.channels; ++c)
    for (Index r = top; r < bottom; ++r)
      for (Index x = left; x < right; ++x)
        image(c * shape.height * shape.width + r * shape.width + x) = typename Derived::Scalar(0);
}

/// Applies `move` to one image of `shape` (channels, then rows, then
/// columns within a column vector) in place: first the mirror, then the
/// shift, reading each pixel before it is overwritten.
template <typename Derived>
void move_image(const Shape& shape, const ImageMove& move, Eigen::DenseBase<Derived>& image) {
  const Index rows = shape.height, cols = shape.width;
  for (Index c = 0; c < shape.channels; ++c) {
    const Index base = c * rows * cols;
    if (move.mirror)
      for (Index r = 0; r < rows; ++r)
        for (Index x = 0; x < cols / 2; ++x)
          std::swap(image(base + r * cols + x), image(base + r * cols + cols - 1 - x));
    if (move.down == 0 && move.right == 0) continue;
    // A pixel moves from (r - down, x - right) to (r, x): walk away from the
    // direction of the move so that every source is read before it is written.
    for (Index k = 0; k < rows; ++k) {
      const Index r = move.down > 0 ? rows - 1 - k : k;
      for (Index m = 0; m < cols; ++m) {
        const Index x = move.right > 0 ? cols - 1 - m : m;
        const Index from_r = r - move.down, from_x = x - move.right;
        const bool inside = from_r >= 0 && from_r < rows && from_x >= 0 && from_x < cols;
        image(base + r * cols + x) =
            inside ? image(base + from_r * cols + from_x) : typename Derived::Scalar(0);
      }
    }
  }
}

/// A training source whose images (the input x) are moved by
/// draw_image_move and, with erase_size, have a square erased. The tasks that
/// reconstruct the input get the moved image without the erased square (a
/// copy of it, made only when erasing); every other target and mask is the
/// inner source's. For training only: evaluate on the inner source.
template <typename Scalar>
class AugmentedImageSource final : public BatchSource<Scalar> {
 public:
  /// `images` must outlive this source. ShapeError if `shape` is not the
  /// size of its samples (checked at the first batch); ArgumentError for a
  /// negative or too large shift or erased square.
  AugmentedImageSource(const BatchSource<Scalar>& images, const Shape& shape,
                       const ImageAugmentation& augmentation, std::uint64_t seed)
      : images_(images), shape_(shape), augmentation_(augmentation), seed_(seed) {
    check_image_augmentation(augmentation, shape);
  }
  Index size() const override { return images_.size(); }
  Index task_count() const override { return images_.task_count(); }

  void fill(const std::vector<Index>& order, Index begin, Index end,
            Batch<Scalar>& batch) const override {
    images_.fill(order, begin, end, batch);
    if (batch.x.rows() != shape_.features())
      throw ShapeError("image augmentation: samples of " + std::to_string(batch.x.rows()) +
                       " features are not " + shape_.text() + " images");
    for (Index j = 0; j < batch.x.cols(); ++j) {
      const Index position = begin + j;
      const ImageMove move = draw_image_move(augmentation_, seed_,
                                             order[static_cast<std::size_t>(position)], position);
      auto column = batch.x.col(j);
      if (augmentation_.max_degrees > 0.0)
        rotate_image(shape_,
                     draw_rotation_degrees(augmentation_.max_degrees, seed_,
                                           order[static_cast<std::size_t>(position)], position),
                     column, rotation_scratch_);
      move_image(shape_, move, column);
    }
    if (augmentation_.erase_size == 0) return;
    for (std::size_t t = 0; t < batch.target_is_input.size(); ++t) {
      if (!batch.target_is_input[t]) continue;
      batch.targets[t] = batch.x;  // same size after the first batch: no allocation
      batch.target_is_input[t] = false;
    }
    for (Index j = 0; j < batch.x.cols(); ++j) {
      const Index position = begin + j;
      const ImagePixel centre =
          draw_erase_centre(shape_, seed_, order[static_cast<std::size_t>(position)], position);
      auto column = batch.x.col(j);
      erase_square(shape_, augmentation_.erase_size, centre, column);
    }
  }

 private:
  const BatchSource<Scalar>& images_;
  Shape shape_;
  ImageAugmentation augmentation_;
  std::uint64_t seed_;
  mutable std::vector<Scalar> rotation_scratch_;  // one channel's copy, sized once
};

}  // namespace scvae
