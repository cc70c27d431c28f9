// parse_model_spec and parse_label_conditioned_spec: the exact inverses of
// architecture() (round trips over hand-picked and random specs, parameter
// counts equal to the built models'), and every malformed field refused with
// a FormatError that names it, a too-large model with an ArgumentError.
#include "scvae/model/spec_parse.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "scvae/core/random.hpp"
#include "scvae/model/label_conditioned_vae.hpp"
#include "scvae/model/scvae.hpp"
#include "scvae/model/vae.hpp"

namespace scvae {
namespace {

using namespace std::string_literals;

constexpr Activation kActivations[] = {
    Activation::Identity, Activation::ReLU,      Activation::Tanh, Activation::Sigmoid,
    Activation::Softplus, Activation::LeakyReLU, Activation::ELU};

TaskSpec make_task(const std::string& name, Index outputs, std::vector<Index> hidden,
                   LikelihoodSpec likelihood, Activation activation = Activation::ReLU,
                   DecoderInput input = DecoderInput::Sample) {
  TaskSpec task;
  task.name = name;
  task.outputs = outputs;
  task.hidden = std::move(hidden);
  task.likelihood = likelihood;
  task.activation = activation;
  task.input = input;
  return task;
}

std::vector<ModelSpec> model_specs() {
  std::vector<ModelSpec> specs;
  specs.push_back(VAET<double>::make_spec(784, {400}, 20));
  specs.push_back(VAET<double>::make_spec(6, {}, 2));  // no hidden layers
  specs.push_back(VAET<double>::make_spec(5, {7, 4, 3}, 2, LikelihoodSpec::gaussian()));
  for (const double variance : {0.1, 1e-5, 123456.789, 0.5, 3.0, 1e300, 2.2250738585072014e-308})
    specs.push_back(VAET<double>::make_spec(4, {3}, 2, LikelihoodSpec::gaussian(variance)));
  specs.push_back(VAET<double>::make_spec(4, {3}, 2, LikelihoodSpec::gaussian_learned_variance()));
  for (const Activation activation : kActivations)
    specs.push_back(VAET<double>::make_spec(4, {3}, 2, LikelihoodSpec::bernoulli(), activation));
  ModelSpec multi;
  multi.inputs = 8;
  multi.encoder_hidden = {6, 5};
  multi.latent = 3;
  multi.activation = Activation::Tanh;
  multi.tasks.push_back(make_task("image", 8, {5}, LikelihoodSpec::bernoulli()));
  multi.tasks.push_back(make_task("label", 4, {}, LikelihoodSpec::categorical(4), Activation::ReLU,
                                  DecoderInput::Mean));
  multi.tasks.push_back(
      make_task("depth map", 2, {4, 4}, LikelihoodSpec::gaussian(0.25), Activation::ELU));
  multi.tasks.push_back(make_task("noise", 3, {2}, LikelihoodSpec::gaussian_learned_variance(),
                                  Activation::Softplus, DecoderInput::Mean));
  // Names are any bytes up to " decoder=": ';', "task", UTF-8 and a control byte too.
  multi.tasks.push_back(make_task("a; task b", 2, {}, LikelihoodSpec::categorical(2)));
  multi.tasks.push_back(make_task("\xc3\xa9tiquette\x1b", 2, {}, LikelihoodSpec::bernoulli()));
  specs.push_back(multi);
  return specs;
}

std::vector<LabelConditionedSpec> label_conditioned_specs() {
  std::vector<LabelConditionedSpec> specs;
  LabelConditionedSpec spec;
  spec.inputs = 784;
  specs.push_back(spec);  // the defaults: 784-400, latent 20, 10 classes
  spec.inputs = 16;
  spec.encoder_hidden = {8};
  spec.latent = 2;
  spec.classes = 3;
  spec.decoder_hidden = {};
  specs.push_back(spec);  // no classifier or decoder hidden layers
  spec.latent_reads_label = true;
  spec.classifier_hidden = {5, 4};
  spec.decoder_hidden = {6, 7};
  spec.encoder_hidden = {9, 8};
  for (const Activation activation : kActivations) {
    spec.activation = activation;
    specs.push_back(spec);
  }
  return specs;
}

void expect_same(const ModelSpec& a, const ModelSpec& b) {
  EXPECT_EQ(a.inputs, b.inputs);
  EXPECT_EQ(a.encoder_hidden, b.encoder_hidden);
  EXPECT_EQ(a.latent, b.latent);
  EXPECT_EQ(a.activation, b.activation);
  ASSERT_EQ(a.tasks.size(), b.tasks.size());
  for (std::size_t t = 0; t < a.tasks.size(); ++t) {
    EXPECT_EQ(a.tasks[t].name, b.tasks[t].name);
    EXPECT_EQ(a.tasks[t].outputs, b.tasks[t].outputs);
    EXPECT_EQ(a.tasks[t].hidden, b.tasks[t].hidden);
    EXPECT_EQ(a.tasks[t].activation, b.tasks[t].activation);
    EXPECT_EQ(a.tasks[t].input, b.tasks[t].input);
    EXPECT_EQ(a.tasks[t].likelihood.kind, b.tasks[t].likelihood.kind);
    EXPECT_EQ(a.tasks[t].likelihood.classes, b.tasks[t].likelihood.classes);
    if (a.tasks[t].likelihood.kind == LikelihoodSpec::Kind::Gaussian) {
      EXPECT_EQ(a.tasks[t].likelihood.variance, b.tasks[t].likelihood.variance);
    }
  }
}

TEST(SpecParse, ModelSpecsRoundTripAndCountTheBuiltModelsParameters) {
  for (ModelSpec spec : model_specs()) {
    const std::string text = spec.architecture();
    SCOPED_TRACE(text);
    // Neither the weights nor the initialization are in the line: defaults come back.
    for (TaskSpec& task : spec.tasks) task.weight = 3.5;
    spec.initialization = Initialization::PyTorch;
    const ModelSpec parsed = parse_model_spec(text);
    EXPECT_EQ(parsed.architecture(), text);
    expect_same(parsed, spec);
    for (const TaskSpec& task : parsed.tasks) EXPECT_EQ(task.weight, 1.0);
    EXPECT_EQ(parsed.initialization, Initialization::HeGlorot);
    EXPECT_EQ(detail::described_parameter_count(parsed, text),
              static_cast<std::uint64_t>(SCVAET<double>(parsed).parameter_count()));
  }
}

TEST(SpecParse, LabelConditionedSpecsRoundTripAndCountTheBuiltModelsParameters) {
  for (LabelConditionedSpec spec : label_conditioned_specs()) {
    const std::string text = spec.architecture();
    SCOPED_TRACE(text);
    spec.label_weight = 7;
    spec.entropy_weight = 1;
    const LabelConditionedSpec parsed = parse_label_conditioned_spec(text);
    EXPECT_EQ(parsed.architecture(), text);
    EXPECT_EQ(parsed.inputs, spec.inputs);
    EXPECT_EQ(parsed.encoder_hidden, spec.encoder_hidden);
    EXPECT_EQ(parsed.latent, spec.latent);
    EXPECT_EQ(parsed.classes, spec.classes);
    EXPECT_EQ(parsed.classifier_hidden, spec.classifier_hidden);
    EXPECT_EQ(parsed.decoder_hidden, spec.decoder_hidden);
    EXPECT_EQ(parsed.latent_reads_label, spec.latent_reads_label);
    EXPECT_EQ(parsed.activation, spec.activation);
    EXPECT_EQ(parsed.label_weight, LabelConditionedSpec().label_weight);
    EXPECT_EQ(parsed.entropy_weight, LabelConditionedSpec().entropy_weight);
    EXPECT_EQ(detail::described_parameter_count(parsed, text),
              static_cast<std::uint64_t>(LabelConditionedVAET<double>(parsed).parameter_count()));
  }
}

/// Random specs of every field's kind: parse(spec.architecture()) gives the
/// same line and the same parameter count.
TEST(SpecParse, RandomSpecsRoundTrip) {
  Rng rng(11);
  auto pick = [&](Index n) {
    return static_cast<Index>(rng.uniform() * static_cast<double>(n)) % n;
  };
  auto sizes = [&](Index most) {
    std::vector<Index> out(static_cast<std::size_t>(pick(most + 1)));
    for (Index& size : out) size = 1 + pick(9);
    return out;
  };
  for (int round = 0; round < 300; ++round) {
    ModelSpec spec;
    spec.inputs = 1 + pick(12);
    spec.encoder_hidden = sizes(3);
    spec.latent = 1 + pick(4);
    spec.activation = kActivations[pick(7)];
    const Index tasks = 1 + pick(3);
    for (Index t = 0; t < tasks; ++t) {
      LikelihoodSpec likelihood;
      Index outputs = 1 + pick(9);
      switch (pick(4)) {
        case 0: likelihood = LikelihoodSpec::bernoulli(); break;
        case 1: likelihood = LikelihoodSpec::gaussian(std::exp(8 * rng.normal())); break;
        case 2: likelihood = LikelihoodSpec::gaussian_learned_variance(); break;
        default: outputs = 2 + pick(8); likelihood = LikelihoodSpec::categorical(outputs);
      }
      spec.tasks.push_back(make_task("t" + std::to_string(t), outputs, sizes(2), likelihood,
                                     kActivations[pick(7)],
                                     pick(2) ? DecoderInput::Mean : DecoderInput::Sample));
    }
    const std::string text = spec.architecture();
    SCOPED_TRACE(text);
    const ModelSpec parsed = parse_model_spec(text);
    ASSERT_EQ(parsed.architecture(), text);
    expect_same(parsed, spec);
    EXPECT_EQ(detail::described_parameter_count(parsed, text),
              static_cast<std::uint64_t>(SCVAET<float>(parsed).parameter_count()));

    LabelConditionedSpec m2;
    m2.inputs = 1 + pick(12);
    m2.encoder_hidden = sizes(2);
    m2.encoder_hidden.push_back(1 + pick(5));
    m2.latent = 1 + pick(4);
    m2.classes = 2 + pick(5);
    m2.classifier_hidden = sizes(2);
    m2.decoder_hidden = sizes(2);
    m2.latent_reads_label = pick(2) == 1;
    m2.activation = kActivations[pick(7)];
    const std::string m2_text = m2.architecture();
    const LabelConditionedSpec m2_parsed = parse_label_conditioned_spec(m2_text);
    ASSERT_EQ(m2_parsed.architecture(), m2_text);
    EXPECT_EQ(detail::described_parameter_count(m2_parsed, m2_text),
              static_cast<std::uint64_t>(LabelConditionedVAET<float>(m2_parsed).parameter_count()));
  }
}

/// FormatError whose message quotes the text and names the field.
template <typename Parse>
void expect_format_error(Parse parse, const std::string& text, const std::string& field) {
  SCOPED_TRACE(text);
  try {
    parse(text);
    ADD_FAILURE() << "expected a FormatError naming " << field;
  } catch (const FormatError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(": " + field + " at byte"), std::string::npos) << message;
    EXPECT_NE(message.find(detail::quoted_architecture(text)), std::string::npos) << message;
    EXPECT_NE(message.find("at byte"), std::string::npos) << message;
  }
}

const std::string kBase = "scvae-v1 encoder=4-3-2 relu; task input decoder=2-3-4 relu ";

TEST(SpecParse, MalformedModelArchitecturesNameTheField) {
  const auto parse = [](const std::string& text) { return parse_model_spec(text); };
  ASSERT_NO_THROW(parse(kBase + "bernoulli"));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "the kind"},
      {"scvae-v2 encoder=4-3-2 relu; task input decoder=2-3-4 relu bernoulli", "the kind"},
      {"scvae-m2-v1 encoder=16-8 latent=2 classes=10 classifier=8-10 decoder=2+10-8-16 relu "
       "bernoulli",
       "the kind"},
      {"scvae-v1  encoder=4-3-2 relu; task input decoder=2-3-4 relu bernoulli", "the kind"},
      {"scvae-v1 encoder=4 relu; task input decoder=4-3-4 relu bernoulli", "encoder sizes"},
      {"scvae-v1 encoder=4-0-2 relu; task input decoder=2-3-4 relu bernoulli", "encoder sizes"},
      {"scvae-v1 encoder=04-3-2 relu; task input decoder=2-3-4 relu bernoulli", "encoder sizes"},
      {"scvae-v1 encoder=+4-3-2 relu; task input decoder=2-3-4 relu bernoulli", "encoder sizes"},
      {"scvae-v1 encoder=4--2 relu; task input decoder=2-3-4 relu bernoulli", "encoder sizes"},
      {"scvae-v1 encoder=4-3-2- relu; task input decoder=2-3-4 relu bernoulli", "encoder sizes"},
      {"scvae-v1 encoder=4-3-2  relu; task input decoder=2-3-4 relu bernoulli",
       "encoder activation"},
      {"scvae-v1 encoder=4-3-2,relu; task input decoder=2-3-4 relu bernoulli", "encoder sizes"},
      {"scvae-v1 encoder=4-3-2 relux; task input decoder=2-3-4 relu bernoulli",
       "encoder activation"},
      {"scvae-v1 encoder=4-3-2 ReLU; task input decoder=2-3-4 relu bernoulli",
       "encoder activation"},
      {"scvae-v1 encoder=4-3-2 relu", "task 0"},
      {"scvae-v1 encoder=4-3-2 relu;task input decoder=2-3-4 relu bernoulli", "task 0"},
      {"scvae-v1 encoder=4-3-2 relu; task  decoder=2-3-4 relu bernoulli", "task 0 name"},
      {"scvae-v1 encoder=4-3-2 relu; task input decoder:2-3-4 relu bernoulli", "task 0 name"},
      {kBase + "bernoulli; task input decoder=2-4 relu bernoulli", "task 1 name"},
      {"scvae-v1 encoder=4-3-2 relu; task input decoder=3-3-4 relu bernoulli",
       "task 0 decoder sizes"},
      {"scvae-v1 encoder=4-3-2 relu; task input decoder=2 relu bernoulli", "task 0 decoder sizes"},
      {"scvae-v1 encoder=4-3-2 relu; task input decoder=2-3-4 bernoulli", "task 0 activation"},
      {"scvae-v1 encoder=4-3-2 relu; task input decoder=2-3-4,relu bernoulli",
       "task 0 decoder sizes"},
      {"scvae-v1 encoder=4-3-2 relu; task input decoder=2-3-4 relu", "task 0 activation"},
      {"scvae-v1 encoder=4-3-2 relu; task input decoder=2-3-4 reluu bernoulli",
       "task 0 activation"},
      {kBase, "task 0 likelihood"},
      {kBase + "poisson", "task 0 likelihood"},
      {kBase + "Bernoulli", "task 0 likelihood"},
      {kBase + "categorical(4", "task 0 likelihood"},
      {kBase + "categorical(1)", "task 0 likelihood classes"},
      {kBase + "categorical(0)", "task 0 likelihood classes"},
      {kBase + "categorical(5)", "task 0 likelihood"},
      {kBase + "categorical(04)", "task 0 likelihood classes"},
      {kBase + "gaussian", "task 0 likelihood"},
      {kBase + "gaussian(variance=1.0)", "task 0 likelihood variance"},
      {kBase + "gaussian(variance=+1)", "task 0 likelihood variance"},
      {kBase + "gaussian(variance=1e0)", "task 0 likelihood variance"},
      {kBase + "gaussian(variance=0.1)", "task 0 likelihood variance"},  // 0.10000000000000001
      {kBase + "gaussian(variance=0)", "task 0 likelihood variance"},
      {kBase + "gaussian(variance=-1)", "task 0 likelihood variance"},
      {kBase + "gaussian(variance=inf)", "task 0 likelihood variance"},
      {kBase + "gaussian(variance=nan)", "task 0 likelihood variance"},
      {kBase + "gaussian(variance=1 )", "task 0 likelihood variance"},
      {kBase + "gaussian(variance=)", "task 0 likelihood variance"},
      {kBase + "gaussian(variance=1", "task 0 likelihood variance"},
      {kBase + "gaussian(learned variance", "task 0 likelihood"},
      {kBase + "bernoulli ", "task 1"},
      {kBase + "bernoulli from-mean from-mean", "task 1"},
      {kBase + "bernoulli from mean", "task 1"},
      {kBase + "bernoulli;", "task 1"},
      {kBase + "bernoulli; task ", "task 1 name"},
      {kBase + "bernoulli\n", "task 1"},
      {kBase + "bernoulli\0"s, "task 1"},
  };
  for (const auto& [text, field] : cases) expect_format_error(parse, text, field);
}

TEST(SpecParse, MalformedLabelConditionedArchitecturesNameTheField) {
  const auto parse = [](const std::string& text) { return parse_label_conditioned_spec(text); };
  const std::string good =
      "scvae-m2-v1 encoder=16-8 latent=2|y classes=10 classifier=8-10 decoder=2+10-8-16 relu "
      "bernoulli";
  ASSERT_EQ(parse(good).architecture(), good);
  auto with = [&](const std::string& from, const std::string& to) {
    std::string text = good;
    const std::size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return text.replace(at, from.size(), to);
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "the kind"},
      {"scvae-v1 encoder=4-3-2 relu; task input decoder=2-3-4 relu bernoulli", "the kind"},
      {with("encoder=16-8 ", "encoder=16 "),
       "encoder sizes (the inputs and at least one hidden layer)"},
      {with("encoder=16-8", "encoder=16-08"),
       "encoder sizes (the inputs and at least one hidden layer)"},
      {with(" latent=", "  latent="), "encoder sizes"},
      {with("latent=2|y", "latent=0|y"), "latent size"},
      {with("latent=2|y", "latent=2|x"), "latent size"},
      {with("latent=2|y", "latent=2y"), "latent size"},
      {with("classes=10 classifier=8-10 decoder=2+10", "classes=1 classifier=8-1 decoder=2+1"),
       "classes"},
      {with(" classes=", " class="), "latent size"},
      {with("classifier=8-10", "classifier=7-10"), "classifier sizes"},
      {with("classifier=8-10", "classifier=8-9"), "classifier sizes"},
      {with("classifier=8-10", "classifier=8"), "classifier sizes"},
      {with("decoder=2+10", "decoder=3+10"), "decoder sizes"},
      {with("decoder=2+10", "decoder=2+9"), "decoder sizes"},
      {with("-8-16 relu", "-8-15 relu"), "decoder sizes"},
      {with("decoder=2+10-8-16", "decoder=2-10-8-16"), "decoder latent size"},
      {with("decoder=2+10-8-16", "decoder=2+10"), "decoder classes"},
      {with(" relu", " relux"), "activation"},
      {with(" relu", ""), "activation"},
      {with(" bernoulli", " gaussian(variance=1)"), "likelihood (M2's image decoder is bernoulli)"},
      {with(" bernoulli", ""), "likelihood (M2's image decoder is bernoulli)"},
      {good + " ", "the end of the text after the likelihood"},
      {good + "; task x decoder=2-4 relu bernoulli", "the end of the text after the likelihood"},
  };
  for (const auto& [text, field] : cases) expect_format_error(parse, text, field);
}

TEST(SpecParse, TooLargeModelsAreArgumentErrorsBeforeAnyAllocation) {
  const auto expect_too_large = [](auto parse, const std::string& text) {
    SCOPED_TRACE(text);
    try {
      parse(text);
      ADD_FAILURE() << "expected an ArgumentError";
    } catch (const ArgumentError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("17179869184 (2^34) parameters"), std::string::npos) << message;
      EXPECT_NE(message.find(detail::quoted_architecture(text)), std::string::npos) << message;
    }
  };
  const auto model = [](const std::string& text) { return parse_model_spec(text); };
  const auto m2 = [](const std::string& text) { return parse_label_conditioned_spec(text); };
  // One size past the limit, and one that would overflow 64 bits.
  expect_too_large(model,
                   "scvae-v1 encoder=4-17179869185-2 relu; task t decoder=2-4 relu bernoulli");
  expect_too_large(model,
                   "scvae-v1 encoder=4-99999999999999999999999-2 relu; task t decoder=2-4 relu "
                   "bernoulli");
  // Sizes each fine, their product (4e10 weights) not: no size is allocated.
  expect_too_large(model,
                   "scvae-v1 encoder=200000-200000-2 relu; task t decoder=2-200000 relu bernoulli");
  expect_too_large(
      model, "scvae-v1 encoder=4-2 relu; task t decoder=2-4294967296-4294967296 relu bernoulli");
  // The sum of many layers that each fit.
  std::string many = "scvae-v1 encoder=4-2 relu";
  for (int t = 0; t < 5; ++t)
    many += "; task t" + std::to_string(t) + " decoder=2-65536-65536 relu bernoulli";
  expect_too_large(model, many);
  expect_too_large(m2,
                   "scvae-m2-v1 encoder=16-8 latent=2 classes=10 classifier=8-17179869184-10 "
                   "decoder=2+10-16 relu bernoulli");
  expect_too_large(m2,
                   "scvae-m2-v1 encoder=300000-300000 latent=2 classes=10 classifier=300000-10 "
                   "decoder=2+10-300000 relu bernoulli");
}

TEST(SpecParse, MessagesEscapeControlCharactersAndCutLongText) {
  const std::string hostile = "scvae-v1 encoder=4-3-2 \x1b[2J\x07relu";
  try {
    parse_model_spec(hostile);
    FAIL() << "expected a FormatError";
  } catch (const FormatError& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.find('\x1b'), std::string::npos) << message;
    EXPECT_EQ(message.find('\x07'), std::string::npos) << message;
    EXPECT_NE(message.find("\\x1b[2J\\x07"), std::string::npos) << message;
  }
  const std::string long_text = kBase + "bernoulli" + std::string(100000, 'x');
  try {
    parse_model_spec(long_text);
    FAIL() << "expected a FormatError";
  } catch (const FormatError& e) {
    EXPECT_LT(std::string(e.what()).size(), 1000u) << e.what();
    EXPECT_NE(std::string(e.what()).find(std::to_string(long_text.size()) + " bytes"),
              std::string::npos)
        << e.what();
  }
}


// Specs whose networks are module text (ModelSpec::encoder_network,
// TaskSpec::network): the v2 line when the shorthand cannot say them.
std::vector<ModelSpec> network_specs() {
  std::vector<ModelSpec> specs;
  ModelSpec image = VAET<double>::make_spec(12, {}, 2);
  image.input_shape = Shape(3, 2, 2);
  image.encoder_network = "[flatten dense(5) elu gaussian(2)]";
  image.tasks[0].network = "[dense(5) leaky_relu dense(12)]";
  specs.push_back(image);
  ModelSpec mixed = VAET<double>::make_spec(6, {4}, 3, LikelihoodSpec::gaussian(0.5));
  mixed.encoder_network = "[dense(4) relu dense(4) tanh gaussian(3)]";  // two activations
  mixed.encoder_hidden.clear();
  mixed.tasks.push_back(make_task("label", 3, {}, LikelihoodSpec::categorical(3),
                                  Activation::ReLU, DecoderInput::Mean));
  mixed.tasks[1].network = "[[dense(3)] identity]";  // nested, an explicit identity
  specs.push_back(mixed);
  ModelSpec learned = VAET<double>::make_spec(4, {3}, 2, LikelihoodSpec::gaussian_learned_variance());
  learned.tasks[0].hidden.clear();
  learned.tasks[0].network = "[reshape(1x1x2) flatten dense(4)]";
  specs.push_back(learned);
  return specs;
}

TEST(SpecParse, NetworkSpecsWriteTheV2LineAndRoundTrip) {
  for (const ModelSpec& spec : network_specs()) {
    const std::string text = spec.architecture();
    SCOPED_TRACE(text);
    EXPECT_EQ(detail::architecture_kind(text), kModelNetworkArchitectureKind);
    const ModelSpec parsed = parse_model_spec(text);
    EXPECT_EQ(parsed.architecture(), text);
    EXPECT_EQ(parsed.inputs, spec.inputs);
    EXPECT_EQ(parsed.latent, spec.latent);
    EXPECT_EQ(parsed.encoder_network_text(), spec.encoder_network_text());
    ASSERT_EQ(parsed.tasks.size(), spec.tasks.size());
    for (std::size_t t = 0; t < spec.tasks.size(); ++t) {
      EXPECT_EQ(parsed.tasks[t].network_text(), spec.tasks[t].network_text());
      EXPECT_EQ(parsed.tasks[t].outputs, spec.tasks[t].outputs);
      EXPECT_EQ(parsed.tasks[t].input, spec.tasks[t].input);
      EXPECT_EQ(parsed.tasks[t].likelihood.name(), spec.tasks[t].likelihood.name());
    }
    EXPECT_EQ(detail::described_parameter_count(parsed, text),
              static_cast<std::uint64_t>(SCVAET<double>(parsed).parameter_count()));
    EXPECT_EQ(SCVAET<double>(parsed).parameter_count(), SCVAET<double>(spec).parameter_count());
  }
  // The exact line of the first spec, whitespace of the spec's text made canonical.
  ModelSpec spaced = network_specs()[0];
  spaced.encoder_network = " [ flatten\tdense(5)  elu gaussian(2) ] ";
  EXPECT_EQ(spaced.architecture(),
            "scvae-v2 input=3x2x2 latent=2 encoder=[flatten dense(5) elu gaussian(2)]; task input "
            "outputs=12 decoder=[dense(5) leaky_relu dense(12)] bernoulli");
}

TEST(SpecParse, TheReadmesConvolutionalSpecBuildsAndRoundTrips) {
  // README.md's "Modules" snippet, as written there.
  scvae::ModelSpec spec = scvae::VAE::make_spec(784, {}, 20);
  spec.input_shape = scvae::Shape(1, 28, 28);
  spec.encoder_network = "[conv2d(32,3,2,1) relu flatten dense(256) elu gaussian(20)]";
  spec.tasks[0].network = "[dense(256) elu dense(784)]";
  scvae::SCVAE model(spec, /*seed=*/1);
  EXPECT_EQ(model.encoder().network().token(), spec.encoder_network);
  EXPECT_EQ(parse_model_spec(model.architecture()).architecture(), model.architecture());
  EXPECT_EQ(detail::architecture_kind(model.architecture()), kModelNetworkArchitectureKind);
}

TEST(SpecParse, NetworksTheShorthandDescribesKeepTheV1LineAndTheSameModel) {
  for (const ModelSpec& shorthand : model_specs()) {
    ModelSpec networks = shorthand;
    networks.encoder_network = shorthand.encoder_network_text();
    networks.encoder_hidden.clear();
    networks.activation = Activation::Sigmoid;  // ignored by a network
    for (TaskSpec& task : networks.tasks) {
      task.network = task.network_text();
      task.hidden.clear();
    }
    SCOPED_TRACE(networks.encoder_network);
    EXPECT_EQ(networks.architecture(), shorthand.architecture());
    // Same layout and initialisation order: the same parameters from a seed.
    const SCVAET<double> a(shorthand, 11), b(networks, 11);
    ASSERT_EQ(a.parameter_count(), b.parameter_count());
    EXPECT_EQ(a.parameters(), b.parameters());
  }
  EXPECT_EQ(VAET<double>::make_spec(784, {400}, 20).encoder_network_text(),
            "[dense(400) relu gaussian(20)]");
  EXPECT_EQ(VAET<double>::make_spec(784, {400}, 20).tasks[0].network_text(),
            "[dense(400) relu dense(784)]");
}

TEST(SpecParse, MalformedNetworkArchitecturesNameTheField) {
  const auto parse = [](const std::string& text) { return parse_model_spec(text); };
  const std::string head = "scvae-v2 input=3x2x2 latent=2 encoder=";
  const std::string encoder = "[flatten dense(5) elu gaussian(2)]";
  const std::string task = "; task input outputs=12 decoder=[dense(5) elu dense(12)] ";
  ASSERT_NO_THROW(parse(head + encoder + task + "bernoulli"));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"scvae-v2 encoder=[gaussian(2)]; task a outputs=2 decoder=[dense(2)] bernoulli",
       "the kind"},
      {"scvae-v2 input=3x2 latent=2 encoder=" + encoder + task + "bernoulli", "input shape"},
      {"scvae-v2 input=12x1x1 latent=2 encoder=" + encoder + task + "bernoulli", "input shape"},
      {"scvae-v2 input=03x2x2 latent=2 encoder=" + encoder + task + "bernoulli", "input shape"},
      {"scvae-v2 input=3x2x2 latent=0 encoder=" + encoder + task + "bernoulli", "latent size"},
      {"scvae-v2 input=3x2x2 encoder=" + encoder + task + "bernoulli", "input shape"},
      {head + "flatten dense(5)" + task + "bernoulli", "encoder network"},
      {head + "[flatten  dense(5) elu gaussian(2)]" + task + "bernoulli", "encoder network"},
      {head + "[ flatten dense(5) elu gaussian(2)]" + task + "bernoulli", "encoder network"},
      {head + "[flatten dense(5) elu gaussian(2)" + task + "bernoulli", "encoder network"},
      {head + "[flatten dense() elu gaussian(2)]" + task + "bernoulli", "encoder network"},
      {head + "[flatten dense(5)elu gaussian(2)]" + task + "bernoulli", "encoder network"},
      {head + "[flatten 9dense elu gaussian(2)]" + task + "bernoulli", "encoder network"},
      {head + encoder + "]" + task + "bernoulli", "task 0"},
      {head + encoder + "; task input decoder=[dense(12)] bernoulli", "task 0 name"},
      {head + encoder + "; task input outputs=x decoder=[dense(12)] bernoulli", "task 0 outputs"},
      {head + encoder + "; task input outputs=12 decoder=dense(12) bernoulli",
       "task 0 decoder network"},
      {head + encoder + "; task input outputs=12 decoder=[dense(12)]bernoulli",
       "task 0 decoder network"},
      {head + encoder + task + "poisson", "task 0 likelihood"},
      {head + encoder + "; task input outputs=12 decoder=[dense(12)] categorical(3)",
       "task 0 likelihood"},
      {head + encoder + task + "bernoulli; task input outputs=12 decoder=[dense(12)] bernoulli",
       "task 1 name"},
      {head + encoder + task + "bernoulli ", "task 1"},
      // What the v1 line can say must be said by it.
      {"scvae-v2 input=4 latent=2 encoder=[dense(3) relu gaussian(2)]; task input outputs=4 "
       "decoder=[dense(3) relu dense(4)] bernoulli",
       "the kind"},
  };
  for (const auto& [text, field] : cases) expect_format_error(parse, text, field);
}

TEST(SpecParse, NetworkSpecsAreValidated) {
  ModelSpec spec = network_specs()[0];
  EXPECT_NO_THROW(spec.validate());
  ModelSpec both = spec;
  both.encoder_hidden = {4};
  EXPECT_THROW(both.validate(), ArgumentError);
  ModelSpec bad_text = spec;
  bad_text.tasks[0].network = "[dense(5) elu";
  EXPECT_THROW(bad_text.validate(), ArgumentError);
  ModelSpec bad_shape = spec;
  bad_shape.input_shape = Shape(2, 2, 2);  // 8 features, not the 12 inputs
  EXPECT_THROW(bad_shape.validate(), ArgumentError);
  ModelSpec shape_without_network = VAET<double>::make_spec(12, {4}, 2);
  shape_without_network.input_shape = Shape(3, 2, 2);
  EXPECT_THROW(shape_without_network.validate(), ArgumentError);
  // Building checks what text alone cannot: the head's latent size, the outputs, the modules.
  ModelSpec wrong_latent = spec;
  wrong_latent.encoder_network = "[flatten dense(5) elu gaussian(3)]";
  EXPECT_THROW(SCVAET<double>{wrong_latent}, ArgumentError);
  ModelSpec no_head = spec;
  no_head.encoder_network = "[flatten dense(4)]";
  EXPECT_THROW(SCVAET<double>{no_head}, ArgumentError);
  ModelSpec wrong_outputs = spec;
  wrong_outputs.tasks[0].network = "[dense(11)]";
  EXPECT_THROW(SCVAET<double>{wrong_outputs}, ShapeError);
  ModelSpec unknown = spec;
  unknown.tasks[0].network = "[dense(5) no_such_module dense(12)]";
  try {
    SCVAET<double>{unknown};
    ADD_FAILURE() << "expected an ArgumentError";
  } catch (const ArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("task 'input' network"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("no_such_module"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace scvae
