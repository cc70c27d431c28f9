#pragma once
// The shape of one sample: (channels, height, width). A batch is a matrix of
// shape.features() rows and one column per sample. Within a column the
// features are channel after channel, each channel's rows top to bottom and
// each row left to right: index (c * height + y) * width + x. A 28x28 IDX
// image (one channel, row-major pixels) is therefore already a 1x28x28 sample,
// and a plain feature vector of n values is n x 1 x 1.

#include <string>

#include "scvae/core/error.hpp"
#include "scvae/core/types.hpp"

namespace scvae {

struct Shape {
  Index channels = 1;
  Index height = 1;
  Index width = 1;

  Shape() = default;
  Shape(Index channels_, Index height_, Index width_)
      : channels(channels_), height(height_), width(width_) {}

  /// n features with no spatial structure: n x 1 x 1.
  static Shape vector(Index features) { return Shape(features, 1, 1); }

  Index features() const { return channels * height * width; }
  bool is_vector() const { return height == 1 && width == 1; }

  /// "784" for a vector, "1x28x28" otherwise; parse() reads both back.
  std::string text() const {
    if (is_vector()) return std::to_string(channels);
    return std::to_string(channels) + "x" + std::to_string(height) + "x" + std::to_string(width);
  }

  friend bool operator==(const Shape& a, const Shape& b) {
    return a.channels == b.channels && a.height == b.height && a.width == b.width;
  }
  friend bool operator!=(const Shape& a, const Shape& b) { return !(a == b); }
};

namespace detail {
/// ArgumentError unless every dimension is positive and their product fits an Index.
inline void check_shape_sizes(const std::string& what, const Shape& shape) {
  if (shape.channels <= 0 || shape.height <= 0 || shape.width <= 0)
    throw ArgumentError(what + ": expected positive dimensions, got " +
                        std::to_string(shape.channels) + "x" + std::to_string(shape.height) + "x" +
                        std::to_string(shape.width));
  const Index limit = Index(1) << 40;  // far above any sample a machine can hold
  if (shape.channels > limit / shape.height ||
      shape.channels * shape.height > limit / shape.width)
    throw ArgumentError(what + ": " + shape.text() + " has too many features (more than 2^40)");
}
}  // namespace detail

}  // namespace scvae
