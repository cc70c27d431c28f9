#pragma once
// curves.png and latent.png for the examples: the library's CurvesWriter
// (train/curves_writer.hpp) and write_model_latent_map
// (io/model_latent_map.hpp), wired to an example's --out directory.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "scvae/data/dataset.hpp"
#include "scvae/io/model_latent_map.hpp"
#include "scvae/train/curves_writer.hpp"

namespace examples {

/// Redraws OUT/curves.png after every epoch. Add it after the evaluation
/// and the metrics writer: a run resumed after epoch `first_epoch` draws
/// the epochs before it from OUT/metrics.jsonl.
template <typename Trainer>
void add_curves(Trainer& trainer, const std::string& out, scvae::Index first_epoch) {
  scvae::CurvesOptions options;
  if (first_epoch > 0) options.earlier_metrics = (std::filesystem::path(out) / "metrics.jsonl").string();
  trainer.add_callback(std::make_unique<scvae::CurvesWriter>(
      (std::filesystem::path(out) / "curves.png").string(), options));
}

/// "0", "1", ... for a data set's classes.
inline std::vector<std::string> class_numbers(const scvae::Dataset& data) {
  std::vector<std::string> names;
  for (int c = 0; c < data.num_classes(); ++c) names.push_back(std::to_string(c));
  return names;
}

/// OUT/latent.png: the latent means of `source`'s samples (the test set),
/// coloured by the model's first categorical task.
template <typename Model>
void write_latent_png(const Model& model, const scvae::BatchSource<typename Model::Scalar>& source,
                      scvae::Index batch, const std::string& out,
                      std::vector<std::string> class_names = {}) {
  scvae::write_model_latent_map((std::filesystem::path(out) / "latent.png").string(), model, source,
                                batch, std::move(class_names));
}

/// The same for a model without a label task (the VAE), coloured by the
/// labels of `test` when it has them: the classes the model never saw.
template <typename Model>
void write_latent_png(const Model& model, const scvae::BatchSource<typename Model::Scalar>& source,
                      scvae::Index batch, const std::string& out, const scvae::Dataset& test) {
  std::vector<scvae::Index> classes;
  if (test.has_labels())
    for (const std::uint8_t label : test.labels()) classes.push_back(label);
  scvae::write_model_latent_map((std::filesystem::path(out) / "latent.png").string(), model, source,
                                batch, classes, class_numbers(test));
}

}  // namespace examples
