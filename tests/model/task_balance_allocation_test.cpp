// A balanced SC-VAE's train step allocates nothing once its workspaces
// exist, like the unbalanced one (tests/perf/no_allocation_test.cpp, whose
// two counters this file repeats: a replaced operator new and Eigen's
// EIGEN_RUNTIME_NO_MALLOC).
//
// Two counters, because Eigen does not allocate through operator new:
//  - a replaced global operator new (every variant) counts C++ allocations:
//    std::vector, std::string, std::function, make_unique, exceptions;
//  - EIGEN_RUNTIME_NO_MALLOC makes Eigen call eigen_assert before each of its
//    own heap allocations (matrices, GEMM blocking buffers). eigen_assert_counter.hpp
//    counts those failures in every build type.

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

#include "../eigen_assert_counter.hpp"

namespace {
std::atomic<long> g_new_calls{0};
std::atomic<bool> g_counting{false};
void* counted_allocation(std::size_t size, std::size_t alignment = 0) {
  if (g_counting.load(std::memory_order_relaxed))
    g_new_calls.fetch_add(1, std::memory_order_relaxed);
  if (size == 0) size = 1;
  void* p = nullptr;
  if (alignment > alignof(std::max_align_t)) {
    const std::size_t rounded = (size + alignment - 1) / alignment * alignment;
    p = std::aligned_alloc(alignment, rounded);
  } else {
    p = std::malloc(size);
  }
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
}  // namespace

// GCC 12 sees malloc in the inlined operator new and free in operator delete
// and wrongly calls the pair mismatched; they are this file's own matched pair.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t size) { return counted_allocation(size); }
void* operator new[](std::size_t size) { return counted_allocation(size); }
void* operator new(std::size_t size, std::align_val_t a) {
  return counted_allocation(size, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t size, std::align_val_t a) {
  return counted_allocation(size, static_cast<std::size_t>(a));
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return counted_allocation(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return counted_allocation(size);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <tuple>
#include <vector>

#include "scvae/model/scvae.hpp"
#include "scvae/optim/adam.hpp"
#include "../test_support.hpp"

namespace scvae {
namespace {

long count_allocations(const std::function<void()>& body) {
  const long eigen_before = scvae::testing::eigen_assert_failures();
  g_new_calls.store(0);
  Eigen::internal::set_is_malloc_allowed(false);
  g_counting.store(true);
  body();
  g_counting.store(false);
  Eigen::internal::set_is_malloc_allowed(true);
  return g_new_calls.load() + (scvae::testing::eigen_assert_failures() - eigen_before);
}

TEST(TaskBalanceAllocation, CountersSeeAnAllocation) {
  EXPECT_GE(count_allocations([] { std::vector<int> v(100, 1); EXPECT_EQ(v[99], 1); }), 1);
}

// Each learned balance, with 1 and 2 threads.
class BalancedStep : public ::testing::TestWithParam<std::tuple<TaskBalance, int>> {};

TEST_P(BalancedStep, AllocatesNothingAfterTheFirstStep) {
  const TaskBalance balance = std::get<0>(GetParam());
  const int threads = std::get<1>(GetParam());
  ModelSpec spec;
  spec.inputs = 64;
  spec.encoder_hidden = {32};
  spec.latent = 4;
  spec.balance = balance;
  TaskSpec image;
  image.name = "image";
  image.outputs = 64;
  image.hidden = {32};
  TaskSpec label;
  label.name = "label";
  label.outputs = 5;
  label.likelihood = LikelihoodSpec::categorical(5);
  label.input = DecoderInput::Mean;
  spec.tasks = {image, label};
  SCVAE model(spec, 2);
  model.set_threads(threads);
  Adam adam;
  const Index n = 80;
  const Matrix<float> x = testing::random_uniform(64, n, 5).cast<float>();
  RowVector<float> labels(n), mask(n);
  for (Index j = 0; j < n; ++j) {
    labels(j) = static_cast<float>(j % 5);
    mask(j) = j % 3 == 0 ? 1.0f : 0.0f;
  }
  const std::vector<TaskBatch<float>> targets{TaskBatch<float>(x), TaskBatch<float>(labels, mask)};
  Rng rng(11);
  model.loss_and_gradient(x, targets, rng, 1.0);
  adam.step(model.parameters(), model.gradients());
  double loss = 0.0;
  const long seen = count_allocations([&] {
    for (int step = 0; step < 3; ++step) {
      loss += model.loss_and_gradient(x, targets, rng, 1.0).total;
      adam.step(model.parameters(), model.gradients());
    }
  });
  EXPECT_TRUE(std::isfinite(loss));
  EXPECT_EQ(seen, 0) << task_balance_name(balance) << ", " << threads << " thread(s)";
  EXPECT_NE(model.task_balance_weights()[1], 1.0);  // the s_t or a_t moved
}

INSTANTIATE_TEST_SUITE_P(Threads, BalancedStep,
                         ::testing::Combine(::testing::Values(TaskBalance::Uncertainty,
                                                              TaskBalance::GradNorm),
                                            ::testing::Values(1, 2)),
                         [](const ::testing::TestParamInfo<BalancedStep::ParamType>& info) {
                           return std::string(task_balance_name(std::get<0>(info.param))) +
                                  "_" + std::to_string(std::get<1>(info.param)) + "_threads";
                         });

}  // namespace
}  // namespace scvae
