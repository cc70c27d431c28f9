#pragma once
// What a model trained on a table must remember to read new rows and to name
// its predictions: the feature columns (with the categories of one-hot text
// columns) and each target's name, kind, rows and class names. Stored in a
// checkpoint's extras as bytes (entry "table.schema"), so a model file alone
// describes its table.

#include <cstdint>
#include <string>
#include <vector>

#include "scvae/core/error.hpp"
#include "scvae/data/table_data.hpp"
#include "scvae/io/checkpoint_extras.hpp"

namespace scvae {

struct TableTargetSchema {
  std::string name;
  TargetKind kind = TargetKind::Real;
  Index rows = 1;                       ///< Rows of the target's values.
  std::vector<std::string> categories;  ///< Categorical only.

  friend bool operator==(const TableTargetSchema& a, const TableTargetSchema& b) {
    return a.name == b.name && a.kind == b.kind && a.rows == b.rows &&
           a.categories == b.categories;
  }
};

struct TableSchema {
  std::vector<FeatureSource> features;
  std::vector<TableTargetSchema> targets;

  friend bool operator==(const TableSchema& a, const TableSchema& b) {
    return a.features == b.features && a.targets == b.targets;
  }
  friend bool operator!=(const TableSchema& a, const TableSchema& b) { return !(a == b); }
};

template <typename Scalar>
TableSchema table_schema(const TableDataT<Scalar>& data) {
  TableSchema schema;
  schema.features = data.feature_sources();
  for (const TableTargetT<Scalar>& t : data.targets())
    schema.targets.push_back(TableTargetSchema{t.name, t.kind, t.values.rows(), t.categories});
  return schema;
}

namespace detail {

constexpr const char* kTableSchemaExtra = "table.schema";
constexpr std::uint32_t kTableSchemaVersion = 1;

inline void put_u32(std::vector<std::uint8_t>& out, std::uint64_t value) {
  if (value > 0xFFFFFFFFu) throw ArgumentError("table schema: a size beyond 2^32 cannot be stored");
  for (int b = 0; b < 4; ++b) out.push_back(static_cast<std::uint8_t>(value >> (8 * b)));
}
inline void put_text(std::vector<std::uint8_t>& out, const std::string& text) {
  put_u32(out, text.size());
  out.insert(out.end(), text.begin(), text.end());
}

/// Reads the schema bytes, refusing (CheckpointError) a truncated or
/// inconsistent entry before trusting a size.
class SchemaReader {
 public:
  explicit SchemaReader(const std::vector<std::uint8_t>& bytes) : bytes_(bytes) {}
  std::uint32_t u32(const char* what) {
    need(4, what);
    std::uint32_t value = 0;
    for (int b = 0; b < 4; ++b) value |= static_cast<std::uint32_t>(bytes_[at_++]) << (8 * b);
    return value;
  }
  std::string text(const char* what) {
    const std::uint32_t size = u32(what);
    need(size, what);
    std::string out(bytes_.begin() + static_cast<std::ptrdiff_t>(at_),
                    bytes_.begin() + static_cast<std::ptrdiff_t>(at_ + size));
    at_ += size;
    return out;
  }
  /// A count of items each taking at least `min_bytes`, checked against the bytes left.
  std::uint32_t count(const char* what, std::size_t min_bytes) {
    const std::uint32_t n = u32(what);
    if (static_cast<std::uint64_t>(n) * min_bytes > bytes_.size() - at_) fail(what);
    return n;
  }
  void finish() {
    if (at_ != bytes_.size()) fail("the end (bytes after the schema)");
  }

 private:
  void need(std::size_t size, const char* what) {
    if (size > bytes_.size() - at_) fail(what);
  }
  [[noreturn]] void fail(const char* what) const {
    throw CheckpointError(std::string("checkpoint extra '") + kTableSchemaExtra +
                          "': malformed at byte " + std::to_string(at_) + " (" + what + ")");
  }
  const std::vector<std::uint8_t>& bytes_;
  std::size_t at_ = 0;
};

}  // namespace detail

/// Stores `schema` in `extras` as the entry "table.schema".
inline void save_table_schema(const TableSchema& schema, CheckpointExtras& extras) {
  std::vector<std::uint8_t> out;
  detail::put_u32(out, detail::kTableSchemaVersion);
  detail::put_u32(out, schema.features.size());
  for (const FeatureSource& f : schema.features) {
    detail::put_text(out, f.column);
    detail::put_text(out, f.category);
  }
  detail::put_u32(out, schema.targets.size());
  for (const TableTargetSchema& t : schema.targets) {
    detail::put_text(out, t.name);
    detail::put_u32(out, static_cast<std::uint32_t>(t.kind));
    detail::put_u32(out, static_cast<std::uint64_t>(t.rows));
    detail::put_u32(out, t.categories.size());
    for (const std::string& c : t.categories) detail::put_text(out, c);
  }
  extras.set_bytes(detail::kTableSchemaExtra, std::move(out));
}

/// The schema save_table_schema stored; ArgumentError if `extras` has none,
/// CheckpointError if it is malformed.
inline TableSchema load_table_schema(const CheckpointExtras& extras) {
  if (!extras.contains(detail::kTableSchemaExtra))
    throw ArgumentError(std::string("checkpoint extras: no '") + detail::kTableSchemaExtra +
                        "' entry: the model was not saved with its table's schema");
  detail::SchemaReader in(extras.bytes(detail::kTableSchemaExtra));
  const std::uint32_t version = in.u32("version");
  if (version != detail::kTableSchemaVersion)
    throw CheckpointError(std::string("checkpoint extra '") + detail::kTableSchemaExtra +
                          "': version " + std::to_string(version) + ", this library reads " +
                          std::to_string(detail::kTableSchemaVersion));
  TableSchema schema;
  const std::uint32_t features = in.count("feature count", 8);
  for (std::uint32_t f = 0; f < features; ++f) {
    FeatureSource source;
    source.column = in.text("feature column");
    source.category = in.text("feature category");
    schema.features.push_back(std::move(source));
  }
  const std::uint32_t targets = in.count("target count", 16);
  for (std::uint32_t t = 0; t < targets; ++t) {
    TableTargetSchema target;
    target.name = in.text("target name");
    const std::uint32_t kind = in.u32("target kind");
    if (kind > static_cast<std::uint32_t>(TargetKind::Binary))
      throw CheckpointError(std::string("checkpoint extra '") + detail::kTableSchemaExtra +
                            "': target \"" + target.name + "\" has an unknown kind " +
                            std::to_string(kind));
    target.kind = static_cast<TargetKind>(kind);
    target.rows = static_cast<Index>(in.u32("target rows"));
    const std::uint32_t categories = in.count("category count", 4);
    for (std::uint32_t c = 0; c < categories; ++c) target.categories.push_back(in.text("category"));
    schema.targets.push_back(std::move(target));
  }
  in.finish();
  return schema;
}

}  // namespace scvae
