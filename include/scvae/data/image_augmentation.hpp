#pragma once
// Random shifts and mirror images of the images a source gives, drawn anew
// each time a sample is trained on: a classifier that learns from few labels
// sees each of them in many positions. The draw is a function of the seed,
// the sample and its position in the epoch's order alone, so it is the same
// for any number of threads or ranks, and a resumed run draws as the
// uninterrupted one did.

#include <algorithm>
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

  bool any() const { return max_shift > 0 || horizontal_flip; }
};

/// ArgumentError unless `augmentation` fits images of `shape`: a shift in
/// [0, min(height, width) - 1].
inline void check_image_augmentation(const ImageAugmentation& augmentation, const Shape& shape) {
  if (augmentation.max_shift < 0 || augmentation.max_shift >= shape.height ||
      augmentation.max_shift >= shape.width)
    throw ArgumentError("image augmentation: expected a shift in [0, " +
                        std::to_string(std::min(shape.height, shape.width) - 1) + "] pixels for " +
                        shape.text() + " images, got " + std::to_string(augmentation.max_shift));
}

/// One image's draw: its shift and whether it is mirrored.
struct ImageMove {
  Index down = 0;
  Index right = 0;
  bool mirror = false;
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

/// A training source whose images (the input x, which the image task
/// reconstructs) are moved by draw_image_move; every other target and mask
/// is the inner source's. For training only: evaluate on the inner source.
template <typename Scalar>
class AugmentedImageSource final : public BatchSource<Scalar> {
 public:
  /// `images` must outlive this source. ShapeError if `shape` is not the
  /// size of its samples (checked at the first batch); ArgumentError for a
  /// negative or too large shift.
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
      move_image(shape_, move, column);
    }
  }

 private:
  const BatchSource<Scalar>& images_;
  Shape shape_;
  ImageAugmentation augmentation_;
  std::uint64_t seed_;
};

}  // namespace scvae
