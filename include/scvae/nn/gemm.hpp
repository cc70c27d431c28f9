#pragma once
// Moved to kernels/gemm.hpp (the GEMM kernels live apart from the layers);
// this include keeps old code building.
#include "scvae/kernels/gemm.hpp"
