#pragma once
// Writes one JSON object per epoch to a .jsonl file, flushed at once, so a
// run stopped midway still leaves every finished epoch on disk.

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "scvae/core/error.hpp"
#include "scvae/train/callback.hpp"

namespace scvae {

/// A JSON number, or null for NaN and infinity (which JSON cannot hold).
inline std::string json_number(double value) {
  if (!std::isfinite(value)) return "null";
  char text[32];
  std::snprintf(text, sizeof text, "%.10g", value);
  return text;
}

class MetricsWriter : public Callback {
 public:
  /// `append` keeps an existing file's lines (resuming a run).
  explicit MetricsWriter(std::string path, bool append = false)
      : path_(std::move(path)), append_(append) {}

  void on_train_begin(Index, Index) override {
    file_.open(path_, append_ ? std::ios::app : std::ios::trunc);
    if (!file_) throw IoError(path_ + ": cannot open the metrics file for writing");
  }

  bool on_epoch_end(EpochReport& r) override {
    std::ostringstream line;
    line << "{\"epoch\": " << r.epoch << ", \"train_seconds\": " << json_number(r.train_seconds)
         << ", \"train_loss\": " << json_number(r.train_loss)
         << ", \"train_kl\": " << json_number(r.train_kl) << ", \"beta\": " << json_number(r.beta)
         << ", \"learning_rate\": " << json_number(r.learning_rate);
    for (const auto& [name, value] : r.metrics)
      line << ", \"" << name << "\": " << json_number(value);
    line << "}\n";
    file_ << line.str() << std::flush;
    if (!file_) throw IoError(path_ + ": writing the metrics failed");
    return false;
  }

  void on_train_end() override { file_.close(); }

 private:
  std::string path_;
  bool append_;
  std::ofstream file_;
};

}  // namespace scvae
