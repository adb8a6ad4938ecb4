#include "dualcam/engine/parallel.hpp"

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

ThreadScope::ThreadScope(int requested_threads)
    : threads_(effective_threads(requested_threads)), previous_cv_threads_(cv::getNumThreads()) {
  arena_ = std::make_unique<tbb::task_arena>(threads_);
  // OpenCV's own parallel loops (remap, SGBM, filters) get the same budget.
  cv::setNumThreads(threads_);
}

ThreadScope::~ThreadScope() { cv::setNumThreads(previous_cv_threads_); }

}  // namespace dualcam
