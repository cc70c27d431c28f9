#pragma once
// IDX files (the MNIST format): reading and writing unsigned-byte image and
// label files, plain or gzip-compressed. The reader is data/idx_read.hpp, the
// writer data/idx_write.hpp; this header includes both.

#include "scvae/data/idx_format.hpp"
#include "scvae/data/idx_read.hpp"
#include "scvae/data/idx_write.hpp"
