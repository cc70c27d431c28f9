#pragma once
// RankGroup (exec/rank_group.hpp) on an MPI communicator.
//
// The chain's sends are MPI_Isend, so a rank never waits for the next one
// to take a part: with the ranks taking the parts in the same order, no
// two ranks can wait for each other. Several threads may use the chain at
// once: MpiSession asks for MPI_THREAD_MULTIPLE.
//
// The sum in rank order does not use MPI_Allreduce, whose order of addition
// is the implementation's: the vector is cut into one slice per rank, an
// MPI_Alltoallv sends every rank's slice s to rank s, rank s adds them in
// rank order, and an MPI_Allgatherv gives every rank all the summed slices.
// Each rank sends and receives about twice the vector, as a ring allreduce
// does, and the bits depend only on the rank count. A short vector (a
// step's loss sums) instead goes whole to every rank in one MPI_Iallgather,
// and every rank adds the copies in rank order itself: one collective
// rather than two, waited for yielding the core.

#include <mpi.h>

#include <climits>
#include <cstddef>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "scvae/core/slices.hpp"
#include "scvae/distributed/mpi_session.hpp"
#include "scvae/exec/rank_group.hpp"

namespace scvae {

class MpiRankGroup final : public RankGroup {
 public:
  /// The ranks of `communicator` (not owned: it must outlive the group).
  explicit MpiRankGroup(MPI_Comm communicator = MPI_COMM_WORLD) : communicator_(communicator) {
    detail::check_mpi(MPI_Comm_rank(communicator_, &rank_), "MPI_Comm_rank");
    detail::check_mpi(MPI_Comm_size(communicator_, &size_), "MPI_Comm_size");
    const auto ranks = static_cast<std::size_t>(size_);
    send_counts_.resize(ranks);
    send_offsets_.resize(ranks);
    receive_counts_.resize(ranks);
    receive_offsets_.resize(ranks);
    int* tag_bound = nullptr;
    int has_bound = 0;
    MPI_Comm_get_attr(communicator_, MPI_TAG_UB, &tag_bound, &has_bound);
    max_tag_ = has_bound != 0 && tag_bound != nullptr ? *tag_bound : 32767;
    sends_.reserve(256);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  MPI_Comm communicator() const { return communicator_; }

  void sum_in_rank_order(float* values, std::size_t count) override {
    sum(values, count, MPI_FLOAT, float_buffer_);
  }
  void sum_in_rank_order(double* values, std::size_t count) override {
    sum(values, count, MPI_DOUBLE, double_buffer_);
  }

  void receive_from_previous(float* values, std::size_t count, int tag) override {
    receive(values, count, MPI_FLOAT, tag);
  }
  void receive_from_previous(double* values, std::size_t count, int tag) override {
    receive(values, count, MPI_DOUBLE, tag);
  }
  void send_to_next(const float* values, std::size_t count, int tag) override {
    send(values, count, MPI_FLOAT, tag, rank_ + 1);
  }
  void send_to_next(const double* values, std::size_t count, int tag) override {
    send(values, count, MPI_DOUBLE, tag, rank_ + 1);
  }
  void send_to_previous(const float* values, std::size_t count, int tag) override {
    send(values, count, MPI_FLOAT, tag, rank_ - 1);
  }
  void send_to_previous(const double* values, std::size_t count, int tag) override {
    send(values, count, MPI_DOUBLE, tag, rank_ - 1);
  }
  void start_receive_from_next(float* values, std::size_t count, int tag) override {
    start_receive_back(values, count, MPI_FLOAT, tag);
  }
  void start_receive_from_next(double* values, std::size_t count, int tag) override {
    start_receive_back(values, count, MPI_DOUBLE, tag);
  }
  void finish_receive_from_next(int tag) override {
    wait_yielding(request_of(receives_back_, tag), "MPI_Recv");
  }
  void finish_sends() override {
    const std::lock_guard<std::mutex> lock(sends_mutex_);
    for (MPI_Request& request : sends_) wait_yielding(request, "MPI_Send");
    sends_.clear();
    for (MPI_Request& request : sends_forward_) wait_yielding(request, "MPI_Send");
  }
  int max_tag() const override { return max_tag_; }

  void broadcast_from_first(float* values, std::size_t count) override {
    detail::check_mpi(MPI_Bcast(values, checked_count(count), MPI_FLOAT, 0, communicator_),
                      "MPI_Bcast");
  }
  void broadcast_from_first(double* values, std::size_t count) override {
    detail::check_mpi(MPI_Bcast(values, checked_count(count), MPI_DOUBLE, 0, communicator_),
                      "MPI_Bcast");
  }
  void broadcast_from_first(std::string& bytes) override {
    unsigned long long length = bytes.size();
    detail::check_mpi(MPI_Bcast(&length, 1, MPI_UNSIGNED_LONG_LONG, 0, communicator_), "MPI_Bcast");
    bytes.resize(static_cast<std::size_t>(length));
    detail::check_mpi(MPI_Bcast(bytes.data(), checked_count(bytes.size()), MPI_CHAR, 0,
                                communicator_),
                      "MPI_Bcast");
  }

  void check_same_on_every_rank(const std::string& what, const std::string& value) override {
    const auto ranks = static_cast<std::size_t>(size_);
    std::vector<int> lengths(ranks), offsets(ranks);
    int length = checked_count(value.size());
    detail::check_mpi(MPI_Allgather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, communicator_),
                      "MPI_Allgather");
    std::size_t total = 0;
    for (std::size_t r = 0; r < ranks; ++r) {
      offsets[r] = checked_count(total);
      total += static_cast<std::size_t>(lengths[r]);
    }
    std::string all(total, '\0');
    detail::check_mpi(MPI_Allgatherv(value.data(), length, MPI_CHAR, all.data(), lengths.data(),
                                     offsets.data(), MPI_CHAR, communicator_),
                      "MPI_Allgatherv");
    auto of = [&](std::size_t r) {
      return all.substr(static_cast<std::size_t>(offsets[r]), static_cast<std::size_t>(lengths[r]));
    };
    std::string differences;
    for (std::size_t r = 1; r < ranks; ++r)
      if (of(r) != of(0)) differences += ", rank " + std::to_string(r) + " has '" + of(r) + "'";
    if (!differences.empty())
      throw RankMismatchError(what + " differs between ranks: rank 0 has '" + of(0) + "'" +
                              differences);
  }

 private:
  static int checked_count(std::size_t count) {
    if (count > static_cast<std::size_t>(INT_MAX))
      throw MpiError("MPI: " + std::to_string(count) +
                     " values in one call, more than an int counts");
    return static_cast<int>(count);
  }

  void receive(void* values, std::size_t count, MPI_Datatype type, int tag) {
    MPI_Request request = MPI_REQUEST_NULL;
    detail::check_mpi(
        MPI_Irecv(values, checked_count(count), type, rank_ - 1, tag, communicator_, &request),
        "MPI_Irecv");
    wait_yielding(request, "MPI_Recv");
  }

  /// Waits for `request`, giving the core away between tests: a rank that
  /// waits for the chain or the broadcast would otherwise spin at full speed
  /// (Open MPI's default unless oversubscribed) on a core that another rank,
  /// or another program, computes on. Measured on 2 cores under a load of
  /// 3-4 from other programs, the MLP VAE's step at batch 128 on 2 ranks x 1
  /// thread: 16.3-16.9 ms spinning in MPI_Recv and MPI_Bcast, 14.0-15.1 ms
  /// yielding (1 process x 2 threads: 8.5-11.4 ms as the load varied).
  static void wait_yielding(MPI_Request& request, const char* call) {
    int done = 0;
    for (;;) {
      detail::check_mpi(MPI_Test(&request, &done, MPI_STATUS_IGNORE), call);
      if (done != 0) return;
      std::this_thread::yield();
    }
  }

  /// The request kept for `tag` (MPI_REQUEST_NULL if none); the vector
  /// grows to the part count once, then is reused.
  static MPI_Request& request_of(std::vector<MPI_Request>& requests, int tag) {
    const auto i = static_cast<std::size_t>(tag);
    if (requests.size() <= i) requests.resize(i + 1, MPI_REQUEST_NULL);
    return requests[i];
  }

  void send(const void* values, std::size_t count, MPI_Datatype type, int tag, int to) {
    MPI_Request request = MPI_REQUEST_NULL;
    detail::check_mpi(
        MPI_Isend(values, checked_count(count), type, to, tag, communicator_, &request),
        "MPI_Isend");
    const std::lock_guard<std::mutex> lock(sends_mutex_);
    // Sends along the chain are kept by tag: the finished part comes back
    // into the buffer such a send reads (start_receive_back).
    if (to == rank_ + 1)
      request_of(sends_forward_, tag) = request;
    else
      sends_.push_back(request);  // grows to the part count once, then reused
  }

  void start_receive_back(void* values, std::size_t count, MPI_Datatype type, int tag) {
    {
      const std::lock_guard<std::mutex> lock(sends_mutex_);
      wait_yielding(request_of(sends_forward_, tag), "MPI_Send");
    }
    detail::check_mpi(MPI_Irecv(values, checked_count(count), type, rank_ + 1, tag, communicator_,
                                &request_of(receives_back_, tag)),
                      "MPI_Irecv");
  }

  template <typename Value>
  void sum(Value* values, std::size_t count, MPI_Datatype type, std::vector<Value>& received) {
    if (size_ == 1) return;
    if (count <= short_sum_) return sum_short(values, count, type, received);
    const Index total = static_cast<Index>(checked_count(count));
    auto begin = [&](int r) { return detail::slice_begin(total, r, size_, 1); };
    const int mine = static_cast<int>(begin(rank_ + 1) - begin(rank_));
    for (int r = 0; r < size_; ++r) {
      const auto i = static_cast<std::size_t>(r);
      send_counts_[i] = static_cast<int>(begin(r + 1) - begin(r));
      send_offsets_[i] = static_cast<int>(begin(r));
      receive_counts_[i] = mine;
      receive_offsets_[i] = r * mine;
    }
    // Grows once to its largest size: later steps allocate nothing.
    const std::size_t needed = static_cast<std::size_t>(mine) * static_cast<std::size_t>(size_);
    if (received.size() < needed) received.resize(needed);
    detail::check_mpi(MPI_Alltoallv(values, send_counts_.data(), send_offsets_.data(), type,
                                    received.data(), receive_counts_.data(),
                                    receive_offsets_.data(), type, communicator_),
                      "MPI_Alltoallv");
    // Rank 0's slice first, then each next rank's added: the rank order.
    Value* slice = values + begin(rank_);
    for (int j = 0; j < mine; ++j) slice[j] = received[static_cast<std::size_t>(j)];
    for (int r = 1; r < size_; ++r) {
      const Value* from = received.data() + static_cast<std::size_t>(r) * static_cast<std::size_t>(mine);
      for (int j = 0; j < mine; ++j) slice[j] += from[j];
    }
    detail::check_mpi(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, values,
                                     send_counts_.data(), send_offsets_.data(), type,
                                     communicator_),
                      "MPI_Allgatherv");
  }

  template <typename Value>
  void sum_short(Value* values, std::size_t count, MPI_Datatype type,
                 std::vector<Value>& received) {
    const std::size_t needed = count * static_cast<std::size_t>(size_);
    if (received.size() < needed) received.resize(needed);  // once
    MPI_Request request = MPI_REQUEST_NULL;
    detail::check_mpi(MPI_Iallgather(values, checked_count(count), type, received.data(),
                                     checked_count(count), type, communicator_, &request),
                      "MPI_Iallgather");
    wait_yielding(request, "MPI_Allgather");
    for (std::size_t j = 0; j < count; ++j) {
      Value sum = received[j];
      for (std::size_t r = 1; r < static_cast<std::size_t>(size_); ++r) sum += received[r * count + j];
      values[j] = sum;
    }
  }

  /// Up to this many values, a sum goes whole to every rank (sum_short).
  static constexpr std::size_t short_sum_ = 1024;

  MPI_Comm communicator_;
  int rank_ = 0;
  int size_ = 1;
  int max_tag_ = 32767;
  std::mutex sends_mutex_;
  std::vector<MPI_Request> sends_;          ///< to the previous rank
  std::vector<MPI_Request> sends_forward_;  ///< to the next rank, by tag
  std::vector<MPI_Request> receives_back_;  ///< from the next rank, by tag
  std::vector<int> send_counts_, send_offsets_, receive_counts_, receive_offsets_;
  std::vector<float> float_buffer_;
  std::vector<double> double_buffer_;
};

}  // namespace scvae
