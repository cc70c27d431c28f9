#pragma once
// The label-only baseline of a semi-supervised run: an MLP
// inputs-hidden-classes, or the semi-supervised model's own trunk, with a
// categorical likelihood, trained by the one
// Trainer on the labelled samples alone (LabelledSubsetSource), so that it
// and the semi-supervised model see the same split and seed.

#include <algorithm>
#include <string>
#include <vector>

#include "scvae/core/random.hpp"
#include "scvae/data/batch_source.hpp"
#include "scvae/eval/accuracy.hpp"
#include "scvae/model/loss_parts.hpp"
#include "scvae/model/task_batch.hpp"
#include "scvae/model/network.hpp"
#include "scvae/prob/categorical.hpp"

namespace scvae {

/// The labelled samples of a data set (1 in `labelled`) with one task,
/// their class (a 1 x n row); the others are not part of it.
template <typename Scalar>
class LabelledSubsetSource final : public BatchSource<Scalar> {
 public:
  LabelledSubsetSource(const Dataset& data, const std::vector<std::uint8_t>& labelled)
      : data_(data) {
    if (!data.has_labels())
      throw ArgumentError(data.name() + ": a labelled subset needs labels, the data set has none");
    if (static_cast<Index>(labelled.size()) != data.size())
      throw ShapeError(data.name() + ": labelled flags: expected one per sample (" +
                       std::to_string(data.size()) + "), got " + std::to_string(labelled.size()));
    for (std::size_t i = 0; i < labelled.size(); ++i)
      if (labelled[i]) samples_.push_back(static_cast<Index>(i));
  }
  Index size() const override { return static_cast<Index>(samples_.size()); }
  Index task_count() const override { return 1; }
  /// The data set's index of the subset's sample k.
  Index sample(Index k) const { return samples_.at(static_cast<std::size_t>(k)); }

  void fill(const std::vector<Index>& order, Index begin, Index end,
            Batch<Scalar>& batch) const override {
    batch.targets.resize(1);
    batch.masks.resize(1);
    batch.target_is_input.assign(1, false);
    // The batch's samples as indices of the data set, in a buffer reused
    // from batch to batch.
    const auto n = static_cast<std::size_t>(end - begin);
    if (data_order_.size() != n) data_order_.resize(n);
    for (std::size_t j = 0; j < n; ++j)
      data_order_[j] = sample(order[static_cast<std::size_t>(begin) + j]);
    data_.batch(data_order_, 0, end - begin, batch.x);
    data_.label_batch(data_order_, 0, end - begin, batch.targets[0]);
  }

 private:
  const Dataset& data_;
  std::vector<Index> samples_;
  mutable std::vector<Index> data_order_;
};

/// A classifier of the images alone, trained by the Trainer (one task: the
/// class, 1 x n; a mask is not supported): the MLP inputs-hidden-classes
/// (ReLU, then logits), or any network of modules that ends in one logit
/// per class (e.g. the conv trunk of a semi-supervised model, from
/// parse_network). Runs on one thread: it sees only the labelled samples.
template <typename Scalar_>
class LabelOnlyClassifierT {
 public:
  using Scalar = Scalar_;

  LabelOnlyClassifierT(Index inputs, Index hidden, int classes, std::uint64_t seed,
                       Initialization initialization = Initialization::PyTorch)
      : LabelOnlyClassifierT(make_mlp<Scalar>(inputs, {hidden, classes}, Activation::ReLU,
                                              Activation::Identity),
                             classes, seed, initialization) {}

  /// `network` maps a sample to `classes` logits. ShapeError otherwise.
  LabelOnlyClassifierT(SequentialT<Scalar> network, int classes, std::uint64_t seed,
                       Initialization initialization = Initialization::PyTorch)
      : network_(checked(std::move(network), classes), layout_),
        categorical_(classes),
        classes_(classes) {
    parameters_.setZero(layout_.total());
    gradients_.setZero(layout_.total());
    Rng rng(seed);
    network_.initialize(parameters_.data(), rng, initialization);
  }

  Index task_count() const { return 1; }
  void set_threads(int /*threads*/) {}
  void set_precision(Precision precision) { network_.set_precision(precision); }
  Vector<Scalar>& parameters() { return parameters_; }
  const Vector<Scalar>& parameters() const { return parameters_; }
  Vector<Scalar>& gradients() { return gradients_; }
  const Vector<Scalar>& gradients() const { return gradients_; }
  const SequentialT<Scalar>& network() const { return network_.network(); }

  /// The mean NLL of the classes in tasks[0] and its gradient (into
  /// gradients()); no noise is drawn and beta is unused (no latent).
  LossParts loss_and_gradient(const ConstMatrixRef<Scalar>& x,
                              const std::vector<TaskBatch<Scalar>>& tasks, Rng& /*noise*/,
                              double /*beta*/) {
    if (tasks.size() != 1 || tasks[0].mask)
      throw ShapeError("label-only classifier: expected one unmasked task, got " +
                       std::to_string(tasks.size()));
    const Index n = x.cols();
    const auto& logits = network_.forward_view(parameters_.data(), x, ws_);
    scale_.setConstant(n, Scalar(1) / static_cast<Scalar>(n));
    nll_.resize(n);
    MatrixRef<Scalar> gradient(ws_.output_delta);
    categorical_.evaluate(nullptr, nullptr, logits, tasks[0].target, scale_, nll_, &gradient);
    network_.backward(parameters_.data(), x, ws_);
    for (Index p = 0; p < network_.part_count(); ++p)
      network_.part_gradient(p, x, ws_, gradients_.data(), GradientWrite::Overwrite);
    LossParts parts;
    parts.samples = n;
    parts.total_sum = nll_.template cast<double>().sum();
    parts.task_nll_sum.assign(1, parts.total_sum);
    parts.task_count.assign(1, n);
    parts.finish();
    return parts;
  }

  /// The share of `data`'s samples whose most probable class is their label.
  double accuracy(const Dataset& data, Index batch_size = 1000) const {
    const std::vector<Index> order = data.identity_order();
    typename PlacedNetworkT<Scalar>::Workspace ws;
    Matrix<Scalar> x, y;
    Index correct = 0;
    for (Index begin = 0; begin < data.size(); begin += batch_size) {
      const Index end = std::min(begin + batch_size, data.size());
      data.batch(order, begin, end, x);
      data.label_batch(order, begin, end, y);
      correct += count_correct(network_.forward(parameters_.data(), x, ws), y);
    }
    return data.empty() ? 0.0 : static_cast<double>(correct) / static_cast<double>(data.size());
  }

 private:
  static SequentialT<Scalar> checked(SequentialT<Scalar> network, int classes) {
    if (network.outputs() != classes)
      throw ShapeError("label-only classifier: the network has " +
                       std::to_string(network.outputs()) + " outputs, expected one per class (" +
                       std::to_string(classes) + ")");
    return network;
  }

  ParameterLayout layout_;  // before network_, which reserves its slice in it
  PlacedNetworkT<Scalar> network_;
  CategoricalT<Scalar> categorical_;
  Index classes_;
  Vector<Scalar> parameters_, gradients_;
  typename PlacedNetworkT<Scalar>::Workspace ws_;
  RowVector<Scalar> scale_, nll_;
};

using LabelOnlyClassifier = LabelOnlyClassifierT<float>;

}  // namespace scvae
