// A train step allocates nothing once its workspaces exist (issue 7): after a
// warm-up step per batch size, loss_and_gradient + Adam steps make no heap
// allocation, on 1 and 2 threads, for the VAE, the SC-VAE and M2.
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
#include <tuple>
#include <vector>

#include "scvae/data/image_augmentation.hpp"
#include "scvae/scvae.hpp"

namespace scvae {
namespace {

struct Allocations {
  long operator_new = 0;
  long eigen = 0;
};

/// Runs `body` with both counters on and returns what they saw.
Allocations count_allocations(const std::function<void()>& body) {
  const long eigen_before = scvae::testing::eigen_assert_failures();
  g_new_calls.store(0);
  Eigen::internal::set_is_malloc_allowed(false);
  g_counting.store(true);
  body();
  g_counting.store(false);
  Eigen::internal::set_is_malloc_allowed(true);
  return {g_new_calls.load(), scvae::testing::eigen_assert_failures() - eigen_before};
}

// GEMM packing buffers are per thread (kernels/gemm.hpp) and grow to the
// largest product a thread has met; which thread runs which gradient part
// varies, so each thread's buffer, the caller's included, is grown here
// beyond any of them.
template <typename Model>
void grow_gemm_scratch(Model& model, int threads) {
  auto grow = [](int) { detail::gemm_scratch<float>(Index(1) << 20); };
  if (model.thread_pool() != nullptr) model.thread_pool()->run(threads, grow);
  grow(0);
}

Matrix<float> grey_images(Index features, Index n, std::uint64_t seed) {
  Rng rng(seed);
  Matrix<float> x(features, n);
  for (Index j = 0; j < n; ++j)
    for (Index i = 0; i < features; ++i) x(i, j) = static_cast<float>(rng.uniform());
  return x;
}

// The counters themselves work: a Matrix and a std::vector are both seen.
TEST(NoAllocation, CountersSeeEigenAndOperatorNew) {
  const Allocations eigen = count_allocations([] {
    Matrix<float> m(50, 50);
    m.setZero();
  });
  EXPECT_GE(eigen.eigen, 1);
  const Allocations vec = count_allocations([] {
    std::vector<int> v(100, 1);
    EXPECT_EQ(v[99], 1);
  });
  EXPECT_GE(vec.operator_new, 1);
}

// Every step in fp32 and in bf16 (whose packed operands live in the dense
// layers' workspaces); the bf16 products run in scalar code where the CPU
// lacks AVX512_BF16, with the same buffers.
class TrainStep : public ::testing::TestWithParam<std::tuple<int, Precision>> {};

// The MNIST VAE's shapes (784-400-20-400-784): the GEMMs are large enough
// that Eigen would heap-allocate its packing buffers if it were let.
TEST_P(TrainStep, VaeStepsAllocateNothingAfterWarmUp) {
  const int threads = std::get<0>(GetParam());
  VAE vae(784, {400}, 20, 1, LikelihoodSpec::bernoulli(), Activation::ReLU,
          Initialization::PyTorch);
  vae.set_threads(threads);
  vae.set_precision(std::get<1>(GetParam()));
  Adam adam;
  const Matrix<float> x = grey_images(784, 128, 3);
  const Matrix<float> last = grey_images(784, 96, 4);  // a trainer's partial last batch
  const std::vector<TaskBatch<float>> targets{TaskBatch<float>(x)};
  const std::vector<TaskBatch<float>> last_targets{TaskBatch<float>(last)};
  Rng rng(9);
  // Warm-up: one step per batch size sizes every workspace and Adam's moments.
  vae.loss_and_gradient(x, targets, rng, 1.0);
  adam.step(vae.parameters(), vae.gradients());
  vae.loss_and_gradient(last, last_targets, rng, 1.0);
  adam.step(vae.parameters(), vae.gradients());
  vae.loss_and_gradient(x, rng, 1.0);  // the VAE's own overload keeps a target list
  adam.step(vae.parameters(), vae.gradients());

  double loss = 0.0;
  const Allocations seen = count_allocations([&] {
    for (int step = 0; step < 3; ++step) {
      loss += vae.loss_and_gradient(x, targets, rng, 0.5 + 0.1 * step).total;
      adam.step(vae.parameters(), vae.gradients());
    }
    loss += vae.loss_and_gradient(last, last_targets, rng, 1.0).total;
    adam.step(vae.parameters(), vae.gradients());
    // The VAE's own overload builds its one-task target list without allocating.
    loss += vae.loss_and_gradient(x, rng, 1.0).total;
    adam.step(vae.parameters(), vae.gradients());
  });
  EXPECT_TRUE(std::isfinite(loss));
  EXPECT_EQ(seen.operator_new, 0) << threads << " thread(s)";
  EXPECT_EQ(seen.eigen, 0) << threads << " thread(s)";
}

// The conv VAE of mnist_vae --arch conv: its 64-channel convolutions run a
// 32-sample chunk in blocks of about 10 samples, and the last batch is partial.
TEST_P(TrainStep, ConvVaeStepsAllocateNothingAfterWarmUp) {
  const int threads = std::get<0>(GetParam());
  ModelSpec spec = VAE::make_spec(784, {}, 8);
  spec.input_shape = Shape(1, 28, 28);
  spec.encoder_network =
      "[conv2d(32,4,2,1) relu conv2d(64,4,2,1) relu flatten dense(64) relu gaussian(8)]";
  spec.tasks[0].network =
      "[dense(64) relu dense(3136) relu reshape(64x7x7) conv_transpose2d(32,4,2,1) relu "
      "conv_transpose2d(1,4,2,1)]";
  VAE vae(spec, 3);
  vae.set_threads(threads);
  vae.set_precision(std::get<1>(GetParam()));
  Adam adam;
  const Matrix<float> x = grey_images(784, 64, 7);
  const Matrix<float> last = grey_images(784, 22, 8);
  const std::vector<TaskBatch<float>> targets{TaskBatch<float>(x)};
  const std::vector<TaskBatch<float>> last_targets{TaskBatch<float>(last)};
  Rng rng(12);
  vae.loss_and_gradient(x, targets, rng, 1.0);
  adam.step(vae.parameters(), vae.gradients());
  vae.loss_and_gradient(last, last_targets, rng, 1.0);
  adam.step(vae.parameters(), vae.gradients());

  double loss = 0.0;
  const Allocations seen = count_allocations([&] {
    loss += vae.loss_and_gradient(x, targets, rng, 1.0).total;
    adam.step(vae.parameters(), vae.gradients());
    loss += vae.loss_and_gradient(last, last_targets, rng, 1.0).total;
    adam.step(vae.parameters(), vae.gradients());
  });
  EXPECT_TRUE(std::isfinite(loss));
  EXPECT_EQ(seen.operator_new, 0) << threads << " thread(s)";
  EXPECT_EQ(seen.eigen, 0) << threads << " thread(s)";
}

/// 8x8 images and a label task of 5 classes on z.
ModelSpec image_and_label_spec() {
  ModelSpec spec = VAE::make_spec(64, {48}, 6);
  spec.tasks[0].name = "image";
  TaskSpec label;
  label.name = "label";
  label.outputs = 5;
  label.hidden = {32};
  label.likelihood = LikelihoodSpec::categorical(5);
  spec.tasks.push_back(label);
  return spec;
}

// The SC-VAE with an image task, a masked label task and a Gaussian task with
// a learned variance read from mu: every likelihood and both decoder inputs;
// then with the label read by centres that are the prior's (a class prior).
TEST_P(TrainStep, ScvaeStepsAllocateNothingAfterWarmUp) {
  for (const bool class_prior : {false, true}) {
    SCOPED_TRACE(class_prior ? "class prior" : "N(0, I)");
    const int threads = std::get<0>(GetParam());
    ModelSpec spec = image_and_label_spec();
    TaskSpec gauss;
    gauss.name = "measure";
    gauss.outputs = 3;
    gauss.hidden = {8};
    gauss.likelihood = LikelihoodSpec::gaussian_learned_variance();
    gauss.input = DecoderInput::Mean;
    spec.tasks.push_back(gauss);
    if (class_prior) {
      spec.tasks[1].hidden.clear();
      spec.tasks[1].network = "[centres(5)]";
      spec.tasks[1].input = DecoderInput::Mean;
      spec.class_prior = "label";
    }
    SCVAE model(spec, 2);
    model.set_threads(threads);
    model.set_precision(std::get<1>(GetParam()));
    Adam adam;
    const Index n = 80;
    const Matrix<float> x = grey_images(64, n, 5);
    RowVector<float> labels(n), mask(n);
    for (Index j = 0; j < n; ++j) {
      labels(j) = static_cast<float>(j % 5);
      mask(j) = j % 3 == 0 ? 1.0f : 0.0f;
    }
    const Matrix<float> measure = grey_images(3, n, 6);
    const std::vector<TaskBatch<float>> targets{TaskBatch<float>(x), TaskBatch<float>(labels, mask),
                                                TaskBatch<float>(measure)};
    Rng rng(11);
    model.loss_and_gradient(x, targets, rng, 1.0);
    adam.step(model.parameters(), model.gradients());

    double loss = 0.0;
    const Allocations seen = count_allocations([&] {
      for (int step = 0; step < 3; ++step) {
        loss += model.loss_and_gradient(x, targets, rng, 1.0).total;
        adam.step(model.parameters(), model.gradients());
      }
    });
    EXPECT_TRUE(std::isfinite(loss));
    EXPECT_EQ(seen.operator_new, 0) << threads << " thread(s)";
    EXPECT_EQ(seen.eigen, 0) << threads << " thread(s)";
  }
}

// Virtual adversarial training on an SC-VAE's label head: its prediction
// runs in blocks on the model's threads and its gradient passes on a
// workspace of their own, so a step of it allocates nothing after the first.
TEST_P(TrainStep, AdversarialStepsOnTheLabelHeadAllocateNothingAfterWarmUp) {
  const int threads = std::get<0>(GetParam());
  SCVAE model(image_and_label_spec(), 2);
  model.set_threads(threads);
  model.set_precision(std::get<1>(GetParam()));
  LabelHeadClassifier<SCVAE> classifier(model, 1);
  VirtualAdversarialOptions options;
  options.epsilon = 0.5;
  VirtualAdversarialTraining<LabelHeadClassifier<SCVAE>> vat(classifier, options);
  const Matrix<float> x = grey_images(64, 150, 5);  // three blocks, the last partial
  Rng rng(3);
  Matrix<float> adversarial, targets;
  vat.adversarial_inputs(x, rng, adversarial, targets);
  classifier.add_classifier_loss_and_gradient(adversarial, targets, 1.0);
  double loss = 0.0;
  const Allocations seen = count_allocations([&] {
    for (int step = 0; step < 3; ++step) {
      vat.adversarial_inputs(x, rng, adversarial, targets);
      loss += classifier.add_classifier_loss_and_gradient(adversarial, targets, 1.0);
    }
  });
  EXPECT_TRUE(std::isfinite(loss));
  EXPECT_EQ(seen.operator_new, 0) << threads << " thread(s)";
  EXPECT_EQ(seen.eigen, 0) << threads << " thread(s)";
}

// M2 through the model contract's loss_and_gradient (image and masked label
// tasks), with q(z|x,y) and without, with MLP and conv networks. M2 decodes an
// unlabelled sample once per class, and its executor balances chunks by that
// cost, so every chunk's sample and decoder column counts follow how many
// samples are labelled and where. After one warm-up step with the largest shape, steps with more,
// fewer, no and only labelled samples, at other places, allocate nothing.
TEST_P(TrainStep, M2StepsAllocateNothingWhenTheLabelledCountChanges) {
  const int threads = std::get<0>(GetParam());
  for (int variant = 0; variant < 4; ++variant) {
    const bool reads_label = variant % 2 == 0, conv = variant >= 2;
    LabelConditionedSpec spec;
    spec.inputs = 64;
    spec.encoder_hidden = {48};
    spec.latent = 6;
    spec.classes = 5;
    spec.classifier_hidden = {16};
    spec.decoder_hidden = {40};
    spec.latent_reads_label = reads_label;
    if (conv) {  // the trunk and decoder of --arch conv, on 8x8 images
      spec.encoder_hidden.clear();
      spec.decoder_hidden.clear();
      spec.input_shape = Shape(1, 8, 8);
      spec.trunk_network = "[conv2d(4,4,2,1) relu conv2d(8,4,2,1) relu flatten dense(48) relu]";
      spec.decoder_network =
          "[dense(40) relu dense(32) relu reshape(8x2x2) conv_transpose2d(4,4,2,1) relu "
          "conv_transpose2d(1,4,2,1)]";
    }
    LabelConditionedVAE model(spec, 3);
    model.set_threads(threads);
    model.set_precision(std::get<1>(GetParam()));
    Adam adam;
    const Index n = 80;
    const Matrix<float> x = grey_images(64, n, 7);
    RowVector<float> labels(n);
    for (Index j = 0; j < n; ++j) labels(j) = static_cast<float>(j % 5);
    // Masks by labelled count: a quarter, three quarters, none, all, then
    // drawn at random, so that no two steps in a row share a shape.
    Rng draw(21);
    std::vector<RowVector<float>> masks;
    RowVector<float> quarter(n), three_quarters(n);
    for (Index j = 0; j < n; ++j) {
      quarter(j) = j % 4 == 0 ? 1.0f : 0.0f;
      three_quarters(j) = 1.0f - quarter(j);
    }
    masks.push_back(quarter);
    masks.push_back(three_quarters);
    masks.push_back(RowVector<float>::Zero(n));
    masks.push_back(RowVector<float>::Ones(n));
    for (double share : {0.1, 0.6, 0.3}) {
      RowVector<float> mask(n);
      for (Index j = 0; j < n; ++j) mask(j) = draw.uniform() < share ? 1.0f : 0.0f;
      masks.push_back(mask);
    }
    std::vector<std::vector<TaskBatch<float>>> batches;
    for (const RowVector<float>& mask : masks)
      batches.push_back({TaskBatch<float>(x), TaskBatch<float>(labels, mask)});

    // The largest shape: a batch of 2n unlabelled samples gives every chunk
    // at least as many samples, and as many decoder columns, as any chunk of
    // an n-sample batch.
    const Matrix<float> wide = grey_images(64, 2 * n, 8);
    const RowVector<float> wide_labels = RowVector<float>::Zero(2 * n);
    const RowVector<float> none_labelled = RowVector<float>::Zero(2 * n);
    Rng rng(13);
    grow_gemm_scratch(model, threads);
    model.loss_and_gradient(
        wide, {TaskBatch<float>(wide), TaskBatch<float>(wide_labels, none_labelled)}, rng, 1.0);
    adam.step(model.parameters(), model.gradients(), model.thread_pool());

    double loss = 0.0;
    const Allocations seen = count_allocations([&] {
      for (const auto& batch : batches) {
        loss += model.loss_and_gradient(x, batch, rng, 1.0).total;
        adam.step(model.parameters(), model.gradients(), model.thread_pool());
      }
    });
    EXPECT_TRUE(std::isfinite(loss));
    EXPECT_EQ(seen.operator_new, 0)
        << threads << " thread(s), conv " << conv << ", latent_reads_label " << reads_label;
    EXPECT_EQ(seen.eigen, 0) << threads << " thread(s), conv " << conv << ", latent_reads_label "
                             << reads_label;
  }
}

// A trainer's first partial batch comes after full ones only: the VAE's
// buffers, sized by the full batch, serve it and the full batch after it
// without allocating (no warm-up step at the partial size).
TEST_P(TrainStep, VaePartialBatchAfterFullBatchesAllocatesNothing) {
  const int threads = std::get<0>(GetParam());
  VAE vae(784, {400}, 20, 1, LikelihoodSpec::bernoulli(), Activation::ReLU,
          Initialization::PyTorch);
  vae.set_threads(threads);
  vae.set_precision(std::get<1>(GetParam()));
  Adam adam;
  const Matrix<float> x = grey_images(784, 128, 3);
  const std::vector<TaskBatch<float>> targets{TaskBatch<float>(x)};
  Rng rng(9);
  grow_gemm_scratch(vae, threads);
  vae.loss_and_gradient(x, targets, rng, 1.0);
  adam.step(vae.parameters(), vae.gradients());

  std::vector<Matrix<float>> partial;
  std::vector<std::vector<TaskBatch<float>>> partial_targets;
  for (Index columns : {96, 57, 20}) partial.push_back(grey_images(784, columns, 4));
  for (const Matrix<float>& p : partial) partial_targets.push_back({TaskBatch<float>(p)});
  double loss = 0.0;
  const Allocations seen = count_allocations([&] {
    for (std::size_t b = 0; b < partial.size(); ++b) {
      loss += vae.loss_and_gradient(partial[b], partial_targets[b], rng, 1.0).total;
      adam.step(vae.parameters(), vae.gradients());
      loss += vae.loss_and_gradient(x, targets, rng, 1.0).total;
      adam.step(vae.parameters(), vae.gradients());
    }
  });
  EXPECT_TRUE(std::isfinite(loss));
  EXPECT_EQ(seen.operator_new, 0) << threads << " thread(s)";
  EXPECT_EQ(seen.eigen, 0) << threads << " thread(s)";
}

// Moving the images of a filled batch works in place, and erasing copies
// into a target of the batch's size: after the first batch of a size,
// augmented batches allocate nothing either.
class AugmentedBatches : public ::testing::TestWithParam<Index> {};

TEST_P(AugmentedBatches, AllocateNothingAfterTheFirst) {
  std::vector<std::uint8_t> pixels(28 * 28 * 300), labels(300), labelled(300, 0);
  Rng rng(2);
  for (auto& p : pixels) p = static_cast<std::uint8_t>(rng.uniform_index(256));
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::uint8_t>(i % 10);
  for (std::size_t i = 0; i < labelled.size(); i += 7) labelled[i] = 1;
  const Dataset data(28, 28, pixels, labels, 10, "grey");
  const PartlyLabelledSource<float> inner(data, labelled);
  ImageAugmentation a;
  a.max_shift = 3;
  a.horizontal_flip = true;
  a.erase_size = GetParam();
  const AugmentedImageSource<float> source(inner, Shape(1, 28, 28), a, 5);
  const std::vector<Index> order = rng.permutation(300);
  Batch<float> batch;
  source.fill(order, 0, 100, batch);
  float sum = 0;
  const Allocations seen = count_allocations([&] {
    for (Index begin = 100; begin < 300; begin += 100) {
      source.fill(order, begin, begin + 100, batch);
      sum += batch.x.sum();
    }
  });
  EXPECT_GT(sum, 0.0f);
  EXPECT_EQ(seen.operator_new, 0);
  EXPECT_EQ(seen.eigen, 0);
}

INSTANTIATE_TEST_SUITE_P(EraseSize, AugmentedBatches, ::testing::Values(Index{0}, Index{12}));

INSTANTIATE_TEST_SUITE_P(
    Threads, TrainStep,
    ::testing::Combine(::testing::Values(1, 2),
                       ::testing::Values(Precision::Fp32, Precision::Bf16)),
    [](const ::testing::TestParamInfo<std::tuple<int, Precision>>& info) {
      return std::to_string(std::get<0>(info.param)) + "Threads" +
             (std::get<1>(info.param) == Precision::Bf16 ? "Bf16" : "");
    });

}  // namespace
}  // namespace scvae
