#pragma once
// JSON run reports: what a command did, with timings per stage, metrics and versions. A stage's
// result struct serialises into one (STYLE habit 2).
#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

namespace dualcam {

using Json = nlohmann::json;

class RunReport {
 public:
  explicit RunReport(const std::string& command);
  Json& json() { return j_; }
  const Json& json() const { return j_; }
  void add_stage_seconds(const std::string& stage, double seconds);
  // Writes the report atomically (pretty-printed).
  void write(const std::string& path) const;

 private:
  Json j_;
};

// Versions of dualcam and its main libraries, for reports.
Json version_info();

// Measures wall time since construction.
class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }
  void reset() { start_ = std::chrono::steady_clock::now(); }

 private:
  std::chrono::steady_clock::time_point start_;
};

// Peak resident memory of this process so far, in bytes (VmHWM).
long long peak_rss_bytes();
long long current_rss_bytes();

}  // namespace dualcam
