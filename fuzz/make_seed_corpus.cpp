// Writes the seed corpus of the fuzzers: small valid files (plain and gzip
// IDX, float32 and float64 checkpoints, a training checkpoint of the tiny VAE
// the checkpoint fuzzer loads into) and a few broken ones. Its output is
// committed in fuzz/corpus/; run it again only to refresh the seeds:
//   make_seed_corpus fuzz/corpus
// Regression inputs from fuzzing findings live next to the seeds, named
// regression-*.

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "scvae/scvae.hpp"

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

static Bytes read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

static void write_bytes(const fs::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seed_corpus <corpus dir>\n");
    return 2;
  }
  const fs::path root = argv[1];
  const fs::path idx = root / "idx";
  const fs::path ckpt = root / "checkpoint";
  fs::create_directories(idx);
  fs::create_directories(ckpt);

  // ---- IDX ----
  scvae::IdxImages images;
  images.count = 3;
  images.rows = 4;
  images.cols = 5;
  for (int i = 0; i < 60; ++i) images.pixels.push_back(static_cast<std::uint8_t>(i * 17));
  scvae::write_idx_images((idx / "images.idx3").string(), images);
  scvae::write_idx_images((idx / "images.idx3.gz").string(), images);
  scvae::write_idx_labels((idx / "labels.idx1").string(), {0, 9, 3, 7, 1});
  scvae::write_idx_labels((idx / "labels.idx1.gz").string(), {0, 9, 3, 7, 1});
  Bytes bytes = read_bytes(idx / "images.idx3");
  write_bytes(idx / "broken-truncated.idx3", Bytes(bytes.begin(), bytes.begin() + 40));
  Bytes magic = bytes;
  magic[2] = 0x0D;
  write_bytes(idx / "broken-type.idx3", magic);
  Bytes overflow = bytes;
  for (int i = 4; i < 16; ++i) overflow[static_cast<std::size_t>(i)] = 0xFF;
  write_bytes(idx / "broken-overflow.idx3", overflow);
  Bytes gz = read_bytes(idx / "images.idx3.gz");
  write_bytes(idx / "broken-truncated.idx3.gz",
              Bytes(gz.begin(), gz.begin() + static_cast<long>(gz.size() / 2)));
  Bytes label_bytes = read_bytes(idx / "labels.idx1");
  label_bytes.back() = 200;
  write_bytes(idx / "broken-label.idx1", label_bytes);

  // ---- checkpoints ----
  scvae::VAET<float> vae(4, {3}, 2, 1);  // the checkpoint fuzzer's model
  scvae::Adam adam;
  scvae::Rng rng(1);
  scvae::Matrix<float> x = scvae::Matrix<float>::Constant(4, 2, 0.25f);
  vae.loss_and_gradient(x, rng);
  adam.step(vae.parameters(), vae.gradients());
  scvae::save_training_checkpoint((ckpt / "training.scvae").string(), vae, adam, 1);
  scvae::save_model((ckpt / "model.scvae").string(), vae);
  scvae::Vector<double> values(3);
  values << 1.0, -2.5, 3.25;
  scvae::CheckpointExtras extras;
  extras.set_bytes("note", {'h', 'i'});
  extras.set_scalar("epochs_done", 2);
  scvae::save_checkpoint<double>((ckpt / "double.scvae").string(), "tiny", values, extras);
  scvae::save_checkpoint<float>((ckpt / "empty.scvae").string(), "", scvae::Vector<float>());
  Bytes model = read_bytes(ckpt / "model.scvae");
  write_bytes(ckpt / "broken-truncated.scvae", Bytes(model.begin(), model.begin() + 30));
  Bytes flipped = model;
  flipped[flipped.size() / 2] ^= 0x10;
  write_bytes(ckpt / "broken-flipped.scvae", flipped);
  Bytes version = model;
  version[8] = 2;
  write_bytes(ckpt / "broken-version.scvae", version);

  // Regression inputs: valid checksums around a malformed training state,
  // which load_training_checkpoint once turned into undefined behaviour (a
  // float-to-integer conversion of 1e300) or an optimizer of the wrong size.
  scvae::CheckpointExtras state;
  state.set_scalar("epochs_done", 1e300);
  scvae::save_model((ckpt / "regression-epochs-done-1e300.scvae").string(), vae, state);
  state.set_scalar("epochs_done", 1);
  state.set_scalar("adam.step", -1e19);
  state.set_vector("adam.first_moment", scvae::Vector<float>::Zero(3));
  state.set_vector("adam.second_moment", scvae::Vector<float>::Zero(3));
  scvae::save_model((ckpt / "regression-adam-state-malformed.scvae").string(), vae, state);
  return 0;
}
