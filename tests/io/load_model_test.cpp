// load_model, load_vae and load_label_conditioned_model: a model rebuilt from
// its checkpoint alone has bit-identical parameters and loss (double and
// float), also one whose networks are module text (a scvae-v2 line) with a
// user's module from a registry of its own, 0.1.0's checkpoints load, and
// every way a checkpoint cannot be built from is a CheckpointError (or
// IoError) naming the file.
#include "scvae/io/load_model.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "../test_support.hpp"
#include "scvae/io/checkpoint.hpp"

namespace scvae {
namespace {

template <typename Scalar>
void expect_bit_identical(const Vector<Scalar>& a, const Vector<Scalar>& b) {
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), sizeof(Scalar) * static_cast<std::size_t>(a.size())),
            0);
}

void same_bits(double a, double b) {
  EXPECT_EQ(std::memcmp(&a, &b, sizeof(double)), 0) << a << " vs " << b;
}

ModelSpec multitask_spec() {
  ModelSpec spec;
  spec.inputs = 6;
  spec.encoder_hidden = {5};
  spec.latent = 3;
  spec.activation = Activation::Tanh;
  auto task = [](const std::string& name, Index outputs, std::vector<Index> hidden,
                 LikelihoodSpec likelihood, DecoderInput input) {
    TaskSpec t;
    t.name = name;
    t.outputs = outputs;
    t.hidden = std::move(hidden);
    t.likelihood = likelihood;
    t.input = input;
    t.weight = 2.5;  // not in the architecture: comes back as 1
    return t;
  };
  spec.tasks.push_back(task("image", 6, {4}, LikelihoodSpec::bernoulli(), DecoderInput::Sample));
  spec.tasks.push_back(task("label", 3, {}, LikelihoodSpec::categorical(3), DecoderInput::Mean));
  spec.tasks.push_back(
      task("depth", 2, {4, 3}, LikelihoodSpec::gaussian(0.25), DecoderInput::Sample));
  spec.tasks.push_back(
      task("noise", 2, {}, LikelihoodSpec::gaussian_learned_variance(), DecoderInput::Mean));
  return spec;
}

template <typename Scalar>
struct MultitaskBatch {
  Matrix<Scalar> x = testing::random_uniform(6, 7, 1).cast<Scalar>();
  Matrix<Scalar> labels = Matrix<Scalar>(1, 7);
  Matrix<Scalar> depth = testing::random_matrix(2, 7, 2).cast<Scalar>();
  Matrix<Scalar> noise = testing::random_matrix(2, 7, 3).cast<Scalar>();
  Matrix<Scalar> eps = testing::random_matrix(3, 7, 4).cast<Scalar>();
  std::vector<TaskBatch<Scalar>> targets;
  MultitaskBatch() {
    for (Index j = 0; j < 7; ++j) labels(0, j) = static_cast<Scalar>(j % 3);
    // TaskBatch holds references: built in place, never assigned.
    targets.reserve(4);
    targets.emplace_back(x);
    targets.emplace_back(labels);
    targets.emplace_back(depth);
    targets.emplace_back(noise);
  }
  MultitaskBatch(const MultitaskBatch&) = delete;
  MultitaskBatch& operator=(const MultitaskBatch&) = delete;
};

template <typename Scalar>
void check_multitask_round_trip() {
  SCOPED_TRACE(scalar_name<Scalar>());
  testing::TempDir dir("scvae_load_model");
  const std::string path = (dir.path / "model.scvae").string();
  SCVAET<Scalar> saved(multitask_spec(), 7);
  // Trained-looking parameters: the learned log-variances are not all zero.
  saved.parameters() +=
      testing::random_matrix(saved.parameter_count(), 1, 8, 0.1).template cast<Scalar>();
  CheckpointExtras extras;
  extras.set_scalar("epochs_done", 3);
  save_model(path, saved, extras);

  CheckpointExtras loaded_extras;
  SCVAET<Scalar> loaded = load_model<Scalar>(path, &loaded_extras);
  EXPECT_EQ(loaded.architecture(), saved.architecture());
  expect_bit_identical(loaded.parameters(), saved.parameters());
  EXPECT_EQ(loaded_extras, extras);
  for (Index t = 0; t < loaded.task_count(); ++t) EXPECT_EQ(loaded.task(t).weight, 1.0);

  MultitaskBatch<Scalar> batch;
  for (Index t = 0; t < loaded.task_count(); ++t) loaded.set_task_weight(t, 2.5);
  const LossParts expected = saved.loss(batch.x, batch.targets, batch.eps);
  const LossParts got = loaded.loss(batch.x, batch.targets, batch.eps);
  same_bits(got.total, expected.total);
  same_bits(got.kl, expected.kl);
  // The loaded model trains like the saved one: the same gradient bits.
  saved.loss_and_gradient(batch.x, batch.targets, batch.eps);
  loaded.loss_and_gradient(batch.x, batch.targets, batch.eps);
  expect_bit_identical(loaded.gradients(), saved.gradients());
}

TEST(LoadModel, MultitaskModelComesBackBitIdenticalWithDefaultWeights) {
  check_multitask_round_trip<double>();
  check_multitask_round_trip<float>();
}

std::string fixture(const std::string& name);

// The balance is in the architecture line: the learned s_t come back with
// the model, and a line without it (every 1.0.0 checkpoint) means None.
TEST(LoadModel, TaskBalanceComesBackFromTheCheckpointAlone) {
  testing::TempDir dir("scvae_load_balance");
  const std::string path = (dir.path / "model.scvae").string();
  ModelSpec spec = multitask_spec();
  spec.balance = TaskBalance::Uncertainty;
  SCVAET<float> saved(spec, 7);
  saved.parameters() +=
      testing::random_matrix(saved.parameter_count(), 1, 8, 0.1).template cast<float>();
  save_model(path, saved);
  SCVAET<float> loaded = load_model<float>(path);
  EXPECT_EQ(loaded.spec().balance, TaskBalance::Uncertainty);
  expect_bit_identical(loaded.parameters(), saved.parameters());
  EXPECT_EQ(loaded.task_balance_weights(), saved.task_balance_weights());
  EXPECT_NE(loaded.task_balance_weights()[0], 1.0);
  // Hand-set weights are not in a checkpoint (the weights exp(-s_t) are).
  for (Index t = 0; t < loaded.task_count(); ++t) loaded.set_task_weight(t, saved.task(t).weight);
  MultitaskBatch<float> batch;
  same_bits(loaded.loss(batch.x, batch.targets, batch.eps).total,
            saved.loss(batch.x, batch.targets, batch.eps).total);

  const SCVAET<float> unbalanced(multitask_spec(), 7);
  save_model(path, unbalanced);
  EXPECT_EQ(load_model<float>(path).spec().balance, TaskBalance::None);
  EXPECT_EQ(load_model<float>(fixture("checkpoint-0.1.0-multitask.scvae")).spec().balance,
            TaskBalance::None);
}

template <typename Scalar>
void check_vae_round_trip() {
  SCOPED_TRACE(scalar_name<Scalar>());
  testing::TempDir dir("scvae_load_vae");
  const std::string path = (dir.path / "vae.scvae").string();
  const VAET<Scalar> saved(9, {6, 4}, 2, 3, LikelihoodSpec::gaussian(0.5), Activation::ELU);
  save_model(path, saved);
  VAET<Scalar> vae = load_vae<Scalar>(path);
  SCVAET<Scalar> model = load_model<Scalar>(path);
  expect_bit_identical(vae.parameters(), saved.parameters());
  expect_bit_identical(model.parameters(), saved.parameters());
  const Matrix<Scalar> x = testing::random_matrix(9, 5, 1).cast<Scalar>();
  const Matrix<Scalar> eps = testing::random_matrix(2, 5, 2).cast<Scalar>();
  VAET<Scalar> reference = saved;
  const double expected = reference.loss(x, eps).total;
  same_bits(vae.loss(x, eps).total, expected);
  same_bits(model.loss(x, {TaskBatch<Scalar>(x)}, eps).total, expected);
}

TEST(LoadModel, VaeComesBackBitIdentical) {
  check_vae_round_trip<double>();
  check_vae_round_trip<float>();
}

template <typename Scalar>
void check_label_conditioned_round_trip(bool latent_reads_label) {
  SCOPED_TRACE(scalar_name<Scalar>());
  testing::TempDir dir("scvae_load_m2");
  const std::string path = (dir.path / "m2.scvae").string();
  LabelConditionedSpec spec;
  spec.inputs = 8;
  spec.encoder_hidden = {6, 5};
  spec.latent = 2;
  spec.classes = 3;
  spec.classifier_hidden = {4};
  spec.decoder_hidden = {5};
  spec.latent_reads_label = latent_reads_label;
  LabelConditionedVAET<Scalar> saved(spec, 5);
  save_model(path, saved);
  LabelConditionedVAET<Scalar> loaded = load_label_conditioned_model<Scalar>(path);
  EXPECT_EQ(loaded.architecture(), saved.architecture());
  expect_bit_identical(loaded.parameters(), saved.parameters());
  const Matrix<Scalar> x = testing::random_uniform(8, 6, 1).cast<Scalar>();
  RowVector<Scalar> labels(6), mask(6);
  for (Index j = 0; j < 6; ++j) {
    labels(j) = static_cast<Scalar>(j % 3);
    mask(j) = static_cast<Scalar>(j % 2);
  }
  const Matrix<Scalar> eps = testing::random_matrix(2, 6, 2).cast<Scalar>();
  same_bits(loaded.loss(x, labels, mask, eps).total, saved.loss(x, labels, mask, eps).total);
}

TEST(LoadModel, LabelConditionedModelComesBackBitIdentical) {
  for (const bool reads_label : {false, true}) {
    SCOPED_TRACE(reads_label ? "q(z|x,y)" : "q(z|x)");
    check_label_conditioned_round_trip<double>(reads_label);
    check_label_conditioned_round_trip<float>(reads_label);
  }
}

std::string fixture(const std::string& name) {
  return std::string(SCVAE_TEST_DATA_DIR) + "/" + name;
}

// tests/data/README.md says how these were made by the 0.1.0 examples.
TEST(LoadModel, CheckpointsOfRelease010LoadLikeTheModelBuiltByHand) {
  const std::string vae_path = fixture("checkpoint-0.1.0-vae.scvae");
  VAET<float> by_hand(16, {8}, 2);
  CheckpointExtras extras;
  load_model(vae_path, by_hand, &extras);
  EXPECT_TRUE(extras.contains("adam.first_moment"));  // a training checkpoint
  const VAET<float> vae = load_vae<float>(vae_path);
  expect_bit_identical(vae.parameters(), by_hand.parameters());
  const Matrix<float> x = testing::random_uniform(16, 10, 3).cast<float>();
  const Matrix<float> eps = testing::random_matrix(2, 10, 4).cast<float>();
  VAET<float> copy = vae;
  same_bits(copy.loss(x, eps).total, by_hand.loss(x, eps).total);

  ModelSpec spec;
  spec.inputs = 16;
  spec.encoder_hidden = {4};
  spec.latent = 2;
  TaskSpec image;
  image.name = "image";
  image.outputs = 16;
  image.hidden = {4};
  TaskSpec label;
  label.name = "label";
  label.outputs = 10;
  label.likelihood = LikelihoodSpec::categorical(10);
  label.input = DecoderInput::Mean;
  spec.tasks = {image, label};
  SCVAET<float> multitask_by_hand(spec);
  const std::string multitask_path = fixture("checkpoint-0.1.0-multitask.scvae");
  load_model(multitask_path, multitask_by_hand);
  SCVAET<float> multitask = load_model<float>(multitask_path);
  expect_bit_identical(multitask.parameters(), multitask_by_hand.parameters());
  Matrix<float> labels(1, 10);
  for (Index j = 0; j < 10; ++j) labels(0, j) = static_cast<float>(j);
  const std::vector<TaskBatch<float>> targets{TaskBatch<float>(x), TaskBatch<float>(labels)};
  same_bits(multitask.loss(x, targets, eps).total, multitask_by_hand.loss(x, targets, eps).total);

  LabelConditionedSpec m2_spec;
  m2_spec.inputs = 16;
  m2_spec.encoder_hidden = {4};
  m2_spec.latent = 2;
  m2_spec.classes = 10;
  m2_spec.decoder_hidden = {4};
  LabelConditionedVAET<float> m2_by_hand(m2_spec);
  const std::string m2_path = fixture("checkpoint-0.1.0-m2.scvae");
  load_model(m2_path, m2_by_hand);
  LabelConditionedVAET<float> m2 = load_label_conditioned_model<float>(m2_path);
  expect_bit_identical(m2.parameters(), m2_by_hand.parameters());
  RowVector<float> mask = RowVector<float>::Ones(10);
  same_bits(m2.loss(x, labels.row(0), mask, eps).total,
            m2_by_hand.loss(x, labels.row(0), mask, eps).total);
}

/// The CheckpointError of `load`, with every fragment in its message.
template <typename Load>
void expect_checkpoint_error(Load load, const std::vector<std::string>& fragments) {
  try {
    load();
    ADD_FAILURE() << "expected a CheckpointError";
  } catch (const CheckpointError& e) {
    const std::string message = e.what();
    for (const std::string& fragment : fragments)
      EXPECT_NE(message.find(fragment), std::string::npos) << fragment << " in: " << message;
    EXPECT_EQ(message.find('\x1b'), std::string::npos) << message;
  }
}

TEST(LoadModel, AnUnknownKindNamesTheFileTheEscapedTextAndTheKindsRead) {
  testing::TempDir dir("scvae_load_unknown");
  const std::string path = (dir.path / "future.scvae").string();
  save_checkpoint<float>(path, "scvae-conv-v3 \x1b[31mconv(3x3)", Vector<float>::Zero(4));
  const std::vector<std::string> fragments = {path, "scvae-conv-v3 \\x1b[31mconv(3x3)",
                                              "unknown kind", "scvae-v1", "scvae-m2-v1"};
  expect_checkpoint_error([&] { load_model<float>(path); }, fragments);
  expect_checkpoint_error([&] { load_vae<float>(path); }, fragments);
  expect_checkpoint_error([&] { load_label_conditioned_model<float>(path); }, fragments);
}

TEST(LoadModel, AModelOfTheOtherKindOrScalarNamesTheLoaderToUse) {
  testing::TempDir dir("scvae_load_kind");
  const std::string vae_path = (dir.path / "vae.scvae").string();
  const std::string m2_path = (dir.path / "m2.scvae").string();
  const std::string multitask_path = (dir.path / "multitask.scvae").string();
  save_model(vae_path, VAET<float>(4, {3}, 2));
  LabelConditionedSpec spec;
  spec.inputs = 4;
  spec.encoder_hidden = {3};
  spec.latent = 2;
  spec.classes = 2;
  save_model(m2_path, LabelConditionedVAET<float>(spec));
  save_model(multitask_path, SCVAET<float>(multitask_spec()));
  expect_checkpoint_error([&] { load_model<float>(m2_path); },
                          {m2_path, "scvae-m2-v1", "load_label_conditioned_model"});
  expect_checkpoint_error([&] { load_label_conditioned_model<float>(vae_path); },
                          {vae_path, "scvae-v1", "load_model"});
  expect_checkpoint_error([&] { load_model<double>(vae_path); },
                          {vae_path, "float32", "not float64"});
  expect_checkpoint_error([&] { load_label_conditioned_model<double>(m2_path); },
                          {m2_path, "float32"});
  expect_checkpoint_error([&] { load_vae<float>(multitask_path); },
                          {multitask_path, "4 task(s)", "load_model"});
}

TEST(LoadModel, AnArchitectureThatCannotBeBuiltIsACheckpointError) {
  testing::TempDir dir("scvae_load_bad");
  const std::string path = (dir.path / "bad.scvae").string();
  // Malformed: the field is named.
  save_checkpoint<float>(path, "scvae-v1 encoder=4-3-2 relu; task input decoder=2-3-4 relu poisson",
                         Vector<float>::Zero(4));
  expect_checkpoint_error([&] { load_model<float>(path); },
                          {path, "cannot build", "task 0 likelihood"});
  // Well formed, but its parameter count is not the file's.
  save_checkpoint<float>(path, VAET<float>(4, {3}, 2).architecture(), Vector<float>::Zero(5));
  expect_checkpoint_error([&] { load_model<float>(path); },
                          {path, "holds 5 parameters",
                           "has " + std::to_string(VAET<float>(4, {3}, 2).parameter_count())});
  // Too large to build: refused before anything that size is allocated.
  save_checkpoint<float>(
      path,
      "scvae-m2-v1 encoder=300000-300000 latent=2 classes=10 classifier=300000-10 "
      "decoder=2+10-300000 relu bernoulli",
      Vector<float>::Zero(3));
  expect_checkpoint_error([&] { load_label_conditioned_model<float>(path); }, {path, "2^34"});
}

// y = a .* x, one learned scale per feature: a module of the test's own,
// known only to the registry the test makes (not to the global one).
template <typename Scalar>
class FeatureScaleT : public ModuleT<Scalar> {
 public:
  using Base = ModuleT<Scalar>;
  explicit FeatureScaleT(const Shape& input) : Base(input, input) {}
  std::string token() const override { return "feature_scale"; }
  std::unique_ptr<Base> clone() const override { return std::make_unique<FeatureScaleT>(*this); }
  Index parameter_count() const override { return this->inputs(); }
  void initialize(Scalar* a, Rng& rng, const InitOptions&) const override {
    for (Index i = 0; i < this->inputs(); ++i) a[i] = static_cast<Scalar>(1 + 0.1 * rng.normal());
  }
  void forward(const Scalar* a, const ConstMatrixRef<Scalar>& x, MatrixRef<Scalar> y,
               ModuleWorkspace*) const override {
    y = scale(a).asDiagonal() * x;
  }
  void backward(const Scalar* a, const ConstMatrixRef<Scalar>&, const ConstMatrixRef<Scalar>&,
                MatrixRef<Scalar> dy, InputGradient<Scalar> dx, ModuleWorkspace*) const override {
    if (!dx.wanted()) return;
    if (dx.write == GradientWrite::Add)
      *dx.matrix += scale(a).asDiagonal() * dy;
    else
      *dx.matrix = scale(a).asDiagonal() * dy;
  }
  void parameter_gradient(const ConstMatrixRef<Scalar>& x, const ConstMatrixRef<Scalar>& dy,
                          Scalar* da, GradientWrite write, ModuleWorkspace*) const override {
    VectorMap<Scalar> gradient(da, this->inputs());
    if (write == GradientWrite::Overwrite) gradient.setZero();
    gradient += x.cwiseProduct(dy).rowwise().sum();
  }

 private:
  ConstVectorMap<Scalar> scale(const Scalar* a) const { return {a, this->inputs()}; }
};

template <typename Scalar>
void add_feature_scale(ModuleRegistry<Scalar>& registry) {
  registry.add("feature_scale", [](const std::string& arguments, const Shape& input) {
    expect_no_arguments("feature_scale", arguments);
    return ModulePtr<Scalar>(std::make_unique<FeatureScaleT<Scalar>>(input));
  });
}

// An encoder the v1 line cannot say: a 2x3x3 image scaled by the user's
// module, flattened, then elu and leaky_relu layers; decoders of module text.
ModelSpec network_spec() {
  ModelSpec spec;
  spec.inputs = 18;
  spec.input_shape = Shape(2, 3, 3);
  spec.latent = 3;
  spec.encoder_network = "[feature_scale flatten dense(7) elu dense(5) leaky_relu gaussian(3)]";
  TaskSpec image;
  image.name = "image";
  image.outputs = 18;
  image.network = "[dense(6) elu feature_scale dense(18)]";
  spec.tasks.push_back(image);
  TaskSpec label;
  label.name = "label";
  label.outputs = 3;
  label.likelihood = LikelihoodSpec::categorical(3);
  label.input = DecoderInput::Mean;
  label.network = "[dense(4) leaky_relu dense(3)]";
  spec.tasks.push_back(label);
  return spec;
}

template <typename Scalar>
void check_network_round_trip() {
  SCOPED_TRACE(scalar_name<Scalar>());
  ModuleRegistry<Scalar> registry;
  add_feature_scale(registry);
  testing::TempDir dir("scvae_load_network");
  const std::string path = (dir.path / "network.scvae").string();
  std::unique_ptr<SCVAET<Scalar>> saved;
  {
    const ScopedModelRegistry<Scalar> scope(registry);
    saved = std::make_unique<SCVAET<Scalar>>(network_spec(), 4);
  }
  EXPECT_EQ(detail::architecture_kind(saved->architecture()), kModelNetworkArchitectureKind);
  saved->parameters() +=
      testing::random_matrix(saved->parameter_count(), 1, 8, 0.1).template cast<Scalar>();
  save_model(path, *saved);

  SCVAET<Scalar> loaded = load_model<Scalar>(path, registry);
  EXPECT_EQ(loaded.architecture(), saved->architecture());
  EXPECT_EQ(loaded.encoder().network().token(), saved->encoder().network().token());
  expect_bit_identical(loaded.parameters(), saved->parameters());
  const Matrix<Scalar> x = testing::random_uniform(18, 5, 1).cast<Scalar>();
  Matrix<Scalar> labels(1, 5);
  for (Index j = 0; j < 5; ++j) labels(0, j) = static_cast<Scalar>(j % 3);
  const Matrix<Scalar> eps = testing::random_matrix(3, 5, 4).cast<Scalar>();
  std::vector<TaskBatch<Scalar>> targets;
  targets.reserve(2);
  targets.emplace_back(x);
  targets.emplace_back(labels);
  same_bits(loaded.loss(x, targets, eps).total, saved->loss(x, targets, eps).total);
  Matrix<Scalar> mu_saved, logvar_saved, mu_loaded, logvar_loaded;
  saved->encode(x, mu_saved, logvar_saved);
  loaded.encode(x, mu_loaded, logvar_loaded);
  EXPECT_EQ(mu_loaded, mu_saved);
  EXPECT_EQ(logvar_loaded, logvar_saved);

  // Without the registry that knows the user's module, the file is refused by name.
  expect_checkpoint_error([&] { load_model<Scalar>(path); }, {path, "feature_scale"});
}

// A balanced model whose networks are module text: its parameter count (the
// built networks plus the balance's own parameters) matches the file's.
TEST(LoadModel, ABalancedNetworkModelComesBackFromItsCheckpointAlone) {
  for (const TaskBalance balance : {TaskBalance::Uncertainty, TaskBalance::GradNorm}) {
    SCOPED_TRACE(static_cast<int>(balance));
    ModelSpec spec = network_spec();
    spec.encoder_network = "[flatten dense(7) elu gaussian(3)]";
    spec.tasks[0].network = "[dense(6) elu dense(18)]";
    spec.balance = balance;
    testing::TempDir dir("scvae_load_balanced_network");
    const std::string path = (dir.path / "model.scvae").string();
    SCVAET<float> saved(spec, 3);
    EXPECT_EQ(detail::architecture_kind(saved.architecture()), kModelNetworkArchitectureKind);
    saved.parameters() +=
        testing::random_matrix(saved.parameter_count(), 1, 9, 0.1).template cast<float>();
    save_model(path, saved);
    const SCVAET<float> loaded = load_model<float>(path);
    EXPECT_EQ(loaded.spec().balance, balance);
    expect_bit_identical(loaded.parameters(), saved.parameters());
  }
}

TEST(LoadModel, ANetworkModelWithAUsersModuleComesBackFromItsCheckpointAlone) {
  const ModuleCheckResult module_check = check_module(FeatureScaleT<double>(Shape(2, 3, 3)));
  EXPECT_TRUE(module_check.passed()) << module_check.describe();
  check_network_round_trip<double>();
  check_network_round_trip<float>();
}

TEST(LoadModel, ANetworkModelOfLibraryModulesNeedsNoRegistry) {
  testing::TempDir dir("scvae_load_network_vae");
  const std::string path = (dir.path / "vae.scvae").string();
  ModelSpec spec = VAET<float>::make_spec(12, {}, 2);
  spec.input_shape = Shape(1, 3, 4);
  spec.encoder_network = "[flatten dense(6) elu gaussian(2)]";
  spec.tasks[0].network = "[dense(6) elu dense(12) reshape(1x3x4) flatten]";
  const VAET<float> saved(spec, 3);
  save_model(path, saved);
  const VAET<float> vae = load_vae<float>(path);
  expect_bit_identical(vae.parameters(), saved.parameters());
  EXPECT_EQ(vae.architecture(), saved.architecture());
  // A file whose count disagrees with what its networks build is refused.
  save_checkpoint<float>(path, saved.architecture(), Vector<float>::Zero(7));
  expect_checkpoint_error([&] { load_model<float>(path); }, {path, "holds 7 parameters"});
}

TEST(LoadModel, AConvolutionalModelComesBackFromItsCheckpointAlone) {
  testing::TempDir dir("scvae_load_conv");
  const std::string path = (dir.path / "conv.scvae").string();
  ModelSpec spec = VAET<double>::make_spec(36, {}, 2);
  spec.input_shape = Shape(1, 6, 6);
  spec.encoder_network = "[conv2d(3,3,2,1) relu flatten dense(8) relu gaussian(2)]";
  spec.tasks[0].network =
      "[dense(27) relu reshape(3x3x3) conv_transpose2d(1,3,2,1,1) flatten]";
  const SCVAET<double> saved(spec, 6);
  save_model(path, saved);
  SCVAET<double> loaded = load_model<double>(path);
  EXPECT_EQ(loaded.architecture(), saved.architecture());
  expect_bit_identical(loaded.parameters(), saved.parameters());
  const Matrix<double> x = testing::random_uniform(36, 4, 1);
  const Matrix<double> eps = testing::random_matrix(2, 4, 2);
  SCVAET<double> reference = saved;
  same_bits(loaded.loss(x, {TaskBatch<double>(x)}, eps).total,
            reference.loss(x, {TaskBatch<double>(x)}, eps).total);
}

TEST(LoadModel, MissingAndCorruptedFilesAreRefused) {
  testing::TempDir dir("scvae_load_missing");
  const std::string path = (dir.path / "model.scvae").string();
  EXPECT_THROW(load_model<float>(path), IoError);
  save_model(path, VAET<float>(4, {3}, 2));
  std::vector<char> bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x10);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  expect_checkpoint_error([&] { load_model<float>(path); }, {path, "corrupted"});
}

}  // namespace
}  // namespace scvae
