#pragma once
// Every rank starts from rank 0's state: its parameters, its optimizer's
// moments and step count, and the epoch it resumes at. Called at start (the
// ranks' own initialisations may differ, e.g. a seed passed differently) and
// after a resume (rank 0's checkpoint is the one that counts).

#include <string>

#include "scvae/core/types.hpp"
#include "scvae/exec/rank_group.hpp"
#include "scvae/optim/adam.hpp"
#include "scvae/optim/sgd.hpp"

namespace scvae {

namespace detail {
template <typename Scalar>
void broadcast_vector(RankGroup& group, Vector<Scalar>& values) {
  double size = static_cast<double>(values.size());
  group.broadcast_from_first(&size, 1);
  values.resize(static_cast<Index>(size));
  group.broadcast_from_first(values.data(), static_cast<std::size_t>(values.size()));
}

inline long broadcast_count(RankGroup& group, long count) {
  double value = static_cast<double>(count);
  group.broadcast_from_first(&value, 1);
  return static_cast<long>(value);
}
}  // namespace detail

template <typename Scalar>
void broadcast_optimizer_state(RankGroup& group, AdamT<Scalar>& adam) {
  Vector<Scalar> first = adam.first_moment(), second = adam.second_moment();
  const long step = detail::broadcast_count(group, adam.step_count());
  detail::broadcast_vector(group, first);
  detail::broadcast_vector(group, second);
  adam.restore_state(std::move(first), std::move(second), step);
}

template <typename Scalar>
void broadcast_optimizer_state(RankGroup& group, SgdT<Scalar>& sgd) {
  Vector<Scalar> buffer = sgd.momentum_buffer();
  const long step = detail::broadcast_count(group, sgd.step_count());
  detail::broadcast_vector(group, buffer);
  sgd.restore_state(std::move(buffer), step);
}

/// Gives every rank rank 0's parameters, optimizer state and `first_epoch`.
/// The models must already have the same architecture
/// (check_same_training_setup).
template <typename Model, typename Optimizer>
void broadcast_training_state(RankGroup& group, Model& model, Optimizer& optimizer,
                              Index& first_epoch) {
  auto& parameters = model.parameters();
  group.broadcast_from_first(parameters.data(), static_cast<std::size_t>(parameters.size()));
  broadcast_optimizer_state(group, optimizer);
  first_epoch = static_cast<Index>(detail::broadcast_count(group, static_cast<long>(first_epoch)));
}

}  // namespace scvae
