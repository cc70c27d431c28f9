// A real model through a checkpoint: bit-identical parameters and the same
// loss after loading; a checkpoint of another architecture is refused.
#include <filesystem>

#include "../test_support.hpp"
#include "scvae/io/checkpoint.hpp"
#include "scvae/model/vae.hpp"

namespace scvae {
namespace {

std::string temp_path(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("scvae_model_checkpoint_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

TEST(ModelCheckpoint, RoundTripGivesBitIdenticalParametersAndTheSameLoss) {
  for (const bool use_double : {false, true}) {
    SCOPED_TRACE(use_double ? "double" : "float");
    auto check = [](auto scalar_tag) {
      using Scalar = decltype(scalar_tag);
      const std::string path = temp_path(std::string("vae_") + scalar_name<Scalar>() + ".scvae");
      VAET<Scalar> saved(12, {7}, 3, 4);
      const Matrix<Scalar> x = testing::random_uniform(12, 9, 5).cast<Scalar>();
      const Matrix<Scalar> eps = testing::random_matrix(3, 9, 6).cast<Scalar>();
      save_model(path, saved);
      VAET<Scalar> loaded(12, {7}, 3, 99);  // other weights until loaded
      ASSERT_NE(loaded.parameters(), saved.parameters());
      load_model(path, loaded);
      EXPECT_EQ(loaded.parameters(), saved.parameters());
      EXPECT_EQ(loaded.loss(x, eps).total, saved.loss(x, eps).total);
      std::filesystem::remove(path);
    };
    if (use_double)
      check(double{});
    else
      check(float{});
  }
}

TEST(ModelCheckpoint, AnotherArchitectureOrScalarTypeIsRefused) {
  const std::string path = temp_path("arch.scvae");
  save_model(path, VAET<float>(12, {7}, 3, 4));
  VAET<float> wider(12, {8}, 3, 4);
  try {
    load_model(path, wider);
    FAIL() << "expected CheckpointError";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("architecture"), std::string::npos) << e.what();
  }
  VAET<double> as_double(12, {7}, 3, 4);
  EXPECT_THROW(load_model(path, as_double), CheckpointError);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace scvae
