#pragma once
// MPI's lifetime as an object: MPI_Init_thread when made, MPI_Finalize when
// it goes. The executor's threads pass gradient parts along the ranks' chain
// themselves (MpiRankGroup), so it asks for MPI_THREAD_MULTIPLE.

#include <mpi.h>

#include <string>

#include "scvae/core/error.hpp"

namespace scvae {

/// An MPI call that failed; the message names the call and MPI's own text.
class MpiError : public Error {
 public:
  using Error::Error;
};

namespace detail {
inline void check_mpi(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw MpiError(std::string(call) + " failed: " + std::string(text, static_cast<std::size_t>(length)));
}
}  // namespace detail

class MpiSession {
 public:
  /// Starts MPI (once per process); a program run without mpirun is a group
  /// of one rank.
  MpiSession(int& argc, char**& argv) {
    int provided = 0;
    detail::check_mpi(MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided),
                      "MPI_Init_thread");
    if (provided < MPI_THREAD_MULTIPLE) {
      MPI_Finalize();
      throw MpiError(
          "MPI_Init_thread: this MPI library does not support MPI_THREAD_MULTIPLE, which the "
          "executor's threads need (Open MPI: built with --enable-mpi-thread-multiple)");
    }
    // Errors come back as codes (thrown as MpiError) instead of ending the job
    // in MPI's handler, so that run_on_ranks can say which rank and why.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  }
  ~MpiSession() { MPI_Finalize(); }
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
};

}  // namespace scvae
