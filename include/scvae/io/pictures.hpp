#pragma once
// The pictures people look at to judge a VAE: samples from the prior,
// reconstructions beside their inputs, walks through latent space, and for a
// model whose decoder reads the class (M2) one style drawn in every class.
// They call the model contract (model/contract.hpp): decode_prior and
// reconstruct, which M2 provides and the SC-VAE meets with predict.

#include <string>

#include "scvae/core/random.hpp"
#include "scvae/io/image_grid.hpp"
#include "scvae/model/contract.hpp"
#include "scvae/model/scvae.hpp"

namespace scvae {

/// `count` images decoded from z ~ p(z), `grid_cols` per row (M2, and an
/// SC-VAE with a class prior: image j in class j mod classes).
template <typename Model>
void write_prior_samples(const std::string& path, const Model& model, Index task, Index count,
                         Index image_rows, Index image_cols, Index grid_cols, Rng& rng) {
  using Scalar = typename Model::Scalar;
  detail::check_positive("prior samples count", count);
  Matrix<Scalar> z(model.latent(), count);
  if constexpr (detail::has_class_prior_member<Model>::value)
    model.sample_prior(rng, z);  // a class prior: image j from class j mod K
  else
    rng.fill_normal(z);
  Matrix<Scalar> images;
  decode_prior(model, task, z, images);
  write_image_grid(path, images, image_rows, image_cols, grid_cols);
}

/// Each input beside its reconstruction from z = mu: pairs side by side,
/// `pairs_per_row` pairs per row.
template <typename Model>
void write_reconstructions(const std::string& path, const Model& model, Index task,
                           const ConstMatrixRef<typename Model::Scalar>& inputs, Index image_rows,
                           Index image_cols, Index pairs_per_row = 8) {
  using Scalar = typename Model::Scalar;
  Matrix<Scalar> outputs;
  reconstruct(model, task, inputs, outputs);
  detail::check_rows("reconstruction images", outputs.rows(), inputs.rows());
  Matrix<Scalar> tiles(inputs.rows(), 2 * inputs.cols());
  for (Index j = 0; j < inputs.cols(); ++j) {
    tiles.col(2 * j) = inputs.col(j);
    tiles.col(2 * j + 1) = outputs.col(j);
  }
  write_image_grid(path, tiles, image_rows, image_cols, 2 * pairs_per_row);
}

/// One row per pair (from.col(r) -> to.col(r)): the inputs at both ends and
/// `steps` images decoded along the straight line between their means
/// (decode_prior: for M2 the images of a row are not in one class; its
/// write_class_samples shows a style across classes instead).
template <typename Model>
void write_interpolations(const std::string& path, const Model& model, Index task,
                          const ConstMatrixRef<typename Model::Scalar>& from,
                          const ConstMatrixRef<typename Model::Scalar>& to, Index image_rows,
                          Index image_cols, Index steps = 10) {
  using Scalar = typename Model::Scalar;
  if (steps < 2)
    throw ArgumentError("interpolation steps: expected at least 2, got " + std::to_string(steps));
  detail::check_shape("interpolation end images", to.rows(), to.cols(), from.rows(), from.cols());
  Matrix<Scalar> mu_from, mu_to, logvar;
  model.encode(from, mu_from, logvar);
  model.encode(to, mu_to, logvar);
  const Index rows = from.cols();
  const Index per_row = steps + 2;
  Matrix<Scalar> z(model.latent(), rows * steps);
  for (Index r = 0; r < rows; ++r)
    for (Index s = 0; s < steps; ++s) {
      const Scalar t = static_cast<Scalar>(s) / static_cast<Scalar>(steps - 1);
      z.col(r * steps + s) = (Scalar(1) - t) * mu_from.col(r) + t * mu_to.col(r);
    }
  Matrix<Scalar> decoded;
  decode_prior(model, task, z, decoded);
  Matrix<Scalar> tiles(from.rows(), rows * per_row);
  for (Index r = 0; r < rows; ++r) {
    tiles.col(r * per_row) = from.col(r);
    tiles.middleCols(r * per_row + 1, steps) = decoded.middleCols(r * steps, steps);
    tiles.col(r * per_row + steps + 1) = to.col(r);
  }
  write_image_grid(path, tiles, image_rows, image_cols, per_row);
}

/// A model whose decoder reads the class (M2's decode(z, labels, pixels)):
/// `styles` codes z ~ N(0, I) drawn from rng, one per grid column, each
/// decoded in every class, one class per grid row.
template <typename Model>
void write_class_samples(const std::string& path, const Model& model, Index styles,
                         Index image_rows, Index image_cols, Rng& rng) {
  using Scalar = typename Model::Scalar;
  detail::check_positive("class samples styles", styles);
  const Index classes = model.classes();
  Matrix<Scalar> style(model.latent(), styles);
  rng.fill_normal(style);
  Matrix<Scalar> z(model.latent(), styles * classes);
  RowVector<Scalar> labels(styles * classes);
  for (Index k = 0; k < classes; ++k)
    for (Index s = 0; s < styles; ++s) {
      z.col(k * styles + s) = style.col(s);
      labels(k * styles + s) = static_cast<Scalar>(k);
    }
  Matrix<Scalar> pixels;
  model.decode(z, labels, pixels);
  write_image_grid(path, pixels, image_rows, image_cols, styles);
}

}  // namespace scvae
