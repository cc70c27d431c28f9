#pragma once
// A group of processes (ranks) training one model together, as the executor
// sees it: no MPI here, so exec/ builds without it. distributed/ implements it
// on an MPI communicator (MpiRankGroup); a test may implement it otherwise.
//
// Every rank holds the whole batch and computes only its own chunks; what
// the ranks computed is then added in one fixed order, never in an order the
// transport chooses, so that the same seed, rank count and thread count give
// the same bits on every run. Two ways:
//   - sum_in_rank_order: rank 0's values plus rank 1's plus ... (small sums);
//   - a chain, for the gradient: rank r receives a part of the gradient
//     summed over the chunks of ranks [0, r), adds its own chunks to it as
//     one process adds its next chunks (the same bits), and passes it on;
//     the last rank's result goes back along the chain to every rank. Part
//     after part, so rank r + 1 adds part j while rank r computes part
//     j + 1, and the finished part j travels back while the last rank adds
//     part j + 1.

#include <cstddef>
#include <string>

#include "scvae/core/error.hpp"

namespace scvae {

/// The ranks disagree on something that must be the same everywhere (a seed,
/// an architecture, a data size): the message names it and the ranks.
class RankMismatchError : public Error {
 public:
  using Error::Error;
};

class RankGroup {
 public:
  virtual ~RankGroup() = default;

  /// This process's rank, in [0, size()).
  virtual int rank() const = 0;
  /// How many ranks the group has.
  virtual int size() const = 0;

  /// Replaces values[0, count) on every rank by the sum over the ranks,
  /// added in rank order. Every rank must call it with the same count.
  virtual void sum_in_rank_order(float* values, std::size_t count) = 0;
  virtual void sum_in_rank_order(double* values, std::size_t count) = 0;

  /// The chain. May be called from several threads at once, each with its
  /// own tag (a gradient part's index, below max_tag()); the values of a tag
  /// arrive in the order they were sent.
  /// Receives `count` values sent by rank() - 1 with `tag` into `values`.
  virtual void receive_from_previous(float* values, std::size_t count, int tag) = 0;
  virtual void receive_from_previous(double* values, std::size_t count, int tag) = 0;
  /// Starts sending values[0, count) to rank() + 1 with `tag`; the values must
  /// stay unchanged until finish_sends().
  virtual void send_to_next(const float* values, std::size_t count, int tag) = 0;
  virtual void send_to_next(const double* values, std::size_t count, int tag) = 0;
  /// The way back, for the finished sum: starts sending values[0, count) to
  /// rank() - 1 with `tag`; the values must stay unchanged until
  /// finish_sends().
  virtual void send_to_previous(const float* values, std::size_t count, int tag) = 0;
  virtual void send_to_previous(const double* values, std::size_t count, int tag) = 0;
  /// Starts receiving `count` values sent by rank() + 1 with `tag` into
  /// `values`, once this rank's send_to_next() of the same tag (if any) has
  /// completed, as the values arrive into the buffer that send was reading;
  /// finish_receive_from_next(tag) waits for them. Called from one thread.
  virtual void start_receive_from_next(float* values, std::size_t count, int tag) = 0;
  virtual void start_receive_from_next(double* values, std::size_t count, int tag) = 0;
  virtual void finish_receive_from_next(int tag) = 0;
  /// Waits until every send_to_next() and send_to_previous() since the last
  /// call has completed.
  virtual void finish_sends() = 0;
  /// The largest tag the chain takes.
  virtual int max_tag() const = 0;

  /// Replaces values[0, count) on every rank by rank 0's.
  virtual void broadcast_from_first(float* values, std::size_t count) = 0;
  virtual void broadcast_from_first(double* values, std::size_t count) = 0;
  /// Replaces `bytes` on every rank by rank 0's (any length).
  virtual void broadcast_from_first(std::string& bytes) = 0;

  /// Throws RankMismatchError on every rank unless `value` is the same on
  /// every rank; the message names `what` and each rank that differs from
  /// rank 0 with its value. Every rank must call it with the same `what`.
  virtual void check_same_on_every_rank(const std::string& what, const std::string& value) = 0;

  /// Whether this rank is the one that writes files and prints progress.
  bool is_first() const { return rank() == 0; }
  bool is_last() const { return rank() == size() - 1; }
};

}  // namespace scvae
