#pragma once
// main() of a GoogleTest executable run under mpirun: MPI for the whole run,
// one group of every rank for the tests (world()), and the test output of
// rank 0 alone (a rank that fails still fails the job through its exit
// status, which mpirun passes on).

#include <gtest/gtest.h>

#include "scvae/distributed/mpi_rank_group.hpp"
#include "scvae/distributed/mpi_session.hpp"

namespace scvae::testing {

inline MpiRankGroup*& world_pointer() {
  static MpiRankGroup* group = nullptr;
  return group;
}
inline MpiRankGroup& world() { return *world_pointer(); }

}  // namespace scvae::testing

int main(int argc, char** argv) {
  scvae::MpiSession session(argc, argv);
  scvae::MpiRankGroup group;
  scvae::testing::world_pointer() = &group;
  ::testing::InitGoogleTest(&argc, argv);
  if (group.rank() != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  const int failed = RUN_ALL_TESTS();
  // Every rank's verdict: a failure on rank 1 alone fails rank 0's exit too.
  int any_failed = failed != 0 ? 1 : 0;
  MPI_Allreduce(MPI_IN_PLACE, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (any_failed != 0 && group.rank() == 0 && failed == 0)
    std::cerr << "a test failed on another rank (its output is not shown)\n";
  return any_failed;
}
