#pragma once
// What a trainer or an evaluator asks of data: "fill this batch with samples
// order[begin..end)". A source knows how many tasks its batches carry and
// which targets are the input itself (a VAE reconstructs x: no copy).

#include <cstdint>
#include <vector>

#include "scvae/data/dataset.hpp"

namespace scvae {

/// One batch: the input and, per task, a target and an optional 0/1 mask.
template <typename Scalar>
struct Batch {
  Matrix<Scalar> x;
  std::vector<Matrix<Scalar>> targets;   ///< Unused for tasks whose target is x.
  std::vector<RowVector<Scalar>> masks;  ///< Empty row: no mask.
  std::vector<bool> target_is_input;

  Index size() const { return x.cols(); }
  const Matrix<Scalar>& target(std::size_t t) const { return target_is_input[t] ? x : targets[t]; }
  bool has_mask(std::size_t t) const { return masks[t].size() > 0; }
};

template <typename Scalar>
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual Index size() const = 0;
  virtual Index task_count() const = 0;
  /// Fills `batch` with samples order[begin..end); buffers of the same size
  /// are reused, so a filled batch never allocates again.
  virtual void fill(const std::vector<Index>& order, Index begin, Index end,
                    Batch<Scalar>& batch) const = 0;
};

/// Images whose one task is to reconstruct themselves (the plain VAE).
template <typename Scalar>
class AutoencoderSource final : public BatchSource<Scalar> {
 public:
  explicit AutoencoderSource(const Dataset& images) : images_(images) {}
  Index size() const override { return images_.size(); }
  Index task_count() const override { return 1; }
  void fill(const std::vector<Index>& order, Index begin, Index end,
            Batch<Scalar>& batch) const override {
    batch.targets.resize(1);
    batch.masks.resize(1);
    batch.target_is_input.assign(1, true);
    images_.batch(order, begin, end, batch.x);
  }

 private:
  const Dataset& images_;
};

/// Images with two tasks: reconstruct the image, and predict its class
/// where `labelled[i]` is 1 (elsewhere the label is masked out).
template <typename Scalar>
class ImageLabelSource final : public BatchSource<Scalar> {
 public:
  /// `labelled` empty means every sample's label is used.
  ImageLabelSource(const Dataset& data, std::vector<std::uint8_t> labelled = {})
      : data_(data), labelled_(std::move(labelled)) {
    if (!data_.has_labels())
      throw ArgumentError(data_.name() +
                          ": the image-label task needs labels, the dataset has none");
    if (!labelled_.empty() && static_cast<Index>(labelled_.size()) != data_.size())
      throw ShapeError("labelled flags: expected one per sample (" + std::to_string(data_.size()) +
                       "), got " + std::to_string(labelled_.size()));
  }
  Index size() const override { return data_.size(); }
  Index task_count() const override { return 2; }
  const std::vector<std::uint8_t>& labelled() const { return labelled_; }

  void fill(const std::vector<Index>& order, Index begin, Index end,
            Batch<Scalar>& batch) const override {
    batch.targets.resize(2);
    batch.masks.resize(2);
    batch.target_is_input = {true, false};
    data_.batch(order, begin, end, batch.x);
    data_.label_batch(order, begin, end, batch.targets[1]);
    if (labelled_.empty()) {
      batch.masks[1].resize(0);
      return;
    }
    const Index n = end - begin;
    if (batch.masks[1].size() != n) batch.masks[1].resize(n);
    for (Index j = 0; j < n; ++j)
      batch.masks[1](j) =
          labelled_[static_cast<std::size_t>(order[static_cast<std::size_t>(begin + j)])]
              ? Scalar(1)
              : Scalar(0);
  }

 private:
  const Dataset& data_;
  std::vector<std::uint8_t> labelled_;
};

/// How a label task's targets are given: a 1 x n row of class indices, or
/// classes x n class probabilities (soft targets: label smoothing,
/// pseudo-labels that are predictions).
enum class LabelTargets { Classes, Probabilities };

/// Images with two tasks: reconstruct the image, and predict the class of
/// the samples in a labelled subset (1 in `labelled`); the others' label
/// task is masked. The true label of an unlabelled sample is never read:
/// the labels are copied for the labelled samples alone when the source is
/// made. Pseudo-labels (semisup/pseudo_labels.hpp) are targets set for
/// unlabelled samples, which unmasks them.
template <typename Scalar>
class PartlyLabelledSource final : public BatchSource<Scalar> {
 public:
  /// `smoothing` (Probabilities only) puts 1 - smoothing on a true label's
  /// class and spreads `smoothing` evenly over all classes.
  PartlyLabelledSource(const Dataset& data, std::vector<std::uint8_t> labelled,
                       LabelTargets targets = LabelTargets::Classes, double smoothing = 0.0)
      : data_(data), labelled_(std::move(labelled)), targets_(targets) {
    if (!data_.has_labels())
      throw ArgumentError(data_.name() + ": a labelled subset needs labels, the data set has none");
    if (static_cast<Index>(labelled_.size()) != data_.size())
      throw ShapeError(data_.name() + ": labelled flags: expected one per sample (" +
                       std::to_string(data_.size()) + "), got " +
                       std::to_string(labelled_.size()));
    if (!(smoothing >= 0.0 && smoothing <= 1.0) ||
        (smoothing > 0.0 && targets != LabelTargets::Probabilities))
      throw ArgumentError("label smoothing: expected a value in [0, 1] with probability targets, "
                          "got " + std::to_string(smoothing));
    const Index classes = data_.num_classes();
    table_.setZero(targets == LabelTargets::Classes ? 1 : classes, data_.size());
    mask_.assign(labelled_.size(), 0);
    for (std::size_t i = 0; i < labelled_.size(); ++i) {
      if (!labelled_[i]) continue;
      const auto label = static_cast<Index>(data_.labels()[i]);
      const auto column = static_cast<Index>(i);
      if (targets == LabelTargets::Classes) {
        table_(0, column) = static_cast<Scalar>(label);
      } else {
        table_.col(column).setConstant(static_cast<Scalar>(smoothing / static_cast<double>(classes)));
        table_(label, column) += static_cast<Scalar>(1.0 - smoothing);
      }
      mask_[i] = 1;
    }
  }
  Index size() const override { return data_.size(); }
  Index task_count() const override { return 2; }
  Index classes() const { return data_.num_classes(); }
  LabelTargets targets() const { return targets_; }
  const Dataset& data() const { return data_; }
  const std::vector<std::uint8_t>& labelled() const { return labelled_; }
  bool is_labelled(Index i) const { return labelled_.at(static_cast<std::size_t>(i)) != 0; }
  /// The label task's targets, one column per sample (zero where unset).
  const Matrix<Scalar>& label_targets() const { return table_; }
  /// 1 where the label task sees a sample: labelled or pseudo-labelled.
  const std::vector<std::uint8_t>& label_mask() const { return mask_; }

  /// Gives unlabelled sample i the target `target` (a class index as a 1 x 1
  /// column, or class probabilities) and unmasks it. ArgumentError for a
  /// labelled sample, whose true label stays.
  void set_pseudo_label(Index i, const Eigen::Ref<const Vector<Scalar>>& target) {
    check_unlabelled(i);
    if (target.size() != table_.rows())
      throw ShapeError("pseudo-label of sample " + std::to_string(i) + ": expected " +
                       std::to_string(table_.rows()) + " values, got " +
                       std::to_string(target.size()));
    table_.col(i) = target;
    mask_[static_cast<std::size_t>(i)] = 1;
  }
  /// Masks unlabelled sample i's label task again.
  void clear_pseudo_label(Index i) {
    check_unlabelled(i);
    mask_[static_cast<std::size_t>(i)] = 0;
  }

  void fill(const std::vector<Index>& order, Index begin, Index end,
            Batch<Scalar>& batch) const override {
    batch.targets.resize(2);
    batch.masks.resize(2);
    batch.target_is_input = {true, false};
    data_.batch(order, begin, end, batch.x);
    const Index n = end - begin;
    if (batch.targets[1].rows() != table_.rows() || batch.targets[1].cols() != n)
      batch.targets[1].resize(table_.rows(), n);
    if (batch.masks[1].size() != n) batch.masks[1].resize(n);
    for (Index j = 0; j < n; ++j) {
      const Index i = order[static_cast<std::size_t>(begin + j)];
      batch.targets[1].col(j) = table_.col(i);
      batch.masks[1](j) = mask_[static_cast<std::size_t>(i)] ? Scalar(1) : Scalar(0);
    }
  }

 private:
  void check_unlabelled(Index i) const {
    if (i < 0 || i >= data_.size())
      throw ArgumentError("pseudo-label: sample " + std::to_string(i) + " is not below " +
                          std::to_string(data_.size()));
    if (labelled_[static_cast<std::size_t>(i)])
      throw ArgumentError("pseudo-label: sample " + std::to_string(i) +
                          " is labelled; its true label stays");
  }

  const Dataset& data_;
  std::vector<std::uint8_t> labelled_;
  LabelTargets targets_;
  Matrix<Scalar> table_;
  std::vector<std::uint8_t> mask_;
};

}  // namespace scvae
