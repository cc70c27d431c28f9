#pragma once
// The model contract: what the Trainer (train/trainer.hpp), the evaluators
// (eval/), the pictures (io/pictures.hpp) and checkpoints call on a model.
// SCVAET, VAET and LabelConditionedVAET (M2) meet it.
//
// Every model has:
//   Scalar; task_count(), task(t) (a TaskSpec: name, likelihood), latent(),
//   architecture(), parameters(), gradients(), set_threads(int);
//   loss_and_gradient(x, targets, rng, beta) and loss(x, targets, eps, beta)
//   returning LossParts (targets: one TaskBatch per task); encode(x, mu, logvar).
//
// The entries below are optional; a model that decodes every task from z
// (the SC-VAE, the VAE) needs none of them, because the defaults use its
// encode() and predict(t, z, output). A model whose decoder reads more than
// z (M2's reads the class) provides its own:
//   predict_classes(t, x, probabilities)   evaluate_accuracy's prediction
//   reconstruct(t, x, output)              write_reconstructions' images
//   decode_prior(t, z, output)             write_prior_samples' images
//   importance_log_weights(x, label, eps, log_w)
//                                          evaluate_iwae's log w of one draw

#include <type_traits>
#include <utility>

#include "scvae/core/types.hpp"
#include "scvae/model/task_batch.hpp"

namespace scvae {

namespace detail {
template <typename Model, typename = void>
struct has_predict_classes : std::false_type {};
template <typename Model>
struct has_predict_classes<
    Model, std::void_t<decltype(std::declval<const Model&>().predict_classes(
               Index{}, std::declval<const Matrix<typename Model::Scalar>&>(),
               std::declval<Matrix<typename Model::Scalar>&>()))>> : std::true_type {};

template <typename Model, typename = void>
struct has_reconstruct : std::false_type {};
template <typename Model>
struct has_reconstruct<Model, std::void_t<decltype(std::declval<const Model&>().reconstruct(
                                  Index{}, std::declval<const Matrix<typename Model::Scalar>&>(),
                                  std::declval<Matrix<typename Model::Scalar>&>()))>>
    : std::true_type {};

template <typename Model, typename = void>
struct has_decode_prior : std::false_type {};
template <typename Model>
struct has_decode_prior<Model, std::void_t<decltype(std::declval<const Model&>().decode_prior(
                                   Index{}, std::declval<const Matrix<typename Model::Scalar>&>(),
                                   std::declval<Matrix<typename Model::Scalar>&>()))>>
    : std::true_type {};

template <typename Model, typename = void>
struct has_importance_log_weights : std::false_type {};
template <typename Model>
struct has_importance_log_weights<
    Model, std::void_t<decltype(std::declval<const Model&>().importance_log_weights(
               std::declval<const Matrix<typename Model::Scalar>&>(),
               std::declval<const TaskBatch<typename Model::Scalar>*>(),
               std::declval<const Matrix<typename Model::Scalar>&>(),
               std::declval<RowVector<double>&>()))>> : std::true_type {};

/// Whether a model's prior may be a mixture over classes (the SC-VAE's
/// ModelSpec::class_prior), and whether this one's is: its log_prior() and
/// sample_prior() then replace N(0, I).
template <typename Model, typename = void>
struct has_class_prior_member : std::false_type {};
template <typename Model>
struct has_class_prior_member<Model,
                              std::void_t<decltype(std::declval<const Model&>().has_class_prior())>>
    : std::true_type {};
template <typename Model>
bool model_has_class_prior(const Model& model) {
  if constexpr (has_class_prior_member<Model>::value)
    return model.has_class_prior();
  else
    return false;
}

/// predict(t, mu) at the mean of q(z|x): the default of predict_classes and
/// reconstruct for a model without its own.
template <typename Model>
void predict_at_mean(const Model& model, Index t, const ConstMatrixRef<typename Model::Scalar>& x,
                     Matrix<typename Model::Scalar>& output) {
  Matrix<typename Model::Scalar> mu, logvar;
  model.encode(x, mu, logvar);
  model.predict(t, mu, output);
}
}  // namespace detail

/// Class probabilities (classes x n) of categorical task t for the inputs x:
/// the model's predict_classes, or predict(t, mu) at the mean of q(z|x).
template <typename Model>
void predict_classes(const Model& model, Index t, const ConstMatrixRef<typename Model::Scalar>& x,
                     Matrix<typename Model::Scalar>& probabilities) {
  if constexpr (detail::has_predict_classes<Model>::value) {
    model.predict_classes(t, x, probabilities);
  } else {
    detail::predict_at_mean(model, t, x, probabilities);
  }
}

/// Task t's expected target for the inputs x (e.g. reconstructed pixel
/// probabilities): the model's reconstruct, or predict(t, mu).
template <typename Model>
void reconstruct(const Model& model, Index t, const ConstMatrixRef<typename Model::Scalar>& x,
                 Matrix<typename Model::Scalar>& output) {
  if constexpr (detail::has_reconstruct<Model>::value) {
    model.reconstruct(t, x, output);
  } else {
    detail::predict_at_mean(model, t, x, output);
  }
}

/// Task t's expected target decoded from latent codes z (latent x n): the
/// model's decode_prior, or predict(t, z).
template <typename Model>
void decode_prior(const Model& model, Index t, const ConstMatrixRef<typename Model::Scalar>& z,
                  Matrix<typename Model::Scalar>& output) {
  if constexpr (detail::has_decode_prior<Model>::value)
    model.decode_prior(t, z, output);
  else
    model.predict(t, z, output);
}

}  // namespace scvae
