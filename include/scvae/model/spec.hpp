#pragma once
// Plain descriptions of a model: what a user fills in to build one, and what
// a checkpoint records as its architecture.
//
// The encoder and each task decoder are described either by hidden sizes and
// an activation (the MLP shorthand) or by a network of modules written as
// text in the grammar of nn/parse.hpp:
//   spec.input_shape = Shape(1, 28, 28);
//   spec.encoder_network = "[flatten dense(400) elu gaussian(20)]";
//   task.network = "[dense(400) elu dense(784)]";
// The shorthand is the network make_mlp builds: hidden {400} and relu is
// "[dense(400) relu gaussian(20)]" for the encoder. architecture() writes the
// 0.1.0 "scvae-v1" line whenever the shorthand can describe the model, and a
// "scvae-v2" line carrying the networks' text otherwise.

#include <cmath>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "scvae/core/error.hpp"
#include "scvae/core/types.hpp"
#include "scvae/model/network_text.hpp"
#include "scvae/nn/activation.hpp"
#include "scvae/nn/dense_layer.hpp"
#include "scvae/nn/shape.hpp"
#include "scvae/prob/likelihood.hpp"

namespace scvae {

/// Which latent code a task decoder reads.
enum class DecoderInput {
  Sample,  ///< z = mu + sigma * eps, the usual VAE path.
  Mean,    ///< mu itself: a deterministic path, e.g. for a label head.
};

/// How the tasks' terms are weighed against each other in the loss.
enum class TaskBalance {
  None,  ///< w_t * NLL_t: the weights are the hand-set TaskSpec::weight.
  /// Learned uncertainty weights (Kendall, Gal and Cipolla 2018): each task
  /// has a log-variance s_t among the parameters (initially 0) and its term
  /// becomes exp(-s_t) * w_t * NLL_t + s_t / 2 per sample with a target.
  Uncertainty,
  /// GradNorm (Chen et al. 2018, model/gradnorm.hpp): the first task keeps
  /// w_t, every other task's NLL is weighed by exp(a_t) * w_t, a_t learned
  /// from the gradient norms at the latent code only (ModelSpec::gradnorm_alpha).
  GradNorm,
};

inline const char* task_balance_name(TaskBalance balance) {
  switch (balance) {
    case TaskBalance::Uncertainty: return "uncertainty";
    case TaskBalance::GradNorm: return "gradnorm";
    case TaskBalance::None: break;
  }
  return "none";
}

/// One task: a decoder from the latent code and the likelihood of its target.
struct TaskSpec {
  std::string name;
  Index outputs = 0;          ///< Decoder outputs (classes for categorical).
  std::vector<Index> hidden;  ///< Hidden layer sizes of the decoder MLP.
  LikelihoodSpec likelihood = LikelihoodSpec::bernoulli();
  double weight = 1.0;  ///< w_t in the loss.
  Activation activation = Activation::ReLU;
  DecoderInput input = DecoderInput::Sample;
  /// The decoder as a network of modules on the latent vector, e.g.
  /// "[dense(400) elu dense(784)]", with `outputs` outputs. Empty: the MLP of
  /// `hidden` and `activation` (which must then be the only description).
  std::string network{};  // a default initializer: aggregate initialisers may omit it

  /// The decoder's network text, canonical: `network`, or the shorthand's expansion.
  std::string network_text() const {
    if (network.empty())
      return detail::mlp_network_text(hidden, activation, "dense(" + std::to_string(outputs) + ")");
    return detail::canonical_network_text(network, "task '" + name + "' network");
  }
};

/// A shared Gaussian encoder and its tasks.
struct ModelSpec {
  Index inputs = 0;
  std::vector<Index> encoder_hidden;
  Index latent = 0;
  Activation activation = Activation::ReLU;
  std::vector<TaskSpec> tasks;
  /// How the initial weights are drawn; not part of the architecture.
  Initialization initialization = Initialization::HeGlorot;
  /// The encoder as a network of modules on input_shape() ending in
  /// gaussian(latent), e.g. "[flatten dense(400) elu gaussian(20)]". Empty:
  /// the MLP of `encoder_hidden` and `activation`.
  std::string encoder_network{};
  /// The shape of one sample (nn/shape.hpp) the encoder network reads, with
  /// `inputs` features. Unset: a vector of `inputs`. Only an encoder_network
  /// reads a shape.
  std::optional<Shape> input_shape{};
  /// How the tasks are balanced (None: as in 1.0.0). Uncertainty adds one
  /// parameter per task after all others, GradNorm two (a_t, then the first
  /// loss L_t(0) it measures training rates against), so it is part of the
  /// architecture.
  TaskBalance balance{};
  /// GradNorm's asymmetry alpha: 0 (the default) asks for equal gradient
  /// norms at the latent code; the paper's 1.5 also lowers the weight of a
  /// task whose loss falls faster than the others', which cost a classifier
  /// head 1.2 points on Fashion-MNIST (examples/RESULTS-balance.md). A
  /// training setting: not in the architecture line.
  double gradnorm_alpha = 0.0;
  /// The name of a categorical task whose classes are the components of the
  /// latent code's prior (model/class_prior.hpp): p(z | y = k) = N(c_k, I)
  /// and p(y) uniform, with c_k the centres of the task's read-out, which
  /// must be "[centres(K)]" from the mean. The rows without that task's
  /// label then shape the classes too. Empty: the prior N(0, I). Part of the
  /// architecture (it changes the loss, not the parameter layout).
  std::string class_prior{};

  /// The index of the class_prior task; -1 without one.
  Index class_prior_task() const {
    if (class_prior.empty()) return -1;
    for (std::size_t t = 0; t < tasks.size(); ++t)
      if (tasks[t].name == class_prior) return static_cast<Index>(t);
    return -1;
  }

  Shape encoder_input_shape() const { return input_shape ? *input_shape : Shape::vector(inputs); }

  /// The encoder's network text, canonical: `encoder_network`, or the
  /// shorthand's expansion.
  std::string encoder_network_text() const {
    if (encoder_network.empty())
      return detail::mlp_network_text(encoder_hidden, activation,
                                      "gaussian(" + std::to_string(latent) + ")");
    return detail::canonical_network_text(encoder_network, "model encoder_network");
  }

  /// Throws ArgumentError on zero sizes, no tasks, duplicate task names,
  /// negative or non-finite weights.
  void validate() const {
    auto positive = [](const std::string& what, Index value) {
      if (value <= 0)
        throw ArgumentError(what + ": expected a positive size, got " + std::to_string(value));
    };
    positive("model inputs", inputs);
    positive("model latent size", latent);
    for (Index h : encoder_hidden) positive("encoder hidden size", h);
    if (input_shape)
      detail::check_spec_input_shape("model input_shape", *input_shape, inputs, encoder_network,
                                     "an encoder_network", "encoder");
    if (!encoder_network.empty()) {
      if (!encoder_hidden.empty())
        throw ArgumentError("model encoder: expected encoder_hidden or encoder_network, got both");
      encoder_network_text();  // throws for text that is not a network
    }
    if (tasks.empty()) throw ArgumentError("model tasks: expected at least one task, got none");
    for (std::size_t t = 0; t < tasks.size(); ++t) {
      const TaskSpec& task = tasks[t];
      if (task.name.empty())
        throw ArgumentError("task " + std::to_string(t) + ": expected a name, got an empty one");
      for (std::size_t u = 0; u < t; ++u)
        if (tasks[u].name == task.name)
          throw ArgumentError("task names: expected unique names, got '" + task.name + "' twice");
      positive("task '" + task.name + "' outputs", task.outputs);
      for (Index h : task.hidden) positive("task '" + task.name + "' hidden size", h);
      if (!task.network.empty()) {
        if (!task.hidden.empty())
          throw ArgumentError("task '" + task.name +
                              "' decoder: expected hidden or network, got both");
        task.network_text();
      }
      if (!(task.weight >= 0.0) || task.weight == HUGE_VAL)
        throw ArgumentError("task '" + task.name + "' weight: expected a finite value >= 0, got " +
                            std::to_string(task.weight));
    }
    if (!class_prior.empty()) validate_class_prior();
    if (!(gradnorm_alpha >= 0.0) || gradnorm_alpha == HUGE_VAL)
      throw ArgumentError("model gradnorm_alpha: expected a finite value >= 0, got " +
                          std::to_string(gradnorm_alpha));
  }

  /// One line naming everything that fixes the parameter layout: the
  /// 0.1.0 line when the shorthand describes every network,
  ///   scvae-v1 encoder=I-H...-L ACT; task NAME decoder=L-H...-O ACT LIKELIHOOD[ from-mean]...
  /// and otherwise
  ///   scvae-v2 input=SHAPE latent=L encoder=NETWORK; task NAME outputs=O
  ///   decoder=NETWORK LIKELIHOOD[ from-mean]...
  /// with every network in its canonical text. Either line ends with
  /// "; balance=uncertainty" or "; balance=gradnorm" (and with nothing
  /// for None, so 1.0.0 lines are unchanged); a scvae-v2 line with a
  /// class prior has "; class-prior=NAME" before that.
  std::string architecture() const {
    const std::optional<ModelSpec> shorthand = as_shorthand();
    if (!shorthand) return network_architecture();
    const ModelSpec& mlp = *shorthand;
    std::ostringstream out;
    out << "scvae-v1 encoder=" << mlp.inputs;
    for (Index h : mlp.encoder_hidden) out << "-" << h;
    out << "-" << mlp.latent << " " << activation_name(mlp.activation);
    for (const TaskSpec& task : mlp.tasks) {
      out << "; task " << task.name << " decoder=" << mlp.latent;
      for (Index h : task.hidden) out << "-" << h;
      out << "-" << task.outputs << " " << activation_name(task.activation) << " "
          << task.likelihood.name() << (task.input == DecoderInput::Mean ? " from-mean" : "");
    }
    out << class_prior_suffix() << balance_suffix();
    return out.str();
  }

  /// This spec with every network written as hidden sizes, if the shorthand
  /// builds the same networks; std::nullopt otherwise.
  std::optional<ModelSpec> as_shorthand() const {
    ModelSpec mlp = *this;
    if (input_shape && !input_shape->is_vector()) return std::nullopt;
    mlp.input_shape.reset();
    if (!encoder_network.empty()) {
      const auto encoder = detail::mlp_shorthand_of(encoder_network_text(),
                                                    "gaussian(" + std::to_string(latent) + ")");
      if (!encoder) return std::nullopt;
      mlp.encoder_network.clear();
      mlp.encoder_hidden = encoder->hidden;
      mlp.activation = encoder->activation;
    }
    for (TaskSpec& task : mlp.tasks) {
      if (task.network.empty()) continue;
      const auto decoder = detail::mlp_shorthand_of(
          task.network_text(), "dense(" + std::to_string(task.outputs) + ")");
      if (!decoder) return std::nullopt;
      task.network.clear();
      task.hidden = decoder->hidden;
      task.activation = decoder->activation;
    }
    return mlp;
  }

 private:
  std::string network_architecture() const {
    std::ostringstream out;
    out << "scvae-v2 input=" << encoder_input_shape().text() << " latent=" << latent
        << " encoder=" << encoder_network_text();
    for (const TaskSpec& task : tasks)
      out << "; task " << task.name << " outputs=" << task.outputs
          << " decoder=" << task.network_text() << " " << task.likelihood.name()
          << (task.input == DecoderInput::Mean ? " from-mean" : "");
    out << class_prior_suffix() << balance_suffix();
    return out.str();
  }
  std::string class_prior_suffix() const {
    return class_prior.empty() ? std::string() : "; class-prior=" + class_prior;
  }
  void validate_class_prior() const {
    const Index t = class_prior_task();
    const std::string what = "model class_prior '" + class_prior + "'";
    if (t < 0) throw ArgumentError(what + ": expected the name of a task, got none of that name");
    const TaskSpec& task = tasks[static_cast<std::size_t>(t)];
    if (task.likelihood.kind != LikelihoodSpec::Kind::Categorical)
      throw ArgumentError(what + ": expected a categorical task, got " + task.likelihood.name());
    if (task.input != DecoderInput::Mean)
      throw ArgumentError(what + ": expected a task decoded from the mean (DecoderInput::Mean)");
    const std::string read_out = "[centres(" + std::to_string(task.outputs) + ")]";
    if (task.network.empty() || task.network_text() != read_out)
      throw ArgumentError(what + ": expected the decoder network " + read_out +
                          " (its centres are the prior's), got " +
                          (task.network.empty() ? "hidden sizes" : task.network_text()));
  }
  std::string balance_suffix() const {
    return balance == TaskBalance::None ? std::string()
                                        : std::string("; balance=") + task_balance_name(balance);
  }
};

}  // namespace scvae
