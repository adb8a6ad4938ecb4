// The calibration protocol calib-synthetic end to end on one rig (about 25 s: ctest -L slow).
#include <catch2/catch.hpp>

#include "dualcam/engine/error.hpp"
#include "dualcam/eval/calib_eval.hpp"

using namespace dualcam;
using namespace dualcam::eval;

TEST_CASE("calib-synthetic on one rig: per-rig errors for the engine and the peer, and their summaries",
          "[eval][calib]") {
  CalibEvalOptions o;
  o.protocol = "calib-synthetic";
  o.rigs = 1;
  o.views = 8;
  const Json j = run_calib_eval(o, nullptr);
  REQUIRE(j["rigs"].size() == 1);
  for (const char* m : {"engine", "peer"}) {
    INFO(m << ": " << j[m].dump());
    CHECK(j[m]["failed_rigs"] == 0);
    CHECK(j[m]["median_baseline_pct"].get<double>() < 2.0);
    CHECK(j[m]["median_rotation_deg"].get<double>() < 0.5);
  }
  CHECK(j["engine"]["tested"].get<int>() == 10);  // fx fy cx cy of both cameras, rotation, baseline
}
