#pragma once
// A rank group that only says which rank it is: the shards of an evaluation
// without MPI. Its sums leave the values as they are, and count the calls.

#include <cstddef>
#include <string>

#include "scvae/exec/rank_group.hpp"

namespace scvae::eval_testing {

/// Rank `rank` of `size`, as the shards see it; no exchange (sums are left
/// as they are).
class ShardsTestRankGroup final : public RankGroup {
 public:
  ShardsTestRankGroup(int rank, int size) : rank_(rank), size_(size) {}
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void sum_in_rank_order(float*, std::size_t) override {}
  void sum_in_rank_order(double*, std::size_t) override { ++sums; }
  void receive_from_previous(float*, std::size_t, int) override {}
  void receive_from_previous(double*, std::size_t, int) override {}
  void send_to_next(const float*, std::size_t, int) override {}
  void send_to_next(const double*, std::size_t, int) override {}
  void send_to_previous(const float*, std::size_t, int) override {}
  void send_to_previous(const double*, std::size_t, int) override {}
  void start_receive_from_next(float*, std::size_t, int) override {}
  void start_receive_from_next(double*, std::size_t, int) override {}
  void finish_receive_from_next(int) override {}
  void finish_sends() override {}
  int max_tag() const override { return 1000; }
  void broadcast_from_first(float*, std::size_t) override {}
  void broadcast_from_first(double*, std::size_t) override {}
  void broadcast_from_first(std::string&) override {}
  void check_same_on_every_rank(const std::string&, const std::string&) override {}

  int sums = 0;

 private:
  int rank_;
  int size_;
};

}  // namespace scvae::eval_testing
