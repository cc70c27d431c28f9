// libFuzzer target for the IDX reader (plain and gzip): read_idx_images and
// read_idx_labels on the fuzz input. scvae::Error is an expected refusal;
// a crash, a sanitizer report, another exception, a broken invariant of an
// accepted file, or an allocation beyond libFuzzer's -malloc_limit_mb is a
// finding. Seeds: fuzz/corpus/idx/.

#include <cstddef>
#include <cstdint>

#include "fuzz_support.hpp"
#include "scvae/data/idx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static scvae_fuzz::InputFile file;
  const std::string& path = file.write(data, size);

  scvae_fuzz::expect_only_scvae_errors("read_idx_images", [&] {
    const scvae::IdxImages images = scvae::read_idx_images(path);
    scvae_fuzz::require(images.count > 0 && images.rows > 0 && images.cols > 0,
                        "accepted images have positive sizes");
    scvae_fuzz::require(static_cast<std::uint64_t>(images.pixels.size()) ==
                            static_cast<std::uint64_t>(images.count) *
                                static_cast<std::uint64_t>(images.rows) *
                                static_cast<std::uint64_t>(images.cols),
                        "pixels.size() == count * rows * cols");
  });
  for (const int classes : {10, 256}) {
    scvae_fuzz::expect_only_scvae_errors("read_idx_labels", [&] {
      const std::vector<std::uint8_t> labels = scvae::read_idx_labels(path, classes);
      scvae_fuzz::require(!labels.empty(), "accepted labels are not empty");
      for (const std::uint8_t label : labels)
        scvae_fuzz::require(label < classes, "every accepted label is below the class count");
    });
  }
  return 0;
}
