#include "scvae/model/scvae.hpp"

#include "../test_support.hpp"

namespace scvae {

// gtest prints a parameter it has no printer for as its raw bytes, padding
// included, and that text goes into the test names ctest lists: name it.
inline void PrintTo(const LikelihoodSpec& spec, std::ostream* out) { *out << spec.name(); }

namespace {

// Three tasks with different likelihoods, non-trivial weights, masks with
// zeros, a label decoder that reads mu and one that reads z.
ModelSpec three_task_spec(const LikelihoodSpec& measurement) {
  ModelSpec spec;
  spec.inputs = 6;
  spec.encoder_hidden = {7};
  spec.latent = 3;
  spec.activation = Activation::ReLU;
  spec.tasks.push_back(
      {"image", 6, {5}, LikelihoodSpec::bernoulli(), 1.0, Activation::Tanh, DecoderInput::Sample});
  spec.tasks.push_back(
      {"measurement", 3, {}, measurement, 0.7, Activation::Tanh, DecoderInput::Sample});
  spec.tasks.push_back({"label",
                        4,
                        {5},
                        LikelihoodSpec::categorical(4),
                        2.5,
                        Activation::Softplus,
                        DecoderInput::Mean});
  return spec;
}

struct ThreeTaskBatch {
  explicit ThreeTaskBatch(Index n)
      : x(testing::random_uniform(6, n, 31)),
        measurement(testing::random_matrix(3, n, 32)),
        labels(1, n),
        measurement_mask(1, n),
        label_mask(1, n),
        eps(testing::random_matrix(3, n, 33)) {
    for (Index i = 0; i < n; ++i) {
      measurement_mask(i) = i % 3 == 1 ? 0.0 : 1.0;
      label_mask(i) = i % 2 == 0 ? 0.0 : 1.0;
      // Masked labels hold -1, which must never be read as a class.
      labels(0, i) = label_mask(i) == 0.0 ? -1.0 : static_cast<double>(i % 4);
    }
  }
  std::vector<TaskBatch<double>> targets() const {
    return {TaskBatch<double>(x), TaskBatch<double>(measurement, measurement_mask),
            TaskBatch<double>(labels, label_mask)};
  }
  Matrix<double> x, measurement, labels;
  RowVector<double> measurement_mask, label_mask;
  Matrix<double> eps;
};

class SCVAEGradient : public ::testing::TestWithParam<LikelihoodSpec> {};

TEST_P(SCVAEGradient, WholeLossMatchesFiniteDifferencesForEveryParameter) {
  SCVAET<double> model(three_task_spec(GetParam()), 5);
  const ThreeTaskBatch batch(6);
  const auto targets = batch.targets();
  const double beta = 0.6;
  const LossParts parts = model.loss_and_gradient(batch.x, targets, batch.eps, beta);
  ASSERT_TRUE(std::isfinite(parts.total));
  const Vector<double> analytic = model.gradients();
  const Vector<double> point = model.parameters();
  auto loss = [&](const Vector<double>& flat) {
    model.parameters() = flat;
    return model.loss(batch.x, targets, batch.eps, beta).total;
  };
  const GradientCheckResult result = check_gradient(loss, point, analytic);
  testing::expect_gradient_ok(result);
  EXPECT_GT(analytic.norm(), 0.0);
}

// The threaded path (each thread computes whole layers' parameter gradients
// over all chunks) against finite differences, with a label task that chunk 0
// never sees and a learned variance whose gradient is summed over chunks.
TEST_P(SCVAEGradient, ThreeThreadsMatchFiniteDifferences) {
  SCVAET<double> model(three_task_spec(GetParam()), 5);
  model.set_threads(3);
  ThreeTaskBatch batch(48);  // 3 chunks of 16
  for (Index i = 0; i < 16; ++i) {
    batch.label_mask(i) = 0.0;
    batch.labels(0, i) = -1.0;
  }
  const auto targets = batch.targets();
  const double beta = 0.6;
  model.loss_and_gradient(batch.x, targets, batch.eps, beta);
  const Vector<double> analytic = model.gradients();
  const Vector<double> point = model.parameters();
  auto loss = [&](const Vector<double>& flat) {
    model.parameters() = flat;
    return model.loss(batch.x, targets, batch.eps, beta).total;
  };
  testing::expect_gradient_ok(check_gradient(loss, point, analytic));
}

// d/dx of a task's NLL at z = mu(x), for each kind of likelihood, against
// finite differences of encode() then task_nll().
TEST_P(SCVAEGradient, TaskInputGradientMatchesFiniteDifferences) {
  const SCVAET<double> model(three_task_spec(GetParam()), 5);
  const ThreeTaskBatch batch(5);
  Matrix<double> labels = batch.labels;
  for (Index i = 0; i < labels.cols(); ++i) labels(0, i) = static_cast<double>(i % 4);
  const std::vector<Matrix<double>> targets{batch.x, batch.measurement, labels};
  for (Index t = 0; t < model.task_count(); ++t) {
    SCOPED_TRACE("task " + std::to_string(t));
    const Matrix<double>& target = targets[static_cast<std::size_t>(t)];
    Matrix<double> dx;
    model.task_input_gradient(t, batch.x, target, dx);
    ASSERT_EQ(dx.rows(), batch.x.rows());
    ASSERT_EQ(dx.cols(), batch.x.cols());
    auto loss = [&](const Vector<double>& flat) {
      const Matrix<double> x =
          Eigen::Map<const Matrix<double>>(flat.data(), batch.x.rows(), batch.x.cols());
      Matrix<double> mu, logvar;
      model.encode(x, mu, logvar);
      RowVector<double> nll;
      model.task_nll(t, mu, target, nll);
      return nll.sum();
    };
    const Vector<double> point = Eigen::Map<const Vector<double>>(batch.x.data(), batch.x.size());
    const Vector<double> analytic = Eigen::Map<const Vector<double>>(dx.data(), dx.size());
    testing::expect_gradient_ok(check_gradient(loss, point, analytic));
    EXPECT_GT(analytic.norm(), 0.0);
  }
}

INSTANTIATE_TEST_SUITE_P(Likelihoods, SCVAEGradient,
                         ::testing::Values(LikelihoodSpec::gaussian_learned_variance(),
                                           LikelihoodSpec::gaussian(0.3)),
                         [](const auto& info) {
                           return info.param.kind == LikelihoodSpec::Kind::Gaussian
                                      ? std::string("FixedVariance")
                                      : std::string("LearnedVariance");
                         });

TEST(SCVAE, LossIsTheWeightedMaskedSumOfItsParts) {
  SCVAET<double> model(three_task_spec(LikelihoodSpec::gaussian(1.0)), 5);
  const ThreeTaskBatch batch(6);
  const LossParts parts = model.loss(batch.x, batch.targets(), batch.eps, 0.6);
  EXPECT_EQ(parts.task_count, (std::vector<Index>{6, 4, 3}));
  const double expected = (1.0 * parts.task_nll_sum[0] + 0.7 * parts.task_nll_sum[1] +
                           2.5 * parts.task_nll_sum[2] + 0.6 * parts.kl_sum) /
                          6.0;
  EXPECT_NEAR(parts.total, expected, 1e-12);
  EXPECT_NEAR(parts.task_nll[1], parts.task_nll_sum[1] / 4.0, 1e-15);
}

TEST(SCVAE, ThreadsGiveTheSameGradientAndAreDeterministic) {
  SCVAET<double> model(three_task_spec(LikelihoodSpec::gaussian_learned_variance()), 5);
  const ThreeTaskBatch batch(40);
  const auto targets = batch.targets();
  const LossParts one = model.loss_and_gradient(batch.x, targets, batch.eps, 0.6);
  const Vector<double> single = model.gradients();
  model.set_threads(2);
  const LossParts two = model.loss_and_gradient(batch.x, targets, batch.eps, 0.6);
  const Vector<double> first = model.gradients();
  EXPECT_NEAR(one.total, two.total, 1e-12);
  EXPECT_TRUE(first.isApprox(single, 1e-12));
  model.loss_and_gradient(batch.x, targets, batch.eps, 0.6);
  EXPECT_EQ(model.gradients(), first);  // bit-identical for the same thread count
}

TEST(SCVAE, GradientsFiniteTellsWhetherEveryGradientValueIsFinite) {
  for (int threads : {1, 2, 3}) {
    SCVAET<float> model(three_task_spec(LikelihoodSpec::gaussian(1.0)), 5);
    model.set_threads(threads);
    const ThreeTaskBatch batch(40);
    const Matrix<float> x = batch.x.cast<float>(), measurement = batch.measurement.cast<float>(),
                        labels = batch.labels.cast<float>(), eps = batch.eps.cast<float>();
    const RowVector<float> measurement_mask = batch.measurement_mask.cast<float>(),
                           label_mask = batch.label_mask.cast<float>();
    const std::vector<TaskBatch<float>> targets{TaskBatch<float>(x),
                                                TaskBatch<float>(measurement, measurement_mask),
                                                TaskBatch<float>(labels, label_mask)};
    model.loss_and_gradient(x, targets, eps);
    EXPECT_TRUE(model.gradients().allFinite());
    EXPECT_TRUE(model.gradients_finite()) << threads << " thread(s)";
    // Weights of 1e30 overflow float: the gradient is no longer finite.
    model.parameters() *= 1e30f;
    model.loss_and_gradient(x, targets, eps);
    EXPECT_FALSE(model.gradients().allFinite());
    EXPECT_FALSE(model.gradients_finite()) << threads << " thread(s)";
  }
}

TEST(SCVAE, ThreadPoolIsSharedAndAbsentWithOneThread) {
  SCVAET<double> model(three_task_spec(LikelihoodSpec::bernoulli()), 5);
  EXPECT_EQ(model.thread_pool(), nullptr);
  model.set_threads(2);
  ThreadPool* pool = model.thread_pool();
  ASSERT_NE(pool, nullptr);
  EXPECT_EQ(pool->size(), 2);
  EXPECT_EQ(model.thread_pool(), pool);  // the same pool every time
  model.set_threads(1);
  EXPECT_EQ(model.thread_pool(), nullptr);
}

TEST(SCVAE, FullyMaskedTaskContributesNothing) {
  SCVAET<double> model(three_task_spec(LikelihoodSpec::gaussian(1.0)), 5);
  ThreeTaskBatch batch(6);
  batch.label_mask.setZero();
  batch.labels.setConstant(-1.0);
  const LossParts parts = model.loss_and_gradient(batch.x, batch.targets(), batch.eps, 1.0);
  EXPECT_EQ(parts.task_count[2], 0);
  EXPECT_EQ(parts.task_nll[2], 0.0);
  // The label decoder's parameters get exactly zero gradient.
  const DecoderT<double>& label = model.decoder(2);
  EXPECT_TRUE(
      model.gradients().segment(label.offset(), label.network().parameter_count()).isZero(0.0));
}

TEST(SCVAE, FullyMaskedTaskContributesNothingOnSeveralThreads) {
  for (int threads : {2, 3}) {
    SCVAET<double> model(three_task_spec(LikelihoodSpec::gaussian_learned_variance()), 5);
    model.set_threads(threads);
    ThreeTaskBatch batch(48);
    batch.label_mask.setZero();
    batch.labels.setConstant(-1.0);
    // Stale values from an earlier step must not survive in the label head.
    model.gradients().setConstant(3.0);
    const LossParts parts = model.loss_and_gradient(batch.x, batch.targets(), batch.eps, 1.0);
    EXPECT_EQ(parts.task_count[2], 0);
    const DecoderT<double>& label = model.decoder(2);
    EXPECT_TRUE(
        model.gradients().segment(label.offset(), label.network().parameter_count()).isZero(0.0))
        << threads << " threads";
    SCVAET<double> single(three_task_spec(LikelihoodSpec::gaussian_learned_variance()), 5);
    single.loss_and_gradient(batch.x, batch.targets(), batch.eps, 1.0);
    EXPECT_TRUE(model.gradients().isApprox(single.gradients(), 1e-12)) << threads << " threads";
  }
}

TEST(SCVAE, SameSeedSameParameters) {
  const ModelSpec spec = three_task_spec(LikelihoodSpec::bernoulli());
  EXPECT_EQ(SCVAET<float>(spec, 9).parameters(), SCVAET<float>(spec, 9).parameters());
  EXPECT_NE(SCVAET<float>(spec, 9).parameters(), SCVAET<float>(spec, 10).parameters());
}

TEST(SCVAE, CopiesAreIndependent) {
  SCVAET<double> model(three_task_spec(LikelihoodSpec::gaussian(1.0)), 5);
  SCVAET<double> copy = model;
  copy.parameters().setZero();
  EXPECT_FALSE(model.parameters().isZero());
  const ThreeTaskBatch batch(6);
  EXPECT_TRUE(std::isfinite(copy.loss(batch.x, batch.targets(), batch.eps).total));
}

template <typename F>
void expect_error_containing(F&& f, const std::string& text) {
  try {
    f();
    FAIL() << "expected scvae::Error containing '" << text << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

TEST(SCVAE, ShapeAndArgumentErrorsSayWhatWasExpected) {
  SCVAET<double> model(three_task_spec(LikelihoodSpec::gaussian(1.0)), 5);
  const ThreeTaskBatch batch(6);
  const auto targets = batch.targets();

  const Matrix<double> wrong_x = Matrix<double>::Zero(5, 6);
  expect_error_containing([&] { model.loss(wrong_x, targets, batch.eps); },
                          "input x: expected 6 rows, got 5");
  const Matrix<double> wrong_eps = Matrix<double>::Zero(3, 5);
  expect_error_containing([&] { model.loss(batch.x, targets, wrong_eps); },
                          "noise eps: expected shape 3x6, got 3x5");
  expect_error_containing([&] { model.loss(batch.x, {targets[0]}, batch.eps); },
                          "expected one per task (3), got 1");

  const RowVector<double> short_mask = RowVector<double>::Ones(5);
  const std::vector<TaskBatch<double>> with_mask{
      targets[0], TaskBatch<double>(batch.measurement, short_mask), targets[2]};
  expect_error_containing([&] { model.loss(batch.x, with_mask, batch.eps); },
                          "task 'measurement' mask: expected length 6, got 5");

  const RowVector<double> half_mask = RowVector<double>::Constant(6, 0.5);
  const std::vector<TaskBatch<double>> with_half{
      targets[0], TaskBatch<double>(batch.measurement, half_mask), targets[2]};
  expect_error_containing([&] { model.loss(batch.x, with_half, batch.eps); }, "only 0 and 1");

  const Matrix<double> wrong_rows = Matrix<double>::Zero(2, 6);
  const std::vector<TaskBatch<double>> with_rows{
      targets[0], TaskBatch<double>(wrong_rows, batch.measurement_mask), targets[2]};
  expect_error_containing([&] { model.loss(batch.x, with_rows, batch.eps); },
                          "expected 3 rows, got 2");

  const Matrix<double> wrong_cols = Matrix<double>::Zero(3, 4);
  const std::vector<TaskBatch<double>> with_cols{targets[0], TaskBatch<double>(wrong_cols),
                                                 targets[2]};
  expect_error_containing([&] { model.loss(batch.x, with_cols, batch.eps); },
                          "expected 6 columns (one per sample), got 4");

  Matrix<double> bad_labels = batch.labels;
  bad_labels(0, 1) = 4;  // column 1 is labelled; 4 classes means 0..3
  const std::vector<TaskBatch<double>> with_labels{targets[0], targets[1],
                                                   TaskBatch<double>(bad_labels, batch.label_mask)};
  expect_error_containing([&] { model.loss(batch.x, with_labels, batch.eps); },
                          "class index in [0, 4), got 4");

  expect_error_containing([&] { model.loss(batch.x, targets, batch.eps, -1.0); }, "beta");
  expect_error_containing([&] { model.task_index("nope"); }, "no task called 'nope'");
  expect_error_containing([&] { model.set_threads(0); }, "threads: expected at least 1, got 0");
}

TEST(SCVAE, SpecErrors) {
  auto expect_spec_error = [](ModelSpec spec, const std::string& text) {
    expect_error_containing([&] { SCVAET<double> model(spec); }, text);
  };
  ModelSpec spec = three_task_spec(LikelihoodSpec::bernoulli());
  ModelSpec zero_latent = spec;
  zero_latent.latent = 0;
  expect_spec_error(zero_latent, "model latent size: expected a positive size, got 0");
  ModelSpec zero_inputs = spec;
  zero_inputs.inputs = 0;
  expect_spec_error(zero_inputs, "model inputs");
  ModelSpec zero_hidden = spec;
  zero_hidden.encoder_hidden = {0};
  expect_spec_error(zero_hidden, "encoder hidden size");
  ModelSpec no_tasks = spec;
  no_tasks.tasks.clear();
  expect_spec_error(no_tasks, "at least one task");
  ModelSpec duplicate = spec;
  duplicate.tasks[1].name = "image";
  expect_spec_error(duplicate, "'image' twice");
  ModelSpec negative_weight = spec;
  negative_weight.tasks[0].weight = -1;
  expect_spec_error(negative_weight, "weight");
  ModelSpec zero_outputs = spec;
  zero_outputs.tasks[0].outputs = 0;
  expect_spec_error(zero_outputs, "task 'image' outputs");
}

}  // namespace
}  // namespace scvae
