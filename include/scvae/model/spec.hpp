#pragma once
// Plain descriptions of a model: what a user fills in to build one, and what
// a checkpoint records as its architecture.

#include <sstream>
#include <string>
#include <vector>

#include "scvae/core/error.hpp"
#include "scvae/core/types.hpp"
#include "scvae/nn/activation.hpp"
#include "scvae/nn/dense_layer.hpp"
#include "scvae/prob/likelihood.hpp"

namespace scvae {

/// Which latent code a task decoder reads.
enum class DecoderInput {
  Sample,  ///< z = mu + sigma * eps, the usual VAE path.
  Mean,    ///< mu itself: a deterministic path, e.g. for a label head.
};

/// One task: a decoder from the latent code and the likelihood of its target.
struct TaskSpec {
  std::string name;
  Index outputs = 0;          ///< Decoder outputs (classes for categorical).
  std::vector<Index> hidden;  ///< Hidden layer sizes of the decoder MLP.
  LikelihoodSpec likelihood = LikelihoodSpec::bernoulli();
  double weight = 1.0;  ///< w_t in the loss.
  Activation activation = Activation::ReLU;
  DecoderInput input = DecoderInput::Sample;
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
      if (!(task.weight >= 0.0) || task.weight == HUGE_VAL)
        throw ArgumentError("task '" + task.name + "' weight: expected a finite value >= 0, got " +
                            std::to_string(task.weight));
    }
  }

  /// One line naming everything that fixes the parameter layout.
  std::string architecture() const {
    std::ostringstream out;
    out << "scvae-v1 encoder=" << inputs;
    for (Index h : encoder_hidden) out << "-" << h;
    out << "-" << latent << " " << activation_name(activation);
    for (const TaskSpec& task : tasks) {
      out << "; task " << task.name << " decoder=" << latent;
      for (Index h : task.hidden) out << "-" << h;
      out << "-" << task.outputs << " " << activation_name(task.activation) << " "
          << task.likelihood.name() << (task.input == DecoderInput::Mean ? " from-mean" : "");
    }
    return out.str();
  }
};

}  // namespace scvae
