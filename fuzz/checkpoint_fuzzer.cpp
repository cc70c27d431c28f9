// libFuzzer target for the checkpoint reader: read_checkpoint_info,
// load_checkpoint (float and double) and load_training_checkpoint into a tiny
// VAE with Adam. Each input is tried twice: as it is, and with its last four
// bytes replaced by the CRC32 of the bytes before them, so that the fuzzer
// gets past the checksum and reaches what is parsed after it (extras, the
// training state). scvae::Error is an expected refusal; anything else is a
// finding. Seeds: fuzz/corpus/checkpoint/.

#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_support.hpp"
#include "scvae/scvae.hpp"

namespace {

void try_checkpoint(const std::string& path) {
  scvae_fuzz::expect_only_scvae_errors("read_checkpoint_info", [&] {
    const scvae::CheckpointInfo info = scvae::read_checkpoint_info(path);
    scvae_fuzz::require(info.scalar == "float32" || info.scalar == "float64",
                        "an accepted checkpoint holds float32 or float64");
    // Whatever read_checkpoint_info accepts must load into a matching model.
    if (info.scalar == "float32") {
      scvae::CheckpointExtras extras;
      const scvae::Vector<float> p =
          scvae::load_checkpoint<float>(path, info.architecture, &extras);
      scvae_fuzz::require(static_cast<std::uint64_t>(p.size()) == info.parameter_count,
                          "load_checkpoint gives parameter_count values");
      scvae_fuzz::require(extras.names() == info.extra_names, "the same extras");
    } else {
      const scvae::Vector<double> p = scvae::load_checkpoint<double>(path, info.architecture);
      scvae_fuzz::require(static_cast<std::uint64_t>(p.size()) == info.parameter_count,
                          "load_checkpoint gives parameter_count values");
    }
  });
  // A model of the architecture in the seed corpus: load_model and the
  // training state (epochs, Adam moments and step) on top of it.
  static scvae::VAET<float> vae(4, {3}, 2, 1);
  scvae_fuzz::expect_only_scvae_errors("load_training_checkpoint", [&] {
    scvae::Adam adam;
    const scvae::Index epochs = scvae::load_training_checkpoint(path, vae, adam);
    scvae_fuzz::require(epochs >= 0, "epochs_done >= 0");
    scvae_fuzz::require(
        adam.first_moment().size() == 0 || adam.first_moment().size() == vae.parameters().size(),
        "Adam's moments fit the parameters");
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static scvae_fuzz::InputFile file;
  try_checkpoint(file.write(data, size));
  if (size >= 4) {
    std::vector<std::uint8_t> fixed(data, data + size);
    const uLong crc = ::crc32(0L, fixed.data(), static_cast<uInt>(size - 4));
    for (int b = 0; b < 4; ++b) fixed[size - 4 + b] = static_cast<std::uint8_t>(crc >> (8 * b));
    try_checkpoint(file.write(fixed.data(), fixed.size()));
  }
  return 0;
}
