// The README's first example: build an SC-VAE with two tasks, compute its
// loss and gradient on a batch, and take one Adam step.
#include <iostream>

#include "scvae/scvae.hpp"

int main() {
  scvae::ModelSpec spec;
  spec.inputs = 784;
  spec.encoder_hidden = {400};
  spec.latent = 20;
  spec.tasks.push_back({"image", 784, {400}, scvae::LikelihoodSpec::bernoulli()});
  spec.tasks.push_back({"label", 10, {}, scvae::LikelihoodSpec::categorical(10), /*weight=*/50.0});
  scvae::SCVAE model(spec, /*seed=*/1);

  const scvae::Index n = 64;
  scvae::Matrix<float> images = scvae::Matrix<float>::Random(784, n).cwiseAbs();  // in [0, 1]
  scvae::Matrix<float> labels = scvae::Matrix<float>::Zero(1, n);                 // class indices
  scvae::RowVector<float> labelled = scvae::RowVector<float>::Zero(n);  // 0: label missing
  labelled.head(8).setOnes();

  scvae::Rng rng(1);
  const scvae::LossParts loss = model.loss_and_gradient(
      images, {scvae::TaskBatch<float>(images), scvae::TaskBatch<float>(labels, labelled)}, rng,
      /*beta=*/1.0);
  std::cout << "loss " << loss.total << " per sample; image NLL " << loss.task_nll[0]
            << ", label NLL " << loss.task_nll[1] << " (mean over the 8 labelled), KL " << loss.kl
            << "\n";

  scvae::Adam adam;
  adam.step(model.parameters(), model.gradients());  // one flat buffer for every layer
}
