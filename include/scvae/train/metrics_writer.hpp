#pragma once
// Writes one JSON object per epoch to a .jsonl file, flushed at once, so a
// run stopped midway still leaves every finished epoch on disk. The file is
// left as it was until the first line is written: add the writer after the
// checkpoint callback, and a fresh run that fails before its first
// checkpoint keeps the previous run's metrics, which still describe the
// previous run's model. A resumed run first drops the lines of epochs after
// the checkpoint it resumes from (written after that checkpoint by a run
// that was then killed), so the file matches the model.

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "scvae/core/error.hpp"
#include "scvae/core/types.hpp"
#include "scvae/train/callback.hpp"

namespace scvae {

/// A JSON number, or null for NaN and infinity (which JSON cannot hold).
inline std::string json_number(double value) {
  if (!std::isfinite(value)) return "null";
  char text[32];
  std::snprintf(text, sizeof text, "%.10g", value);
  return text;
}

/// The epoch of a metrics line that starts with {"epoch": N, or -1.
inline Index metrics_line_epoch(const std::string& line) {
  static const std::string prefix = "{\"epoch\": ";
  if (line.compare(0, prefix.size(), prefix) != 0) return -1;
  const char* start = line.c_str() + prefix.size();
  char* end = nullptr;
  const long long epoch = std::strtoll(start, &end, 10);
  return end == start || epoch < 0 ? -1 : static_cast<Index>(epoch);
}

/// The metrics file at `path` cut before its first line of an epoch after
/// `epoch` (that line and all after it are dropped; a missing file is
/// fine). Returns the number of lines dropped.
inline Index truncate_metrics(const std::string& path, Index epoch) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return 0;
  std::string kept, line;
  Index dropped = 0;
  bool cut = false;
  while (std::getline(in, line)) {
    if (!cut && metrics_line_epoch(line) > epoch) cut = true;
    if (cut)
      ++dropped;
    else
      kept += line + "\n";
  }
  in.close();
  if (dropped == 0) return 0;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << kept << std::flush;
  if (!out)
    throw IoError(path + ": cutting the metrics back to epoch " + std::to_string(epoch) +
                  " failed");
  return dropped;
}

/// A metrics .jsonl file that changes nothing on disk before its first line:
/// then it replaces the file, or with `append` adds to it, having first cut
/// it back to epoch `cut_after` if that is >= 0 (a resumed run: the epochs
/// its checkpoint holds).
class MetricsFile {
 public:
  explicit MetricsFile(std::string path, bool append = false, Index cut_after = -1)
      : path_(std::move(path)), append_(append), cut_after_(cut_after) {}

  const std::string& path() const { return path_; }

  /// Fails now, not after an epoch of training, if the file cannot be
  /// written; leaves its contents as they are.
  void check_writable() const {
    std::ofstream probe(path_, std::ios::app);
    if (!probe) throw IoError(path_ + ": cannot open the metrics file for writing");
  }

  /// Writes one line (with its newline) and flushes it.
  void write(const std::string& line) {
    if (!file_.is_open()) {
      if (append_ && cut_after_ >= 0) truncate_metrics(path_, cut_after_);
      file_.open(path_, append_ ? std::ios::app : std::ios::trunc);
      if (!file_) throw IoError(path_ + ": cannot open the metrics file for writing");
    }
    file_ << line << std::flush;
    if (!file_) throw IoError(path_ + ": writing the metrics failed");
  }

  void close() {
    if (!file_.is_open()) return;
    file_.close();
    if (!file_) throw IoError(path_ + ": writing the metrics failed");
  }

 private:
  std::string path_;
  bool append_;
  Index cut_after_;
  std::ofstream file_;
};

class MetricsWriter : public Callback {
 public:
  /// `append` keeps an existing file's lines up to the epoch training
  /// resumes from (resuming a run); otherwise the first line replaces it.
  explicit MetricsWriter(std::string path, bool append = false)
      : file_(path), path_(std::move(path)), append_(append) {}

  void on_train_begin(Index first_epoch, Index) override {
    file_ = MetricsFile(path_, append_, append_ && first_epoch > 0 ? first_epoch : -1);
    file_.check_writable();
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
    file_.write(line.str());
    return false;
  }

  void on_train_end() override { file_.close(); }

 private:
  MetricsFile file_;
  std::string path_;
  bool append_;
};

}  // namespace scvae
