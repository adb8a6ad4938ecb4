#include <catch2/catch.hpp>

#include <atomic>

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
