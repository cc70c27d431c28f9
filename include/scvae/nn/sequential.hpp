#pragma once
// A network: modules applied one after another, each reading the previous
// one's output. Its parameters are its modules' slices laid end to end.
//
//   SequentialT<float> net(Shape(1, 28, 28));
//   net.add<DenseT<float>>(400).add<ReLUT<float>>().add<DenseT<float>>(20);
//
// A dense module followed by an activation runs as one fused pass, as fast as
// a layer with a built-in activation; any other module runs on its own.
//
// Between its steps a network keeps, per chunk, an output and an output
// gradient buffer of each step but the last, and shares them where a module
// allows (OutputStorage): a reshape or flatten reads its input's buffers as
// they are, and an activation runs in place over the output of a module whose
// backward pass does not read that output (a convolution). The conv VAE's
// encoder and decoder keep half the buffers they would otherwise.

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "scvae/core/check.hpp"
#include "scvae/nn/column_buffer.hpp"
#include "scvae/nn/dense.hpp"
#include "scvae/nn/elementwise.hpp"
#include "scvae/nn/module.hpp"

namespace scvae {

template <typename Scalar_>
class SequentialT : public ModuleT<Scalar_> {
 public:
  using Scalar = Scalar_;
  using Base = ModuleT<Scalar>;

  /// Buffers between the steps, and the modules' own workspaces. They keep
  /// the capacity of the largest chunk met (nn/column_buffer.hpp).
  struct Workspace : ModuleWorkspace {
    /// The outputs of the steps but the last, one buffer per slot: steps
    /// that share their input's buffer share its slot (slot_of()).
    std::vector<ColumnBufferT<Scalar>> outputs;
    std::vector<ColumnBufferT<Scalar>> gradients;  ///< dL/d(output), slot by slot.
    std::vector<std::unique_ptr<ModuleWorkspace>> modules;
  };

  explicit SequentialT(const Shape& input) : Base(checked(input), input) {}

  SequentialT(const SequentialT& other)
      : Base(other), offsets_(other.offsets_), parameter_count_(other.parameter_count_) {
    for (const auto& m : other.modules_) modules_.push_back(m->clone());
    plan();
  }
  SequentialT& operator=(const SequentialT& other) {
    if (this != &other) {
      SequentialT copy(other);
      *this = std::move(copy);
    }
    return *this;
  }
  SequentialT(SequentialT&&) noexcept = default;
  SequentialT& operator=(SequentialT&&) noexcept = default;

  /// Appends a module built on the current output shape: add<DenseT<float>>(400)
  /// constructs DenseT<float>(output_shape(), 400).
  template <template <typename> class Module, typename... Args>
  SequentialT& add(Args&&... args) {
    return add(std::make_unique<Module<Scalar>>(this->output_shape(), std::forward<Args>(args)...));
  }
  template <typename Module, typename... Args,
            typename = std::enable_if_t<std::is_base_of_v<Base, Module>>>
  SequentialT& add(Args&&... args) {
    return add(std::make_unique<Module>(this->output_shape(), std::forward<Args>(args)...));
  }
  /// Appends a module whose input shape must be the current output shape.
  SequentialT& add(ModulePtr<Scalar> module) {
    if (!module) throw ArgumentError("sequential: expected a module, got nullptr");
    if (module->input_shape() != this->output_shape())
      throw ShapeError("sequential: module " + std::to_string(modules_.size()) + " (" +
                       module->token() + ") expects input " + module->input_shape().text() +
                       ", the network so far gives " + this->output_shape().text());
    offsets_.push_back(parameter_count_);
    parameter_count_ += module->parameter_count();
    this->set_output_shape(module->output_shape());
    modules_.push_back(std::move(module));
    plan_module(modules_.size() - 1);
    return *this;
  }

  std::size_t size() const { return modules_.size(); }
  bool empty() const { return modules_.empty(); }
  const Base& module(std::size_t i) const { return *modules_.at(i); }
  /// Where module i's slice starts within this network's slice.
  Index offset(std::size_t i) const { return offsets_.at(i); }

  /// "[dense(400) relu dense(20)]".
  std::string token() const override {
    std::string text = "[";
    for (std::size_t i = 0; i < modules_.size(); ++i)
      text += (i > 0 ? " " : "") + modules_[i]->token();
    return text + "]";
  }
  std::unique_ptr<Base> clone() const override { return std::make_unique<SequentialT>(*this); }
  Index parameter_count() const override { return parameter_count_; }

  void initialize(Scalar* parameters, Rng& rng, const InitOptions& options) const override {
    for (std::size_t i = 0; i < modules_.size(); ++i) {
      InitOptions own = options;
      own.followed_by = next_activation(i, options.followed_by);
      modules_[i]->initialize(parameters + offsets_[i], rng, own);
    }
  }

  void set_precision(Precision precision) override {
    for (auto& m : modules_) m->set_precision(precision);
  }

  std::unique_ptr<ModuleWorkspace> make_workspace() const override {
    auto ws = std::make_unique<Workspace>();
    for (const auto& m : modules_) ws->modules.push_back(m->make_workspace());
    return ws;
  }

  void prepare(ModuleWorkspace* workspace, Index columns) const override {
    Workspace& ws = own(workspace);
    prepare_forward(ws, columns);
    prepare_gradients(ws, columns);
  }

  /// The buffer slot of step k's output and output gradient (steps k below
  /// the last): steps that share a buffer share a slot.
  std::size_t slot_of(std::size_t k) const { return slot_.at(k); }
  /// Buffer slots per chunk: at most one per step but the last.
  std::size_t slot_count() const { return slot_rows_.size(); }

  void forward(const Scalar* parameters, const ConstMatrixRef<Scalar>& input,
               MatrixRef<Scalar> output, ModuleWorkspace* workspace) const override {
    detail::check_rows("sequential input", input.rows(), this->inputs());
    detail::check_shape("sequential output", output.rows(), output.cols(), this->outputs(),
                        input.cols());
    if (steps_.empty()) {
      output = input;
      return;
    }
    Workspace& ws = own(workspace);
    // The gradient buffers wait for backward(): a forward pass alone (an
    // evaluation, encoding) needs none.
    prepare_forward(ws, input.cols());
    for (std::size_t k = 0; k < steps_.size(); ++k) {
      const Step& step = steps_[k];
      if (step.shares_input) continue;  // its output is its input's buffer
      const ConstMatrixRef<Scalar> in = k == 0 ? input : ConstMatrixRef<Scalar>(output_of(ws, k - 1));
      MatrixRef<Scalar> out = k + 1 == steps_.size() ? output : MatrixRef<Scalar>(output_of(ws, k));
      const Scalar* p = parameters + offsets_[step.module];
      if (step.dense != nullptr)
        step.dense->forward_activated(p, in, out, step.activation, ws.modules[step.module].get());
      else
        modules_[step.module]->forward(p, in, out, ws.modules[step.module].get());
    }
  }

  void backward(const Scalar* parameters, const ConstMatrixRef<Scalar>& input,
                const ConstMatrixRef<Scalar>& output, MatrixRef<Scalar> output_gradient,
                InputGradient<Scalar> input_gradient,
                ModuleWorkspace* workspace) const override {
    if (steps_.empty()) {
      if (input_gradient.wanted()) write_gradient(output_gradient, input_gradient);
      return;
    }
    Workspace& ws = own(workspace);
    prepare_gradients(ws, input.cols());
    for (std::size_t k = steps_.size(); k-- > 0;) {
      const Step& step = steps_[k];
      if (step.shares_input) continue;  // its input gradient is its output gradient's buffer
      const bool last = k + 1 == steps_.size();
      const ConstMatrixRef<Scalar> in = k == 0 ? input : ConstMatrixRef<Scalar>(output_of(ws, k - 1));
      const ConstMatrixRef<Scalar> out = last ? output : ConstMatrixRef<Scalar>(output_of(ws, k));
      MatrixRef<Scalar> delta = last ? output_gradient : MatrixRef<Scalar>(gradient_of(ws, k));
      // The first step writes where the caller asked; the others into the buffer below.
      InputGradient<Scalar> below = input_gradient;
      std::optional<MatrixRef<Scalar>> below_matrix;
      if (k > 0) {
        below_matrix.emplace(gradient_of(ws, k - 1));
        below = {&*below_matrix, GradientWrite::Overwrite};
      }
      const Scalar* p = parameters + offsets_[step.module];
      if (step.dense != nullptr)
        step.dense->backward_activated(p, in, out, delta, step.activation, below,
                                       ws.modules[step.module].get());
      else
        modules_[step.module]->backward(p, in, out, delta, below, ws.modules[step.module].get());
    }
  }

  void parameter_gradient(const ConstMatrixRef<Scalar>& input,
                          const ConstMatrixRef<Scalar>& output_gradient, Scalar* gradient,
                          GradientWrite write, ModuleWorkspace* workspace) const override {
    for (Index part = 0; part < gradient_part_count(); ++part)
      part_gradient(part, input, output_gradient, gradient, write, workspace);
  }

  Index gradient_part_count() const override { return static_cast<Index>(parts_.size()); }
  GradientPart gradient_part(Index part) const override {
    const PartRef& ref = parts_.at(static_cast<std::size_t>(part));
    GradientPart inner = modules_[ref.module]->gradient_part(ref.part);
    inner.offset += offsets_[ref.module];
    return inner;
  }
  void part_gradient(Index part, const ConstMatrixRef<Scalar>& input,
                     const ConstMatrixRef<Scalar>& output_gradient, Scalar* gradient,
                     GradientWrite write, ModuleWorkspace* workspace) const override {
    Workspace& ws = own(workspace);
    const PartRef& ref = parts_.at(static_cast<std::size_t>(part));
    const std::size_t k = ref.step;
    const ConstMatrixRef<Scalar> in = k == 0 ? input : ConstMatrixRef<Scalar>(output_of(ws, k - 1));
    const ConstMatrixRef<Scalar> delta =
        k + 1 == steps_.size() ? output_gradient : ConstMatrixRef<Scalar>(gradient_of(ws, k));
    modules_[ref.module]->part_gradient(ref.part, in, delta, gradient + offsets_[ref.module],
                                        write, ws.modules[ref.module].get());
  }

 private:
  /// One pass of forward(): a module, or a dense module and the activation
  /// after it, fused.
  struct Step {
    std::size_t module = 0;
    const DenseT<Scalar>* dense = nullptr;  ///< Set when the step is fused.
    Activation activation = Activation::Identity;
    /// A SameAsInput module between two buffers: neither pass runs it.
    bool shares_input = false;
  };
  struct PartRef {
    std::size_t module = 0;
    std::size_t step = 0;
    Index part = 0;
  };

  static const Shape& checked(const Shape& input) {
    detail::check_shape_sizes("sequential input shape", input);
    return input;
  }

  static Workspace& own(ModuleWorkspace* workspace) {
    auto* ws = dynamic_cast<Workspace*>(workspace);
    if (ws == nullptr)
      throw ArgumentError("sequential: expected the workspace from its make_workspace()");
    return *ws;
  }

  static void write_gradient(const ConstMatrixRef<Scalar>& gradient, InputGradient<Scalar> to) {
    if (to.write == GradientWrite::Add)
      *to.matrix += gradient;
    else
      *to.matrix = gradient;
  }

  /// The activation after module i (for its initialisation), or `after` at the end.
  Activation next_activation(std::size_t i, Activation after) const {
    if (i + 1 == modules_.size()) return after;
    const auto* a = dynamic_cast<const ElementwiseT<Scalar>*>(modules_[i + 1].get());
    return a != nullptr ? a->activation() : Activation::Identity;
  }

  const Base& step_output(std::size_t k) const {
    const Step& step = steps_[k];
    return *modules_[step.dense != nullptr ? step.module + 1 : step.module];
  }

  ColumnBufferT<Scalar>& output_of(Workspace& ws, std::size_t k) const {
    return ws.outputs[slot_[k]];
  }
  ColumnBufferT<Scalar>& gradient_of(Workspace& ws, std::size_t k) const {
    return ws.gradients[slot_[k]];
  }

  void prepare_forward(Workspace& ws, Index columns) const {
    ws.outputs.resize(slot_count());
    for (std::size_t s = 0; s < slot_count(); ++s) ws.outputs[s].resize(slot_rows_[s], columns);
    for (std::size_t i = 0; i < modules_.size(); ++i)
      modules_[i]->prepare(ws.modules[i].get(), columns);
  }
  /// Allocates only the first time a chunk is this large.
  void prepare_gradients(Workspace& ws, Index columns) const {
    ws.gradients.resize(slot_count());
    for (std::size_t s = 0; s < slot_count(); ++s) ws.gradients[s].resize(slot_rows_[s], columns);
  }

  /// Gives step k, no longer the last, its buffer slot: its input's (step
  /// k-1's) when its module is a reshape or flatten, or an activation that
  /// may overwrite that buffer; else a slot of its own.
  void place_output(std::size_t k) {
    Step& step = steps_[k];
    const Base& module = *modules_[step.module];
    const OutputStorage storage =
        step.dense != nullptr ? OutputStorage::Own : module.output_storage();
    // A step's input is a buffer of this network from the second step on.
    const bool input_is_buffer = k > 0;
    if (input_is_buffer && storage == OutputStorage::SameAsInput) {
      step.shares_input = true;
      slot_.push_back(slot_[k - 1]);
      return;
    }
    if (input_is_buffer && storage == OutputStorage::OverInput && !slot_read_back_[slot_[k - 1]]) {
      slot_.push_back(slot_[k - 1]);
      slot_read_back_[slot_.back()] = module.backward_reads_output();
      return;
    }
    slot_.push_back(slot_rows_.size());
    slot_rows_.push_back(step_output(k).outputs());
    slot_read_back_.push_back(step.dense != nullptr || module.backward_reads_output());
  }

  /// Extends the plan by module i, the last one planned so far: fused into
  /// the last step when that is a lone dense module and this an activation.
  /// Planning module by module keeps building an n-module network O(n).
  void plan_module(std::size_t i) {
    const auto* activation = dynamic_cast<const ElementwiseT<Scalar>*>(modules_[i].get());
    if (activation != nullptr && !steps_.empty() && steps_.back().dense == nullptr) {
      Step& last = steps_.back();
      const auto* dense = dynamic_cast<const DenseT<Scalar>*>(modules_[last.module].get());
      if (dense != nullptr) {
        last.dense = dense;
        last.activation = activation->activation();
        return;
      }
    }
    Step step;
    step.module = i;
    for (Index p = 0; p < modules_[i]->gradient_part_count(); ++p)
      parts_.push_back({i, steps_.size(), p});
    if (!steps_.empty()) place_output(steps_.size() - 1);
    steps_.push_back(step);
  }

  /// The whole plan again, e.g. for a copy whose steps point at its own modules.
  void plan() {
    steps_.clear();
    parts_.clear();
    slot_.clear();
    slot_rows_.clear();
    slot_read_back_.clear();
    for (std::size_t i = 0; i < modules_.size(); ++i) plan_module(i);
  }

  std::vector<ModulePtr<Scalar>> modules_;
  std::vector<Index> offsets_;
  Index parameter_count_ = 0;
  std::vector<Step> steps_;
  std::vector<PartRef> parts_;
  std::vector<std::size_t> slot_;  ///< Step k's buffer slot, steps but the last.
  std::vector<Index> slot_rows_;   ///< Rows of each slot's buffers.
  /// Whether a backward pass reads a slot's output values: then no
  /// activation may run over them in place.
  std::vector<bool> slot_read_back_;
};

using Sequential = SequentialT<float>;

}  // namespace scvae
