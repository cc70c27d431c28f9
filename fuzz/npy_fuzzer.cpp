// libFuzzer target for the NPY reader (data/npy.hpp): parse_npy on the fuzz
// input. scvae::Error is an expected refusal; a crash, a sanitizer report,
// another exception, an allocation beyond libFuzzer's -malloc_limit_mb (a
// header's shape trusted before the file's size) or a broken invariant of an
// accepted array is a finding. Seeds: fuzz/corpus/npy/.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_support.hpp"
#include "scvae/data/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  scvae_fuzz::expect_only_scvae_errors("parse_npy", [&] {
    const scvae::NpyArray array = scvae::parse_npy(bytes, "fuzz.npy");
    scvae_fuzz::require(array.rows > 0 && array.cols > 0, "accepted arrays have positive sizes");
    scvae_fuzz::require(array.dimensions == 1 || array.dimensions == 2, "1-D or 2-D");
    scvae_fuzz::require(array.dimensions == 2 || array.cols == 1, "a 1-D array is one column");
    scvae_fuzz::require(static_cast<std::uint64_t>(array.values.size()) ==
                            static_cast<std::uint64_t>(array.rows) *
                                static_cast<std::uint64_t>(array.cols),
                        "values.size() == rows * cols");
    scvae_fuzz::require(array.values.size() < size, "every value came from a byte of the file");
    const scvae::Matrix<float> matrix = scvae::features_by_samples<float>(array);
    scvae_fuzz::require(matrix.rows() == array.cols && matrix.cols() == array.rows,
                        "features_by_samples is cols x rows");
  });
  return 0;
}
