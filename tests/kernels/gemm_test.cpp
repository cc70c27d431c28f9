#include "scvae/kernels/gemm.hpp"

#include <cmath>
#include <cstdint>
#include <limits>

#include "../test_support.hpp"

// detail::gemm is built twice: with the test flags, and with the examples'
// -march=native flags in native_tests, which on an AVX-512 machine
// runs the float kernels of kernels/gemm.hpp instead of Eigen's.

namespace scvae {
namespace {

struct ProductShape {
  Index m, n, k;
};

/// Stored operand of op(X) (rows x cols): X itself, or its transpose, inside
/// a larger buffer whose extra rows hold NaN, so that a read outside the
/// operand poisons the result.
template <typename Scalar>
Matrix<Scalar> stored_operand(Index rows, Index cols, bool transposed, std::uint64_t seed) {
  const Index stored_rows = transposed ? cols : rows;
  const Index stored_cols = transposed ? rows : cols;
  Matrix<Scalar> buffer = Matrix<Scalar>::Constant(stored_rows + 3, stored_cols,
                                                   std::numeric_limits<Scalar>::quiet_NaN());
  buffer.topRows(stored_rows) =
      testing::random_matrix(stored_rows, stored_cols, seed).template cast<Scalar>();
  return buffer;
}

template <typename Scalar, bool TransA, bool TransB>
void check_against_double(const ProductShape& s, bool accumulate) {
  SCOPED_TRACE("m " + std::to_string(s.m) + " n " + std::to_string(s.n) + " k " +
               std::to_string(s.k) + (TransA ? " A^T" : " A") + (TransB ? " B^T" : " B") +
               (accumulate ? " +=" : " ="));
  const Matrix<Scalar> a = stored_operand<Scalar>(s.m, s.k, TransA, 11 + s.m);
  const Matrix<Scalar> b = stored_operand<Scalar>(s.k, s.n, TransB, 23 + s.n);
  // C lies in a taller buffer too: the rows below it must stay untouched.
  const Scalar sentinel = Scalar(-7.25);
  Matrix<Scalar> c = Matrix<Scalar>::Constant(s.m + 5, s.n, sentinel);
  const Matrix<double> start = testing::random_matrix(s.m, s.n, 31);
  c.topRows(s.m) = start.cast<Scalar>();

  detail::gemm<TransA, TransB, Scalar>(s.m, s.n, s.k, a.data(), a.rows(), b.data(), b.rows(),
                                       c.data(), c.rows(), accumulate);

  const Index a_rows = TransA ? s.k : s.m, b_rows = TransB ? s.n : s.k;
  Matrix<double> op_a = a.topRows(a_rows).template cast<double>();
  Matrix<double> op_b = b.topRows(b_rows).template cast<double>();
  if (TransA) op_a.transposeInPlace();
  if (TransB) op_b.transposeInPlace();
  Matrix<double> expected = op_a * op_b;
  if (accumulate) expected += start.cast<Scalar>().template cast<double>();
  const Matrix<double> magnitude = op_a.cwiseAbs() * op_b.cwiseAbs();
  const double eps = std::numeric_limits<Scalar>::epsilon();
  for (Index j = 0; j < s.n; ++j) {
    for (Index i = 0; i < s.m; ++i) {
      const double bound = 2.0 * eps * static_cast<double>(s.k + 1) * (magnitude(i, j) + 1.0);
      ASSERT_NEAR(static_cast<double>(c(i, j)), expected(i, j), bound)
          << "at (" << i << ", " << j << ")";
    }
    for (Index i = s.m; i < c.rows(); ++i)
      ASSERT_EQ(c(i, j), sentinel) << "row " << i << " written";
  }
}

/// Shapes around the kernels' tile edges (16-row vectors, 48-row and
/// 8-column tiles) and the MNIST VAE's own.
const std::vector<ProductShape>& shapes() {
  static const std::vector<ProductShape> list{
      {1, 1, 1},      {3, 2, 5},      {15, 7, 9},    {16, 8, 16},  {17, 9, 3},   {31, 1, 40},
      {32, 8, 33},    {33, 15, 2},    {40, 64, 20},  {47, 5, 64},  {48, 8, 100}, {49, 17, 7},
      {63, 3, 129},   {64, 16, 200},  {65, 9, 300},  {80, 12, 11}, {97, 23, 50}, {113, 31, 17},
      {400, 64, 784}, {784, 64, 400}, {784, 13, 64}, {20, 64, 400}};
  return list;
}

template <typename Scalar, bool TransA, bool TransB>
void check_all_shapes() {
  for (const ProductShape& s : shapes()) {
    check_against_double<Scalar, TransA, TransB>(s, false);
    check_against_double<Scalar, TransA, TransB>(s, true);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(Gemm, FloatProductsMatchDoubleReference) {
  check_all_shapes<float, false, false>();
  check_all_shapes<float, false, true>();
  check_all_shapes<float, true, false>();
  check_all_shapes<float, true, true>();
}

TEST(Gemm, DoubleProductsMatchReference) {
  check_all_shapes<double, false, false>();
  check_all_shapes<double, false, true>();
  check_all_shapes<double, true, false>();
  check_all_shapes<double, true, true>();
}

TEST(Gemm, EmptyDepthZeroesOrKeepsC) {
  Matrix<float> a(4, 0), b(0, 3);
  Matrix<float> c = Matrix<float>::Constant(4, 3, 2.0f);
  detail::gemm<false, false, float>(4, 3, 0, a.data(), 4, b.data(), 1, c.data(), 4, true);
  EXPECT_TRUE((c.array() == 2.0f).all());
  detail::gemm<false, false, float>(4, 3, 0, a.data(), 4, b.data(), 1, c.data(), 4, false);
  EXPECT_TRUE((c.array() == 0.0f).all());
}

// A inside a larger buffer, starting 0-15 floats past a 64-byte line, with a
// leading dimension of whole lines (as the weights inside the flat parameter
// buffer): the AVX-512 kernel then runs the rows before the first aligned
// one as a tile of their own. NaN around A poisons any read outside it.
TEST(Gemm, MisalignedAMatchesDoubleReference) {
  const std::vector<ProductShape> list{{1, 9, 5},    {7, 8, 3},    {16, 3, 20},
                                       {40, 17, 33}, {100, 8, 64}, {784, 11, 400}};
  for (const ProductShape& s : list) {
    const Index lda = (s.m + 16) / 16 * 16;
    const Matrix<double> a_values = testing::random_matrix(s.m, s.k, 41 + s.m);
    const Matrix<double> b_values = testing::random_matrix(s.k, s.n, 43 + s.n);
    const Matrix<float> b = b_values.cast<float>();
    for (Index shift = 0; shift < 16; ++shift) {
      SCOPED_TRACE("m " + std::to_string(s.m) + " n " + std::to_string(s.n) + " k " +
                   std::to_string(s.k) + " A starts " + std::to_string(shift) + " floats in");
      Vector<float> buffer =
          Vector<float>::Constant(lda * s.k + 48, std::numeric_limits<float>::quiet_NaN());
      const auto address = reinterpret_cast<std::uintptr_t>(buffer.data());
      ASSERT_EQ(address % sizeof(float), 0u);
      const auto to_line = static_cast<Index>((64 - address % 64) % 64 / sizeof(float));
      float* a = buffer.data() + to_line + shift;
      for (Index p = 0; p < s.k; ++p)
        for (Index i = 0; i < s.m; ++i) a[p * lda + i] = static_cast<float>(a_values(i, p));
      for (const bool accumulate : {false, true}) {
        Matrix<float> c = Matrix<float>::Constant(s.m, s.n, 0.5f);
        detail::gemm<false, false, float>(s.m, s.n, s.k, a, lda, b.data(), s.k, c.data(), s.m,
                                          accumulate);
        const Matrix<double> op_a = a_values.cast<float>().cast<double>();
        Matrix<double> expected = op_a * b.cast<double>();
        if (accumulate) expected.array() += 0.5;
        const Matrix<double> magnitude = op_a.cwiseAbs() * b.cast<double>().cwiseAbs();
        const double eps = std::numeric_limits<float>::epsilon();
        for (Index j = 0; j < s.n; ++j)
          for (Index i = 0; i < s.m; ++i)
            ASSERT_NEAR(static_cast<double>(c(i, j)), expected(i, j),
                        2.0 * eps * static_cast<double>(s.k + 1) * (magnitude(i, j) + 1.0))
                << "at (" << i << ", " << j << ")";
      }
    }
  }
}

// A product's bits depend only on its operands, not on where they lie: the
// same seed and thread count give the same model whatever the chunk offsets.
TEST(Gemm, SameOperandsSameBits) {
  const Index m = 97, n = 21, k = 300;
  const Matrix<float> a = testing::random_matrix(m, k, 5).cast<float>();
  const Matrix<float> b = testing::random_matrix(k, n, 6).cast<float>();
  Matrix<float> c1(m, n), c2(m + 3, n + 2);
  detail::gemm<false, false, float>(m, n, k, a.data(), m, b.data(), k, c1.data(), m, false);
  c2.setZero();
  Eigen::Ref<Matrix<float>, 0, Eigen::OuterStride<>> inner = c2.block(1, 1, m, n);
  detail::gemm<false, false, float>(m, n, k, a.data(), m, b.data(), k, inner.data(),
                                    inner.outerStride(), false);
  EXPECT_TRUE(c1 == c2.block(1, 1, m, n));
}

// A dense layer's weight gradient D X^T comes in blocks of 16 columns or a
// multiple (DenseT's gradient parts) that threads compute apart: each block
// must have the whole product's bits, under the test flags and the native
// ones alike, whatever the depth (the chunk's columns).
TEST(Gemm, ColumnBlocksOfSixteenHaveTheWholeProductsBits) {
  for (const ProductShape& s :
       {ProductShape{600, 784, 64}, ProductShape{784, 600, 517}, ProductShape{400, 784, 33},
        ProductShape{784, 400, 1001}, ProductShape{40, 130, 7}}) {
    SCOPED_TRACE("m " + std::to_string(s.m) + " n " + std::to_string(s.n) + " k " +
                 std::to_string(s.k));
    const Matrix<float> d = testing::random_matrix(s.m, s.k, 7).cast<float>();
    const Matrix<float> x = testing::random_matrix(s.n, s.k, 8).cast<float>();
    for (bool accumulate : {false, true}) {
      const Matrix<float> start = testing::random_matrix(s.m, s.n, 9).cast<float>();
      Matrix<float> whole = start, blocks = start;
      detail::gemm<false, true>(d, x, whole, accumulate);
      for (Index width : {16, 48, 112}) {
        blocks = start;
        for (Index first = 0; first < s.n; first += width) {
          const Index columns = std::min(width, s.n - first);
          auto block = blocks.middleCols(first, columns);
          detail::gemm<false, true>(d, x.middleRows(first, columns), block, accumulate);
        }
        EXPECT_TRUE(blocks == whole) << "blocks of " << width << ", largest difference "
                                     << (blocks - whole).cwiseAbs().maxCoeff();
      }
    }
  }
}

#if defined(__AVX512F__)
// A^T B runs either on A transposed or on B and C transposed, whichever
// moves less (kernels/gemm.hpp); both must give the bits of one sequence of
// FMAs per value from p = 0 up, added to C at the end, or a product's bits
// would change with the shape a thread count gives it.
TEST(Gemm, TransposedAHasTheSequentialSumsBitsOnEitherPath) {
  // k * m <= n * (k + m) transposes A (the first two; a one-channel
  // convolution's weight gradient is such), else B and C (the last two; a
  // dense layer's input gradient).
  for (const ProductShape& s : {ProductShape{512, 490, 64}, ProductShape{20, 64, 400},
                                ProductShape{784, 64, 400}, ProductShape{400, 13, 784}}) {
    SCOPED_TRACE("m " + std::to_string(s.m) + " n " + std::to_string(s.n) + " k " +
                 std::to_string(s.k));
    const Matrix<float> a = testing::random_matrix(s.k, s.m, 41).cast<float>();
    const Matrix<float> b = testing::random_matrix(s.k, s.n, 43).cast<float>();
    const Matrix<float> start = testing::random_matrix(s.m, s.n, 47).cast<float>();
    for (bool accumulate : {false, true}) {
      Matrix<float> c = start;
      detail::gemm<true, false, float>(s.m, s.n, s.k, a.data(), s.k, b.data(), s.k, c.data(), s.m,
                                       accumulate);
      for (Index j = 0; j < s.n; ++j)
        for (Index i = 0; i < s.m; ++i) {
          float sum = 0.0f;
          for (Index p = 0; p < s.k; ++p) sum = std::fma(a(p, i), b(p, j), sum);
          const float want = accumulate ? start(i, j) + sum : sum;
          ASSERT_TRUE(c(i, j) == want) << "at (" << i << ", " << j << "), accumulate " << accumulate
                                       << ": " << c(i, j) << " against " << want;
        }
    }
  }
}
#endif

}  // namespace
}  // namespace scvae
