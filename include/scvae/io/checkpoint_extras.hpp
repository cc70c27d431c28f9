#pragma once
// CheckpointExtras: the named data a checkpoint carries beside the parameters
// (optimizer moments, epoch counters, losses, raw bytes), kept sorted by name
// so that equal extras give byte-identical files.

#include <cstdint>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "scvae/core/error.hpp"
#include "scvae/core/types.hpp"

namespace scvae {

/// Named extra data stored next to the parameters: float64 value lists (for
/// optimizer moments, epoch counters, losses) or raw bytes. Entries are kept
/// sorted by name, so equal extras give byte-identical files.
class CheckpointExtras {
 public:
  enum class Kind : std::uint8_t { kValues = 0, kBytes = 1 };

  void set_values(const std::string& name, std::vector<double> values) {
    check_name(name);
    entries_[name] = Entry{Kind::kValues, std::move(values), {}};
  }
  void set_bytes(const std::string& name, std::vector<std::uint8_t> bytes) {
    check_name(name);
    entries_[name] = Entry{Kind::kBytes, {}, std::move(bytes)};
  }
  void set_scalar(const std::string& name, double value) { set_values(name, {value}); }
  /// Stores any Eigen vector or matrix (column-major) as float64 values;
  /// float and double round-trip exactly.
  template <typename Derived>
  void set_vector(const std::string& name, const Eigen::DenseBase<Derived>& values) {
    std::vector<double> copy;
    copy.reserve(static_cast<std::size_t>(values.size()));
    for (Index j = 0; j < values.cols(); ++j)
      for (Index i = 0; i < values.rows(); ++i)
        copy.push_back(static_cast<double>(values.derived().coeff(i, j)));
    set_values(name, std::move(copy));
  }

  bool contains(const std::string& name) const { return entries_.count(name) != 0; }
  Kind kind(const std::string& name) const { return find(name).kind; }
  const std::vector<double>& values(const std::string& name) const {
    const Entry& entry = find(name);
    if (entry.kind != Kind::kValues)
      throw ArgumentError("checkpoint extra '" + name + "' holds bytes, not values");
    return entry.values;
  }
  const std::vector<std::uint8_t>& bytes(const std::string& name) const {
    const Entry& entry = find(name);
    if (entry.kind != Kind::kBytes)
      throw ArgumentError("checkpoint extra '" + name + "' holds values, not bytes");
    return entry.bytes;
  }
  /// The single value of an entry written by set_scalar.
  double scalar(const std::string& name) const {
    const std::vector<double>& list = values(name);
    if (list.size() != 1) {
      std::ostringstream out;
      out << "checkpoint extra '" << name << "': expected 1 value, got " << list.size();
      throw ShapeError(out.str());
    }
    return list[0];
  }
  /// The values of an entry as an Eigen vector of the given scalar type.
  template <typename Scalar>
  Vector<Scalar> vector(const std::string& name) const {
    const std::vector<double>& list = values(name);
    Vector<Scalar> out(static_cast<Index>(list.size()));
    for (std::size_t i = 0; i < list.size(); ++i)
      out(static_cast<Index>(i)) = static_cast<Scalar>(list[i]);
    return out;
  }

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    out.reserve(entries_.size());
    for (const auto& entry : entries_) out.push_back(entry.first);
    return out;
  }
  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  void erase(const std::string& name) { entries_.erase(name); }
  void clear() { entries_.clear(); }

  friend bool operator==(const CheckpointExtras& a, const CheckpointExtras& b) {
    if (a.entries_.size() != b.entries_.size()) return false;
    auto it = b.entries_.begin();
    for (const auto& entry : a.entries_) {
      const Entry& x = entry.second;
      const Entry& y = it->second;
      // Values compare by bit pattern, so NaNs with equal payloads are equal.
      if (entry.first != it->first || x.kind != y.kind || x.bytes != y.bytes ||
          x.values.size() != y.values.size() ||
          (!x.values.empty() &&
           std::memcmp(x.values.data(), y.values.data(), x.values.size() * sizeof(double)) != 0))
        return false;
      ++it;
    }
    return true;
  }
  friend bool operator!=(const CheckpointExtras& a, const CheckpointExtras& b) { return !(a == b); }

 private:
  struct Entry {
    Kind kind = Kind::kValues;
    std::vector<double> values;
    std::vector<std::uint8_t> bytes;
  };

  static void check_name(const std::string& name) {
    if (name.empty()) throw ArgumentError("checkpoint extra: the name must not be empty");
  }
  const Entry& find(const std::string& name) const {
    const auto it = entries_.find(name);
    if (it == entries_.end()) throw ArgumentError("no checkpoint extra named '" + name + "'");
    return it->second;
  }

  std::map<std::string, Entry> entries_;
};

}  // namespace scvae
