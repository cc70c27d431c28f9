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

}  // namespace scvae
