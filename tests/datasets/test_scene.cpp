#include <catch2/catch.hpp>

#include <cmath>

#include "dualcam/datasets/sample.hpp"
#include "dualcam/datasets/scene.hpp"

using namespace dualcam;
using namespace dualcam::datasets;

TEST_CASE("Renderer: a fronto-parallel plane has the depth of the plane everywhere", "[scene]") {
  Scene s;
  Patch p;
  p.origin = {0, 0, 500};
  p.axis_u = {1, 0, 0};
  p.axis_v = {0, 1, 0};
  s.patches.push_back(p);
  PlacedCamera cam;
  cam.model.K = cv::Matx33d(100, 0, 31.5, 0, 100, 23.5, 0, 0, 1);
  cam.model.size = {64, 48};
  RenderedView v = render(s, cam);
  double lo, hi;
  cv::minMaxLoc(v.depth, &lo, &hi);
  CHECK(lo == Approx(500));
  CHECK(hi == Approx(500));
}

TEST_CASE("The embedded sample is deterministic and its truth is sane", "[sample]") {
  SampleOptions o;
  o.size = {160, 120};
  o.supersample = 1;
  Sample a = make_sample(o), b = make_sample(o);
  CHECK(cv::norm(a.color, b.color, cv::NORM_INF) == 0);
  CHECK(cv::norm(a.mono, b.mono, cv::NORM_INF) == 0);
  double lo, hi;
  cv::minMaxLoc(a.disparity_mono, &lo, &hi);
  // Depth range chosen for about 8..45 px of disparity at 480 px: a third of that at 160 px.
  CHECK(lo > 1.5);
  CHECK(hi < 20);
  CHECK(cv::checkRange(a.disparity_mono));  // no NaN: the wall fills the view
}
