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
// OpenCV's thread count: changed (cv::setNumThreads rebuilds the arena OpenCV's loops run in) only
// while no scope of another OS thread is open, so never under another thread's OpenCV loop.
std::mutex cv_threads_mutex;
std::thread::id cv_threads_owner;  // the thread whose scopes may set it
int open_scopes = 0;               // on every thread
int owner_scopes = 0;              // on the owner's
int base_cv_threads = 0;           // the count before the first open scope, restored after the last
}  // namespace

ThreadScope::ThreadScope(int requested_threads) : threads_(effective_threads(requested_threads)) {
  arena_ = std::make_unique<tbb::task_arena>(threads_);
  // OpenCV's own parallel loops (remap, SGBM, filters) get the same budget, unless another OS
  // thread has a scope open (see the header).
  std::lock_guard<std::mutex> lock(cv_threads_mutex);
  if (open_scopes == 0) {
    cv_threads_owner = std::this_thread::get_id();
    base_cv_threads = cv::getNumThreads();
  }
  ++open_scopes;
  if (cv_threads_owner != std::this_thread::get_id()) return;
  ++owner_scopes;
  if (open_scopes == owner_scopes) {
    previous_cv_threads_ = cv::getNumThreads();
    cv::setNumThreads(threads_);
    owns_cv_threads_ = true;
  }
}

ThreadScope::~ThreadScope() {
  std::lock_guard<std::mutex> lock(cv_threads_mutex);
  --open_scopes;
  if (cv_threads_owner == std::this_thread::get_id()) --owner_scopes;
  if (open_scopes == 0) {
    if (cv::getNumThreads() != base_cv_threads) cv::setNumThreads(base_cv_threads);
    cv_threads_owner = std::thread::id();
  } else if (owns_cv_threads_ && open_scopes == owner_scopes) {
    cv::setNumThreads(previous_cv_threads_);
  }
}

}  // namespace dualcam
