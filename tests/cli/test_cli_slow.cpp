// Slow CLI suites (ctest -L slow): long runs that the default suite samples in shorter form.
#include <catch2/catch.hpp>

#include "batch_fixture.hpp"

using namespace dualcam;

TEST_CASE("fuse --batch keeps its memory flat over 200 pairs", "[cli][batch][slow]") {
  test::BatchFixture f;
  const auto report = test::run_long_batch(f, 200);
  INFO("RSS after pair 5: " << test::rss_mib(report, 4) << " MiB, after pair 200: " << test::rss_mib(report, 199) << " MiB");
  CHECK(test::rss_mib(report, 199) < test::rss_mib(report, 4) + 8.0);
}
