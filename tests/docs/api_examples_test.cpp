// The code examples of docs/API.md, one TEST per section, lightly adapted to
// assertions, so that the documentation cannot drift from the API: when an
// example here changes, change docs/API.md with it (and the other way round).

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "scvae/scvae.hpp"

namespace {

namespace fs = std::filesystem;

/// A fresh directory under the system temp dir, removed with its contents.
struct TempDir {
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "scvae_api_docs_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path = pattern;
  }
  ~TempDir() {
    std::error_code error;
    fs::remove_all(path, error);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string path;
};

/// `count` labelled 4x4 images (bars of three kinds), as in the docs.
scvae::Dataset make_toy_images(scvae::Index count) {
  std::vector<std::uint8_t> pixels, labels;
  for (scvae::Index i = 0; i < count; ++i) {
    const int kind = static_cast<int>(i % 3);
    for (int r = 0; r < 4; ++r)
      for (int c = 0; c < 4; ++c) {
        const bool on = kind == 0 ? r == 1 : kind == 1 ? c == 2 : r == c;
        pixels.push_back(on ? 255 : 0);
      }
    labels.push_back(static_cast<std::uint8_t>(kind));
  }
  return scvae::Dataset(4, 4, pixels, labels, /*num_classes=*/3, "toy");
}

// ---------------------------------------------------------------- core
TEST(ApiDocs, Core) {
  // Matrices hold one sample per column: 3 features x 4 samples.
  scvae::Rng rng(42);
  scvae::Matrix<float> noise(3, 4);
  rng.fill_normal(noise);
  const std::vector<scvae::Index> order = rng.permutation(10);  // 0..9 shuffled

  scvae::Rng again(42);  // same seed, same numbers, on every platform
  scvae::Matrix<float> same(3, 4);
  again.fill_normal(same);
  EXPECT_EQ(noise, same);
  EXPECT_EQ(order.size(), 10u);

  // A ParameterLayout hands out slices of one flat buffer.
  scvae::ParameterLayout layout;
  const scvae::Index first = layout.reserve(6);   // 0
  const scvae::Index second = layout.reserve(4);  // 6
  EXPECT_EQ(first, 0);
  EXPECT_EQ(second, 6);
  EXPECT_EQ(layout.total(), 10);

  // Every error derives from scvae::Error.
  bool caught = false;
  try {
    scvae::ThreadPool pool(0);
  } catch (const scvae::Error& e) {  // an ArgumentError: "thread count: expected at least 1, got 0"
    caught = true;
    EXPECT_NE(dynamic_cast<const scvae::ArgumentError*>(&e), nullptr);
  }
  EXPECT_TRUE(caught);
  EXPECT_STREQ(scvae::scalar_name<float>(), "float32");
  EXPECT_STREQ(scvae::kVersion, SCVAE_VERSION_STRING);
}

// ---------------------------------------------------------------- nn
TEST(ApiDocs, NnModules) {
  scvae::SequentialT<float> net(scvae::Shape::vector(4));
  net.add<scvae::DenseT>(8).add<scvae::ReLUT>().add<scvae::DenseT>(2);
  scvae::Vector<float> params = scvae::Vector<float>::Zero(net.parameter_count());
  scvae::Vector<float> grads = scvae::Vector<float>::Zero(net.parameter_count());
  scvae::Rng rng(1);
  net.initialize(params.data(), rng, {});  // He before the ReLU, Glorot after

  scvae::Matrix<float> x(4, 5);  // 5 samples
  rng.fill_normal(x);
  auto ws = net.make_workspace();  // keep and reuse across batches
  scvae::Matrix<float> y(2, 5);
  net.forward(params.data(), x, y, ws.get());
  // dL/dy for L = sum(y); then the parameter gradient from the same buffers.
  scvae::Matrix<float> dy = scvae::Matrix<float>::Ones(2, 5);
  net.backward(params.data(), x, y, dy, {}, ws.get());
  net.parameter_gradient(x, dy, grads.data(), scvae::GradientWrite::Overwrite, ws.get());

  EXPECT_EQ(net.parameter_count(), 4 * 8 + 8 + 8 * 2 + 2);
  EXPECT_FLOAT_EQ(grads.tail(2)(0), 5.0f);  // the last bias: one per sample
  EXPECT_EQ(net.offset(2), 4 * 8 + 8);
  EXPECT_EQ(net.token(), "[dense(8) relu dense(2)]");
  EXPECT_THROW(net.add(std::make_unique<scvae::DenseT<float>>(scvae::Shape::vector(3), 1)),
               scvae::ShapeError);
}

// README's "Modules": an encoder and a decoder composed from modules.
TEST(ApiDocs, ReadmeModules) {
  scvae::ParameterLayout layout;
  scvae::SequentialT<float> trunk(scvae::Shape::vector(784));
  trunk.add<scvae::DenseT>(400).add<scvae::ReLUT>().add<scvae::GaussianHeadT>(20);
  scvae::EncoderT<float> encoder(std::move(trunk), layout);  // any network ending in a Gaussian head
  scvae::SequentialT<float> image(scvae::Shape::vector(20));
  image.add<scvae::DenseT>(400).add<scvae::ELUT>().add<scvae::DenseT>(784);
  scvae::DecoderT<float> decoder(std::move(image), scvae::LikelihoodSpec::bernoulli(), layout);

  EXPECT_EQ(encoder.latent(), 20);
  EXPECT_EQ(decoder.offset(), 784 * 400 + 400 + 400 * 40 + 40);
  EXPECT_EQ(layout.total(), decoder.offset() + 20 * 400 + 400 + 400 * 784 + 784);
  scvae::SequentialT<float> no_head(scvae::Shape::vector(784));
  no_head.add<scvae::DenseT>(40);
  EXPECT_THROW(scvae::EncoderT<float>(std::move(no_head), layout), scvae::ArgumentError);
}

TEST(ApiDocs, Nn) {
  scvae::ParameterLayout layout;
  scvae::Mlp mlp({4, 8, 2}, scvae::Activation::ReLU, scvae::Activation::Identity, layout);
  scvae::Vector<float> params = scvae::Vector<float>::Zero(layout.total());
  scvae::Vector<float> grads = scvae::Vector<float>::Zero(layout.total());
  scvae::Rng rng(1);
  mlp.initialize(params.data(), rng);  // He/Glorot uniform, zero bias

  scvae::Matrix<float> x(4, 5);  // 5 samples
  rng.fill_normal(x);
  scvae::Mlp::Workspace ws;  // keep and reuse across batches
  const scvae::Matrix<float>& y = mlp.forward(params.data(), x, ws);  // 2 x 5
  // dL/dy for L = sum(y); parameter gradients accumulate into grads.
  const scvae::Matrix<float> dy = scvae::Matrix<float>::Ones(2, 5);
  mlp.backward(params.data(), grads.data(), x, dy, ws);

  EXPECT_EQ(mlp.parameter_count(), 4 * 8 + 8 + 8 * 2 + 2);
  EXPECT_EQ(y.rows(), 2);
  EXPECT_EQ(y.cols(), 5);
  EXPECT_FLOAT_EQ(grads.tail(2)(0), 5.0f);  // the last bias: one per sample
  EXPECT_EQ(mlp.layers()[1].offset(), 4 * 8 + 8);
  EXPECT_THROW(mlp.forward(params.data(), scvae::Matrix<float>(3, 5), ws), scvae::ShapeError);
  EXPECT_EQ(scvae::activation_from_name("tanh"), scvae::Activation::Tanh);
}

// ---------------------------------------------------------------- prob
TEST(ApiDocs, Prob) {
  const scvae::Matrix<float> mu = scvae::Matrix<float>::Zero(2, 3);
  const scvae::Matrix<float> logvar = scvae::Matrix<float>::Zero(2, 3);
  const scvae::Matrix<float> eps = scvae::Matrix<float>::Ones(2, 3);
  scvae::Matrix<float> z(2, 3);
  scvae::reparameterize<float>(mu, logvar, eps, z);  // z = mu + exp(logvar/2) * eps
  scvae::RowVector<float> kl(3);
  scvae::gaussian_kl<float>(mu, logvar, kl);  // 0: q equals the prior

  auto bernoulli = scvae::make_likelihood<float>(scvae::LikelihoodSpec::bernoulli(), 4);
  const scvae::Matrix<float> logits = scvae::Matrix<float>::Zero(4, 3);
  const scvae::Matrix<float> target = scvae::Matrix<float>::Ones(4, 3);
  const scvae::RowVector<float> scale = scvae::RowVector<float>::Ones(3);
  scvae::RowVector<float> nll(3);
  bernoulli->evaluate(nullptr, nullptr, logits, target, scale, nll, nullptr);  // 4 log 2 each

  EXPECT_EQ(z, eps);
  EXPECT_FLOAT_EQ(kl.sum(), 0.0f);
  EXPECT_NEAR(nll(0), 4.0 * std::log(2.0), 1e-5);
  EXPECT_EQ(scvae::LikelihoodSpec::categorical(10).name(), "categorical(10)");
  EXPECT_THROW(scvae::make_likelihood<float>(scvae::LikelihoodSpec::categorical(10), 9),
               scvae::ArgumentError);
}

// ---------------------------------------------------------------- model
TEST(ApiDocs, Model) {
  scvae::ModelSpec spec;
  spec.inputs = 16;
  spec.encoder_hidden = {8};
  spec.latent = 2;
  scvae::TaskSpec image;
  image.name = "image";
  image.outputs = 16;
  image.hidden = {8};
  image.likelihood = scvae::LikelihoodSpec::bernoulli();
  scvae::TaskSpec label;
  label.name = "label";
  label.outputs = 3;
  label.likelihood = scvae::LikelihoodSpec::categorical(3);
  label.weight = 2.0;
  spec.tasks = {image, label};
  scvae::SCVAE model(spec, /*seed=*/1);

  const scvae::Index n = 6;
  scvae::Matrix<float> x = scvae::Matrix<float>::Constant(16, n, 0.5f);  // in [0, 1]
  scvae::Matrix<float> labels(1, n);
  labels << 0, 1, 2, 0, 1, 2;  // class indices
  scvae::RowVector<float> labelled(n);
  labelled << 1, 1, 1, 0, 0, 0;  // 0: label missing
  scvae::Rng rng(7);
  const scvae::LossParts parts = model.loss_and_gradient(
      x, {scvae::TaskBatch<float>(x), scvae::TaskBatch<float>(labels, labelled)}, rng,
      /*beta=*/1.0);
  // parts.total = mean_i [ nll_image + 2 * m_i * nll_label + beta * KL ]

  scvae::Matrix<float> mu, logvar, probabilities;
  model.encode(x, mu, logvar);                                  // 2 x n each
  model.predict(model.task_index("label"), mu, probabilities);  // 3 x n

  scvae::VAE vae(16, {8}, 2, /*seed=*/1);  // 16-8-2-8-16, Bernoulli
  const scvae::LossParts at_mean = vae.loss(x, scvae::Matrix<float>::Zero(2, n));  // z = mu

  EXPECT_TRUE(std::isfinite(parts.total));
  EXPECT_EQ(parts.task_nll.size(), 2u);
  EXPECT_EQ(parts.task_count[1], 3);
  EXPECT_NEAR(parts.total, parts.task_nll[0] + 2.0 * parts.task_nll[1] * 3.0 / 6.0 + parts.kl,
              1e-4);
  EXPECT_EQ(model.gradients().size(), model.parameter_count());
  EXPECT_EQ(probabilities.rows(), 3);
  EXPECT_NEAR(probabilities.col(0).sum(), 1.0f, 1e-5f);
  EXPECT_EQ(vae.task(0).name, "input");
  EXPECT_TRUE(std::isfinite(at_mean.total));
  EXPECT_THROW(model.task_index("colour"), scvae::ArgumentError);
  EXPECT_THROW(model.loss_and_gradient(x, {scvae::TaskBatch<float>(x)}, rng), scvae::ShapeError);

  // Same seed, same thread count: bit-identical gradients.
  scvae::SCVAE a(spec, 3), b(spec, 3);
  a.set_threads(2);
  b.set_threads(2);
  const scvae::Matrix<float> big = scvae::Matrix<float>::Constant(16, 64, 0.25f);
  const scvae::Matrix<float> big_labels = scvae::Matrix<float>::Ones(1, 64);
  scvae::Rng ra(9), rb(9);
  a.loss_and_gradient(big, {scvae::TaskBatch<float>(big), scvae::TaskBatch<float>(big_labels)}, ra);
  b.loss_and_gradient(big, {scvae::TaskBatch<float>(big), scvae::TaskBatch<float>(big_labels)}, rb);
  EXPECT_EQ(a.gradients(), b.gradients());
}

// ---------------------------------------------------------------- optim
TEST(ApiDocs, Optim) {
  scvae::Vector<float> params = scvae::Vector<float>::Ones(3);
  scvae::Vector<float> grads(3);
  grads << 3.0f, 0.0f, 4.0f;

  scvae::AdamOptions options;  // PyTorch's defaults
  options.learning_rate = 0.01;
  scvae::Adam adam(options);
  const float norm = scvae::clip_gradient_norm(grads, 1.0f);  // 5: the norm before clipping
  adam.step(params, grads);  // first step: moments allocated here, never again

  const scvae::CosineSchedule lr(0.01, /*total=*/10, /*min=*/1e-4);
  const scvae::StepSchedule steps(0.1, /*step_size=*/2, /*gamma=*/0.5);
  const scvae::KlWarmup warmup(/*beta=*/1.0, /*warmup_epochs=*/4);
  adam.set_learning_rate(lr(1));  // schedules take the 0-based epoch

  scvae::SgdOptions sgd_options;
  sgd_options.learning_rate = 0.1;
  sgd_options.momentum = 0.9;
  scvae::Sgd sgd(sgd_options);
  sgd.step(params, grads);

  scvae::ParameterAverage average(/*decay=*/0.999);
  average.update(params);  // after each step
  average.swap(params);    // evaluate the averaged parameters; swap back to go on

  EXPECT_FLOAT_EQ(norm, 5.0f);
  EXPECT_NEAR(grads.norm(), 1.0f, 1e-5f);
  EXPECT_EQ(adam.step_count(), 1);
  EXPECT_NEAR(params(0), 1.0f - 0.01f - 0.1f * grads(0), 1e-5f);
  EXPECT_DOUBLE_EQ(lr(0), 0.01);
  EXPECT_DOUBLE_EQ(lr(10), 1e-4);
  EXPECT_DOUBLE_EQ(steps(3), 0.05);
  EXPECT_DOUBLE_EQ(warmup(0), 0.25);
  EXPECT_DOUBLE_EQ(warmup(3), 1.0);
  EXPECT_EQ(sgd.momentum_buffer().size(), 3);
  EXPECT_EQ(average.steps(), 1);
  scvae::Vector<float> four = scvae::Vector<float>::Ones(4);
  EXPECT_THROW(adam.step(four, grads), scvae::ShapeError);  // sizes differ
  EXPECT_THROW(warmup(-1), scvae::ArgumentError);
}

// ---------------------------------------------------------------- train
TEST(ApiDocs, Train) {
  TempDir tmp;
  const std::string dir = tmp.path;
  const scvae::Dataset images = make_toy_images(48);  // 48 labelled 4x4 images

  scvae::VAE vae(16, {8}, 2, /*seed=*/1);
  scvae::Adam adam(scvae::AdamOptions{1e-2});
  scvae::TrainerOptions options;
  options.epochs = 3;
  options.batch_size = 16;
  options.seed = 1;
  options.warmup_epochs = 2;  // beta 0.5, then 1
  options.clip_norm = 10.0;
  scvae::Trainer trainer(vae, adam, options);
  trainer.set_learning_rate_schedule(scvae::CosineSchedule(1e-2, 3));

  const scvae::AutoencoderSource<float> source(images);
  trainer.add_callback(std::make_unique<scvae::EpochCallback>([&](scvae::EpochReport& r) {
    scvae::Rng rng(5);
    r.set("test_loss", scvae::evaluate_loss(vae, source, 16, rng, 1.0, /*use_mean=*/true).total);
    return false;  // true would stop training
  }));
  scvae::EarlyStopping stopping("test_loss", /*patience=*/2);
  trainer.add_callback(stopping);  // not owned: must outlive fit()
  std::ostringstream log;
  trainer.add_callback(std::make_unique<scvae::ProgressBar>(log, scvae::ProgressBar::Mode::Lines));
  trainer.add_callback(std::make_unique<scvae::MetricsWriter>(dir + "/metrics.jsonl"));
  const scvae::TrainResult result = trainer.fit(source);

  scvae::save_training_checkpoint(dir + "/run.scvae", vae, adam, result.epochs_run);
  scvae::VAE resumed(16, {8}, 2);
  scvae::Adam resumed_adam(scvae::AdamOptions{1e-2});
  const scvae::Index done =
      scvae::load_training_checkpoint(dir + "/run.scvae", resumed, resumed_adam);

  EXPECT_EQ(result.epochs_run, 3);
  EXPECT_FALSE(result.stopped_early);
  ASSERT_EQ(result.history.size(), 3u);
  EXPECT_DOUBLE_EQ(result.history[0].beta, 0.5);
  EXPECT_DOUBLE_EQ(result.history[0].learning_rate, 1e-2);
  EXPECT_TRUE(result.history[2].has("test_loss"));
  EXPECT_NE(log.str().find("epoch 3/3"), std::string::npos);
  EXPECT_TRUE(fs::exists(dir + "/metrics.jsonl"));
  EXPECT_EQ(done, 3);
  EXPECT_EQ(resumed.parameters(), vae.parameters());
  EXPECT_EQ(resumed_adam.step_count(), adam.step_count());
  EXPECT_EQ(adam.step_count(), 9);  // 3 epochs x 3 batches
}

// ---------------------------------------------------------------- data
TEST(ApiDocs, Data) {
  TempDir tmp;
  const std::string dir = tmp.path;

  // Ten labelled 2x3 images, made in memory: image i is pixels[6i, 6i+6).
  std::vector<std::uint8_t> pixels(10 * 6), labels(10);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(4 * i);
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::uint8_t>(i % 3);
  const scvae::Dataset data(2, 3, pixels, labels, /*num_classes=*/3, "toy");

  scvae::Rng rng(3);
  const std::vector<scvae::Index> order = data.shuffled_order(rng);
  scvae::Matrix<float> x, y;
  data.batch(order, 0, 4, x);        // 6 x 4, pixel / 255
  data.label_batch(order, 0, 4, y);  // 1 x 4 class indices

  // A source for the trainer and evaluators: image + label, 3 labels kept.
  const scvae::ImageLabelSource<float> source(data, {1, 1, 1, 0, 0, 0, 0, 0, 0, 0});
  scvae::Batch<float> batch;
  source.fill(data.identity_order(), 0, 4, batch);  // batch.masks[1] = 1 1 1 0

  // IDX files (the MNIST format), plain or gzip.
  scvae::write_idx_images(dir + "/toy-images-idx3-ubyte.gz", {10, 2, 3, pixels});
  const scvae::IdxImages read = scvae::read_idx_images(dir + "/toy-images-idx3-ubyte.gz");

  EXPECT_EQ(data.size(), 10);
  EXPECT_EQ(data.features(), 6);
  EXPECT_EQ(x.rows(), 6);
  EXPECT_EQ(x.cols(), 4);
  EXPECT_FLOAT_EQ(x(1, 0),
                  static_cast<float>(pixels[static_cast<std::size_t>(order[0] * 6 + 1)]) / 255.0f);
  EXPECT_FLOAT_EQ(y(0, 0), static_cast<float>(labels[static_cast<std::size_t>(order[0])]));
  EXPECT_EQ(source.task_count(), 2);
  EXPECT_EQ(&batch.target(0), &batch.x);  // the image task's target is x itself
  EXPECT_TRUE(batch.has_mask(1));
  EXPECT_FLOAT_EQ(batch.masks[1](3), 0.0f);
  EXPECT_EQ(read.pixels, pixels);
  EXPECT_EQ(read.count, 10);
  EXPECT_THROW(scvae::Dataset(2, 3, pixels, labels, /*num_classes=*/2), scvae::ArgumentError);
  EXPECT_THROW(scvae::read_idx_images(dir + "/missing"), scvae::IoError);
  EXPECT_THROW(scvae::load_mnist(dir, "train"), scvae::IoError);
}

// README's "Your own data", on a small table written here: two classes
// that the first feature separates, a real target, missing cells.
TEST(ApiDocs, ReadmeYourOwnData) {
  TempDir tmp;
  const std::string path = tmp.path + "/wine.csv";
  {
    std::ofstream csv(path);
    csv << "id,cultivar,alcohol,ash,colour\n";
    for (int i = 0; i < 60; ++i)
      csv << i << "," << (i % 2 == 0 ? "barolo" : "barbera") << ","
          << (i % 7 == 0 ? std::string() : std::to_string(12.0 + (i % 2) + 0.01 * i)) << ","
          << (i % 2 == 0 ? 1.0 : 3.0) + 0.1 * (i % 5) << "," << (i % 11 == 0 ? "NA" : "0.5")
          << "\n";
  }
  scvae::CsvTable table = scvae::read_csv(path);
  scvae::TableData data = scvae::table_data_from_csv(
      table, scvae::TableColumns{{{"cultivar", scvae::TargetKind::Categorical},
                                  {"alcohol", scvae::TargetKind::Real}},
                                 {},
                                 {"id"}});
  scvae::TableSplit split =
      scvae::split_table(data, 0.2, /*seed=*/1, scvae::SplitKind::stratified("cultivar"));
  scvae::Standardizer standardizer = scvae::Standardizer::fit(split.train);
  scvae::TableSource<float> train(split.train, standardizer), test(split.test, standardizer);
  scvae::SCVAE model(scvae::make_table_spec(data, /*latent=*/8, /*hidden=*/{64}), /*seed=*/1);
  scvae::Adam adam;
  scvae::TrainerOptions options;
  options.epochs = 5;
  options.beta = scvae::kTableKlWeight;
  scvae::Trainer trainer(model, adam, options);
  scvae::EarlyStopping stopping("validation_loss", /*patience=*/10);
  trainer.add_callback(stopping.restore_best(model));
  const scvae::TrainResult result = trainer.fit(train, test);

  ASSERT_EQ(result.history.size(), 5u);
  const scvae::EpochReport& last = result.history.back();
  for (const char* key : {"validation_loss", "validation_cultivar_accuracy",
                          "validation_alcohol_rmse", "validation_alcohol_mae"})
    EXPECT_TRUE(last.has(key)) << key;
  EXPECT_GE(stopping.best_epoch(), 1);
  EXPECT_EQ(split.test.samples(), 12);
}

// docs/API.md's "Semi-supervised learning on your own data": three
// clusters, a third of the classes known.
TEST(ApiDocs, SemiSupervisedOnYourOwnData) {
  scvae::Rng rng(4);
  const scvae::Index n = 150;
  scvae::Matrix<float> features(4, n);
  scvae::Matrix<float> classes(1, n);
  std::vector<int> truth;
  for (scvae::Index j = 0; j < n; ++j) {
    const int c = static_cast<int>(j % 3);
    truth.push_back(c);
    for (scvae::Index f = 0; f < 4; ++f)
      features(f, j) = static_cast<float>((f == c ? 3.0 : 0.0) + 0.7 * rng.normal());
    classes(0, j) = j % 3 == j % 9 / 3 ? static_cast<float>(c) : std::nanf("");
  }

  scvae::TableData data(features, {"f1", "f2", "f3", "f4"}, "my data");
  data.add_target("kind", scvae::TargetKind::Categorical, classes, {"a", "b", "c"});
  scvae::Standardizer standardizer = scvae::Standardizer::fit(data);
  scvae::TableSource<float> source(data, standardizer);  // the class task masked where NaN
  scvae::SCVAE model(scvae::make_table_spec(data, /*latent=*/4, /*hidden=*/{32}), /*seed=*/1);
  scvae::Adam adam;
  scvae::TrainerOptions options;
  options.epochs = 100;
  options.batch_size = 32;
  options.beta = scvae::kTableKlWeight;
  scvae::Trainer(model, adam, options).fit(source);
  scvae::Matrix<float> mu, logvar, probabilities;
  model.encode(source.inputs(), mu, logvar);
  model.predict(/*task=*/1, mu, probabilities);  // 3 x samples: every class, the unknown ones too

  ASSERT_EQ(probabilities.rows(), 3);
  ASSERT_EQ(probabilities.cols(), n);
  int unknown = 0, right = 0;
  for (scvae::Index j = 0; j < n; ++j) {
    if (!std::isnan(classes(0, j))) continue;
    ++unknown;
    scvae::Index best = 0;
    probabilities.col(j).maxCoeff(&best);
    right += best == truth[static_cast<std::size_t>(j)] ? 1 : 0;
  }
  EXPECT_EQ(unknown, 100);
  EXPECT_GE(right, 80) << "of the 100 samples whose class was unknown";
}

// ---------------------------------------------------------------- eval
TEST(ApiDocs, Eval) {
  const scvae::Dataset data = make_toy_images(12);  // 12 labelled 4x4 images, 3 classes
  scvae::ModelSpec spec;
  spec.inputs = 16;
  spec.latent = 2;
  scvae::TaskSpec image;
  image.name = "image";
  image.outputs = 16;
  scvae::TaskSpec label;
  label.name = "label";
  label.outputs = 3;
  label.likelihood = scvae::LikelihoodSpec::categorical(3);
  label.input = scvae::DecoderInput::Mean;  // the label head reads mu
  spec.tasks = {image, label};
  scvae::SCVAE model(spec, /*seed=*/1);
  const scvae::ImageLabelSource<float> source(data);

  scvae::Rng rng(1);
  const scvae::LossParts sampled = scvae::evaluate_loss(model, source, /*batch_size=*/5, rng);
  const scvae::LossParts at_mean =
      scvae::evaluate_loss(model, source, 5, rng, /*beta=*/1.0, /*use_mean=*/true);
  const scvae::IwaeResult iwae =
      scvae::evaluate_iwae(model, source, /*k=*/8, /*batch_size=*/5, rng, /*tasks=*/{0});
  const scvae::AccuracyResult acc = scvae::evaluate_accuracy(model, /*task=*/1, source, 5);

  EXPECT_EQ(sampled.samples, 12);
  EXPECT_TRUE(std::isfinite(at_mean.total));
  EXPECT_LE(iwae.nll, iwae.elbo_loss + 1e-9);
  EXPECT_EQ(iwae.k, 8);
  EXPECT_EQ(acc.total, 12);
  EXPECT_DOUBLE_EQ(acc.accuracy, scvae::accuracy(model, 1, source, 5));
  EXPECT_THROW(scvae::evaluate_accuracy(model, 0, source, 5), scvae::ArgumentError);
  EXPECT_THROW(scvae::evaluate_iwae(model, source, 0, 5, rng), scvae::ArgumentError);
  const scvae::AutoencoderSource<float> one_task(data);
  EXPECT_THROW(scvae::evaluate_loss(model, one_task, 5, rng), scvae::ShapeError);
}

// ---------------------------------------------------------------- io
TEST(ApiDocs, Io) {
  TempDir tmp;
  const std::string dir = tmp.path;
  scvae::VAE vae(16, {8}, 2, /*seed=*/1);

  scvae::CheckpointExtras extras;
  extras.set_scalar("epoch", 3);
  scvae::save_model(dir + "/vae.scvae", vae, extras);  // atomic: temp file, fsync, rename

  const scvae::CheckpointInfo info = scvae::read_checkpoint_info(dir + "/vae.scvae");
  scvae::VAE copy(16, {8}, 2, /*seed=*/2);
  scvae::CheckpointExtras loaded;
  scvae::load_model(dir + "/vae.scvae", copy, &loaded);  // in place; views stay valid

  scvae::VAE wider(16, {9}, 2);
  bool mismatch = false;
  try {
    scvae::load_model(dir + "/vae.scvae", wider);
  } catch (const scvae::CheckpointError&) {  // architecture differs
    mismatch = true;
  }

  // Pictures: any features x n matrix of values in [0, 1] (or uint8).
  scvae::Matrix<float> x = scvae::Matrix<float>::Constant(16, 6, 0.5f);
  scvae::write_image_grid(dir + "/grid.png", x, /*image_rows=*/4, /*image_cols=*/4,
                          /*grid_cols=*/3);
  scvae::Rng rng(1);
  scvae::write_prior_samples(dir + "/samples.png", vae, /*task=*/0, /*count=*/8, 4, 4,
                             /*grid_cols=*/4, rng);
  scvae::write_reconstructions(dir + "/reconstructions.png", vae, 0, x, 4, 4);

  EXPECT_EQ(info.scalar, "float32");
  EXPECT_EQ(info.architecture, vae.architecture());
  EXPECT_EQ(info.parameter_count, static_cast<std::uint64_t>(vae.parameter_count()));
  EXPECT_EQ(copy.parameters(), vae.parameters());
  EXPECT_DOUBLE_EQ(loaded.scalar("epoch"), 3.0);
  EXPECT_TRUE(mismatch);
  EXPECT_THROW(scvae::load_model(dir + "/missing.scvae", copy), scvae::IoError);
  EXPECT_TRUE(fs::exists(dir + "/grid.png"));
  EXPECT_TRUE(fs::exists(dir + "/samples.png"));
  EXPECT_TRUE(fs::exists(dir + "/reconstructions.png"));

  // A flat vector under an architecture string of your own.
  const scvae::Vector<double> values = scvae::Vector<double>::LinSpaced(5, 0.0, 1.0);
  scvae::save_checkpoint<double>(dir + "/raw.scvae", "my-model-v1", values);
  EXPECT_EQ(scvae::load_checkpoint<double>(dir + "/raw.scvae", "my-model-v1"), values);
  EXPECT_THROW(scvae::load_checkpoint<float>(dir + "/raw.scvae", "my-model-v1"),
               scvae::CheckpointError);
}

// ---------------------------------------------------------------- util
TEST(ApiDocs, Util) {
  // Any function of a flat double vector against its analytic gradient.
  auto cube_sum = [](const scvae::Vector<double>& p) { return p.array().cube().sum(); };
  scvae::Vector<double> p(3);
  p << 0.5, -1.0, 2.0;
  const scvae::Vector<double> analytic = 3.0 * p.array().square().matrix();
  const scvae::GradientCheckResult simple = scvae::check_gradient(cube_sum, p, analytic);

  // A whole model: double precision, the noise eps held fixed.
  scvae::VAET<double> vae(4, {3}, 2, /*seed=*/1);
  const scvae::Matrix<double> x = scvae::Matrix<double>::Constant(4, 5, 0.3);
  scvae::Matrix<double> eps(2, 5);
  scvae::Rng rng(2);
  rng.fill_normal(eps);
  vae.loss_and_gradient(x, eps);
  const scvae::Vector<double> gradient = vae.gradients();
  auto loss = [&](const scvae::Vector<double>& params) {
    vae.parameters() = params;
    return vae.loss(x, eps).total;
  };
  const scvae::GradientCheckResult result = scvae::check_gradient(loss, vae.parameters(), gradient);

  EXPECT_LT(simple.relative_error, 1e-8) << simple.describe();
  EXPECT_LT(result.relative_error, 1e-6) << result.describe();
}

TEST(ApiDocs, LabelConditionedVAE) {
  scvae::LabelConditionedSpec spec;
  spec.inputs = 16;
  spec.encoder_hidden = {8};
  spec.latent = 2;
  spec.classes = 3;
  spec.decoder_hidden = {8};
  scvae::LabelConditionedVAE model(spec, /*seed=*/1);
  scvae::Adam adam(scvae::AdamOptions{1e-3});

  const scvae::Index n = 4;
  scvae::Matrix<float> x = scvae::Matrix<float>::Constant(16, n, 0.25f);
  scvae::RowVector<float> labels(n), mask(n);
  labels << 0, 2, 0, 0;
  mask << 1, 1, 0, 0;
  scvae::Rng rng(7);
  const scvae::LabelConditionedLoss parts = model.loss_and_gradient(x, labels, mask, rng);
  // Optional: virtual adversarial training of the classifier on the same images.
  scvae::Matrix<float> adversarial, targets;
  model.virtual_adversarial(x, /*epsilon=*/0.5, /*xi=*/1.0, rng, adversarial, targets);
  const double consistency = model.add_classifier_loss_and_gradient(adversarial, targets, 50.0);
  const scvae::Vector<float> before = model.parameters();
  adam.step(model.parameters(), model.gradients());
  EXPECT_EQ(parts.labelled, 2);
  EXPECT_GE(consistency, 0.0);
  EXPECT_EQ(adversarial.cols(), n);
  EXPECT_GT(parts.label_nll, 0.0);
  EXPECT_TRUE(std::isfinite(parts.total));
  EXPECT_GT((model.parameters() - before).norm(), 0.0f);

  scvae::Matrix<float> q;
  model.class_probabilities(x, q);
  ASSERT_EQ(q.rows(), 3);
  ASSERT_EQ(q.cols(), n);
  EXPECT_NEAR(q.col(0).sum(), 1.0f, 1e-5f);
  scvae::Matrix<float> p;
  model.evidence_weighted_class_probabilities(x, p);
  ASSERT_EQ(p.rows(), 3);
  ASSERT_EQ(p.cols(), n);
  EXPECT_NEAR(p.col(0).sum(), 1.0f, 1e-5f);
}

TEST(ApiDocs, LabelConditionedConvNetworks) {
  scvae::LabelConditionedSpec spec;
  spec.inputs = 784;
  spec.encoder_hidden.clear();
  spec.decoder_hidden.clear();
  spec.input_shape = scvae::Shape(1, 28, 28);
  spec.trunk_network = "[conv2d(32,4,2,1) relu conv2d(64,4,2,1) relu flatten dense(256) relu]";
  spec.decoder_network =
      "[dense(256) relu dense(3136) relu reshape(64x7x7) conv_transpose2d(32,4,2,1) relu "
      "conv_transpose2d(1,4,2,1)]";
  const scvae::LabelConditionedVAE model(spec, /*seed=*/1);
  EXPECT_EQ(model.architecture().rfind("scvae-m2-v2 input=1x28x28 trunk=[conv2d(32,4,2,1) ", 0),
            0u);
  EXPECT_EQ(scvae::parse_label_conditioned_spec(model.architecture()).architecture(),
            model.architecture());
}

}  // namespace
