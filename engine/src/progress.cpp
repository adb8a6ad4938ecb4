#include "dualcam/engine/progress.hpp"

#include <cstdio>
#include <utility>
#include <unistd.h>

namespace dualcam {

Progress::Progress(std::string label, int total)
    : label_(std::move(label)), total_(total), enabled_(::isatty(2) == 1), start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() { finish(); }

void Progress::advance(int n, const std::string& note) {
  done_ += n;
  if (enabled_) draw(note);
}

void Progress::draw(const std::string& note) {
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  int pct = total_ > 0 ? int(100.0 * done_ / total_ + 0.5) : 0;
  std::fprintf(stderr, "\r\033[K%s [%3d%%] %d/%d %5.1fs %s", label_.c_str(), pct, done_, total_, secs, note.c_str());
  std::fflush(stderr);
}

void Progress::finish() {
  if (enabled_ && !finished_ && done_ > 0) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
  }
  finished_ = true;
}

}  // namespace dualcam
