// Kingma et al.'s M2 on MNIST-format data: see m2_example.hpp. The same
// program as `mnist_multitask --design m2`, under its own name.

#include "m2_example.hpp"

int main(int argc, char** argv) {
  return examples::run_m2_example(
      "mnist_m2",
      "Train Kingma et al.'s M2 semi-supervised VAE (shared encoder trunk, label-conditioned "
      "image decoder) on MNIST-format data with only --labels labelled images; write its metrics "
      "and pictures.",
      "runs/mnist_m2", false, argc, argv);
}
