// The multi-task VAE on MNIST-format data: one shared encoder, an image
// decoder that sees every training image, and a label task that sees only the
// --labels labelled ones. --baseline also trains a label-only MLP on exactly
// the same labelled images, so both accuracies come from one program, one
// split and one seed.
//
// Two designs: --design m2 (the default, the best measured; m2_example.hpp),
// where the image decoder reads the class, and --design scvae (this file),
// the SC-VAE: a Bernoulli image task and a Categorical label head on z, with
// pseudo-labels for the unlabelled images.

#include <algorithm>
#include <cmath>
#include <map>

#include "common.hpp"
#include "labelled_subset.hpp"
#include "m2_example.hpp"

namespace {

using scvae::Index;

struct MultitaskFlags {
  Index labels = 1000;
  double label_weight = 50.0;
  Index label_hidden = 400;
  Index label_layers = 1;
  Index encoder_layers = 1;
  std::string label_input = "sample";
  // The defaults are the best design measured (examples/RESULTS-multitask.md).
  double labelled_share = 0.25;
  Index pseudo_from = 3;
  double pseudo_threshold = 0.9;
  std::string pseudo_targets = "soft";
  double pseudo_average = 0.6;
  bool pseudo_balance = false;
  double average_weights = 0.0;
  double pseudo_weight = 1.0;
  bool consistency = false;
  double consistency_threshold = 0.0;
  double adversarial_epsilon = 0.0;
  double adversarial_xi = 1.0;
  double label_smoothing = 0.0;
  bool lr_cosine = false;
  bool baseline = false;
  Index baseline_epochs = 100;
};

/// Images with an image task and a label task whose labels are the kept
/// training labels plus, once pseudo-labelling starts, the model's own
/// confident predictions for unlabelled images. It never reads the true label
/// of an unlabelled image.
///
/// The predictions can be averaged over epochs (an exponential moving average
/// of each image's class probabilities with bias correction, as in temporal
/// ensembling), and with `soft` the label task's targets are class
/// probabilities (classes x n): one-hot for true labels, the averaged
/// predictions for pseudo-labels, instead of the predicted class.
class PseudoLabelSource final : public scvae::BatchSource<float> {
 public:
  PseudoLabelSource(const scvae::Dataset& data, const std::vector<std::uint8_t>& labelled,
                    bool soft, double average, bool balance, double smoothing)
      : data_(data),
        labelled_(labelled),
        labels_(labelled.size(), 0),
        mask_(labelled),
        confidence_(labelled.size(), 0.0f),
        soft_(soft || smoothing > 0.0),
        average_(average),
        balance_(balance) {
    for (std::size_t i = 0; i < labelled.size(); ++i)
      if (labelled[i]) labels_[i] = data.labels()[i];
    if (soft_) {
      // True labels as (1 - smoothing) on their class and the rest spread evenly.
      const int classes = data.num_classes();
      probabilities_.setZero(classes, data.size());
      for (std::size_t i = 0; i < labelled.size(); ++i) {
        if (!labelled[i]) continue;
        auto column = probabilities_.col(static_cast<Index>(i));
        column.setConstant(static_cast<float>(smoothing / classes));
        column(labels_[i]) += static_cast<float>(1.0 - smoothing);
      }
    }
    if (average_ > 0.0) average_sum_.setZero(data.num_classes(), data.size());
  }
  Index size() const override { return data_.size(); }
  Index task_count() const override { return 2; }

  void fill(const std::vector<Index>& order, Index begin, Index end,
            scvae::Batch<float>& batch) const override {
    batch.targets.resize(2);
    batch.masks.resize(2);
    batch.target_is_input = {true, false};
    data_.batch(order, begin, end, batch.x);
    const Index n = end - begin;
    const Index rows = soft_ ? probabilities_.rows() : 1;
    if (batch.targets[1].cols() != n || batch.targets[1].rows() != rows)
      batch.targets[1].resize(rows, n);
    if (batch.masks[1].size() != n) batch.masks[1].resize(n);
    for (Index j = 0; j < n; ++j) {
      const auto i = static_cast<std::size_t>(order[static_cast<std::size_t>(begin + j)]);
      if (soft_)
        batch.targets[1].col(j) = probabilities_.col(static_cast<Index>(i));
      else
        batch.targets[1](0, j) = static_cast<float>(labels_[i]);
      batch.masks[1](j) = mask_[i] ? 1.0f : 0.0f;
    }
    if (consistency_model_ != nullptr) add_consistency_targets(order, begin, batch);
    if (adversarial_model_ != nullptr) make_adversarial(order, begin, batch);
  }

  /// From now on every batch replaces each unlabelled image x by x + r, the
  /// perturbation of L2 norm `epsilon` that (to first order) changes the
  /// label head's prediction at z = mu the most (virtual adversarial training,
  /// Miyato et al.), clamped to [0, 1]: r follows the gradient of the
  /// cross-entropy from the prediction p(y|x) to the one at x + xi d, d a
  /// random unit direction. Its label target is its pseudo-label if it has
  /// one, else p(y|x), held fixed. Needs soft targets.
  void enable_adversarial(const scvae::SCVAE& model, double epsilon, double xi,
                          std::uint64_t seed) {
    require_soft_targets("--adversarial-epsilon");
    adversarial_model_ = &model;
    adversarial_epsilon_ = epsilon;
    adversarial_xi_ = xi;
    adversarial_seed_ = seed;
  }

  /// From now on every batch also trains each unlabelled image that has no
  /// pseudo-label towards the label head's prediction for a second sample of
  /// z, drawn here with the current parameters and held fixed as a soft
  /// target (consistency between the predictions for two z samples), if that
  /// prediction's top class probability reaches `threshold`. Needs soft targets.
  void enable_consistency(const scvae::SCVAE& model, double threshold, std::uint64_t seed) {
    require_soft_targets("--consistency");
    consistency_model_ = &model;
    consistency_threshold_ = threshold;
    consistency_seed_ = seed;
  }

  /// Labels every unlabelled image whose predicted class probability (from
  /// z = mu, averaged over epochs if asked) reaches `threshold` with that
  /// class (or, soft, those probabilities); returns how many.
  Index relabel(const scvae::SCVAE& model, double threshold) {
    Index count = 0;
    const std::vector<Index> order = data_.identity_order();
    scvae::Matrix<float> x, mu, logvar, probabilities;
    for (Index begin = 0; begin < data_.size(); begin += 1000) {
      const Index end = std::min<Index>(begin + 1000, data_.size());
      data_.batch(order, begin, end, x);
      model.encode(x, mu, logvar);
      model.predict(1, mu, probabilities);
      for (Index j = 0; j < probabilities.cols(); ++j) {
        const auto i = static_cast<std::size_t>(begin + j);
        if (labelled_[i]) continue;
        auto p_j = probabilities.col(j);
        if (average_ > 0.0) {
          // The average's weights sum to 1 - a^k after k epochs: dividing by
          // its sum is the bias correction (and keeps it a distribution).
          auto sum = average_sum_.col(static_cast<Index>(i));
          sum = static_cast<float>(average_) * sum + static_cast<float>(1.0 - average_) * p_j;
          p_j = sum / sum.sum();
        }
        if (soft_) probabilities_.col(static_cast<Index>(i)) = p_j / p_j.sum();
        Index best = 0;
        const float p = probabilities.col(j).maxCoeff(&best);
        mask_[i] = p >= threshold ? 1 : 0;
        labels_[i] = static_cast<std::uint8_t>(best);
        confidence_[i] = p;
        count += mask_[i];
      }
    }
    if (balance_) balance(count);
    return count;
  }

  /// Keeps each pseudo-label for the coming epoch with probability `weight`
  /// (a draw from `rng` per image): in expectation a pseudo-label then weighs
  /// `weight` times a true label. Returns how many are kept.
  Index thin(double weight, scvae::Rng& rng) {
    Index kept = 0;
    for (std::size_t i = 0; i < labelled_.size(); ++i) {
      if (labelled_[i] || !mask_[i]) continue;
      mask_[i] = rng.uniform() < weight ? 1 : 0;
      kept += mask_[i];
    }
    return kept;
  }

  /// The pseudo-labels and prediction averages, into a training checkpoint:
  /// a resumed run goes on with them as an uninterrupted one would.
  void save_state(scvae::CheckpointExtras& extras) const {
    extras.set_bytes("pseudo.labels", labels_);
    extras.set_bytes("pseudo.mask", mask_);
    extras.set_values("pseudo.confidence", {confidence_.begin(), confidence_.end()});
    if (soft_) extras.set_vector("pseudo.probabilities", probabilities_.reshaped());
    if (average_ > 0.0) extras.set_vector("pseudo.average_sum", average_sum_.reshaped());
  }

  /// Takes back what save_state wrote (a checkpoint without it, e.g. one from
  /// before pseudo-labelling existed, leaves the source as constructed).
  /// Errors name the entry; the source is changed only if all entries fit.
  void restore_state(const scvae::CheckpointExtras& extras) {
    if (!extras.contains("pseudo.labels")) return;
    const std::size_t n = labelled_.size();
    std::vector<std::uint8_t> labels = extras.bytes("pseudo.labels");
    std::vector<std::uint8_t> mask = extras.bytes("pseudo.mask");
    const std::vector<double>& confidence = extras.values("pseudo.confidence");
    check_count("pseudo.labels", labels.size(), n);
    check_count("pseudo.mask", mask.size(), n);
    check_count("pseudo.confidence", confidence.size(), n);
    for (std::size_t i = 0; i < n; ++i) {
      if (labels[i] >= data_.num_classes() || mask[i] > 1)
        throw scvae::ArgumentError("checkpoint extra 'pseudo.labels' or 'pseudo.mask': image " +
                                   std::to_string(i) + " has class " + std::to_string(labels[i]) +
                                   " and mask " + std::to_string(mask[i]));
      if (labelled_[i] && (labels[i] != labels_[i] || !mask[i]))
        throw scvae::ArgumentError(
            "checkpoint extra 'pseudo.labels': the kept labels differ from this run's (another "
            "--labels, --limit or --seed?)");
    }
    scvae::Matrix<float> probabilities = probabilities_, average_sum = average_sum_;
    if (soft_) probabilities = matrix_entry(extras, "pseudo.probabilities");
    if (average_ > 0.0) average_sum = matrix_entry(extras, "pseudo.average_sum");
    labels_ = std::move(labels);
    mask_ = std::move(mask);
    confidence_.assign(confidence.begin(), confidence.end());
    probabilities_ = std::move(probabilities);
    average_sum_ = std::move(average_sum);
  }

  /// The share of the pseudo-labelled images whose (most probable) label is
  /// the true one: a diagnostic for the metrics only, never used in training.
  double pseudo_label_accuracy(const std::vector<std::uint8_t>& truth) const {
    Index right = 0, total = 0;
    for (std::size_t i = 0; i < labelled_.size(); ++i) {
      if (labelled_[i] || !mask_[i]) continue;
      ++total;
      right += labels_[i] == truth[i] ? 1 : 0;
    }
    return total > 0 ? static_cast<double>(right) / static_cast<double>(total) : 0.0;
  }

 private:
  const scvae::Dataset& data_;
  std::vector<std::uint8_t> labelled_;
  std::vector<std::uint8_t> labels_;
  std::vector<std::uint8_t> mask_;
  /// Keeps the `count` pseudo-labels but spreads them over the classes as
  /// the true labels are spread: class c gets count * share_c of them, its
  /// most confident predictions, whatever their probability.
  void balance(Index count) {
    const int classes = data_.num_classes();
    std::vector<std::vector<std::size_t>> by_class(static_cast<std::size_t>(classes));
    std::vector<double> share(static_cast<std::size_t>(classes), 0.0);
    double labelled_total = 0.0;
    for (std::size_t i = 0; i < labelled_.size(); ++i) {
      if (labelled_[i]) {
        share[labels_[i]] += 1.0;
        labelled_total += 1.0;
      } else {
        by_class[labels_[i]].push_back(i);
        mask_[i] = 0;
      }
    }
    for (int c = 0; c < classes; ++c) {
      auto& pool = by_class[static_cast<std::size_t>(c)];
      const auto quota = std::min<std::size_t>(
          pool.size(),
          static_cast<std::size_t>(std::lround(
              static_cast<double>(count) * share[static_cast<std::size_t>(c)] / labelled_total)));
      std::partial_sort(pool.begin(), pool.begin() + static_cast<std::ptrdiff_t>(quota), pool.end(),
                        [&](std::size_t a, std::size_t b) {
                          return confidence_[a] > confidence_[b] ||
                                 (confidence_[a] == confidence_[b] && a < b);
                        });
      for (std::size_t k = 0; k < quota; ++k) mask_[pool[k]] = 1;
    }
  }

  void add_consistency_targets(const std::vector<Index>& order, Index begin,
                               scvae::Batch<float>& batch) const {
    const scvae::SCVAE& model = *consistency_model_;
    model.encode(batch.x, mu_, logvar_);
    scvae::Rng rng = batch_rng(consistency_seed_, order, begin);
    eps_.resize(mu_.rows(), mu_.cols());
    rng.fill_normal(eps_);
    z_.resize(mu_.rows(), mu_.cols());
    scvae::reparameterize<float>(mu_, logvar_, eps_, z_);
    model.predict(1, z_, second_);
    for (Index j = 0; j < batch.x.cols(); ++j) {
      const auto i = static_cast<std::size_t>(order[static_cast<std::size_t>(begin + j)]);
      if (labelled_[i] || mask_[i]) continue;
      if (second_.col(j).maxCoeff() < static_cast<float>(consistency_threshold_)) continue;
      batch.targets[1].col(j) = second_.col(j) / second_.col(j).sum();
      batch.masks[1](j) = 1.0f;
    }
  }

  static void check_count(const char* name, std::size_t got, std::size_t expected) {
    if (got != expected)
      throw scvae::ArgumentError(std::string("checkpoint extra '") + name + "' holds " +
                                 std::to_string(got) + " values, this run has " +
                                 std::to_string(expected) + " training images");
  }

  scvae::Matrix<float> matrix_entry(const scvae::CheckpointExtras& extras, const char* name) const {
    const scvae::Vector<float> values = extras.vector<float>(name);
    const Index classes = data_.num_classes();
    check_count(name, static_cast<std::size_t>(values.size()),
                static_cast<std::size_t>(classes * data_.size()));
    return values.reshaped(classes, data_.size());
  }

  void require_soft_targets(const std::string& option) const {
    if (!soft_) throw scvae::ArgumentError(option + " needs soft targets (--pseudo-targets soft)");
  }

  /// A generator for the batch at order[begin..]: it depends only on the
  /// seed, the batch's place and its first image, so a resumed run draws the
  /// same.
  static scvae::Rng batch_rng(std::uint64_t seed, const std::vector<Index>& order, Index begin) {
    return scvae::Rng(seed ^ (0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(begin + 1)) ^
                      (0xBF58476D1CE4E5B9ull *
                       static_cast<std::uint64_t>(order[static_cast<std::size_t>(begin)] + 1)));
  }

  void make_adversarial(const std::vector<Index>& order, Index begin,
                        scvae::Batch<float>& batch) const {
    const scvae::SCVAE& model = *adversarial_model_;
    columns_.clear();
    for (Index j = 0; j < batch.x.cols(); ++j)
      if (!labelled_[static_cast<std::size_t>(order[static_cast<std::size_t>(begin + j)])])
        columns_.push_back(j);
    const auto count = static_cast<Index>(columns_.size());
    if (count == 0) return;
    clean_.resize(batch.x.rows(), count);
    for (Index c = 0; c < count; ++c)
      clean_.col(c) = batch.x.col(columns_[static_cast<std::size_t>(c)]);
    model.encode(clean_, mu_, logvar_);
    model.predict(1, mu_, prediction_);
    for (Index c = 0; c < count; ++c) prediction_.col(c) /= prediction_.col(c).sum();
    scvae::Rng rng = batch_rng(adversarial_seed_, order, begin);
    direction_.resize(clean_.rows(), count);
    rng.fill_normal(direction_);
    for (Index c = 0; c < count; ++c) direction_.col(c).normalize();
    probe_ = clean_ + static_cast<float>(adversarial_xi_) * direction_;
    model.task_input_gradient(1, probe_, prediction_, gradient_);
    for (Index c = 0; c < count; ++c) {
      const float norm = gradient_.col(c).norm();
      if (!(norm > 0.0f) || !std::isfinite(norm)) continue;
      const Index j = columns_[static_cast<std::size_t>(c)];
      batch.x.col(j) =
          (clean_.col(c) + (static_cast<float>(adversarial_epsilon_) / norm) * gradient_.col(c))
              .cwiseMax(0.0f)
              .cwiseMin(1.0f);
      const auto i = static_cast<std::size_t>(order[static_cast<std::size_t>(begin + j)]);
      if (mask_[i]) continue;  // keeps its pseudo-label
      batch.targets[1].col(j) = prediction_.col(c);
      batch.masks[1](j) = 1.0f;
    }
  }

  std::vector<float> confidence_;
  bool soft_;
  double average_;
  bool balance_;
  scvae::Matrix<float> probabilities_;  // classes x images: the soft targets
  scvae::Matrix<float> average_sum_;    // classes x images: the moving average
  const scvae::SCVAE* consistency_model_ = nullptr;
  double consistency_threshold_ = 0.0;
  std::uint64_t consistency_seed_ = 0;
  const scvae::SCVAE* adversarial_model_ = nullptr;
  double adversarial_epsilon_ = 0.0;
  double adversarial_xi_ = 1.0;
  std::uint64_t adversarial_seed_ = 0;
  // Buffers of add_consistency_targets and make_adversarial, kept between batches.
  mutable scvae::Matrix<float> mu_, logvar_, eps_, z_, second_;
  mutable scvae::Matrix<float> clean_, prediction_, direction_, probe_, gradient_;
  mutable std::vector<Index> columns_;
};

/// An exponential moving average of a model's parameters over training
/// steps (Polyak averaging; the "mean teacher" of Tarvainen and Valpola),
/// kept in a copy of the model: `averaged()` after each epoch.
class WeightAverage final : public scvae::Callback {
 public:
  WeightAverage(const scvae::SCVAE& model, double decay)
      : model_(model), averaged_(model), average_(decay) {}
  bool on_batch_end(const scvae::BatchReport&) override {
    average_.update(model_.parameters());
    return false;
  }
  void save_state(scvae::CheckpointExtras& extras) const {
    if (average_.steps() == 0) return;
    extras.set_vector("average.parameters", average_.average());
    extras.set_scalar("average.steps", static_cast<double>(average_.steps()));
    extras.set_scalar("average.decay", average_.decay());
  }
  /// A checkpoint's average, if it has one with this decay (another decay
  /// is an error: the weights would not continue).
  void restore_state(const scvae::CheckpointExtras& extras) {
    if (!extras.contains("average.parameters")) return;
    const double decay = extras.scalar("average.decay");
    if (decay != average_.decay())
      throw scvae::ArgumentError("its parameter average has decay " + scvae::json_number(decay) +
                                 ", not --average-weights " + scvae::json_number(average_.decay()) +
                                 "; resume with the same decay");
    const scvae::Vector<float> parameters = extras.vector<float>("average.parameters");
    if (parameters.size() != model_.parameters().size())
      throw scvae::ArgumentError("checkpoint extra 'average.parameters' holds " +
                                 std::to_string(parameters.size()) + " values, the model has " +
                                 std::to_string(model_.parameters().size()));
    // restore() rejects a count of 0.
    average_.restore(parameters,
                     static_cast<long>(scvae::checkpoint_count(extras, "average.steps")));
  }
  const scvae::SCVAE& averaged() {
    averaged_.parameters() = average_.average();
    return averaged_;
  }

 private:
  const scvae::SCVAE& model_;
  scvae::SCVAE averaged_;
  scvae::ParameterAverage average_;
};

/// Test accuracy of the label task's predictive distribution
/// p(y|x) = E_q(z|x)[p(y|z)], estimated with `draws` samples of z per image
/// (test_accuracy predicts from z = mu instead).
double sampled_accuracy(const scvae::SCVAE& model, const scvae::Dataset& test, Index draws,
                        std::uint64_t seed) {
  scvae::Rng rng(seed);
  const std::vector<Index> order = test.identity_order();
  scvae::Matrix<float> x, y, mu, logvar, z, eps, probabilities, sum;
  Index correct = 0;
  for (Index begin = 0; begin < test.size(); begin += 1000) {
    const Index end = std::min<Index>(begin + 1000, test.size());
    test.batch(order, begin, end, x);
    test.label_batch(order, begin, end, y);
    model.encode(x, mu, logvar);
    sum.setZero(model.task(1).outputs, mu.cols());
    eps.resize(mu.rows(), mu.cols());
    z.resize(mu.rows(), mu.cols());
    for (Index d = 0; d < draws; ++d) {
      rng.fill_normal(eps);
      scvae::reparameterize<float>(mu, logvar, eps, z);
      model.predict(1, z, probabilities);
      sum += probabilities;
    }
    correct += scvae::count_correct(sum, y);
  }
  return static_cast<double>(correct) / static_cast<double>(test.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (examples::design_from_arguments(argc, argv) != "scvae")
    return examples::run_m2_example(
        "mnist_multitask",
        "Train the multi-task VAE (shared encoder, image decoder, label task) on MNIST-format "
        "data with only --labels labelled images, and write its metrics, pictures and model. "
        "This is --design m2 (Kingma et al.'s M2).",
        "runs/mnist_multitask", true, argc, argv);
  CLI::App app{
      "Train the shared-encoder multi-task VAE (image + label) on MNIST-format data "
      "with only --labels labelled images, and write its metrics, pictures and model. "
      "This is --design scvae (the SC-VAE: a label head on z)."};
  examples::CommonFlags flags;
  flags.out = "runs/mnist_multitask";
  examples::add_common_flags(app, flags);
  std::string design = "scvae";
  examples::add_design_option(app, design);
  MultitaskFlags m;
  using examples::add_integer;
  using examples::add_real;
  add_integer<Index>(app, "--labels", m.labels,
                     "Training labels kept, balanced over classes; the rest are masked "
                     "(default 1000, or all images if --limit leaves fewer)",
                     1)
      ->capture_default_str();
  add_real(app, "--label-weight", m.label_weight,
           "Weight w of the label task's NLL (default: min(50, 10 / labelled fraction))", 0.0);
  add_integer<Index>(app, "--label-hidden", m.label_hidden,
                     "Hidden units of the label head (0: linear head)", 0)
      ->capture_default_str();
  add_integer<Index>(app, "--label-layers", m.label_layers,
                     "Hidden layers of --label-hidden units in the label head", 1, 1000)
      ->capture_default_str();
  add_integer<Index>(app, "--encoder-layers", m.encoder_layers,
                     "Hidden layers of --hidden units in the shared encoder", 1, 1000)
      ->capture_default_str();
  app.add_option("--label-input", m.label_input,
                 "The label head reads the sampled z or the mean mu")
      ->check(CLI::IsMember({"sample", "mean"}))
      ->capture_default_str();
  add_integer<Index>(
      app, "--pseudo-from", m.pseudo_from,
      "From this epoch on, label confident predictions of unlabelled images (0: off)", 0,
      examples::kMaxEpochs)
      ->capture_default_str();
  add_real(app, "--pseudo-threshold", m.pseudo_threshold,
           "Class probability a prediction needs to become a pseudo-label", 0.0, 1.0)
      ->capture_default_str();
  app.add_option("--pseudo-targets", m.pseudo_targets,
                 "Pseudo-labels are the predicted class probabilities (soft) or the class (hard)")
      ->check(CLI::IsMember({"soft", "hard"}))
      ->capture_default_str();
  app.add_flag("--consistency", m.consistency,
               "Train unlabelled images without a pseudo-label towards the label head's "
               "prediction for a second z sample, every step (soft targets)");
  add_real(app, "--consistency-threshold", m.consistency_threshold,
           "Top class probability the second sample's prediction needs (0: all)", 0.0, 1.0)
      ->capture_default_str();
  add_real(app, "--adversarial-epsilon", m.adversarial_epsilon,
           "Replace each unlabelled image by its virtual adversarial perturbation of this L2 "
           "norm, trained towards the clean image's prediction (0: off)",
           0.0, 100.0)
      ->capture_default_str();
  add_real(app, "--adversarial-xi", m.adversarial_xi,
           "L2 norm of the random probe that finds the adversarial direction", 1e-6, 100.0)
      ->capture_default_str();
  app.add_flag("--pseudo-balance", m.pseudo_balance,
               "Spread the pseudo-labels over the classes as the kept labels are spread "
               "(each class: its most confident predictions)");
  add_real(app, "--average-weights", m.average_weights,
           "Keep a moving average of the parameters over steps with this decay (0: off); it "
           "makes the pseudo-labels and averaged_test_accuracy",
           0.0, 0.99999)
      ->capture_default_str();
  add_real(app, "--pseudo-weight", m.pseudo_weight,
           "Each epoch, keep each pseudo-label with this probability: its weight relative to a "
           "true label, in expectation",
           0.0, 1.0)
      ->capture_default_str();
  add_real(app, "--label-smoothing", m.label_smoothing,
           "True labels as class probabilities: 1 - X on the class, X spread over all classes "
           "(implies soft targets)",
           0.0, 1.0)
      ->capture_default_str();
  add_real(app, "--pseudo-average", m.pseudo_average,
           "Pseudo-labels from a moving average of each image's predictions over epochs, with "
           "this decay (0: the last epoch's predictions only)",
           0.0, 0.999)
      ->capture_default_str();
  app.add_flag("--lr-cosine", m.lr_cosine,
               "Cosine annealing of the learning rate from --lr to 0 over the epochs");
  examples::add_labelled_subset_flags(app, m.labelled_share, m.baseline, m.baseline_epochs);

  return examples::run_main("mnist_multitask", app, argc, argv, [&] {
    examples::validate_common_flags(flags);
    const examples::MnistData data = examples::load_data(flags, "mnist_multitask");
    // The default of 1000 shrinks to fit a small --limit; an explicit
    // --labels larger than the data is an error.
    if (app.count("--labels") == 0) m.labels = std::min(m.labels, data.train.size());
    if (app.count("--label-weight") == 0)
      m.label_weight = examples::default_label_weight(m.label_weight, m.labels, data.train.size());
    const std::vector<std::uint8_t> labelled =
        examples::choose_labelled(data.train, m.labels, flags.seed);
    const examples::OutputLock lock(flags.out);
    examples::check_scvae_size(flags, data.train.features(), data.train.num_classes(),
                               m.encoder_layers, m.label_hidden, m.label_layers,
                               m.average_weights > 0.0);

    scvae::ModelSpec spec;
    spec.inputs = data.train.features();
    spec.encoder_hidden.assign(static_cast<std::size_t>(m.encoder_layers), flags.hidden);
    spec.latent = flags.latent;
    spec.initialization = flags.initialization();
    spec.tasks.push_back({"image",
                          data.train.features(),
                          {flags.hidden},
                          scvae::LikelihoodSpec::bernoulli(),
                          1.0,
                          scvae::Activation::ReLU,
                          scvae::DecoderInput::Sample});
    std::vector<Index> label_hidden;
    if (m.label_hidden > 0)
      label_hidden.assign(static_cast<std::size_t>(m.label_layers), m.label_hidden);
    spec.tasks.push_back(
        {"label", data.train.num_classes(), label_hidden,
         scvae::LikelihoodSpec::categorical(data.train.num_classes()), m.label_weight,
         scvae::Activation::ReLU,
         m.label_input == "mean" ? scvae::DecoderInput::Mean : scvae::DecoderInput::Sample});
    scvae::SCVAE model(spec, flags.seed);
    scvae::Adam adam(scvae::AdamOptions{flags.lr});
    PseudoLabelSource train_source(data.train, labelled, m.pseudo_targets == "soft",
                                   m.pseudo_average, m.pseudo_balance, m.label_smoothing);
    std::unique_ptr<WeightAverage> average_callback;
    if (m.average_weights > 0.0)
      average_callback = std::make_unique<WeightAverage>(model, m.average_weights);
    Index first_epoch = 0;
    if (!flags.load.empty())
      first_epoch = scvae::load_training_checkpoint(flags.load, model, adam,
                                                    [&](const scvae::CheckpointExtras& extras) {
                                                      if (average_callback)
                                                        average_callback->restore_state(extras);
                                                      train_source.restore_state(extras);
                                                    });
    if (!flags.quiet)
      std::cerr << "mnist_multitask: " << data.train.size() << " training images, " << m.labels
                << " labelled; " << data.test.size() << " test images from " << flags.data << "; "
                << model.architecture() << "; " << flags.threads << " thread(s)\n";

    if (m.consistency)
      train_source.enable_consistency(model, m.consistency_threshold, flags.seed + 3000);
    if (m.adversarial_epsilon > 0.0)
      train_source.enable_adversarial(model, m.adversarial_epsilon, m.adversarial_xi,
                                      flags.seed + 5000);
    const scvae::ImageLabelSource<float> test_source(data.test);
    scvae::Trainer trainer(model, adam, examples::trainer_options(flags, first_epoch));
    std::vector<Index> labelled_indices;
    for (Index i = 0; i < data.train.size(); ++i)
      if (labelled[static_cast<std::size_t>(i)]) labelled_indices.push_back(i);
    if (m.lr_cosine && flags.epochs > 0)
      trainer.set_learning_rate_schedule(
          scvae::CosineSchedule(flags.lr, static_cast<long>(flags.epochs)));
    if (m.labelled_share > 0.0)
      trainer.set_order([&](scvae::Rng& rng, Index, Index size) {
        return examples::oversampling_order(rng, size, flags.batch, m.labelled_share,
                                            labelled_indices);
      });
    WeightAverage* average = average_callback.get();
    if (average_callback) trainer.add_callback(std::move(average_callback));
    auto evaluate = [&](scvae::EpochReport& r) {
      if (average != nullptr)
        r.set("averaged_test_accuracy", scvae::accuracy(average->averaged(), 1, test_source, 500));
      scvae::Rng rng(flags.seed + 1000);
      const scvae::LossParts sampled = scvae::evaluate_loss(model, test_source, 500, rng);
      const scvae::LossParts mean_z = scvae::evaluate_loss(model, test_source, 500, rng, 1.0, true);
      // The image task's nats per sample, comparable with mnist_vae's test_loss.
      r.set("test_loss", sampled.task_nll[0] + sampled.kl);
      r.set("test_loss_mean_z", mean_z.task_nll[0] + mean_z.kl);
      r.set("test_kl", sampled.kl);
      r.set("test_label_nll", sampled.task_nll[1]);
      r.set("test_accuracy", scvae::accuracy(model, 1, test_source, 500));
      r.set("label_weight", model.task(1).weight);
      r.set("test_accuracy_sampled", sampled_accuracy(model, data.test, 16, flags.seed + 4000));
      if (flags.iwae > 0 && r.epoch == r.epochs) {
        scvae::Rng iwae_rng(flags.seed + 2000);
        r.set("test_nll_iwae",
              scvae::evaluate_iwae(model, test_source, flags.iwae, 100, iwae_rng, {0}).nll);
      }
      return false;
    };
    trainer.add_callback(std::make_unique<examples::StopOnSignal>());
    trainer.add_callback(std::make_unique<scvae::EpochCallback>(evaluate));
    if (m.pseudo_from > 0)
      trainer.add_callback(std::make_unique<scvae::EpochCallback>([&](scvae::EpochReport& r) {
        if (r.epoch >= m.pseudo_from) {
          r.set("pseudo_labels",
                static_cast<double>(train_source.relabel(
                    average != nullptr ? average->averaged() : model, m.pseudo_threshold)));
          r.set("pseudo_label_accuracy", train_source.pseudo_label_accuracy(data.train.labels()));
          if (m.pseudo_weight < 1.0) {
            scvae::Rng rng(flags.seed * 7919 + static_cast<std::uint64_t>(r.epoch));
            r.set("pseudo_labels_kept",
                  static_cast<double>(train_source.thin(m.pseudo_weight, rng)));
          }
        }
        return false;
      }));
    if (!flags.quiet) trainer.add_callback(std::make_unique<scvae::ProgressBar>());
    const std::string metrics_path = (std::filesystem::path(flags.out) / "metrics.jsonl").string();
    // The pseudo-labels and the parameter average ride along, so that a
    // resumed run is the same run; the metrics line comes after it.
    trainer.add_callback(std::make_unique<scvae::CheckpointEveryEpoch<scvae::SCVAE, scvae::Adam>>(
        flags.save, model, adam, [&](scvae::CheckpointExtras& extras) {
          train_source.save_state(extras);
          if (average != nullptr) average->save_state(extras);
        }));
    trainer.add_callback(std::make_unique<examples::RecordCheckpoint>(flags.save));
    trainer.add_callback(std::make_unique<scvae::MetricsWriter>(metrics_path, first_epoch > 0));

    examples::train_or_evaluate(trainer, train_source, flags.epochs, first_epoch, evaluate);
    if (m.baseline)
      examples::write_baseline("mnist_multitask", data.train, labelled, data.test, flags,
                               m.baseline_epochs, metrics_path);
    examples::write_pictures(model, data.test, flags.out, flags.seed);
    if (!flags.quiet)
      std::cerr << "mnist_multitask: wrote metrics.jsonl and pictures to " << flags.out
                << " and the model to " << flags.save << "\n";
    return 0;
  });
}
