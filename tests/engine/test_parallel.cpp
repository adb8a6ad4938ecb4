#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "dualcam/engine/error.hpp"
#include "dualcam/engine/parallel.hpp"

using namespace dualcam;

TEST_CASE("The thread count is validated and 0 means all cores", "[parallel]") {
  CHECK(effective_threads(0) >= 1);
  CHECK(effective_threads(3) == 3);
  CHECK_THROWS_AS(effective_threads(-1), Error);
  CHECK_THROWS_WITH(effective_threads(100000), Catch::Contains("the thread count must be in [0, 1024]"));
}

TEST_CASE("ThreadScope limits the concurrency of parallel_rows", "[parallel]") {
  ThreadScope scope(1);
  std::atomic<int> active{0}, peak{0};
  std::vector<int> rows(1000, 0);
  scope.run([&] {
    parallel_rows(1000, 1, [&](int r0, int r1) {
      int now = ++active;
      peak = std::max(peak.load(), now);
      for (int r = r0; r < r1; ++r) rows[r] += 1;
      --active;
    });
  });
  CHECK(peak.load() == 1);
  CHECK(std::count(rows.begin(), rows.end(), 1) == 1000);
}

TEST_CASE("OpenCV's thread count: nested scopes set and restore it, a scope on another thread leaves it", "[parallel]") {
  const int before = cv::getNumThreads();
  {
    ThreadScope outer(2);
    CHECK(cv::getNumThreads() == 2);
    {
      ThreadScope inner(1);
      CHECK(cv::getNumThreads() == 1);
    }
    CHECK(cv::getNumThreads() == 2);
    int seen_on_other_thread = -1;
    std::thread other([&] {
      ThreadScope beside(1);
      seen_on_other_thread = cv::getNumThreads();
    });
    other.join();
    CHECK(seen_on_other_thread == 2);  // the other thread did not take the count over
    CHECK(cv::getNumThreads() == 2);
  }
  CHECK(cv::getNumThreads() == before);

  // While another thread's scope is open, this thread's scopes leave the count alone (it is not
  // rebuilt under the other's OpenCV loops), and the last scope to close restores it.
  {
    std::atomic<bool> opened{false}, release{false};
    std::thread other;
    {
      ThreadScope outer(2);
      other = std::thread([&] {
        ThreadScope beside(1);
        opened = true;
        while (!release) std::this_thread::yield();
      });
      while (!opened) std::this_thread::yield();
      {
        ThreadScope inner(1);
        CHECK(cv::getNumThreads() == 2);
      }
      CHECK(cv::getNumThreads() == 2);
    }
    CHECK(cv::getNumThreads() == 2);  // the other thread's scope is still open
    release = true;
    other.join();
    CHECK(cv::getNumThreads() == before);
  }

  // Two threads opening and closing scopes at the same time, each running OpenCV and TBB loops:
  // no crash, every row done, and the count restored at the end.
  // (Catch's assertions are not thread-safe: the threads count their misses.)
  std::atomic<int> misses{0};
  auto work = [&misses](int threads) {
    for (int i = 0; i < 50; ++i) {
      ThreadScope scope(threads);
      scope.run([&misses] {
        cv::Mat m(64, 64, CV_32F, cv::Scalar(1));
        cv::Mat sum;
        cv::GaussianBlur(m, sum, cv::Size(5, 5), 1.0);
        std::vector<int> rows(256, 0);
        parallel_rows(256, 8, [&](int r0, int r1) {
          for (int r = r0; r < r1; ++r) rows[r] = 1;
        });
        if (std::count(rows.begin(), rows.end(), 1) != 256 || std::abs(sum.at<float>(32, 32) - 1.f) > 1e-5f) ++misses;
      });
    }
  };
  std::thread a(work, 1), b(work, 2);
  a.join();
  b.join();
  CHECK(misses.load() == 0);
  CHECK(cv::getNumThreads() == before);
}
