// Starts MPI as a user's program would (here run alone: a group of one
// rank), checks a sum across the ranks, and exits 0 only if all is right.

#include <iostream>

#include "scvae/distributed.hpp"
#include "scvae/scvae.hpp"

int main(int argc, char** argv) {
  scvae::MpiSession session(argc, argv);
  scvae::MpiRankGroup group;
  return scvae::run_on_ranks(group.communicator(), [&] {
    double values[2] = {1.5, 2.5};
    group.sum_in_rank_order(values, 2);
    const bool right = group.size() == 1 && values[0] == 1.5 && values[1] == 2.5;
    std::cout << "scvae::mpi consumer: " << group.size() << " rank(s), "
              << (right ? "sum right" : "sum WRONG") << "\n";
    return right ? 0 : 1;
  });
}
