#include "dualcam/engine/parallel.hpp"

#include <mutex>
#include <thread>

#include <opencv2/core.hpp>

#include "dualcam/engine/error.hpp"

namespace dualcam {

int effective_threads(int requested) {
  if (requested < 0 || requested > 1024)
    throw_invalid("the thread count must be in [0, 1024] (0 = all cores), got " + std::to_string(requested));
  if (requested == 0) {
    unsigned hw = std::thread::hardware_concurrency();
    return hw == 0 ? 1 : int(hw);
  }
  return requested;
}

namespace {
// Which OS thread holds OpenCV's thread count, and how many of its scopes are open.
std::mutex cv_threads_mutex;
std::thread::id cv_threads_owner;
int cv_threads_depth = 0;
}  // namespace

ThreadScope::ThreadScope(int requested_threads) : threads_(effective_threads(requested_threads)) {
  arena_ = std::make_unique<tbb::task_arena>(threads_);
  // OpenCV's own parallel loops (remap, SGBM, filters) get the same budget, unless another OS
  // thread holds the count (see the header).
  std::lock_guard<std::mutex> lock(cv_threads_mutex);
  if (cv_threads_depth == 0) cv_threads_owner = std::this_thread::get_id();
  if (cv_threads_owner == std::this_thread::get_id()) {
    previous_cv_threads_ = cv::getNumThreads();
    cv::setNumThreads(threads_);
    owns_cv_threads_ = true;
    ++cv_threads_depth;
  }
}

ThreadScope::~ThreadScope() {
  if (!owns_cv_threads_) return;
  std::lock_guard<std::mutex> lock(cv_threads_mutex);
  cv::setNumThreads(previous_cv_threads_);
  --cv_threads_depth;
}

}  // namespace dualcam
