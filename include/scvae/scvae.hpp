#pragma once
// scvae: variational autoencoders and the shared-encoder multi-task VAE.
// Users include only this header.

#include "scvae/core/error.hpp"
#include "scvae/core/parameters.hpp"
#include "scvae/core/random.hpp"
#include "scvae/core/thread_pool.hpp"
#include "scvae/core/types.hpp"
#include "scvae/model/decoder.hpp"
#include "scvae/model/encoder.hpp"
#include "scvae/model/scvae.hpp"
#include "scvae/model/spec.hpp"
#include "scvae/model/vae.hpp"
#include "scvae/nn/activation.hpp"
#include "scvae/nn/dense.hpp"
#include "scvae/nn/mlp.hpp"
#include "scvae/prob/bernoulli.hpp"
#include "scvae/prob/categorical.hpp"
#include "scvae/prob/gaussian.hpp"
#include "scvae/prob/gaussian_likelihood.hpp"
#include "scvae/prob/likelihood.hpp"
#include "scvae/prob/make_likelihood.hpp"
#include "scvae/util/gradient_check.hpp"
