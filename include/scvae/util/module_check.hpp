#pragma once
// The one gradient check for modules: finite differences in double against a
// module's backward() and parameter_gradient(), for its input and its
// parameters. Every module of the library is tested with it, and it is what a
// user runs on a module of their own:
//
//   DenseT<double> dense(Shape::vector(5), 3);
//   EXPECT_TRUE(check_module(dense).passed());
//
// The loss is L = sum(R .* forward(x)) for a fixed random R, so dL/d(output)
// = R reaches every output value.

#include <algorithm>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "scvae/core/random.hpp"
#include "scvae/nn/module.hpp"
#include "scvae/util/gradient_check.hpp"

namespace scvae {

struct ModuleCheckOptions {
  Index columns = 3;         ///< Samples in the batch checked.
  std::uint64_t seed = 1;    ///< Draws the parameters, the input and R.
  double tolerance = 1e-6;   ///< Largest relative error that passes.
  double step = 1e-5;        ///< Finite-difference step (relative to each value).
  /// The input to check at (inputs() x columns); by default N(0, 1) values.
  /// Modules whose input has rules (class indices) need one.
  std::optional<Matrix<double>> input;
  /// Whether dL/d(input) is checked; off for inputs that are not continuous.
  bool check_input = true;
  /// Rows of the input held fixed and not checked (e.g. a row of class
  /// indices): their gradient must be 0, and the other rows' is checked.
  std::vector<Index> constant_input_rows;
};

struct ModuleCheckResult {
  GradientCheckResult input;       ///< dL/d(input); zero error when not checked.
  GradientCheckResult parameters;  ///< dL/d(parameters); zero error without parameters.
  double tolerance = 1e-6;
  /// Whether dL/d(input) written over and added to a buffer differ by the
  /// buffer's old values, and parameter gradients likewise.
  bool add_matches_overwrite = true;
  /// Whether ModuleCheckOptions::constant_input_rows got a zero gradient.
  bool constant_rows_have_zero_gradient = true;

  bool passed() const {
    return input.relative_error <= tolerance && parameters.relative_error <= tolerance &&
           add_matches_overwrite && constant_rows_have_zero_gradient;
  }
  std::string describe() const {
    std::ostringstream out;
    out << "input gradient: " << input.describe() << "; parameter gradient: "
        << parameters.describe() << (add_matches_overwrite ? "" : "; Add differs from Overwrite")
        << (constant_rows_have_zero_gradient ? "" : "; a constant row has a nonzero gradient");
    return out.str();
  }
};

namespace detail {
struct ModuleProbe {
  const ModuleT<double>& module;
  std::unique_ptr<ModuleWorkspace> workspace;
  Matrix<double> output;

  double loss(const Vector<double>& parameters, const ConstMatrixRef<double>& input,
              const Matrix<double>& weights) {
    output.resize(module.outputs(), input.cols());
    module.prepare(workspace.get(), input.cols());
    module.forward(parameters.data(), input, output, workspace.get());
    return (output.array() * weights.array()).sum();
  }
};
}  // namespace detail

/// Checks `module`'s input and parameter gradients by central differences.
inline ModuleCheckResult check_module(const ModuleT<double>& module,
                                      const ModuleCheckOptions& options = {}) {
  Rng rng(options.seed);
  const Index n = options.columns;
  Vector<double> parameters = Vector<double>::Zero(module.parameter_count());
  module.initialize(parameters.data(), rng, {Initialization::PyTorch, Activation::Identity});
  // Biases and other zero-initialised values get a value too, so that every
  // parameter moves the loss.
  for (Index i = 0; i < parameters.size(); ++i) parameters(i) += 0.1 * rng.normal();
  Matrix<double> input(module.inputs(), n);
  if (options.input) {
    detail::check_shape("module check input", options.input->rows(), options.input->cols(),
                        module.inputs(), n);
    input = *options.input;
  } else {
    rng.fill_normal(input);
  }
  Matrix<double> weights(module.outputs(), n);
  rng.fill_normal(weights);

  detail::ModuleProbe probe{module, module.make_workspace(), Matrix<double>()};
  // Forward, backward and parameter_gradient() at the point, writing (or
  // adding) into the given buffers: the analytic gradients.
  auto analytic = [&](GradientWrite write, Matrix<double>& input_gradient,
                      Vector<double>& parameter_gradient) {
    probe.loss(parameters, input, weights);
    Matrix<double> output_gradient = weights;
    MatrixRef<double> input_gradient_ref(input_gradient);
    module.backward(parameters.data(), input, probe.output, output_gradient,
                    {&input_gradient_ref, write}, probe.workspace.get());
    for (Index part = 0; part < module.gradient_part_count(); ++part)
      module.part_gradient(part, input, output_gradient, parameter_gradient.data(), write,
                           probe.workspace.get());
  };
  Matrix<double> input_gradient = Matrix<double>::Zero(module.inputs(), n);
  Vector<double> parameter_gradient = Vector<double>::Zero(parameters.size());
  analytic(GradientWrite::Overwrite, input_gradient, parameter_gradient);
  // Adding onto ones must give ones plus the same gradients.
  Matrix<double> input_added = Matrix<double>::Ones(module.inputs(), n);
  Vector<double> parameter_added = Vector<double>::Ones(parameters.size());
  analytic(GradientWrite::Add, input_added, parameter_added);
  auto differs = [](const auto& added, const auto& gradient) {
    if (gradient.size() == 0) return false;
    return ((added.array() - 1.0) - gradient.array()).abs().maxCoeff() >
           1e-12 * (1.0 + gradient.cwiseAbs().maxCoeff());
  };

  ModuleCheckResult result;
  result.tolerance = options.tolerance;
  result.add_matches_overwrite =
      !differs(parameter_added, parameter_gradient) &&
      !(options.check_input && differs(input_added, input_gradient));
  if (parameters.size() > 0)
    result.parameters = check_gradient(
        [&](const Vector<double>& p) { return probe.loss(p, input, weights); }, parameters,
        parameter_gradient, options.step);
  if (options.check_input) {
    std::vector<Index> varied;  // every input value but those of constant rows
    const auto& fixed = options.constant_input_rows;
    for (Index j = 0; j < n; ++j)
      for (Index i = 0; i < module.inputs(); ++i) {
        if (std::find(fixed.begin(), fixed.end(), i) == fixed.end())
          varied.push_back(j * module.inputs() + i);
        else if (input_gradient(i, j) != 0.0)
          result.constant_rows_have_zero_gradient = false;
      }
    Vector<double> flat_input(static_cast<Index>(varied.size()));
    Vector<double> flat_gradient(flat_input.size());
    for (Index k = 0; k < flat_input.size(); ++k) {
      flat_input(k) = input.data()[varied[static_cast<std::size_t>(k)]];
      flat_gradient(k) = input_gradient.data()[varied[static_cast<std::size_t>(k)]];
    }
    result.input = check_gradient(
        [&](const Vector<double>& values) {
          Matrix<double> point = input;
          for (Index k = 0; k < values.size(); ++k)
            point.data()[varied[static_cast<std::size_t>(k)]] = values(k);
          return probe.loss(parameters, point, weights);
        },
        flat_input, flat_gradient, options.step);
  }
  return result;
}

}  // namespace scvae
