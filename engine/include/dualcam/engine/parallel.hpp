#pragma once
// One threading convention (STYLE habit 8): `--threads N`, 0 = all cores, resolved once into a
// ThreadScope that owns a tbb::task_arena and tells OpenCV the same count. Algorithms use
// parallel_rows(); their results must not depend on the thread count.
//
// OpenCV's count is one process-wide setting (with its TBB backend, changing it rebuilds the arena
// its loops run in), so it is changed only while no other OS thread has a scope open: the first
// thread to open a scope sets it, and its nested scopes set and restore it in turn; while scopes of
// two threads are open (two Python threads each fusing a pair) it is left as it is, so the second
// thread's OpenCV loops share the first one's count while its TBB work keeps its own arena. The
// last scope to close restores the count from before the first.
#include <memory>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

namespace dualcam {

// 0 -> number of hardware threads; otherwise n. Throws Error(InvalidInput) for n < 0 or n > 1024.
int effective_threads(int requested);

class ThreadScope {
 public:
  explicit ThreadScope(int requested_threads);
  ~ThreadScope();
  ThreadScope(const ThreadScope&) = delete;
  ThreadScope& operator=(const ThreadScope&) = delete;

  int threads() const { return threads_; }
  // Runs f inside the arena, so every TBB algorithm it calls uses at most threads() threads.
  template <typename F>
  auto run(F&& f) -> decltype(f()) {
    return arena_->execute(std::forward<F>(f));
  }

 private:
  int threads_;
  int previous_cv_threads_ = 0;
  bool owns_cv_threads_ = false;  // this scope set OpenCV's count (and restores it when it can)
  std::unique_ptr<tbb::task_arena> arena_;
};

// Calls body(row_begin, row_end) over [0, rows) in tiles of `grain` rows. Tiles are disjoint, so
// a body that writes only its own rows gives the same result for any thread count.
template <typename Body>
void parallel_rows(int rows, int grain, Body&& body) {
  tbb::parallel_for(tbb::blocked_range<int>(0, rows, grain > 0 ? grain : 1),
                    [&](const tbb::blocked_range<int>& r) { body(r.begin(), r.end()); });
}

}  // namespace dualcam
