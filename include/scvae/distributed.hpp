#pragma once
// The optional MPI part of scvae (target scvae::mpi): data-parallel training
// across processes and machines. Not included by scvae/scvae.hpp, which
// never needs MPI. See docs/distributed.md.

#include "scvae/distributed/broadcast_training_state.hpp"
#include "scvae/distributed/mpi_rank_group.hpp"
#include "scvae/distributed/mpi_session.hpp"
#include "scvae/distributed/run_on_ranks.hpp"
#include "scvae/distributed/training_setup_check.hpp"
