#pragma once
// The latent map: each sample's latent mean as a dot on a 2-D plane (the
// first two principal directions when the latent is wider than 2), coloured
// by its class, with a legend naming the classes. An RGB PNG, written
// atomically like a checkpoint (io/atomic_file.hpp), drawn on the canvas
// of io/canvas.hpp.

#include <Eigen/Eigenvalues>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "scvae/core/error.hpp"
#include "scvae/core/types.hpp"
#include "scvae/io/atomic_file.hpp"
#include "scvae/io/canvas.hpp"
#include "scvae/io/png_file.hpp"

namespace scvae {

/// `points` (dimensions x n) on a plane, 2 x n: the coordinates themselves
/// for one or two dimensions (one: the second row is 0), else the
/// projections of the centred points on the two principal directions of
/// largest variance, each direction's sign chosen so that its largest
/// component is positive (the same points give the same picture).
template <typename Derived>
Matrix<double> principal_plane(const Eigen::MatrixBase<Derived>& points) {
  const Index d = points.rows();
  const Index n = points.cols();
  if (d < 1) throw ShapeError("principal_plane: the points have no dimension");
  Matrix<double> plane = Matrix<double>::Zero(2, n);
  const Matrix<double> p = points.template cast<double>();
  if (d <= 2) {
    plane.topRows(d) = p;
    return plane;
  }
  const Matrix<double> centred = p.colwise() - p.rowwise().mean();
  const Matrix<double> covariance = centred * centred.transpose();
  const Eigen::SelfAdjointEigenSolver<Matrix<double>> solver(covariance);  // ascending eigenvalues
  for (Index k = 0; k < 2; ++k) {
    Vector<double> direction = solver.eigenvectors().col(d - 1 - k);
    Index largest = 0;
    direction.cwiseAbs().maxCoeff(&largest);
    if (direction(largest) < 0) direction = -direction;
    plane.row(k) = direction.transpose() * centred;
  }
  return plane;
}

/// Writes the latent map of `plane` (2 x n, e.g. principal_plane(mu)) to
/// `path` as a PNG: one dot per sample, coloured by `classes` (one per
/// sample, -1 for none; empty: none has a class), and beside the plot a
/// legend of `class_names` (the first ones that fit, then "+N more"; and
/// "no class" in grey when some sample has none).
/// ShapeError when the counts differ, ArgumentError for a class outside
/// [-1, class_names.size()), IoError naming the path when it cannot be written.
inline void write_latent_map(const std::string& path, const Matrix<double>& plane,
                             const std::vector<Index>& classes,
                             const std::vector<std::string>& class_names) {
  const Index n = plane.cols();
  if (plane.rows() != 2 || n < 1)
    throw ShapeError("write_latent_map " + detail::quoted_path(path) +
                     ": expected 2 x n points (n >= 1), got " + std::to_string(plane.rows()) +
                     " x " + std::to_string(n));
  if (!classes.empty() && static_cast<Index>(classes.size()) != n)
    throw ShapeError("write_latent_map " + detail::quoted_path(path) + ": " +
                     std::to_string(classes.size()) + " classes for " + std::to_string(n) +
                     " points");
  for (const Index c : classes)
    if (c < -1 || c >= static_cast<Index>(class_names.size()))
      throw ArgumentError("write_latent_map " + detail::quoted_path(path) + ": class " +
                          std::to_string(c) + " has no name (" +
                          std::to_string(class_names.size()) + " names)");
  constexpr int kPlot = 480, kMargin = 12, kLegend = 200, kScale = 2, kLine = 22;
  detail::Canvas canvas(kPlot + kLegend, kPlot);
  const detail::Rgb& ink = detail::kInk;
  canvas.frame(kMargin, kMargin, kPlot - kMargin, kPlot - kMargin, detail::kFrameGrey);

  // One scale for both axes, so distances on the map are distances in the plane.
  Vector<double> low(2), high(2);
  for (Index k = 0; k < 2; ++k) {
    low(k) = high(k) = 0.0;
    bool seen = false;
    for (Index j = 0; j < n; ++j) {
      const double v = plane(k, j);
      if (!std::isfinite(v)) continue;
      low(k) = seen ? std::min(low(k), v) : v;
      high(k) = seen ? std::max(high(k), v) : v;
      seen = true;
    }
  }
  const double span = std::max({high(0) - low(0), high(1) - low(1), 1e-12});
  const double inner = kPlot - 2 * kMargin - 8;
  const auto pixel = [&](Index k, double v) {
    const double centred = (v - 0.5 * (low(k) + high(k))) / span * inner;
    return static_cast<int>(std::lround(kPlot / 2.0 + (k == 0 ? centred : -centred)));
  };
  // Unlabelled points first, so that classes are drawn over them.
  for (const int pass : {0, 1})
    for (Index j = 0; j < n; ++j) {
      const Index c = classes.empty() ? -1 : classes[static_cast<std::size_t>(j)];
      if ((c >= 0) != (pass == 1) || !std::isfinite(plane(0, j)) || !std::isfinite(plane(1, j)))
        continue;
      const int x = pixel(0, plane(0, j)), y = pixel(1, plane(1, j));
      canvas.fill(x - 2, y - 1, x + 3, y + 2, detail::class_colour(c));
      canvas.fill(x - 1, y - 2, x + 2, y + 3, detail::class_colour(c));
    }

  const Index fit = (kPlot - 2 * kMargin) / kLine - 1;
  const Index named = static_cast<Index>(class_names.size());
  const Index shown = named > fit + 1 ? fit : named;
  for (Index c = 0; c < shown; ++c) {
    const int top = kMargin + static_cast<int>(c) * kLine;
    canvas.fill(kPlot + 4, top + 2, kPlot + 18, top + 16, detail::class_colour(c));
    canvas.text(kPlot + 24, top + 2, detail::shortened(class_names[static_cast<std::size_t>(c)], 14),
                ink, kScale);
  }
  int next = kMargin + static_cast<int>(shown) * kLine;
  if (shown < named) {
    canvas.text(kPlot + 24, next + 2, "+" + std::to_string(named - shown) + " more", ink, kScale);
    next += kLine;
  }
  if (std::find(classes.begin(), classes.end(), Index{-1}) != classes.end() && !class_names.empty()) {
    canvas.fill(kPlot + 4, next + 2, kPlot + 18, next + 16, detail::class_colour(-1));
    canvas.text(kPlot + 24, next + 2, "no class", ink, kScale);
  }

  detail::write_png_file(path, "latent map", canvas.width(), canvas.height(), 3,
                         canvas.pixels().data());
}

}  // namespace scvae
