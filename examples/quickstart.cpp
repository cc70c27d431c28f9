// The smallest useful scvae program: make 2,000 8x8 images in memory (bars
// of four kinds), train a VAE on them for a few epochs, print the loss.
#include <iostream>

#include "scvae/scvae.hpp"

int main() {
  const scvae::Index count = 2000, side = 8;
  std::vector<std::uint8_t> pixels;
  scvae::Rng rng(1);
  for (scvae::Index i = 0; i < count; ++i) {
    const auto kind = rng.uniform_index(4), where = rng.uniform_index(side);
    for (scvae::Index r = 0; r < side; ++r)
      for (scvae::Index c = 0; c < side; ++c) {
        const bool on = kind == 0   ? r == static_cast<scvae::Index>(where)
                        : kind == 1 ? c == static_cast<scvae::Index>(where)
                        : kind == 2 ? r == c
                                    : r + c == side - 1;
        pixels.push_back(on ? 255 : 0);
      }
  }
  const scvae::Dataset images(side, side, pixels);

  scvae::VAE vae(side * side, {64}, 2, /*seed=*/1);  // 64-64-2-64-64, Bernoulli pixels
  scvae::Adam adam(scvae::AdamOptions{3e-3});
  scvae::TrainerOptions options;
  options.epochs = 10;
  options.batch_size = 64;
  scvae::Trainer trainer(vae, adam, options);
  trainer.add_callback(
      std::make_unique<scvae::ProgressBar>(std::cout, scvae::ProgressBar::Mode::Lines));
  trainer.fit(scvae::AutoencoderSource<float>(images));

  scvae::Rng noise(2);
  const scvae::LossParts loss =
      scvae::evaluate_loss(vae, scvae::AutoencoderSource<float>(images), 500, noise);
  std::cout << "final loss " << loss.total << " nats per image (KL " << loss.kl << ")\n";
}
