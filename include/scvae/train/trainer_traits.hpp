#pragma once
// What the Trainer uses of a model or optimizer when it offers it (ours do;
// a user's own types need not): detected at compile time.

#include <type_traits>
#include <utility>

#include "scvae/core/error.hpp"
#include "scvae/core/precision.hpp"
#include "scvae/core/thread_pool.hpp"
#include "scvae/core/types.hpp"

namespace scvae {

namespace detail {
// What the Trainer can use when a model or optimizer offers it (ours do; a
// user's own types need not).
template <typename Model, typename = void>
struct has_thread_pool : std::false_type {};
template <typename Model>
struct has_thread_pool<Model, std::void_t<decltype(std::declval<Model&>().thread_pool())>>
    : std::true_type {};

/// The model's thread pool, or nullptr for a model without one.
template <typename Model>
ThreadPool* model_thread_pool([[maybe_unused]] Model& model) {
  if constexpr (has_thread_pool<Model>::value)
    return model.thread_pool();
  else
    return nullptr;
}

template <typename Model, typename = void>
struct has_set_precision : std::false_type {};
template <typename Model>
struct has_set_precision<
    Model, std::void_t<decltype(std::declval<Model&>().set_precision(Precision::Bf16))>>
    : std::true_type {};

/// Sets the model's precision; a model without set_precision() trains in
/// fp32 only.
template <typename Model>
void set_model_precision(Model& model, Precision precision) {
  if constexpr (has_set_precision<Model>::value)
    model.set_precision(precision);
  else if (precision != Precision::Fp32)
    throw ArgumentError("precision: this model has no set_precision(); it trains in fp32 only");
}

template <typename Model, typename = void>
struct has_gradients_finite : std::false_type {};
template <typename Model>
struct has_gradients_finite<
    Model, std::void_t<decltype(bool(std::declval<const Model&>().gradients_finite()))>>
    : std::true_type {};

template <typename Optimizer, typename = void>
struct reports_parameters_finite : std::false_type {};
template <typename Optimizer>
struct reports_parameters_finite<
    Optimizer, std::void_t<decltype(bool(std::declval<const Optimizer&>().parameters_finite()))>>
    : std::true_type {};

template <typename Optimizer, typename Scalar, typename = void>
struct steps_on_pool : std::false_type {};
template <typename Optimizer, typename Scalar>
struct steps_on_pool<Optimizer, Scalar,
                     std::void_t<decltype(std::declval<Optimizer&>().step(
                         std::declval<Vector<Scalar>&>(), std::declval<const Vector<Scalar>&>(),
                         std::declval<ThreadPool*>()))>> : std::true_type {};
}  // namespace detail

}  // namespace scvae
