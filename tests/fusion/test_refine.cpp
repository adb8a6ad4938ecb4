// The refine stage on synthetic truth: hole filling, the edge-aware upsampling and the stage as
// the pipeline calls it.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include <opencv2/imgproc.hpp>

#include "dualcam/engine/error.hpp"
#include "dualcam/engine/metrics.hpp"
#include "dualcam/fusion/refine.hpp"

using namespace dualcam;
using namespace dualcam::fusion;

namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();

// A background plane (disparity 8 + a slant) and a nearer box (disparity 24) whose left edge is
// at column `edge`; the guide image is dark on the background and bright on the box, with a
// little texture.
struct Scene {
  cv::Mat truth, guide;
};

Scene two_planes(cv::Size size, int edge, int top, int bottom) {
  Scene s;
  s.truth.create(size, CV_32F);
  s.guide.create(size, CV_8U);
  cv::RNG rng(9);
  for (int y = 0; y < size.height; ++y)
    for (int x = 0; x < size.width; ++x) {
      const bool box = x >= edge && y >= top && y < bottom;
      s.truth.at<float>(y, x) = box ? 24.0f : 8.0f + 0.01f * x;
      s.guide.at<std::uint8_t>(y, x) = cv::saturate_cast<std::uint8_t>((box ? 190 : 60) + rng.uniform(-6, 7));
    }
  return s;
}

}  // namespace

TEST_CASE("Directional hole filling: occlusions take the background, mismatches the surface around them", "[refine]") {
  const Scene s = two_planes({200, 120}, 100, 30, 90);
  cv::Mat d = s.truth.clone(), occlusion(d.size(), CV_8U, cv::Scalar(0));
  // The band a right view cannot see, left of the nearer box: occluded, belongs to the background.
  for (int y = 30; y < 90; ++y)
    for (int x = 84; x < 100; ++x) {
      d.at<float>(y, x) = kNaN;
      occlusion.at<std::uint8_t>(y, x) = 255;
    }
  // Mismatches scattered over both surfaces (not occluded).
  cv::RNG rng(4);
  for (int i = 0; i < 600; ++i) {
    const int x = rng.uniform(0, 200), y = rng.uniform(0, 120);
    if (!occlusion.at<std::uint8_t>(y, x)) d.at<float>(y, x) = kNaN;
  }
  fill_holes_directional(d, occlusion);
  int occluded_bad = 0, mismatch_bad = 0, left = 0;
  for (int y = 0; y < 120; ++y)
    for (int x = 0; x < 200; ++x) {
      const float v = d.at<float>(y, x), t = s.truth.at<float>(y, x);
      if (!std::isfinite(v)) {
        ++left;
        continue;
      }
      if (occlusion.at<std::uint8_t>(y, x)) occluded_bad += std::abs(v - t) > 0.5f;
      else mismatch_bad += std::abs(v - t) > 0.5f;
    }
  CHECK(left == 0);
  CHECK(occluded_bad == 0);     // the background (8 + slant), never the box (24)
  CHECK(mismatch_bad <= 12);    // the median of 8 directions: only pixels right at the box's border may miss
}

TEST_CASE("Background fill takes the farther neighbour, and the fallback where a row has nothing", "[refine]") {
  cv::Mat d(3, 7, CV_32F, cv::Scalar(kNaN));
  d.at<float>(0, 0) = 5, d.at<float>(0, 6) = 9;  // a hole between a far (5) and a near (9) value
  d.at<float>(1, 3) = 7;                         // one value: it spreads both ways
  fill_holes_background(d, 2.5f);
  for (int x = 1; x < 6; ++x) CHECK(d.at<float>(0, x) == 5.0f);
  CHECK(d.at<float>(0, 6) == 9.0f);
  for (int x = 0; x < 7; ++x) CHECK(d.at<float>(1, x) == 7.0f);
  for (int x = 0; x < 7; ++x) CHECK(d.at<float>(2, x) == 2.5f);  // nothing known: the fallback
  cv::Mat e(1, 3, CV_32F, cv::Scalar(kNaN));
  fill_holes_background(e);  // no fallback: stays unknown
  CHECK_FALSE(std::isfinite(e.at<float>(0, 1)));
  cv::Mat wrong(3, 3, CV_8U);
  CHECK_THROWS_AS(fill_holes_background(wrong), Error);
}

TEST_CASE("Joint bilateral upsampling puts the disparity edge on the guide's edge", "[refine][upsample]") {
  // The box edge at column 101 and rows 29..89: not on the 4 px grid of the low-resolution map.
  const Scene full = two_planes({400, 240}, 101, 29, 181);
  cv::Mat low, guide_low;
  cv::resize(full.truth, low, {100, 60}, 0, 0, cv::INTER_NEAREST);
  cv::resize(full.guide, guide_low, {100, 60}, 0, 0, cv::INTER_AREA);
  low *= 0.25f;  // disparities of the low-resolution map are in its own pixels
  const cv::Mat up = upsample_disparity(low, guide_low, full.guide);
  REQUIRE(up.size() == full.truth.size());
  // A plain bilinear resize of the same map, for comparison: it smears the step over 4 px.
  cv::Mat bilinear;
  cv::resize(low * 4.0f, bilinear, full.truth.size(), 0, 0, cv::INTER_LINEAR);
  const DisparityErrors e = disparity_errors(up, full.truth), b = disparity_errors(bilinear, full.truth);
  INFO("bad-1.0 upsampled " << e.bad1 << ", bilinear " << b.bad1 << "; MAE " << e.mae_px << " / " << b.mae_px);
  CHECK(e.bad1 < 0.01);
  CHECK(e.bad1 < 0.25 * b.bad1);
  // On the surfaces themselves the values are the truth's (the slant is kept, the factor applied).
  CHECK(up.at<float>(120, 20) == Approx(full.truth.at<float>(120, 20)).margin(0.1));
  CHECK(up.at<float>(120, 300) == Approx(24.0f).margin(0.1));
  // Unknown low-resolution values are ignored, not averaged in as 0.
  cv::Mat holes = low.clone();
  holes(cv::Rect(40, 20, 3, 3)).setTo(kNaN);
  const cv::Mat up2 = upsample_disparity(holes, guide_low, full.guide);
  CHECK(up2.at<float>(86, 166) == Approx(full.truth.at<float>(86, 166)).margin(0.2));
}

TEST_CASE("The refine stage fills, filters and upsamples a working-scale match to the full-resolution truth",
          "[refine]") {
  const Scene full = two_planes({400, 240}, 101, 29, 181);
  MatchResult m;
  cv::Mat guide_low;
  cv::resize(full.truth, m.disparity, {200, 120}, 0, 0, cv::INTER_NEAREST);
  m.disparity *= 0.5f;
  cv::resize(full.guide, guide_low, {200, 120}, 0, 0, cv::INTER_AREA);
  m.occlusion = cv::Mat(m.disparity.size(), CV_8U, cv::Scalar(0));
  m.confidence = cv::Mat(m.disparity.size(), CV_32F, cv::Scalar(1));
  // An occluded band left of the box and scattered mismatches.
  m.disparity(cv::Rect(42, 15, 8, 75)).setTo(kNaN);
  m.occlusion(cv::Rect(42, 15, 8, 75)).setTo(255);
  m.confidence.setTo(0, ~(m.disparity == m.disparity));  // (cv::compare gives NaN != NaN as false)
  cv::RNG rng(2);
  for (int i = 0; i < 300; ++i) m.disparity.at<float>(rng.uniform(0, 120), rng.uniform(0, 200)) = kNaN;
  const RefinedDisparity r = refine_disparity(m, guide_low, full.guide, MatcherKind::CensusSgm, RefineOptions{});
  REQUIRE(r.disparity.size() == full.truth.size());
  REQUIRE(r.confidence.size() == full.truth.size());
  REQUIRE(r.occlusion.size() == full.truth.size());
  const DisparityErrors e = disparity_errors(r.disparity, full.truth);
  INFO("bad-1.0 " << e.bad1 << ", MAE " << e.mae_px);
  CHECK(e.bad1 < 0.01);
  CHECK(cv::countNonZero(r.disparity == r.disparity) == int(r.disparity.total()));  // every hole filled
  // Without filling, the holes stay unknown (and count as bad).
  RefineOptions nofill;
  nofill.fill_holes = false;
  const RefinedDisparity raw = refine_disparity(m, guide_low, full.guide, MatcherKind::CensusSgm, nofill);
  const double raw_bad1 = disparity_errors(raw.disparity, full.truth).bad1;
  INFO("without filling: bad-1.0 " << raw_bad1);
  CHECK(raw_bad1 > 0.01);
  // The stage leaves its input alone.
  CHECK(cv::countNonZero(m.disparity == m.disparity) < int(m.disparity.total()));
  // Bad arguments: a guide of the wrong size.
  CHECK_THROWS_AS(refine_disparity(m, full.guide, full.guide, MatcherKind::CensusSgm, RefineOptions{}), Error);
}
