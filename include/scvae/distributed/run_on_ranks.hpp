#pragma once
// A distributed program's main: if any rank fails, every rank ends within
// moments with a non-zero exit, instead of the others waiting forever in the
// next collective for a rank that is gone.

#include <mpi.h>

#include <chrono>
#include <exception>
#include <iostream>
#include <thread>

namespace scvae {

/// Runs `body` (returning the exit status) on this rank. An exception is
/// printed as "rank R: message" on stderr and ends the whole job with
/// MPI_Abort(communicator, 1): it does not return. MPI must be running
/// (MpiSession).
template <typename Body>
int run_on_ranks(MPI_Comm communicator, Body&& body) {
  int rank = -1;
  MPI_Comm_rank(communicator, &rank);
  try {
    return body();
  } catch (const std::exception& e) {
    std::cerr << "rank " << rank << ": " << e.what() << std::endl;
  } catch (...) {
    std::cerr << "rank " << rank << ": unknown exception" << std::endl;
  }
  // The message is flushed into the launcher's pipe, but mpirun forwards it
  // on its own schedule and starts killing ranks as soon as it hears of the
  // abort: on a loaded machine it can end the job with the pipe unread, and
  // the user sees that a rank failed but not why. A moment's grace lets the
  // message through; it costs nothing on the success path.
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  MPI_Abort(communicator, 1);
  return 1;  // not reached: MPI_Abort ends the process
}

}  // namespace scvae
