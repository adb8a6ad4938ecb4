#pragma once
// Progress of long work on stderr, drawn only when stderr is a terminal (never in logs or pipes).
#include <chrono>
#include <string>

namespace dualcam {

class Progress {
 public:
  // `total` steps of work labelled `label`; drawn only when stderr is a terminal.
  Progress(std::string label, int total);
  ~Progress();
  void set_total(int total) { total_ = total; }
  // Marks `n` more steps done, with an optional note on what is being done.
  void advance(int n = 1, const std::string& note = "");
  void finish();
  bool enabled() const { return enabled_; }

 private:
  void draw(const std::string& note);
  std::string label_;
  int total_;
  int done_ = 0;
  bool enabled_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace dualcam
