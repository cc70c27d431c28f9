#pragma once
// The module contract: what every layer of a network offers, so that a
// network, a model and the executor handle any layer the same way, ours or a
// user's (see docs/modules.md for a 20-line example).
//
// A module knows its input shape from construction and computes its output
// shape from it. It owns no parameter memory: the network hands it a pointer
// to its slice of the model's one flat parameter buffer (and the same slice of
// the gradient buffer), so optimizers, clipping, checkpoints and gradient
// checks see one vector. What a backward pass needs from the forward pass
// lives in buffers the caller keeps per chunk of a batch (the input, the
// output, and the module's own ModuleWorkspace, if it asks for one), so that
// threads can run chunks at once and a step allocates nothing once sized.
//
// The backward pass comes in two calls. backward() turns dL/d(output) into
// dL/d(input); parameter_gradient() then adds the module's dL/d(parameters)
// from the same buffers. The executor uses the split to compute each
// module's parameter gradient once over a whole batch split across threads,
// chunk after chunk in a fixed order, instead of summing one gradient buffer
// per thread.

#include <memory>
#include <string>

#include "scvae/core/precision.hpp"
#include "scvae/core/random.hpp"
#include "scvae/core/types.hpp"
#include "scvae/nn/initialization.hpp"
#include "scvae/nn/shape.hpp"

namespace scvae {

/// Whether a gradient is written over what is there or added to it.
enum class GradientWrite { Overwrite, Add };

/// Scratch that a module keeps between forward() and backward() on one chunk
/// of a batch, beyond its input and output (e.g. a convolution's unfolded
/// input). Derive from it; make_workspace() creates it.
class ModuleWorkspace {
 public:
  virtual ~ModuleWorkspace() = default;
};

/// Where a module's output may live inside a network (SequentialT), so that
/// a chain of modules keeps fewer buffers per chunk of a batch.
enum class OutputStorage {
  Own,         ///< A buffer of its own.
  SameAsInput, ///< The input's buffer, unchanged: the output is the input's
               ///< values read in another shape (Reshape, Flatten), and the
               ///< input gradient the output gradient's values. The network
               ///< runs neither forward() nor backward() of such a module
               ///< between two of its buffers.
  OverInput,   ///< Written over its input value by value (an activation), its
               ///< input gradient over its output gradient: forward() and
               ///< backward() accept output == input and input gradient ==
               ///< output gradient.
};

/// Where backward() puts dL/d(input): nowhere (the first layer of a network
/// needs none), or into `matrix`, written over or added.
template <typename Scalar>
struct InputGradient {
  MatrixRef<Scalar>* matrix = nullptr;
  GradientWrite write = GradientWrite::Overwrite;

  bool wanted() const { return matrix != nullptr; }
};

/// One independent piece of a module's parameter gradient: a network has one
/// per layer, so that threads can compute different layers' at once.
struct GradientPart {
  Index offset = 0;    ///< First scalar of the part, within the module's slice.
  Index size = 0;      ///< Scalars of the part.
  double cost = 0.0;   ///< Multiply-adds per sample to compute it.
};

template <typename Scalar_>
class ModuleT {
 public:
  using Scalar = Scalar_;

  virtual ~ModuleT() = default;

  const Shape& input_shape() const { return input_shape_; }
  const Shape& output_shape() const { return output_shape_; }
  Index inputs() const { return input_shape_.features(); }
  Index outputs() const { return output_shape_.features(); }

  /// Names the module completely given its input shape, e.g. "dense(400)";
  /// parse_module(token, input_shape) builds it again.
  virtual std::string token() const = 0;
  virtual std::unique_ptr<ModuleT> clone() const = 0;

  /// Scalars of its slice of the flat parameter buffer.
  virtual Index parameter_count() const { return 0; }
  /// Draws the initial values of its slice.
  virtual void initialize(Scalar* /*parameters*/, Rng& /*rng*/,
                          const InitOptions& /*options*/) const {}

  /// The precision of its matrix products (core/precision.hpp). A module
  /// without a bf16 path (the default) keeps computing in its Scalar; a
  /// container passes the setting to what it holds.
  virtual void set_precision(Precision /*precision*/) {}

  /// Where the output may live (OutputStorage); Own unless the module says so.
  virtual OutputStorage output_storage() const { return OutputStorage::Own; }
  /// Whether backward() or parameter_gradient() reads `output`. A module that
  /// reads only its input and output gradient lets the activation after it
  /// run in place over its output.
  virtual bool backward_reads_output() const { return true; }

  /// Per-chunk scratch; nullptr when the module needs none.
  virtual std::unique_ptr<ModuleWorkspace> make_workspace() const { return nullptr; }
  /// Sizes the scratch for `columns` samples. A chunk's column count changes
  /// from step to step (a partial last batch; M2's decoder columns follow how
  /// many samples are labelled), so keep capacity: grow to the largest count
  /// met, never shrink, and use the first columns (ColumnBufferT in
  /// nn/column_buffer.hpp does this); a call within the capacity allocates nothing.
  virtual void prepare(ModuleWorkspace* /*workspace*/, Index /*columns*/) const {}

  /// output = f(input), inputs() x n to outputs() x n.
  virtual void forward(const Scalar* parameters, const ConstMatrixRef<Scalar>& input,
                       MatrixRef<Scalar> output, ModuleWorkspace* workspace) const = 0;

  /// After forward() on the same input, output and workspace: given
  /// dL/d(output) in `output_gradient`, writes dL/d(input) where
  /// `input_gradient` asks. It may overwrite `output_gradient` with what
  /// parameter_gradient() reads (a dense layer leaves dL/d(pre-activation)).
  virtual void backward(const Scalar* parameters, const ConstMatrixRef<Scalar>& input,
                        const ConstMatrixRef<Scalar>& output, MatrixRef<Scalar> output_gradient,
                        InputGradient<Scalar> input_gradient,
                        ModuleWorkspace* workspace) const = 0;

  /// After backward(): dL/d(parameters) into `gradient` (its slice), written
  /// over or added. Calls for different modules may run at once.
  virtual void parameter_gradient(const ConstMatrixRef<Scalar>& /*input*/,
                                  const ConstMatrixRef<Scalar>& /*output_gradient*/,
                                  Scalar* /*gradient*/, GradientWrite /*write*/,
                                  ModuleWorkspace* /*workspace*/) const {}

  /// Multiply-adds per sample of parameter_gradient(), so that the executor
  /// can spread modules evenly over threads.
  virtual double parameter_gradient_cost() const {
    return static_cast<double>(parameter_count());
  }

  /// The parameter gradient in independent parts. A module is one part (none
  /// without parameters); a network splits into its layers'.
  virtual Index gradient_part_count() const { return parameter_count() > 0 ? 1 : 0; }
  virtual GradientPart gradient_part(Index /*part*/) const {
    return {0, parameter_count(), parameter_gradient_cost()};
  }
  /// parameter_gradient() of one part; `gradient` is the module's whole slice.
  virtual void part_gradient(Index /*part*/, const ConstMatrixRef<Scalar>& input,
                             const ConstMatrixRef<Scalar>& output_gradient, Scalar* gradient,
                             GradientWrite write, ModuleWorkspace* workspace) const {
    parameter_gradient(input, output_gradient, gradient, write, workspace);
  }

 protected:
  ModuleT(const Shape& input_shape, const Shape& output_shape)
      : input_shape_(input_shape), output_shape_(output_shape) {}
  ModuleT(const ModuleT&) = default;
  ModuleT& operator=(const ModuleT&) = default;
  /// For containers, whose output shape grows with what is added.
  void set_output_shape(const Shape& shape) { output_shape_ = shape; }

 private:
  Shape input_shape_;
  Shape output_shape_;
};

template <typename Scalar>
using ModulePtr = std::unique_ptr<ModuleT<Scalar>>;

}  // namespace scvae
