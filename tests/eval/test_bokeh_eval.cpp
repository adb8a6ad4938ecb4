// The BOKEH protocol on one small simulator scene: its figures exist for both focus settings,
// dualcam's bokeh beats the naive peer with the true disparity, and the options are checked.
#include <catch2/catch.hpp>

#include <cmath>

#include "dualcam/engine/error.hpp"
#include "dualcam/eval/bokeh_eval.hpp"

using namespace dualcam;

TEST_CASE("BOKEH protocol: one scene, near and far focus, dualcam ahead of the naive peer", "[eval][bokeh]") {
  eval::BokehEvalOptions o;
  o.scenes = 1;
  o.size = {160, 120};
  o.aperture_samples = 24;
  o.engine_disparity = false;
  const Json j = eval::run_bokeh_eval(o, nullptr);
  REQUIRE(j["runs"].size() == 2);
  CHECK(j["runs"][0]["focus"] == "near");
  CHECK(j["runs"][1]["focus"] == "far");
  const Json& m = j["mean"]["ground_truth_disparity"];
  INFO(m.dump());
  CHECK(std::isfinite(m["psnr_db"].get<double>()));
  CHECK(m["psnr_db"].get<double>() > 20.0);
  CHECK(m["gain_db"].get<double>() > 1.0);
  CHECK(m["edges_gain_db"].get<double>() > 1.0);
  CHECK(m["gain_db"].get<double>() == Approx(m["psnr_db"].get<double>() - m["peer_psnr_db"].get<double>()));
  CHECK_FALSE(j["mean"].contains("engine_disparity"));

  eval::BokehEvalOptions bad = o;
  bad.aperture_samples = 0;
  CHECK_THROWS_AS(eval::run_bokeh_eval(bad, nullptr), Error);
}
