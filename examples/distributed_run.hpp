#pragma once
// --distributed for an example: data-parallel training on the ranks of an
// MPI job (mpirun -np N example --distributed ...), in builds where CMake
// found MPI (SCVAE_EXAMPLES_HAVE_MPI). Every rank reads the whole data set,
// fills every whole batch and computes its own chunks of it
// (docs/distributed.md); rank 0 alone prints, locks the output folder and
// writes metrics, pictures and checkpoints. A rank that fails ends the whole
// job (MPI_Abort) after printing its message, so no rank waits forever.

#include <CLI/CLI.hpp>

#include <cstring>
#include <memory>
#include <string>

#include "common.hpp"

#ifdef SCVAE_EXAMPLES_HAVE_MPI
#include "scvae/distributed.hpp"
#endif

namespace examples {

class DistributedRun {
 public:
  /// Starts MPI when --distributed is among the arguments and the build has
  /// MPI: before the flags are parsed, as MPI_Init_thread may read them.
  /// With a `subcommand` (scvae_table's "train"), only when the program
  /// runs that subcommand (the first argument): the others run in one
  /// process and refuse the flag themselves.
  DistributedRun(int& argc, char**& argv, const char* subcommand = nullptr) {
    const bool runs_subcommand =
        subcommand == nullptr || (argc > 1 && std::strcmp(argv[1], subcommand) == 0);
    for (int i = 1; i < argc; ++i)
      if (runs_subcommand && std::strcmp(argv[i], "--distributed") == 0) requested_ = true;
#ifdef SCVAE_EXAMPLES_HAVE_MPI
    if (requested_) {
      session_ = std::make_unique<scvae::MpiSession>(argc, argv);
      group_ = std::make_unique<scvae::MpiRankGroup>();
    }
#endif
  }

  void add_flag(CLI::App& app) {
    app.add_flag("--distributed", flag_,
                 "Train on every rank of an MPI job (mpirun -np N ... --distributed), each "
                 "rank computing its share of every batch; rank 0 writes. Same seed, ranks and "
                 "threads: same bits (N ranks x 1 thread: those of 1 process x N threads)");
  }

  /// Throws ArgumentError (exit status 2) for --distributed in a build without MPI.
  void check_available() const {
#ifndef SCVAE_EXAMPLES_HAVE_MPI
    if (requested_)
      throw scvae::ArgumentError(
          "--distributed: this build has no MPI (CMake did not find it; on Debian install "
          "openmpi-bin and libopenmpi-dev and configure again)");
#endif
  }

  /// The rank group (nullptr without --distributed).
  scvae::RankGroup* group() const {
#ifdef SCVAE_EXAMPLES_HAVE_MPI
    return group_.get();
#else
    return nullptr;
#endif
  }

  /// Whether this process prints progress and writes files: rank 0, or the
  /// one process of a run without --distributed.
  bool writes() const { return group() == nullptr || group()->is_first(); }

  /// The program's name in messages: "mnist_vae", or "mnist_vae: rank 1".
  std::string program(const std::string& name) const {
    if (group() == nullptr) return name;
    return name + ": rank " + std::to_string(group()->rank());
  }

  /// " on each of N ranks" with --distributed, else nothing: for the line
  /// that says how the run computes.
  std::string ranks_text() const {
    if (group() == nullptr) return "";
    return " on each of " + std::to_string(group()->size()) + " ranks";
  }

  /// The lock on the output folder, held by the writing rank alone (the
  /// other ranks of one machine would find it taken).
  std::unique_ptr<OutputLock> lock_output(const std::string& out) const {
    if (!writes()) return nullptr;
    return std::make_unique<OutputLock>(out);
  }

  /// Every rank starts from rank 0's parameters, optimizer state and epoch,
  /// after a check that the ranks agree on the seed, the model, the data and
  /// the batch (RankMismatchError naming what differs). Nothing without
  /// --distributed.
  template <typename Model, typename Optimizer>
  void start(Model& model, Optimizer& optimizer, Index data_size,
             const scvae::TrainerOptions& options, Index& first_epoch) const {
#ifdef SCVAE_EXAMPLES_HAVE_MPI
    if (!group_) return;
    model.set_rank_group(group_.get());
    scvae::check_same_training_setup(*group_,
                                      scvae::training_setup(model, data_size, options));
    scvae::broadcast_training_state(*group_, model, optimizer, first_epoch);
#else
    (void)model, (void)optimizer, (void)data_size, (void)options, (void)first_epoch;
#endif
  }

  /// The exit status; a failure on a rank of a job ends every rank with it.
  int finish(int status) const {
#ifdef SCVAE_EXAMPLES_HAVE_MPI
    if (group_ && status != 0) MPI_Abort(group_->communicator(), status);
#endif
    return status;
  }

 private:
  bool requested_ = false;
  bool flag_ = false;  ///< CLI11's copy of --distributed; requested_ is read first
#ifdef SCVAE_EXAMPLES_HAVE_MPI
  std::unique_ptr<scvae::MpiSession> session_;
  std::unique_ptr<scvae::MpiRankGroup> group_;
#endif
};

}  // namespace examples
