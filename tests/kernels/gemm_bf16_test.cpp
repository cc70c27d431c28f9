#include "scvae/kernels/gemm_bf16.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "../test_support.hpp"

namespace scvae {
namespace {

[[maybe_unused]] std::uint32_t float_bits(float x) {
  std::uint32_t word = 0;
  std::memcpy(&word, &x, sizeof word);
  return word;
}

float float_from_bits(std::uint32_t word) {
  float x = 0.0f;
  std::memcpy(&x, &word, sizeof x);
  return x;
}

TEST(Bf16, RoundsToNearestWithTiesToEven) {
  EXPECT_EQ(detail::to_bf16(1.0f).bits, 0x3f80);
  EXPECT_EQ(detail::to_bf16(-2.0f).bits, 0xc000);
  // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: to the even one, 1.
  EXPECT_EQ(detail::to_bf16(1.0f + std::ldexp(1.0f, -8)).bits, 0x3f80);
  // 1 + 3 * 2^-8 lies halfway between 1 + 2^-7 and 1 + 2^-6: to 1 + 2^-6.
  EXPECT_EQ(detail::to_bf16(1.0f + 3.0f * std::ldexp(1.0f, -8)).bits, 0x3f82);
  // Just above halfway rounds up.
  EXPECT_EQ(detail::to_bf16(float_from_bits(0x3f808001u)).bits, 0x3f81);
  EXPECT_EQ(detail::to_bf16(std::numeric_limits<float>::infinity()).bits, 0x7f80);
  // The largest float is past the largest bf16 by more than half a step.
  EXPECT_EQ(detail::to_bf16(std::numeric_limits<float>::max()).bits, 0x7f80);
  // A NaN whose payload lies in the low half stays a NaN (quiet).
  const detail::Bf16 nan = detail::to_bf16(float_from_bits(0x7f800001u));
  EXPECT_TRUE(std::isnan(detail::to_float(nan)));
  EXPECT_EQ(nan.bits & 0x0040, 0x0040);
  for (float x : {0.0f, -0.0f, 0.5f, -3.75f, 65280.0f, std::numeric_limits<float>::min()})
    EXPECT_EQ(detail::to_float(detail::to_bf16(x)), x) << x << " is a bf16 number";
  // Denormal floats are read as zeros of their sign, as the instruction reads them.
  EXPECT_EQ(detail::to_bf16(float_from_bits(0x007fffffu)).bits, 0x0000);
  EXPECT_EQ(detail::to_bf16(float_from_bits(0x80010000u)).bits, 0x8000);
}

/// A column-major rows x cols float matrix inside a buffer with 3 extra rows
/// of NaN, so that a read outside it poisons the result.
Matrix<float> nan_padded(Index rows, Index cols, std::uint64_t seed, double scale = 1.0) {
  Matrix<float> buffer =
      Matrix<float>::Constant(rows + 3, cols, std::numeric_limits<float>::quiet_NaN());
  buffer.topRows(rows) = testing::random_matrix(rows, cols, seed, scale).cast<float>();
  return buffer;
}

TEST(GemmBf16, PacksPairsWhereTheLayoutSays) {
  const Index m = 5, k = 7, n = 3;
  const Matrix<float> a = nan_padded(m, k, 1);
  const Matrix<float> a_stored_transposed = a.topRows(m).transpose();
  const Matrix<float> b = nan_padded(k, n, 2);
  const Matrix<float> b_stored_transposed = b.topRows(k).transpose();
  const Index pairs = detail::bf16_pairs(k);
  ASSERT_EQ(pairs, 4);
  std::vector<std::uint32_t> rows(static_cast<std::size_t>(pairs * m));
  std::vector<std::uint32_t> rows_t(rows.size());
  detail::pack_rows_in_pairs(m, k, a.data(), a.rows(), detail::Stored::AsIs, rows.data());
  detail::pack_rows_in_pairs(m, k, a_stored_transposed.data(), a_stored_transposed.rows(),
                             detail::Stored::Transposed, rows_t.data());
  const Index ldo = pairs + 2;
  std::vector<std::uint32_t> columns(static_cast<std::size_t>(ldo * n), 0xdeadbeefu);
  std::vector<std::uint32_t> columns_t(columns);
  detail::pack_columns_in_pairs(k, n, b.data(), b.rows(), detail::Stored::AsIs, columns.data(),
                                ldo);
  detail::pack_columns_in_pairs(k, n, b_stored_transposed.data(), b_stored_transposed.rows(),
                                detail::Stored::Transposed, columns_t.data(), ldo);
  auto bf16_of = [](float x) { return detail::to_float(detail::to_bf16(x)); };
  for (Index p = 0; p < pairs; ++p) {
    for (Index i = 0; i < m; ++i) {
      const std::uint32_t word = rows[static_cast<std::size_t>(p * m + i)];
      EXPECT_EQ(word, rows_t[static_cast<std::size_t>(p * m + i)]);
      EXPECT_EQ(detail::bf16_even(word), bf16_of(a(i, 2 * p)));
      EXPECT_EQ(detail::bf16_odd(word), 2 * p + 1 < k ? bf16_of(a(i, 2 * p + 1)) : 0.0f);
    }
    for (Index j = 0; j < n; ++j) {
      const std::uint32_t word = columns[static_cast<std::size_t>(j * ldo + p)];
      EXPECT_EQ(word, columns_t[static_cast<std::size_t>(j * ldo + p)]);
      EXPECT_EQ(detail::bf16_even(word), bf16_of(b(2 * p, j)));
      EXPECT_EQ(detail::bf16_odd(word), 2 * p + 1 < k ? bf16_of(b(2 * p + 1, j)) : 0.0f);
    }
  }
  // The words past a column's pairs are not written.
  for (Index j = 0; j < n; ++j)
    for (Index p = pairs; p < ldo; ++p)
      EXPECT_EQ(columns[static_cast<std::size_t>(j * ldo + p)], 0xdeadbeefu);
}

struct Bf16Product {
  Index m, n, k;
};

/// A and B packed from float sources, and C (m x n) inside a taller buffer
/// of sentinels.
struct PackedBf16Product {
  Matrix<float> a, b;
  std::vector<std::uint32_t> a_pairs, b_pairs;
  Index b_stride = 0;
  Matrix<float> c_start;

  PackedBf16Product(const Bf16Product& s, double scale_a, double scale_b) {
    a = nan_padded(s.m, s.k, 100 + static_cast<std::uint64_t>(s.m), scale_a);
    b = nan_padded(s.k, s.n, 200 + static_cast<std::uint64_t>(s.n), scale_b);
    const Index pairs = detail::bf16_pairs(s.k);
    a_pairs.resize(static_cast<std::size_t>(pairs * s.m));
    detail::pack_rows_in_pairs(s.m, s.k, a.data(), a.rows(), detail::Stored::AsIs, a_pairs.data());
    b_stride = pairs + 1;  // a stride longer than the pairs, as a caller may choose
    b_pairs.assign(static_cast<std::size_t>(b_stride * s.n), 0u);
    detail::pack_columns_in_pairs(s.k, s.n, b.data(), b.rows(), detail::Stored::AsIs,
                                  b_pairs.data(), b_stride);
    c_start = Matrix<float>::Constant(s.m + 5, s.n, -7.25f);
    c_start.topRows(s.m) = testing::random_matrix(s.m, s.n, 300).cast<float>();
  }
};

const Bf16Product kBf16Products[] = {{1, 1, 1},      {15, 7, 3},     {16, 8, 2},     {17, 9, 5},
                                     {47, 3, 64},    {48, 8, 33},    {49, 10, 16},   {64, 17, 9},
                                     {100, 64, 784}, {400, 64, 784}, {784, 64, 400}, {784, 400, 64},
                                     {3, 5, 0}};

TEST(GemmBf16, MatchesDoubleWithinTheBoundOfBf16Inputs) {
  for (const Bf16Product& s : kBf16Products) {
    for (const auto write : {detail::ProductWrite::Overwrite, detail::ProductWrite::Add}) {
      const bool accumulate = write == detail::ProductWrite::Add;
      SCOPED_TRACE("m " + std::to_string(s.m) + " n " + std::to_string(s.n) + " k " +
                   std::to_string(s.k) + (accumulate ? " +=" : " ="));
      const PackedBf16Product p(s, 1.0, 1.0);
      Matrix<float> c = p.c_start;
      detail::gemm_bf16(s.m, s.n, detail::bf16_pairs(s.k), p.a_pairs.data(), p.b_pairs.data(),
                        p.b_stride, c.data(), c.rows(), write);
      const Matrix<double> op_a = p.a.topRows(s.m).cast<double>();
      const Matrix<double> op_b = p.b.topRows(s.k).cast<double>();
      Matrix<double> expected = op_a * op_b;
      const Matrix<double> start = p.c_start.topRows(s.m).cast<double>();
      if (accumulate) expected += start;
      const Matrix<double> magnitude = op_a.cwiseAbs() * op_b.cwiseAbs();
      // Each input rounded to bf16 (8 significant bits: relative error up
      // to 2^-8 each, so 2^-7 + 2^-16 for a product), then k + 1 float roundings.
      const double input_error = std::ldexp(1.0, -7) + std::ldexp(1.0, -16);
      const double sum_error = std::ldexp(1.0, -24) * static_cast<double>(s.k + 2);
      Index worst_i = 0, worst_j = 0;
      double worst = 0.0;
      for (Index j = 0; j < s.n; ++j) {
        for (Index i = 0; i < s.m; ++i) {
          const double bound = (input_error + sum_error) * magnitude(i, j) +
                               (accumulate ? sum_error * std::abs(start(i, j)) : 0.0) + 1e-30;
          const double error = std::abs(static_cast<double>(c(i, j)) - expected(i, j));
          if (!(error <= bound)) {
            ADD_FAILURE() << "C(" << i << ", " << j << ") = " << c(i, j) << ", expected "
                          << expected(i, j) << " within " << bound;
            return;
          }
          if (error / bound > worst) worst = error / bound, worst_i = i, worst_j = j;
        }
        for (Index i = s.m; i < c.rows(); ++i) ASSERT_EQ(c(i, j), -7.25f) << "row " << i;
      }
      RecordProperty(
          "worst_error_of_bound_" + std::to_string(s.m) + "x" + std::to_string(s.n) + "x" +
              std::to_string(s.k),
          std::to_string(worst) + " at " + std::to_string(worst_i) + "," + std::to_string(worst_j));
    }
  }
}

TEST(GemmBf16, ErrsAsBf16InputsDoNotAsFloatOnes) {
  // Guards against a kernel that silently reads the float sources: an inner
  // product of 1 + 2^-8 (not a bf16 number) with 1 comes out as 1.
  const float x = 1.0f + std::ldexp(1.0f, -8);
  const std::uint32_t a_word = detail::bf16_pair(x, 0.0f);
  const std::uint32_t b_word = detail::bf16_pair(1.0f, 0.0f);
  float c = 0.0f;
  detail::gemm_bf16(1, 1, 1, &a_word, &b_word, 1, &c, 1, detail::ProductWrite::Overwrite);
  EXPECT_EQ(c, 1.0f);
}

#ifdef SCVAE_HAVE_BF16_KERNEL
TEST(GemmBf16, VectorAndScalarPackingWriteTheSameWords) {
  if (!detail::cpu_has_bf16()) GTEST_SKIP() << "this CPU has no AVX512_BF16";
  // Ordinary numbers, and the ones whose rounding is special: ties,
  // denormals, infinities, NaNs.
  const float specials[] = {
      float_from_bits(0x3f808000u),           float_from_bits(0x3f818000u),
      float_from_bits(0x007fffffu),           float_from_bits(0x80000001u),
      std::numeric_limits<float>::infinity(), std::numeric_limits<float>::max(),
      float_from_bits(0x7f800001u),           -0.0f};
  for (const Index rows : {1, 2, 15, 16, 17, 33, 64}) {
    for (const Index depth : {1, 2, 3, 31, 32, 33, 64, 65}) {
      SCOPED_TRACE("rows " + std::to_string(rows) + " depth " + std::to_string(depth));
      Matrix<float> a = nan_padded(rows, depth, 7 + static_cast<std::uint64_t>(rows));
      for (Index j = 0; j < depth; ++j) a(j % rows, j) = specials[j % 8];
      const Index pairs = detail::bf16_pairs(depth);
      std::vector<std::uint32_t> vector_words(static_cast<std::size_t>(pairs * rows));
      std::vector<std::uint32_t> scalar_words(vector_words.size());
      detail::pack_rows_in_pairs(rows, depth, a.data(), a.rows(), detail::Stored::AsIs,
                                 vector_words.data());
      detail::pack_rows_in_pairs_scalar(rows, depth, a.data(), a.rows(), detail::Stored::AsIs,
                                        scalar_words.data());
      EXPECT_EQ(vector_words, scalar_words) << "rows in pairs";
      // The same matrix read as B (k = rows, n = depth), columns in pairs,
      // into a longer stride whose extra words must stay as they were.
      const Index column_pairs = detail::bf16_pairs(rows);
      const Index stride = column_pairs + 3;
      std::vector<std::uint32_t> vector_columns(static_cast<std::size_t>(stride * depth),
                                                0x12345678u);
      std::vector<std::uint32_t> scalar_columns(vector_columns);
      detail::pack_columns_in_pairs(rows, depth, a.data(), a.rows(), detail::Stored::AsIs,
                                    vector_columns.data(), stride);
      detail::pack_columns_in_pairs_scalar(rows, depth, a.data(), a.rows(), detail::Stored::AsIs,
                                           scalar_columns.data(), stride);
      EXPECT_EQ(vector_columns, scalar_columns) << "columns in pairs";
      // The transposed orientations read the same stored matrix as op(A) =
      // its transpose (m = depth, k = rows) and op(B) = its transpose
      // (k = depth, n = rows).
      std::vector<std::uint32_t> vector_transposed(static_cast<std::size_t>(column_pairs * depth));
      std::vector<std::uint32_t> scalar_transposed(vector_transposed.size());
      detail::pack_rows_in_pairs(depth, rows, a.data(), a.rows(), detail::Stored::Transposed,
                                 vector_transposed.data());
      detail::pack_rows_in_pairs_scalar(depth, rows, a.data(), a.rows(), detail::Stored::Transposed,
                                        scalar_transposed.data());
      EXPECT_EQ(vector_transposed, scalar_transposed) << "rows in pairs, transposed";
      const Index transposed_stride = pairs + 5;
      std::vector<std::uint32_t> vector_transposed_columns(
          static_cast<std::size_t>(transposed_stride * rows), 0x12345678u);
      std::vector<std::uint32_t> scalar_transposed_columns(vector_transposed_columns);
      detail::pack_columns_in_pairs(depth, rows, a.data(), a.rows(), detail::Stored::Transposed,
                                    vector_transposed_columns.data(), transposed_stride);
      detail::pack_columns_in_pairs_scalar(depth, rows, a.data(), a.rows(),
                                           detail::Stored::Transposed,
                                           scalar_transposed_columns.data(), transposed_stride);
      EXPECT_EQ(vector_transposed_columns, scalar_transposed_columns)
          << "columns in pairs, transposed";
    }
  }
}

SCVAE_TARGET_BF16 void convert_on_the_cpu(const float* in, std::uint16_t* out) {
  const __m256bh rounded = _mm512_cvtneps_pbh(_mm512_loadu_ps(in));
  std::memcpy(out, &rounded, 16 * sizeof(std::uint16_t));
}

TEST(Bf16, ConversionEqualsTheCpus) {
  if (!detail::cpu_has_bf16()) GTEST_SKIP() << "this CPU has no AVX512_BF16";
  Rng rng(5);
  std::vector<float> values = {0.0f,
                               -0.0f,
                               1.0f + std::ldexp(1.0f, -8),
                               1.0f + 3.0f * std::ldexp(1.0f, -8),
                               std::numeric_limits<float>::max(),
                               -std::numeric_limits<float>::infinity(),
                               float_from_bits(0x00000001u),
                               float_from_bits(0x007fffffu),
                               float_from_bits(0x7fc00000u),
                               float_from_bits(0xff800001u)};
  while (values.size() < 16 * 4096) {
    const auto word = static_cast<std::uint32_t>(rng.next_u64() >> 32);
    values.push_back(float_from_bits(word));
  }
  std::uint16_t cpu[16];
  for (std::size_t start = 0; start < values.size(); start += 16) {
    convert_on_the_cpu(values.data() + start, cpu);
    for (std::size_t i = 0; i < 16; ++i)
      ASSERT_EQ(detail::to_bf16(values[start + i]).bits, cpu[i])
          << "bits " << std::hex << float_bits(values[start + i]);
  }
}

TEST(GemmBf16, InstructionAndScalarCodeGiveTheSameBits) {
  if (!detail::cpu_has_bf16()) GTEST_SKIP() << "this CPU has no AVX512_BF16";
  // Ordinary magnitudes, and tiny ones whose products fall below the
  // smallest normal float (where the instruction's flushing shows).
  for (const double scale : {1.0, 1e-20}) {
    for (const Bf16Product& s : kBf16Products) {
      for (const auto write : {detail::ProductWrite::Overwrite, detail::ProductWrite::Add}) {
        SCOPED_TRACE("m " + std::to_string(s.m) + " n " + std::to_string(s.n) + " k " +
                     std::to_string(s.k) + " scale " + std::to_string(scale));
        const PackedBf16Product p(s, scale, scale);
        Matrix<float> on_cpu = p.c_start * static_cast<float>(scale * scale);
        Matrix<float> in_scalar = on_cpu;
        const Index pairs = detail::bf16_pairs(s.k);
        detail::gemm_bf16(s.m, s.n, pairs, p.a_pairs.data(), p.b_pairs.data(), p.b_stride,
                          on_cpu.data(), on_cpu.rows(), write);
        detail::gemm_bf16_scalar(s.m, s.n, pairs, p.a_pairs.data(), p.b_pairs.data(), p.b_stride,
                                 in_scalar.data(), in_scalar.rows(), write);
        for (Index j = 0; j < s.n; ++j)
          for (Index i = 0; i < on_cpu.rows(); ++i)
            ASSERT_EQ(float_bits(on_cpu(i, j)), float_bits(in_scalar(i, j)))
                << "C(" << i << ", " << j << "): " << on_cpu(i, j) << " against "
                << in_scalar(i, j);
      }
    }
  }
}
#endif

}  // namespace
}  // namespace scvae
