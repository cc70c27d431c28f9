// ColumnBufferT keeps the storage of the largest shape met and views its
// first columns: what lets a training step with fewer columns than an
// earlier one run without allocating.

#include "scvae/nn/column_buffer.hpp"

#include <gtest/gtest.h>

#include <utility>

namespace scvae {
namespace {

TEST(ColumnBuffer, FewerColumnsReuseTheStorageAndMoreGrowIt) {
  ColumnBufferT<float> buffer;
  EXPECT_EQ(buffer.size(), 0);
  buffer.resize(3, 8);
  const float* storage = buffer.data();
  EXPECT_EQ(buffer.rows(), 3);
  EXPECT_EQ(buffer.cols(), 8);
  EXPECT_EQ(buffer.capacity(), 24);

  buffer.resize(3, 5);
  EXPECT_EQ(buffer.data(), storage);
  EXPECT_EQ(buffer.cols(), 5);
  EXPECT_EQ(buffer.capacity(), 24);
  buffer.resize(4, 6);  // 24 scalars still fit
  EXPECT_EQ(buffer.data(), storage);

  buffer.resize(3, 9);
  EXPECT_EQ(buffer.cols(), 9);
  EXPECT_EQ(buffer.capacity(), 27);
}

TEST(ColumnBuffer, TheViewIsTheFirstColumnsAndBindsToARefWithoutACopy) {
  ColumnBufferT<double> buffer;
  buffer.resize(2, 4);
  for (Index j = 0; j < 4; ++j) buffer.col(j).setConstant(static_cast<double>(j));
  buffer.resize(2, 3);
  // Column-major: the first columns keep their values and their place.
  EXPECT_EQ(buffer(1, 2), 2.0);
  MatrixRef<double> ref(buffer);
  EXPECT_EQ(ref.data(), buffer.data());
  EXPECT_EQ(ref.cols(), 3);
  EXPECT_EQ(ref.outerStride(), 2);
  const ConstMatrixRef<double> const_ref(buffer);
  EXPECT_EQ(const_ref.data(), buffer.data());
}

TEST(ColumnBuffer, AssignTakesTheShapeOfTheValue) {
  ColumnBufferT<float> buffer;
  const Matrix<float> value = Matrix<float>::Random(3, 2);
  buffer.assign(value);
  EXPECT_EQ(buffer.rows(), 3);
  EXPECT_EQ(buffer.cols(), 2);
  EXPECT_TRUE(buffer.isApprox(value, 0.0f));
}

TEST(ColumnBuffer, CopiesOwnTheirStorageAndMovesTakeIt) {
  RowBufferT<float> row;
  row.resize(5);
  row.setConstant(2.0f);
  RowBufferT<float> copy(row);
  EXPECT_NE(copy.data(), row.data());
  EXPECT_EQ(copy.cols(), 5);
  copy(0) = 7.0f;
  EXPECT_EQ(row(0), 2.0f);

  const float* storage = row.data();
  RowBufferT<float> moved(std::move(row));
  EXPECT_EQ(moved.data(), storage);
  EXPECT_EQ(moved.sum(), 10.0f);
  RowBufferT<float> assigned;
  assigned = copy;
  EXPECT_NE(assigned.data(), copy.data());
  EXPECT_EQ(assigned(0), 7.0f);
  assigned = std::move(moved);
  EXPECT_EQ(assigned.data(), storage);
}

}  // namespace
}  // namespace scvae
