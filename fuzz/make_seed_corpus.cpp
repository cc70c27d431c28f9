// Writes the seed corpus of the fuzzers: small valid files (plain and gzip
// IDX, float32 and float64 checkpoints, a training checkpoint of the tiny VAE
// the checkpoint fuzzer loads into, CSV tables, NPY arrays of each dtype) and
// a few broken ones. Its output is
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

static void write_text(const fs::path& path, const std::string& text) {
  write_bytes(path, Bytes(text.begin(), text.end()));
}

/// An NPY file as numpy.save writes it (header padded to 64 bytes).
static std::string npy_file(const std::string& descr, const std::string& order,
                            const std::string& shape, const std::string& data, int major = 1) {
  const std::size_t preamble = major == 1 ? 10 : 12;
  std::string header =
      "{'descr': '" + descr + "', 'fortran_order': " + order + ", 'shape': " + shape + ", }";
  while ((preamble + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string bytes = std::string("\x93NUMPY", 6) + static_cast<char>(major) + '\0';
  for (std::size_t b = 0; b < preamble - 8; ++b) {
    bytes += static_cast<char>((header.size() >> (8 * b)) & 0xFF);
  }
  return bytes + header + data;
}

/// `count` items of `item_bytes` each: byte k of the data is k * 37 mod 251,
/// so every dtype gets varied values.
static std::string npy_data(std::size_t count, std::size_t item_bytes) {
  std::string data(count * item_bytes, '\0');
  for (std::size_t k = 0; k < data.size(); ++k) data[k] = static_cast<char>((k * 37) % 251);
  return data;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seed_corpus <corpus dir>\n");
    return 2;
  }
  const fs::path root = argv[1];
  const fs::path idx = root / "idx";
  const fs::path ckpt = root / "checkpoint";
  const fs::path csv = root / "csv";
  const fs::path npy = root / "npy";
  fs::create_directories(idx);
  fs::create_directories(ckpt);
  fs::create_directories(csv);
  fs::create_directories(npy);

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

  // ---- CSV ----
  write_text(csv / "plain.csv", "alcohol,ash,class\n13.2,2.1,1\n12.4,NA,2\n,2.5,\n");
  write_text(csv / "semicolon-crlf-bom.csv",
             "\xEF\xBB\xBFx;y;label\r\n1,5;-2e3;cat\r\n.5;N/A;dog\r\n");
  write_text(csv / "tab.tsv", "a\tb\n1\t2\n3\t4");
  write_text(csv / "quoted.csv",
             "name,note\n\"Smith, J\",\"said \"\"hi\"\"\"\n\"two\nlines\",\"\"\nlast,x\n\n");
  write_text(csv / "one-column.csv", "v\n1\n\nnan\n\n");
  write_text(csv / "broken-ragged.csv", "a,b,c\n1,2,3\n4,5\n");
  write_text(csv / "broken-unterminated.csv", "a,b\n1,\"two\n");
  write_text(csv / "broken-after-quote.csv", "a,b\n1,\"x\"y\n");
  write_text(csv / "broken-number.csv", "x,y\n1,0x1A\n2,1e999\n");

  // ---- NPY ----
  write_text(npy / "f8-2d.npy", npy_file("<f8", "False", "(2, 3)", npy_data(6, 8)));
  write_text(npy / "f4-fortran.npy", npy_file("<f4", "True", "(3, 2)", npy_data(6, 4)));
  write_text(npy / "u1-1d.npy", npy_file("|u1", "False", "(5,)", npy_data(5, 1)));
  write_text(npy / "i1.npy", npy_file("|i1", "False", "(2, 2)", npy_data(4, 1)));
  write_text(npy / "i2-big-endian.npy", npy_file(">i2", "False", "(3,)", npy_data(3, 2)));
  write_text(npy / "i4.npy", npy_file("<i4", "True", "(2, 2)", npy_data(4, 4)));
  write_text(npy / "i8.npy", npy_file("<i8", "False", "(2,)", npy_data(2, 8)));
  write_text(npy / "u2.npy", npy_file("<u2", "False", "(1, 3)", npy_data(3, 2)));
  write_text(npy / "u4.npy", npy_file("<u4", "False", "(3,)", npy_data(3, 4)));
  write_text(npy / "u8-big-endian.npy", npy_file(">u8", "False", "(2,)", npy_data(2, 8)));
  write_text(npy / "b1.npy", npy_file("|b1", "False", "(4,)", std::string("\1\0\1\1", 4)));
  write_text(npy / "f8-version2.npy", npy_file("<f8", "False", "(2,)", npy_data(2, 8), 2));
  write_text(npy / "f4-version3.npy", npy_file("<f4", "False", "(2,)", npy_data(2, 4), 3));
  write_text(npy / "broken-lying-shape.npy",
             npy_file("<f8", "False", "(1000000, 1000000)", npy_data(6, 8)));
  write_text(npy / "broken-3d.npy", npy_file("<f8", "False", "(1, 2, 3)", npy_data(6, 8)));
  write_text(npy / "broken-dtype.npy", npy_file("<c16", "False", "(2,)", npy_data(2, 16)));
  const std::string good = npy_file("<f8", "False", "(2, 3)", npy_data(6, 8));
  write_text(npy / "broken-truncated.npy", good.substr(0, good.size() - 3));
  return 0;
}
