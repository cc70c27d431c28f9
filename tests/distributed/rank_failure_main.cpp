// Run under mpirun by expect_rank_failure.cmake: rank 1 throws (as bad data
// on one node would) while rank 0 waits in a collective for it. run_on_ranks
// must print "rank 1: ..." and end the whole job with a non-zero status
// within the test's timeout, instead of rank 0 waiting forever.

#include <vector>

#include "scvae/distributed.hpp"

int main(int argc, char** argv) {
  scvae::MpiSession session(argc, argv);
  scvae::MpiRankGroup group;
  return scvae::run_on_ranks(group.communicator(), [&] {
    if (group.rank() == 1) throw scvae::IoError("data/train.idx: truncated at sample 7");
    std::vector<double> values(4, 1.0);
    group.sum_in_rank_order(values.data(), values.size());  // never returns
    return 0;
  });
}
