#pragma once
// Pseudo-labels as a trainer callback: at the end of each epoch from
// `from_epoch` on, every unlabelled sample of a PartlyLabelledSource whose
// predicted class probability reaches `threshold` gets the prediction as
// its label task's target (the class, or with probability targets the
// probabilities), and the others are masked again. The predictions can be
// averaged over epochs (an exponential moving average of each sample's
// class probabilities with bias correction: temporal ensembling). Added
// after AverageParameters, it predicts with the averaged model.
//
// Checkpoint entries: pseudo.targets (the source's label targets),
// pseudo.mask (its label mask), pseudo.average_sum (the running averages).

#include <algorithm>
#include <string>
#include <vector>

#include "scvae/core/error.hpp"
#include "scvae/data/batch_source.hpp"
#include "scvae/io/checkpoint_extras.hpp"
#include "scvae/train/callback.hpp"

namespace scvae {

struct PseudoLabelOptions {
  Index from_epoch = 3;    ///< 1-based epoch at whose end labelling starts.
  double threshold = 0.9;  ///< Class probability a prediction needs.
  double average = 0.6;    ///< Decay of the average over epochs (0: the last epoch's alone).
  Index batch_size = 1000; ///< Samples predicted at once.

  void validate() const {
    if (from_epoch < 1)
      throw ArgumentError("pseudo-labels: first epoch: expected at least 1, got " +
                          std::to_string(from_epoch));
    if (!(threshold >= 0.0 && threshold <= 1.0))
      throw ArgumentError("pseudo-labels: threshold: expected a value in [0, 1], got " +
                          std::to_string(threshold));
    if (!(average >= 0.0 && average < 1.0))
      throw ArgumentError("pseudo-labels: average decay: expected a value in [0, 1), got " +
                          std::to_string(average));
    if (batch_size < 1)
      throw ArgumentError("pseudo-labels: batch size: expected at least 1, got " +
                          std::to_string(batch_size));
  }
};

/// `Classifier` has class_probabilities(x, q) (semisup/virtual_adversarial.hpp).
template <typename Classifier>
class PseudoLabels final : public Callback {
 public:
  using Scalar = typename Classifier::Scalar;

  PseudoLabels(Classifier& classifier, PartlyLabelledSource<Scalar>& source,
               PseudoLabelOptions options)
      : classifier_(classifier), source_(source), options_(options) {
    options_.validate();
    if (options_.average > 0.0) average_sum_.setZero(source.classes(), source.size());
  }

  /// Adds "pseudo_labels" (how many) to the report of an epoch that labels.
  bool on_epoch_end(EpochReport& report) override {
    if (report.epoch < options_.from_epoch) return false;
    report.set("pseudo_labels", static_cast<double>(relabel()));
    return false;
  }

  /// Predicts every unlabelled sample and relabels; returns how many are labelled.
  Index relabel() {
    const Dataset& data = source_.data();
    const std::vector<Index> order = data.identity_order();
    const Scalar threshold = static_cast<Scalar>(options_.threshold);
    const auto decay = static_cast<Scalar>(options_.average);
    Index count = 0;
    for (Index begin = 0; begin < data.size(); begin += options_.batch_size) {
      const Index end = std::min(begin + options_.batch_size, data.size());
      data.batch(order, begin, end, x_);
      classifier_.class_probabilities(x_, q_);
      for (Index j = 0; j < q_.cols(); ++j) {
        const Index i = begin + j;
        if (source_.is_labelled(i)) continue;
        auto p = q_.col(j);
        if (options_.average > 0.0) {
          // The weights sum to 1 - a^k after k epochs: dividing by the sum is
          // the bias correction (and keeps it a distribution).
          auto sum = average_sum_.col(i);
          sum = decay * sum + (Scalar(1) - decay) * p;
          p = sum / sum.sum();
        }
        Index best = 0;
        if (p.maxCoeff(&best) < threshold) {
          source_.clear_pseudo_label(i);
          continue;
        }
        if (source_.targets() == LabelTargets::Probabilities)
          source_.set_pseudo_label(i, p / p.sum());
        else
          source_.set_pseudo_label(i, Vector<Scalar>::Constant(1, static_cast<Scalar>(best)));
        ++count;
      }
    }
    return count;
  }

  /// The share of the pseudo-labelled samples whose most probable class is
  /// `truth`'s: a diagnostic for the metrics, never used in training.
  double accuracy(const std::vector<std::uint8_t>& truth) const {
    Index right = 0, total = 0;
    const Matrix<Scalar>& targets = source_.label_targets();
    for (Index i = 0; i < source_.size(); ++i) {
      if (source_.is_labelled(i) || !source_.label_mask()[static_cast<std::size_t>(i)]) continue;
      Index best = 0;
      if (source_.targets() == LabelTargets::Probabilities)
        targets.col(i).maxCoeff(&best);
      else
        best = static_cast<Index>(targets(0, i));
      ++total;
      right += best == truth.at(static_cast<std::size_t>(i)) ? 1 : 0;
    }
    return total > 0 ? static_cast<double>(right) / static_cast<double>(total) : 0.0;
  }

  void save_state(CheckpointExtras& extras) const override {
    extras.set_vector("pseudo.targets", source_.label_targets().reshaped());
    extras.set_bytes("pseudo.mask", source_.label_mask());
    if (options_.average > 0.0) extras.set_vector("pseudo.average_sum", average_sum_.reshaped());
  }

  /// Errors name the entry; the source changes only if every entry fits.
  void restore_state(const CheckpointExtras& extras) override {
    if (!extras.contains("pseudo.mask")) return;
    const std::vector<std::uint8_t>& mask = extras.bytes("pseudo.mask");
    const Vector<Scalar> targets = extras.vector<Scalar>("pseudo.targets");
    const Matrix<Scalar>& current = source_.label_targets();
    check_count("pseudo.mask", static_cast<Index>(mask.size()), source_.size());
    check_count("pseudo.targets", targets.size(), current.size());
    Matrix<Scalar> sums = average_sum_;
    if (options_.average > 0.0) {
      const Vector<Scalar> values = extras.vector<Scalar>("pseudo.average_sum");
      check_count("pseudo.average_sum", values.size(), average_sum_.size());
      sums = values.reshaped(average_sum_.rows(), average_sum_.cols());
    }
    const Matrix<Scalar> table = targets.reshaped(current.rows(), current.cols());
    for (Index i = 0; i < source_.size(); ++i)
      if (source_.is_labelled(i) && (table.col(i) != current.col(i) || !mask[i]))
        throw ArgumentError(
            "checkpoint extra 'pseudo.targets': the labelled samples differ from this run's "
            "(another labelled subset: --labels, --limit or --seed?)");
    average_sum_ = std::move(sums);
    for (Index i = 0; i < source_.size(); ++i) {
      if (source_.is_labelled(i)) continue;
      if (mask[static_cast<std::size_t>(i)])
        source_.set_pseudo_label(i, table.col(i));
      else
        source_.clear_pseudo_label(i);
    }
  }

 private:
  static void check_count(const char* name, Index got, Index expected) {
    if (got != expected)
      throw ArgumentError(std::string("checkpoint extra '") + name + "' holds " +
                          std::to_string(got) + " values, this run has " +
                          std::to_string(expected));
  }

  Classifier& classifier_;
  PartlyLabelledSource<Scalar>& source_;
  PseudoLabelOptions options_;
  Matrix<Scalar> average_sum_;  // classes x samples
  Matrix<Scalar> x_, q_;
};

}  // namespace scvae
