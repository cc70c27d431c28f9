#pragma once
// A small vector with inline storage: one value per task of a model.

#include <algorithm>
#include <array>
#include <cstddef>
#include <initializer_list>
#include <vector>

namespace scvae {

/// One value per task, like a std::vector but with up to N values stored
/// inline, so that a LossParts returned from every train step allocates
/// nothing (more tasks than N fall back to the heap). It converts to and
/// compares with std::vector.
template <typename T, std::size_t N = 8>
class TaskArray {
 public:
  using value_type = T;
  using size_type = std::size_t;
  using reference = T&;
  using const_reference = const T&;
  using iterator = T*;
  using const_iterator = const T*;

  TaskArray() = default;
  TaskArray(std::initializer_list<T> values) { assign(values.begin(), values.end()); }
  TaskArray(const std::vector<T>& values) { assign(values.begin(), values.end()); }  // NOLINT
  TaskArray(size_type count, const T& value) { assign(count, value); }

  size_type size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T* data() { return size_ > N ? heap_.data() : inline_.data(); }
  const T* data() const { return size_ > N ? heap_.data() : inline_.data(); }
  T& operator[](size_type i) { return data()[i]; }
  const T& operator[](size_type i) const { return data()[i]; }
  T& front() { return data()[0]; }
  const T& front() const { return data()[0]; }
  T& back() { return data()[size_ - 1]; }
  const T& back() const { return data()[size_ - 1]; }
  iterator begin() { return data(); }
  iterator end() { return data() + size_; }
  const_iterator begin() const { return data(); }
  const_iterator end() const { return data() + size_; }

  void clear() { resize(0); }
  void assign(size_type count, const T& value) {
    resize(0);
    resize(count, value);
  }
  template <typename It>
  void assign(It first, It last) {
    resize(0);
    for (; first != last; ++first) push_back(*first);
  }
  void push_back(const T& value) { resize(size_ + 1, value); }
  void resize(size_type count, const T& value = T()) {
    if (count <= N) {
      if (size_ > N)
        std::copy(heap_.begin(), heap_.begin() + static_cast<std::ptrdiff_t>(count),
                  inline_.begin());
      for (size_type i = size_; i < count; ++i) inline_[i] = value;
      heap_.clear();
    } else {
      if (size_ <= N)
        heap_.assign(inline_.begin(), inline_.begin() + static_cast<std::ptrdiff_t>(size_));
      heap_.resize(count, value);
    }
    size_ = count;
  }

  operator std::vector<T>() const { return std::vector<T>(begin(), end()); }  // NOLINT

  friend bool operator==(const TaskArray& a, const TaskArray& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }
  friend bool operator!=(const TaskArray& a, const TaskArray& b) { return !(a == b); }
  friend bool operator==(const TaskArray& a, const std::vector<T>& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }
  friend bool operator==(const std::vector<T>& a, const TaskArray& b) { return b == a; }
  friend bool operator!=(const TaskArray& a, const std::vector<T>& b) { return !(a == b); }
  friend bool operator!=(const std::vector<T>& a, const TaskArray& b) { return !(b == a); }

 private:
  std::array<T, N> inline_{};
  std::vector<T> heap_;  // holds the values when there are more than N
  size_type size_ = 0;
};

}  // namespace scvae
