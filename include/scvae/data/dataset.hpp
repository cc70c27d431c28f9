#pragma once
// An in-memory image dataset kept as uint8 (one sample per column), converted
// one batch at a time into a reused floating-point buffer; and the MNIST
// loader that finds the usual file names in a directory.

#include <array>
#include <cstdint>
#include <filesystem>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "scvae/core/error.hpp"
#include "scvae/core/random.hpp"
#include "scvae/core/types.hpp"
#include "scvae/data/idx.hpp"

namespace scvae {

/// Images as uint8, features x count column-major (features = rows*cols, one
/// sample per column; the IDX sample-major layout), with optional labels.
class Dataset {
 public:
  using ByteMatrix = Eigen::Matrix<std::uint8_t, Eigen::Dynamic, Eigen::Dynamic>;
  using ConstByteMap = Eigen::Map<const Eigen::Matrix<std::uint8_t, Eigen::Dynamic, 1>>;

  Dataset() = default;

  /// `pixels` holds count*image_rows*image_cols bytes, image i at
  /// [i*features, (i+1)*features). `labels` is empty (unlabelled) or holds one
  /// class below `num_classes` per image. `name` appears in error messages.
  Dataset(Index image_rows, Index image_cols, std::vector<std::uint8_t> pixels,
          std::vector<std::uint8_t> labels = {}, int num_classes = 0, std::string name = "dataset")
      : image_rows_(image_rows),
        image_cols_(image_cols),
        pixels_(std::move(pixels)),
        labels_(std::move(labels)),
        num_classes_(num_classes),
        name_(std::move(name)) {
    if (image_rows_ <= 0 || image_cols_ <= 0) {
      std::ostringstream out;
      out << name_ << ": image size must be positive, got " << image_rows_ << "x" << image_cols_;
      throw ArgumentError(out.str());
    }
    const Index features = image_rows_ * image_cols_;
    if (static_cast<Index>(pixels_.size()) % features != 0) {
      std::ostringstream out;
      out << name_ << ": " << pixels_.size() << " pixels are not a whole number of " << image_rows_
          << "x" << image_cols_ << " images";
      throw ArgumentError(out.str());
    }
    count_ = static_cast<Index>(pixels_.size()) / features;
    if (!labels_.empty()) {
      if (static_cast<Index>(labels_.size()) != count_) {
        std::ostringstream out;
        out << name_ << ": " << count_ << " images but " << labels_.size() << " labels";
        throw ArgumentError(out.str());
      }
      if (num_classes_ < 1 || num_classes_ > 256) {
        throw ArgumentError(name_ + ": num_classes must be in 1..256 for a labelled dataset, got " +
                            std::to_string(num_classes_));
      }
      for (std::size_t i = 0; i < labels_.size(); ++i) {
        if (labels_[i] >= num_classes_) {
          std::ostringstream out;
          out << name_ << ": label " << static_cast<int>(labels_[i]) << " of sample " << i
              << " is out of range: expected a class below " << num_classes_;
          throw ArgumentError(out.str());
        }
      }
    } else {
      num_classes_ = 0;
    }
  }

  /// Number of samples.
  Index size() const { return count_; }
  bool empty() const { return count_ == 0; }
  /// Features per sample: image_rows() * image_cols().
  Index features() const { return image_rows_ * image_cols_; }
  Index image_rows() const { return image_rows_; }
  Index image_cols() const { return image_cols_; }
  bool has_labels() const { return !labels_.empty(); }
  /// Number of classes of a labelled dataset, 0 when unlabelled.
  int num_classes() const { return num_classes_; }
  const std::string& name() const { return name_; }

  const std::vector<std::uint8_t>& pixels() const { return pixels_; }
  const std::vector<std::uint8_t>& labels() const { return labels_; }
  /// The pixels as a features x size() matrix view (no copy).
  Eigen::Map<const ByteMatrix> pixel_matrix() const {
    return Eigen::Map<const ByteMatrix>(pixels_.data(), features(), count_);
  }

  /// Fills `out` with samples order[begin..end) as pixel/255 in [0, 1], one per
  /// column; resizes `out` to features() x (end-begin) only if its size differs,
  /// so a buffer reused across batches of one size is never reallocated.
  template <typename Scalar>
  void batch(const std::vector<Index>& order, Index begin, Index end, Matrix<Scalar>& out) const {
    check_range("batch", order, begin, end);
    const Index n = end - begin;
    const Index f = features();
    if (out.rows() != f || out.cols() != n) out.resize(f, n);
    // byte / 255 as one vectorised conversion and division per image: the
    // same correctly rounded values as a lookup table, ~3x faster than its
    // gathers (the table was ~4% of a 2-thread mnist_vae epoch).
    //
    // Shuffled samples lie anywhere in the pixels (47 MB for MNIST), so each
    // image would wait for memory in turn: ask for a few images ahead (a batch
    // of 128 Fashion-MNIST images: 24 against 127 us from memory).
    auto image = [&](Index j) {
      return pixels_.data() + order[static_cast<std::size_t>(begin + j)] * f;
    };
    for (Index j = 0; j < std::min(n, kImagesAhead); ++j) prefetch_bytes(image(j), f);
    for (Index j = 0; j < n; ++j) {
      if (j + kImagesAhead < n) prefetch_bytes(image(j + kImagesAhead), f);
      out.col(j) = ConstByteMap(image(j), f).template cast<Scalar>() / Scalar(255);
    }
  }

  /// Labels of samples order[begin..end) as a 1 x (end-begin) row of class
  /// indices stored as Scalar (0, 1, 2, ...); resized only if its size differs.
  template <typename Scalar>
  void label_batch(const std::vector<Index>& order, Index begin, Index end,
                   Matrix<Scalar>& out) const {
    check_labelled("label_batch");
    check_range("label_batch", order, begin, end);
    const Index n = end - begin;
    if (out.rows() != 1 || out.cols() != n) out.resize(1, n);
    for (Index j = 0; j < n; ++j) {
      out(0, j) =
          Scalar(labels_[static_cast<std::size_t>(order[static_cast<std::size_t>(begin + j)])]);
    }
  }

  /// Labels of samples order[begin..end) as integers; `out` is resized to end-begin.
  void label_batch(const std::vector<Index>& order, Index begin, Index end,
                   std::vector<int>& out) const {
    check_labelled("label_batch");
    check_range("label_batch", order, begin, end);
    out.resize(static_cast<std::size_t>(end - begin));
    for (std::size_t j = 0; j < out.size(); ++j) {
      out[j] = labels_[static_cast<std::size_t>(order[static_cast<std::size_t>(begin) + j])];
    }
  }

  /// The order 0, 1, ..., size()-1.
  std::vector<Index> identity_order() const {
    std::vector<Index> order(static_cast<std::size_t>(count_));
    for (Index i = 0; i < count_; ++i) order[static_cast<std::size_t>(i)] = i;
    return order;
  }

  /// A uniformly random order of the samples from `rng` (Rng::permutation):
  /// the same seed gives the same order.
  std::vector<Index> shuffled_order(Rng& rng) const { return rng.permutation(count_); }

  /// A copy of the first `n` samples (and their labels); 0 <= n <= size().
  Dataset subset(Index n) const {
    if (n < 0 || n > count_) {
      std::ostringstream out;
      out << name_ << ": subset of " << n << " samples requested, the dataset holds " << count_;
      throw ArgumentError(out.str());
    }
    Dataset result;
    result.image_rows_ = image_rows_;
    result.image_cols_ = image_cols_;
    result.count_ = n;
    result.pixels_.assign(pixels_.begin(), pixels_.begin() + n * features());
    if (!labels_.empty()) result.labels_.assign(labels_.begin(), labels_.begin() + n);
    result.num_classes_ = num_classes_;
    result.name_ = name_;
    return result;
  }

  /// Keeps only the first `n` samples in place (n >= size() keeps all).
  void truncate(Index n) {
    if (n < 0) throw ArgumentError(name_ + ": truncate to a negative size");
    if (n >= count_) return;
    pixels_.resize(static_cast<std::size_t>(n * features()));
    pixels_.shrink_to_fit();
    if (!labels_.empty()) {
      labels_.resize(static_cast<std::size_t>(n));
      labels_.shrink_to_fit();
    }
    count_ = n;
  }

 private:
  static constexpr Index kImagesAhead = 4;

  /// A hint that `bytes` bytes from `data` will be read soon (a no-op where
  /// the compiler has no prefetch built-in).
  static void prefetch_bytes(const std::uint8_t* data, Index bytes) {
#if defined(__GNUC__) || defined(__clang__)
    constexpr Index kLine = 64;
    for (Index at = 0; at < bytes; at += kLine) __builtin_prefetch(data + at);
    if (bytes > 0) __builtin_prefetch(data + bytes - 1);  // the last line, if data starts mid-line
#else
    (void)data;
    (void)bytes;
#endif
  }

  void check_labelled(const char* what) const {
    if (labels_.empty()) throw ArgumentError(name_ + ": " + what + ": the dataset has no labels");
  }

  void check_range(const char* what, const std::vector<Index>& order, Index begin,
                   Index end) const {
    if (begin < 0 || end < begin || end > static_cast<Index>(order.size())) {
      std::ostringstream out;
      out << name_ << ": " << what << ": range [" << begin << ", " << end
          << ") does not fit an order of " << order.size() << " samples";
      throw ArgumentError(out.str());
    }
    for (Index j = begin; j < end; ++j) {
      const Index sample = order[static_cast<std::size_t>(j)];
      if (sample < 0 || sample >= count_) {
        std::ostringstream out;
        out << name_ << ": " << what << ": order[" << j << "] = " << sample
            << " is not a sample index below " << count_;
        throw ArgumentError(out.str());
      }
    }
  }

  Index image_rows_ = 0;
  Index image_cols_ = 0;
  Index count_ = 0;
  std::vector<std::uint8_t> pixels_;
  std::vector<std::uint8_t> labels_;
  int num_classes_ = 0;
  std::string name_ = "dataset";
};

namespace detail {

/// The first of `names` that exists in `dir`; IoError listing them all if none.
inline std::string find_mnist_file(const std::string& dir, const std::string& split,
                                   const char* what, const std::vector<std::string>& names) {
  namespace fs = std::filesystem;
  std::error_code error;
  for (const std::string& name : names) {
    const fs::path path = fs::path(dir) / name;
    if (fs::exists(path, error)) return path.string();
  }
  std::ostringstream out;
  out << dir << ": no MNIST " << what << " file for split '" << split << "': looked for ";
  for (std::size_t i = 0; i < names.size(); ++i) out << (i == 0 ? "" : ", ") << names[i];
  throw IoError(out.str());
}

}  // namespace detail

/// Loads `<dir>/<split>-images-idx3-ubyte[.gz]` and
/// `<dir>/<split>-labels-idx1-ubyte[.gz]` (also the `<split>-images.idx3-ubyte`
/// naming; plain files preferred over .gz), split being "train" or "t10k".
/// Labels are required and must be 0..9. `limit` > 0 keeps only the first
/// `limit` samples. Throws IoError (naming what it looked for) when a file is
/// missing, FormatError when a file is malformed or the counts differ.
inline Dataset load_mnist(const std::string& dir, const std::string& split, Index limit = 0) {
  namespace fs = std::filesystem;
  if (limit < 0) {
    throw ArgumentError("load_mnist: limit must be >= 0 (0 = all), got " + std::to_string(limit));
  }
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    throw IoError(dir + ": cannot load MNIST split '" + split + "': not a directory");
  }
  const std::string images_path =
      detail::find_mnist_file(dir, split, "images",
                              {split + "-images-idx3-ubyte", split + "-images-idx3-ubyte.gz",
                               split + "-images.idx3-ubyte", split + "-images.idx3-ubyte.gz"});
  const std::string labels_path =
      detail::find_mnist_file(dir, split, "labels",
                              {split + "-labels-idx1-ubyte", split + "-labels-idx1-ubyte.gz",
                               split + "-labels.idx1-ubyte", split + "-labels.idx1-ubyte.gz"});
  IdxImages images = read_idx_images(images_path);
  std::vector<std::uint8_t> labels = read_idx_labels(labels_path, 10);
  check_image_label_counts(images_path, images.count, labels_path,
                           static_cast<Index>(labels.size()));
  Dataset dataset(images.rows, images.cols, std::move(images.pixels), std::move(labels), 10,
                  images_path);
  if (limit > 0) dataset.truncate(limit);
  return dataset;
}

/// Throws FormatError when two datasets (say train and test) hold images of
/// different sizes; the message names both datasets and both sizes.
inline void check_same_image_size(const Dataset& train, const Dataset& test) {
  if (train.image_rows() != test.image_rows() || train.image_cols() != test.image_cols()) {
    std::ostringstream out;
    out << "image size differs: " << train.name() << " holds " << train.image_rows() << "x"
        << train.image_cols() << " images but " << test.name() << " holds " << test.image_rows()
        << "x" << test.image_cols();
    throw FormatError(out.str());
  }
}

}  // namespace scvae
