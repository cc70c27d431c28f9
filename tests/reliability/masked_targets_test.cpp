// Issue 19, item 11: a masked target is never read (a NaN there, the natural
// mark of a missing value, changes neither the loss nor the gradient), the
// Bernoulli range check names the bad value instead of a min and max that
// skip it, and bad inputs and targets are named by their index in the data
// set rather than their column in a shuffled batch.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "../test_support.hpp"
#include "scvae/eval/loss.hpp"
#include "scvae/optim/adam.hpp"
#include "scvae/train/trainer.hpp"

namespace scvae {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

ModelSpec three_task_spec() {
  ModelSpec spec;
  spec.inputs = 6;
  spec.encoder_hidden = {8};
  spec.latent = 2;
  spec.tasks.push_back({"g", 3, {5}, LikelihoodSpec::gaussian(0.5)});
  spec.tasks.push_back({"v", 2, {}, LikelihoodSpec::gaussian_learned_variance()});
  spec.tasks.push_back({"b", 4, {5}, LikelihoodSpec::bernoulli()});
  spec.tasks.push_back({"c", 3, {}, LikelihoodSpec::categorical(3)});
  spec.tasks.push_back({"p", 3, {}, LikelihoodSpec::categorical(3)});  // soft labels
  return spec;
}

struct Targets {
  Matrix<float> g, v, b, c, p;
  RowVector<float> mask;
};

Targets make_targets(Index n, float masked_value) {
  Rng rng(4);
  Targets t;
  t.g = testing::random_matrix(3, n, rng.next_u64()).cast<float>();
  t.v = testing::random_matrix(2, n, rng.next_u64()).cast<float>();
  t.b = testing::random_uniform(4, n, rng.next_u64()).cast<float>();
  t.c = Matrix<float>(1, n);
  t.p = Matrix<float>::Constant(3, n, 1.0f / 3.0f);
  for (Index j = 0; j < n; ++j) t.c(0, j) = static_cast<float>(j % 3);
  t.mask = RowVector<float>::Ones(n);
  for (const Index j : {1, 4, 5}) {
    t.mask(j) = 0.0f;
    for (Matrix<float>* m : {&t.g, &t.v, &t.b, &t.c, &t.p}) m->col(j).setConstant(masked_value);
  }
  return t;
}

std::vector<TaskBatch<float>> views(const Targets& t) {
  return {TaskBatch<float>(t.g, t.mask), TaskBatch<float>(t.v, t.mask),
          TaskBatch<float>(t.b, t.mask), TaskBatch<float>(t.c, t.mask),
          TaskBatch<float>(t.p, t.mask)};
}

TEST(MaskedTargets, ANaNAtAMaskedPositionChangesNothing) {
  const Index n = 8;
  Rng rng(2);
  const Matrix<float> x = testing::random_uniform(6, n, rng.next_u64()).cast<float>();
  Matrix<float> eps(2, n);
  rng.fill_normal(eps);
  for (const int threads : {1, 2}) {
    SCVAET<float> model(three_task_spec(), 3);
    model.set_threads(threads);
    const Targets clean = make_targets(n, 0.0f);
    const LossParts expected = model.loss_and_gradient(x, views(clean), eps);
    const Vector<float> expected_gradient = model.gradients();
    ASSERT_TRUE(std::isfinite(expected.total));

    const Targets holes = make_targets(n, kNaN);
    LossParts parts;
    ASSERT_NO_THROW(parts = model.loss_and_gradient(x, views(holes), eps));
    EXPECT_EQ(parts.total, expected.total) << threads << " thread(s)";
    for (std::size_t t = 0; t < parts.task_nll.size(); ++t)
      EXPECT_EQ(parts.task_nll[t], expected.task_nll[t]) << "task " << t;
    EXPECT_TRUE(model.gradients().allFinite());
    EXPECT_TRUE(testing::bit_identical(model.gradients(), expected_gradient));

    // The loss alone (as the evaluators call it) too.
    const LossParts evaluated = model.loss(x, views(holes), eps);
    EXPECT_EQ(evaluated.total, model.loss(x, views(clean), eps).total);
  }
}

TEST(MaskedTargets, BernoulliNamesTheValueItRejects) {
  BernoulliT<float> bernoulli;
  Matrix<float> target = Matrix<float>::Constant(3, 4, 0.5f);
  target(2, 1) = kNaN;
  try {
    bernoulli.validate_target(target, std::nullopt, 3);
    FAIL() << "expected SampleError";
  } catch (const SampleError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("got nan at row 2, column 1"), std::string::npos) << message;
    EXPECT_EQ(message.find("min"), std::string::npos) << message;
    EXPECT_EQ(e.column(), 1);
  }
  target(2, 1) = 1.5f;
  try {
    bernoulli.validate_target(target, std::nullopt, 3);
    FAIL() << "expected SampleError";
  } catch (const SampleError& e) {
    EXPECT_NE(std::string(e.what()).find("got 1.5 at row 2, column 1"), std::string::npos)
        << e.what();
  }
  // Masked out, the same column is not inspected.
  RowVector<float> mask = RowVector<float>::Ones(4);
  mask(1) = 0.0f;
  EXPECT_NO_THROW(bernoulli.validate_target(target, ConstRowVectorRef<float>(mask), 3));
}

TEST(MaskedTargets, GaussianRejectsANonFiniteTargetThatIsRead) {
  GaussianT<float> gaussian;
  Matrix<float> target = Matrix<float>::Zero(2, 3);
  target(1, 2) = std::numeric_limits<float>::infinity();
  try {
    gaussian.validate_target(target, std::nullopt, 2);
    FAIL() << "expected SampleError";
  } catch (const SampleError& e) {
    EXPECT_NE(std::string(e.what()).find("got inf at row 1, column 2"), std::string::npos)
        << e.what();
  }
}

/// A user's own in-memory data: x (6 x 40) with one Gaussian task target.
class MatrixSource final : public BatchSource<float> {
 public:
  MatrixSource(Matrix<float> x, Matrix<float> y) : x_(std::move(x)), y_(std::move(y)) {}
  Index size() const override { return x_.cols(); }
  Index task_count() const override { return 1; }
  void fill(const std::vector<Index>& order, Index begin, Index end,
            Batch<float>& batch) const override {
    batch.targets.resize(1);
    batch.masks.resize(1);
    batch.target_is_input.assign(1, false);
    const Index n = end - begin;
    batch.x.resize(x_.rows(), n);
    batch.targets[0].resize(y_.rows(), n);
    for (Index j = 0; j < n; ++j) {
      batch.x.col(j) = x_.col(order[static_cast<std::size_t>(begin + j)]);
      batch.targets[0].col(j) = y_.col(order[static_cast<std::size_t>(begin + j)]);
    }
  }

 private:
  Matrix<float> x_, y_;
};

std::string training_error(const Matrix<float>& x, const Matrix<float>& y) {
  ModelSpec spec;
  spec.inputs = 6;
  spec.encoder_hidden = {8};
  spec.latent = 2;
  spec.tasks.push_back({"y", 3, {5}, LikelihoodSpec::gaussian()});
  SCVAET<float> model(spec, 3);
  const Vector<float> before = model.parameters();
  Adam adam;
  TrainerOptions options;
  options.epochs = 1;
  options.batch_size = 16;
  Trainer trainer(model, adam, options);
  // Reversed: batch column j holds sample 39 - j, so a column is not an index.
  trainer.set_order([](Rng&, Index, Index size) {
    std::vector<Index> order;
    for (Index i = size - 1; i >= 0; --i) order.push_back(i);
    return order;
  });
  MatrixSource source(x, y);
  std::string message;
  try {
    trainer.fit(source);
    ADD_FAILURE() << "expected an ArgumentError";
  } catch (const ArgumentError& e) {
    message = e.what();
  }
  EXPECT_TRUE(testing::bit_identical(model.parameters(), before)) << "an update landed";
  return message;
}

TEST(MaskedTargets, BadInputsAndTargetsAreNamedByTheirDataSetIndex) {
  Rng rng(3);
  const Matrix<float> x = testing::random_uniform(6, 40, rng.next_u64()).cast<float>();
  const Matrix<float> y = testing::random_matrix(3, 40, rng.next_u64()).cast<float>();
  Matrix<float> bad_x = x;
  bad_x(4, 37) = kNaN;  // batch 1, column 2
  const std::string message = training_error(bad_x, y);
  EXPECT_NE(message.find("sample 37 "), std::string::npos) << message;
  EXPECT_NE(message.find("got nan at feature 4"), std::string::npos) << message;
  EXPECT_EQ(message.find("learning rate"), std::string::npos) << message;

  Matrix<float> bad_y = y;
  bad_y(1, 36) = -std::numeric_limits<float>::infinity();  // batch 1, column 3
  const std::string target_message = training_error(x, bad_y);
  EXPECT_NE(target_message.find("sample 36 "), std::string::npos) << target_message;
  EXPECT_NE(target_message.find("got -inf at row 1"), std::string::npos) << target_message;
}

}  // namespace
}  // namespace scvae
