#pragma once
// An SC-VAE's categorical task as a classifier of its input:
// q(y|x) = p_t(y | z = mu(x)), the label head read at the posterior mean.
// It meets the classifier interface of virtual adversarial training
// (semisup/virtual_adversarial.hpp), as M2 (LabelConditionedVAET) does.

#include <algorithm>
#include <string>
#include <vector>

#include "scvae/core/error.hpp"
#include "scvae/core/thread_pool.hpp"
#include "scvae/kernels/gemm.hpp"
#include "scvae/model/scvae_base.hpp"
#include "scvae/nn/column_buffer.hpp"
#include "scvae/train/trainer_traits.hpp"

namespace scvae {

/// `Model` is an SCVAET (or any SCVAEBaseT): encoder(), decoder(t),
/// parameters() and gradients(). Holds its workspaces, so the calls of a
/// training step allocate nothing once a batch size has been seen.
template <typename Model>
class LabelHeadClassifier {
 public:
  using Scalar = typename Model::Scalar;
  /// Columns per block of class_probabilities(): its blocks, and so its
  /// bits, are the same for any thread count.
  static constexpr Index kPredictionBlock = 64;

  /// `task` must have a categorical likelihood. The model must outlive this.
  LabelHeadClassifier(Model& model, Index task) : model_(model), task_(task) {
    if (task < 0 || task >= model.task_count())
      throw ArgumentError("label head classifier: task index: expected 0.." +
                          std::to_string(model.task_count() - 1) + ", got " +
                          std::to_string(task));
    if (model.task(task).likelihood.kind != LikelihoodSpec::Kind::Categorical)
      throw ArgumentError("label head classifier: task '" + model.task(task).name +
                          "' is not categorical (" + model.task(task).likelihood.name() + ")");
  }

  Index classes() const { return model_.decoder(task_).outputs(); }
  Index task() const { return task_; }

  /// q(y|x), classes x n. With an SCVAET's threads (thread_pool()), blocks
  /// of kPredictionBlock columns run on its pool, between steps (the
  /// pseudo-labels' pass over the training set) or inside a gradient
  /// callback, when the pool is idle; each column is predicted alone.
  void class_probabilities(const ConstMatrixRef<Scalar>& x, Matrix<Scalar>& probabilities) {
    detail::check_rows("classifier input x", x.rows(), model_.inputs());
    const Index n = x.cols();
    probabilities.resize(classes(), n);
    ThreadPool* pool = detail::model_thread_pool(model_);
    const Index blocks = (n + kPredictionBlock - 1) / kPredictionBlock;
    const int workers =
        pool == nullptr ? 1 : static_cast<int>(std::clamp<Index>(blocks, 1, pool->size()));
    if (static_cast<int>(lanes_.size()) < workers) lanes_.resize(static_cast<std::size_t>(workers));
    auto work = [&](int worker) {
      Lane& lane = lanes_[static_cast<std::size_t>(worker)];
      for (Index b = worker; b < blocks; b += workers) {
        const Index begin = b * kPredictionBlock;
        const Index count = std::min(kPredictionBlock, n - begin);
        const auto& logits = forward(x.middleCols(begin, count), lane);
        model_.decoder(task_).likelihood().mean(logits, probabilities.middleCols(begin, count));
      }
    };
    if (workers <= 1)
      work(0);
    else
      pool->run(workers, work);
  }

  /// d/dx of sum_j CE(targets_j, q(y|x_j)) into dx (inputs x n), the soft
  /// targets (classes x n) held fixed; the model's gradients() unchanged.
  void classifier_input_gradient(const ConstMatrixRef<Scalar>& x,
                                 const ConstMatrixRef<Scalar>& targets, Matrix<Scalar>& dx) {
    dx.resize(x.rows(), x.cols());
    MatrixRef<Scalar> input_gradient(dx);
    cross_entropy(x, targets, Scalar(1), nullptr, {&input_gradient, GradientWrite::Overwrite});
  }

  /// Adds to the model's gradients() the gradient of
  /// weight * mean_j CE(targets_j, q(y|x_j)) and returns that term.
  double add_classifier_loss_and_gradient(const ConstMatrixRef<Scalar>& x,
                                          const ConstMatrixRef<Scalar>& targets, double weight) {
    if (!(weight >= 0.0) || !std::isfinite(weight))
      throw ArgumentError("classifier loss weight: expected a finite value >= 0, got " +
                          std::to_string(weight));
    const double n = static_cast<double>(x.cols());
    const double sum = cross_entropy(x, targets, static_cast<Scalar>(weight / n),
                                     model_.gradients().data(), {});
    return weight * sum / n;
  }

 private:
  using Enc = EncoderT<Scalar>;

  /// One thread's workspaces.
  struct Lane {
    typename Enc::Workspace encoder;
    typename DecoderT<Scalar>::Workspace decoder;
    ColumnBufferT<Scalar> mu;  // blocks differ in width: no reallocation
  };

  const ColumnBufferT<Scalar>& forward(const ConstMatrixRef<Scalar>& x, Lane& lane) {
    detail::check_rows("classifier input x", x.rows(), model_.inputs());
    const Scalar* values = model_.parameters().data();
    model_.encoder().forward(values, x, lane.encoder);
    lane.mu.assign(Enc::mu(lane.encoder));
    return model_.decoder(task_).forward_view(values, lane.mu, lane.decoder);
  }

  // sum_j CE(targets_j, q(y|x_j)); with `gradients`, its parameter gradient
  // times `scale` is added there; dL/dx (times scale) where `input_gradient` asks.
  double cross_entropy(const ConstMatrixRef<Scalar>& x, const ConstMatrixRef<Scalar>& targets,
                       Scalar scale, Scalar* gradients, InputGradient<Scalar> input_gradient) {
    if (x.cols() <= 0) throw ShapeError("classifier input x: expected at least one column, got 0");
    const auto& decoder = model_.decoder(task_);
    decoder.likelihood().validate_target(targets, std::nullopt, decoder.outputs());
    detail::check_shape("classifier targets", targets.rows(), targets.cols(), targets.rows(),
                        x.cols());
    const Scalar* values = model_.parameters().data();
    Lane& lane = gradient_lane_;
    forward(x, lane);
    lane.decoder.scale.setConstant(scale);
    // A categorical likelihood has no parameters of its own: nothing is
    // written through this pointer, but the call wants one.
    Scalar* likelihood_gradients = gradients != nullptr ? gradients : &unused_;
    MatrixRef<Scalar> mu_gradient(Enc::mu_delta(lane.encoder));
    decoder.nll_backward(values, likelihood_gradients, lane.mu, targets, lane.decoder,
                         {&mu_gradient, GradientWrite::Overwrite});
    Enc::logvar_delta(lane.encoder).setZero();
    model_.encoder().backward(values, x, lane.encoder, input_gradient);
    if (gradients != nullptr) {
      for (Index p = 0; p < decoder.part_count(); ++p)
        decoder.part_gradient(p, lane.mu, lane.decoder, gradients, GradientWrite::Add);
      model_.encoder().add_parameter_gradients(x, lane.encoder, gradients);
    }
    share_scratch_sizes();
    return lane.decoder.nll.template cast<double>().sum();
  }

  /// The gradient passes above run on this thread and may need larger
  /// packing buffers than any thread had (kernels/gemm.hpp's gemm_scratch):
  /// the pool's threads grow theirs now, as the executor's do after each
  /// step, rather than inside the next class_probabilities().
  void share_scratch_sizes() {
    ThreadPool* pool = detail::model_thread_pool(model_);
    if (pool == nullptr || pool->size() <= 1) return;
    auto grow = [](int) { detail::gemm_scratch<Scalar>(0); };
    pool->run(pool->size(), grow);
  }

  Model& model_;
  Index task_;
  // One per thread of class_probabilities(), whose blocks are smaller than
  // a training batch; the gradient calls keep a lane of their own, so that
  // neither resizes the other's workspaces at every step.
  std::vector<Lane> lanes_;
  Lane gradient_lane_;
  Scalar unused_ = Scalar(0);
};

}  // namespace scvae
