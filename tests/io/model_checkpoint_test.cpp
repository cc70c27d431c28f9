// A real model through a checkpoint: bit-identical parameters and the same
// loss after loading; a checkpoint of another architecture is refused.
#include <filesystem>

#include "../test_support.hpp"
#include "scvae/io/checkpoint.hpp"
#include "scvae/model/vae.hpp"

namespace scvae {
namespace {

TEST(ModelCheckpoint, RoundTripGivesBitIdenticalParametersAndTheSameLoss) {
  const testing::TempDir dir("scvae_model_checkpoint_test");
  for (const bool use_double : {false, true}) {
    SCOPED_TRACE(use_double ? "double" : "float");
    auto check = [&dir](auto scalar_tag) {
      using Scalar = decltype(scalar_tag);
      const std::string path =
          (dir.path / (std::string("vae_") + scalar_name<Scalar>() + ".scvae")).string();
      VAET<Scalar> saved(12, {7}, 3, 4);
      const Matrix<Scalar> x = testing::random_uniform(12, 9, 5).cast<Scalar>();
      const Matrix<Scalar> eps = testing::random_matrix(3, 9, 6).cast<Scalar>();
      save_model(path, saved);
      VAET<Scalar> loaded(12, {7}, 3, 99);  // other weights until loaded
      ASSERT_NE(loaded.parameters(), saved.parameters());
      load_model(path, loaded);
      EXPECT_EQ(loaded.parameters(), saved.parameters());
      EXPECT_EQ(loaded.loss(x, eps).total, saved.loss(x, eps).total);
    };
    if (use_double)
      check(double{});
    else
      check(float{});
  }
}

TEST(ModelCheckpoint, AnotherArchitectureOrScalarTypeIsRefused) {
  const testing::TempDir dir("scvae_model_checkpoint_test");
  const std::string path = (dir.path / "arch.scvae").string();
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
}

}  // namespace
}  // namespace scvae
