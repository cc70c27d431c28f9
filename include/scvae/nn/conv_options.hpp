#pragma once
// What fixes a 2-D convolution or transposed convolution besides its input
// shape, its architecture-token arguments, and their parsing.
//
// Token arguments: "out,kernel,stride,padding" (conv2d) and
// "out,kernel,stride,padding,output_padding" (conv_transpose2d), each size a
// number or HxW for a rectangular one ("32,4,2,1", "8,3x5,1,1x2"). Stride,
// padding and output padding may be left off (1, 0, 0); the module's token
// writes them all.

#include <string>
#include <vector>

#include "scvae/core/error.hpp"
#include "scvae/core/types.hpp"
#include "scvae/util/parse.hpp"

namespace scvae {

/// A size with a height and a width; one number means both.
struct Extent {
  Index height = 1;
  Index width = 1;

  Extent() = default;
  Extent(Index both) : height(both), width(both) {}  // NOLINT: 3 means 3x3
  Extent(Index height_, Index width_) : height(height_), width(width_) {}

  std::string text() const {
    return height == width ? std::to_string(height)
                           : std::to_string(height) + "x" + std::to_string(width);
  }
  friend bool operator==(const Extent& a, const Extent& b) {
    return a.height == b.height && a.width == b.width;
  }
};

struct ConvOptions {
  Index out_channels = 1;
  Extent kernel = 1;
  Extent stride = 1;
  Extent padding = 0;         ///< Zeros on each side of the image.
  Extent output_padding = 0;  ///< ConvTranspose2d only: rows/columns added at the end.
};

namespace detail {

inline Index parse_extent_part(const std::string& what, const std::string& text, Index min) {
  const bool digits = !text.empty() && text.size() <= 13 && (text == "0" || text[0] != '0') &&
                      text.find_first_not_of("0123456789") == std::string::npos;
  if (!digits)
    throw ArgumentError(what + ": expected a size in digits (no sign or leading zero), got " +
                        quoted_text(text));
  return parse_integer<Index>(what, text, min, Index(1) << 40);
}

inline Extent parse_extent(const std::string& what, const std::string& text, Index min) {
  const std::size_t x = text.find('x');
  if (x == std::string::npos) return Extent(parse_extent_part(what, text, min));
  return Extent(parse_extent_part(what, text.substr(0, x), min),
                parse_extent_part(what, text.substr(x + 1), min));
}

/// ConvOptions from "out,kernel[,stride[,padding[,output_padding]]]";
/// output_padding only when `transposed`. ArgumentError naming `name`.
inline ConvOptions parse_conv_arguments(const std::string& name, const std::string& arguments,
                                        bool transposed) {
  std::vector<std::string> fields(1);
  for (const char c : arguments) {
    if (c == ',')
      fields.emplace_back();
    else
      fields.back() += c;
  }
  const std::size_t most = transposed ? 5 : 4;
  const std::string what = name + "(" + printable(arguments) + ")";
  if (fields.size() < 2 || fields.size() > most)
    throw ArgumentError(what + ": expected " +
                        (transposed ? "out,kernel[,stride[,padding[,output_padding]]]"
                                    : "out,kernel[,stride[,padding]]") +
                        ", got " + quoted_text(arguments));
  ConvOptions options;
  options.out_channels = parse_extent_part(what + " out channels", fields[0], 1);
  options.kernel = parse_extent(what + " kernel", fields[1], 1);
  if (fields.size() > 2) options.stride = parse_extent(what + " stride", fields[2], 1);
  if (fields.size() > 3) options.padding = parse_extent(what + " padding", fields[3], 0);
  if (fields.size() > 4)
    options.output_padding = parse_extent(what + " output padding", fields[4], 0);
  return options;
}

inline std::string conv_arguments_text(const ConvOptions& o, bool transposed) {
  return std::to_string(o.out_channels) + "," + o.kernel.text() + "," + o.stride.text() + "," +
         o.padding.text() + (transposed ? "," + o.output_padding.text() : std::string());
}

}  // namespace detail
}  // namespace scvae
