#pragma once
// A buffer for one chunk of a batch whose storage outlives a change of the
// chunk's column count. Eigen reallocates a Matrix whenever rows * cols
// changes, and a chunk's column count changes from step to step: the last
// batch of an epoch is partial, and M2 decodes an unlabelled sample once per
// class, so its decoder's columns follow how many samples are labelled. A
// training step must not allocate, so a workspace keeps the storage of the
// largest chunk it met and views its first columns.
//
// The buffer *is* that view (an aligned Eigen::Map over its own storage), so
// it reads like the matrix it replaces: ws.output.col(j), .topRows(k), and it
// binds to MatrixRef/ConstMatrixRef without a copy. Column-major storage
// makes the first n columns of a rows x capacity block one contiguous
// rows x n matrix, with the same stride and the same (aligned) first element
// as a matrix of exactly that size: results do not change by a bit.

#include <new>
#include <utility>

#include "scvae/core/types.hpp"

namespace scvae {

template <typename Scalar, int Rows = Eigen::Dynamic>
class ColumnBufferT
    : public Eigen::Map<Eigen::Matrix<Scalar, Rows, Eigen::Dynamic>, Eigen::AlignedMax> {
 public:
  using PlainMatrix = Eigen::Matrix<Scalar, Rows, Eigen::Dynamic>;
  using View = Eigen::Map<PlainMatrix, Eigen::AlignedMax>;

  ColumnBufferT() : View(nullptr, empty_rows(), 0) {}
  ColumnBufferT(const ColumnBufferT& other)
      : View(nullptr, empty_rows(), 0), storage_(other.storage_) {
    point_at(other.rows(), other.cols());
  }
  ColumnBufferT(ColumnBufferT&& other) noexcept
      : View(nullptr, empty_rows(), 0), storage_(std::move(other.storage_)) {
    point_at(other.rows(), other.cols());
    other.point_at(empty_rows(), 0);
  }
  ColumnBufferT& operator=(const ColumnBufferT& other) {
    if (this != &other) {
      storage_ = other.storage_;
      point_at(other.rows(), other.cols());
    }
    return *this;
  }
  ColumnBufferT& operator=(ColumnBufferT&& other) noexcept {
    if (this != &other) {
      storage_ = std::move(other.storage_);
      point_at(other.rows(), other.cols());
      other.point_at(empty_rows(), 0);
    }
    return *this;
  }
  ~ColumnBufferT() = default;

  /// Views rows x columns, allocating only when that is more than the
  /// storage holds; the storage never shrinks. Fewer columns of the same
  /// rows keep their values (the first columns stay where they were); after
  /// any other change of shape the values are unspecified.
  void resize(Index rows, Index columns) {
    const Index size = rows * columns;
    if (size > storage_.size()) storage_.resize(size);
    point_at(rows, columns);
  }
  /// A row vector's resize: 1 x columns.
  void resize(Index columns) { resize(1, columns); }

  /// Views value's shape and copies its values in; value must not view this
  /// buffer's storage. (`buffer = other_buffer` copies the whole buffer,
  /// storage included.)
  template <typename Derived>
  void assign(const Eigen::DenseBase<Derived>& value) {
    resize(value.rows(), value.cols());
    View::operator=(value.derived());
  }

  /// Scalars the storage holds: what the buffer can view without allocating.
  Index capacity() const { return storage_.size(); }

 private:
  static constexpr Index empty_rows() { return Rows == Eigen::Dynamic ? 0 : Rows; }

  // Eigen's way to make a Map view other memory: construct it anew in place
  // (a Map has no assignment of its pointer and a trivial destructor).
  void point_at(Index rows, Index columns) {
    new (static_cast<View*>(this)) View(rows * columns > 0 ? storage_.data() : nullptr, rows,
                                        columns);
  }

  Vector<Scalar> storage_;
};

/// A buffer of one value per sample of a chunk.
template <typename Scalar>
using RowBufferT = ColumnBufferT<Scalar, 1>;

}  // namespace scvae
