#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include <opencv2/calib3d.hpp>
#include <opencv2/imgproc.hpp>

#include "dualcam/datasets/sample.hpp"
#include "dualcam/engine/color.hpp"
#include "dualcam/fusion/rectify.hpp"
#include "dualcam/fusion/warp.hpp"

using namespace dualcam;

namespace {
datasets::Sample small_sample() {
  datasets::SampleOptions o;
  o.size = {240, 180};
  o.supersample = 2;
  return datasets::make_sample(o);
}
}  // namespace

TEST_CASE("Un-rectifying a rectified image gives every pixel back at its own position", "[rectify]") {
  // Coordinate ramps instead of a textured image: the round trip must return each pixel's own
  // x and y, which measures the geometry and not the interpolation blur.
  datasets::Sample s = small_sample();
  fusion::Rectifier rect(s.rig);
  const cv::Size size = s.rig.color.size;
  cv::Mat ramp(size, CV_32FC2);
  for (int r = 0; r < size.height; ++r)
    for (int c = 0; c < size.width; ++c) ramp.at<cv::Vec2f>(r, c) = cv::Vec2f(float(c), float(r));
  cv::Mat valid;
  cv::Mat back = rect.unrectify_to_color(rect.rectify_color(ramp), cv::INTER_LINEAR, &valid);
  cv::Mat inner;
  cv::erode(valid, inner, cv::Mat(), cv::Point(-1, -1), 3, cv::BORDER_CONSTANT, cv::Scalar(0));
  REQUIRE(cv::countNonZero(inner) > 0.8 * inner.total());
  // The rectified image's own border (where its source fell outside the camera) blends with
  // the zero fill, so a thin rim is excluded; everywhere else the error is a small fraction of
  // a pixel.
  long long n = 0, off = 0;
  for (int r = 0; r < size.height; ++r)
    for (int c = 0; c < size.width; ++c)
      if (inner.at<std::uint8_t>(r, c)) {
        ++n;
        off += cv::norm(back.at<cv::Vec2f>(r, c) - ramp.at<cv::Vec2f>(r, c)) > 0.05;
      }
  INFO(off << " of " << n << " pixels off by more than 0.05 px");
  CHECK(off < 0.01 * n);
}

// The sample's rig with strong lens distortion on both cameras, one above the other (a
// transposed canonical frame): the maps' grids are checked against OpenCV's per-pixel maps on it.
namespace {
StereoRig distorted_vertical_rig() {
  StereoRig rig = small_sample().rig;
  rig.color.dist = (cv::Mat_<double>(1, 5) << -0.28, 0.12, 0.0015, -0.0008, -0.02);
  rig.mono.dist = (cv::Mat_<double>(1, 5) << 0.15, -0.05, -0.001, 0.0005, 0.0);
  rig.T = cv::Vec3d(rig.T[1], rig.T[0], rig.T[2]);
  return rig;
}
}  // namespace

TEST_CASE("The maps (interpolated on a grid) match OpenCV's per-pixel maps both ways", "[rectify]") {
  // A strongly distorted rig, cameras one above the other (transposed canonical frame).
  const StereoRig rig = distorted_vertical_rig();
  fusion::Rectifier rect(rig);
  const RectifyGeometry& g = rect.geometry();
  REQUIRE(g.vertical);
  const auto expect_within = [](double color, double mono) {
    INFO("largest difference, colour " << color << " px, mono " << mono << " px");
    CHECK(color < 0.01);
    CHECK(mono < 0.01);
  };
  SECTION("inverse: every camera pixel's canonical position against cv::undistortPoints at it") {
    const auto check = [&](const CameraModel& cam, const cv::Matx33d& R, const cv::Matx34d& P,
                           const fusion::Rectifier::Maps& maps) {
      REQUIRE(maps.size() == cam.size);
      const fusion::Rectifier::Maps::Dense m = maps.dense();
      double worst = 0;
      for (int r = 0; r < cam.size.height; ++r) {
        std::vector<cv::Point2f> src, dst;
        for (int c = 0; c < cam.size.width; ++c) src.emplace_back(float(c), float(r));
        cv::undistortPoints(src, dst, cv::Mat(cam.K), cam.dist, cv::Mat(R), cv::Mat(P));
        for (int c = 0; c < cam.size.width; ++c) {
          float x = dst[c].x, y = dst[c].y;
          if (g.vertical) std::swap(x, y);
          if (g.flip) x = float(g.canonical_size().width - 1) - x;
          worst = std::max(worst, double(std::hypot(m.x.at<float>(r, c) - x, m.y.at<float>(r, c) - y)));
        }
      }
      return worst;
    };
    expect_within(check(rig.color, g.R2, g.P2, rect.canonical_from_color()), check(rig.mono, g.R1, g.P1, rect.canonical_from_mono()));
  }
  SECTION("forward: every canonical pixel's camera pixel against cv::initUndistortRectifyMap") {
    const auto check = [&](const CameraModel& cam, const cv::Matx33d& R, const cv::Matx34d& P,
                           const fusion::Rectifier::Maps& maps) {
      REQUIRE(maps.size() == g.canonical_size());
      REQUIRE(maps.step() > 1);  // a grid, not every pixel
      cv::Mat x, y;
      cv::initUndistortRectifyMap(cv::Mat(cam.K), cam.dist, cv::Mat(R), cv::Mat(P).colRange(0, 3), g.size, CV_32FC1, x, y);
      if (g.vertical) {
        cv::transpose(x, x);
        cv::transpose(y, y);
      }
      if (g.flip) {
        cv::flip(x, x, 1);
        cv::flip(y, y, 1);
      }
      const fusion::Rectifier::Maps::Dense m = maps.dense();
      double worst = 0, worst_at = 0;
      for (int r = 0; r < x.rows; ++r)
        for (int c = 0; c < x.cols; ++c) {
          // Only where the canonical pixel shows the camera (the maps go on smoothly beyond it).
          const float ex = x.at<float>(r, c), ey = y.at<float>(r, c);
          if (ex < 0 || ey < 0 || ex > cam.size.width - 1 || ey > cam.size.height - 1) continue;
          worst = std::max(worst, double(std::hypot(m.x.at<float>(r, c) - ex, m.y.at<float>(r, c) - ey)));
          const cv::Point2f p = maps.at(float(c), float(r));
          worst_at = std::max(worst_at, double(std::hypot(p.x - ex, p.y - ey)));
        }
      CHECK(worst_at == Approx(worst).margin(1e-3));  // at() is the same bilinear surface
      return worst;
    };
    expect_within(check(rig.color, g.R2, g.P2, rect.color_from_canonical()), check(rig.mono, g.R1, g.P1, rect.mono_from_canonical()));
  }
}

TEST_CASE("Simulator truth is self-consistent: warping the colour view by the true disparity gives the mono view",
          "[rectify][truth]") {
  datasets::Sample s = small_sample();
  fusion::Rectifier rect(s.rig);
  const cv::Mat mono_view = to_linear(s.truth_color_at_mono);
  const cv::Mat color_view = to_linear(s.truth_color_at_color);
  // The truth is in the mono image's pixels (engine/disparity.hpp); the warp takes canonical ones.
  const cv::Mat disp = rect.rectify_mono(s.disparity_mono, cv::INTER_NEAREST) / rect.mono_disparity_scale();
  auto agreement = [&](const cv::Mat& d) {
    cv::Mat valid;
    cv::Mat warped = fusion::warp_through_rig(color_view, rect, d, fusion::Reference::Mono, &valid);
    // Compare slightly blurred images: the test is about geometry, not interpolation blur.
    cv::Mat a, b, err;
    cv::GaussianBlur(warped, a, cv::Size(0, 0), 1.0);
    cv::GaussianBlur(mono_view, b, cv::Size(0, 0), 1.0);
    cv::cvtColor(cv::abs(a - b), err, cv::COLOR_BGR2GRAY);
    cv::Mat inside;
    cv::erode(valid, inside, cv::Mat(), cv::Point(-1, -1), 4);
    long long n = 0, good = 0;
    for (int r = 0; r < err.rows; ++r)
      for (int c = 0; c < err.cols; ++c)
        if (inside.at<std::uint8_t>(r, c)) {
          ++n;
          good += err.at<float>(r, c) < 0.01f;
        }
    REQUIRE(n > 0.5 * err.total());
    return double(good) / double(n);
  };
  const double exact = agreement(disp);
  INFO("share of agreeing pixels: " << exact);
  // Occluded pixels (their match is hidden in the colour view) and high-contrast texture (the
  // warp's interpolation) differ; the rest must agree, and best at the true disparity.
  CHECK(exact > 0.8);
  // Half a pixel either way already loses most of the agreement: the check can fail.
  CHECK(agreement(disp + 0.5) < exact - 0.25);
  CHECK(agreement(disp - 0.5) < exact - 0.25);
}

TEST_CASE("The rectifier cache builds a rig's maps once, and a corrected copy leaves them as they are", "[rectify]") {
  const datasets::Sample s = small_sample();
  fusion::clear_rectifier_cache();
  const auto a = fusion::cached_rectifier(s.rig);
  StereoRig with_extras = s.rig;
  with_extras.extras["rms_px"] = 0.25;  // not geometry: the same maps
  CHECK(fusion::cached_rectifier(with_extras) == a);
  RectifyOptions zoomed;
  zoomed.alpha = 0;
  const auto b = fusion::cached_rectifier(s.rig, zoomed);  // other options: other maps
  CHECK(b != a);
  StereoRig moved = s.rig;
  moved.T[0] += 1.0;
  const auto c = fusion::cached_rectifier(moved);
  CHECK(c != b);
  CHECK(c->geometry().baseline != Approx(a->geometry().baseline));

  const cv::Mat inv_before = c->canonical_from_color().dense().x, fwd_before = c->color_from_canonical().dense().x;
  fusion::Rectifier copy = *c;
  copy.correct_color(cv::Matx33d(1, 0, 0, 0, 1, 0.5, 0, 0, 1));  // half a row down
  CHECK(cv::norm(c->canonical_from_color().dense().x, inv_before, cv::NORM_INF) == 0);
  CHECK(cv::norm(c->color_from_canonical().dense().x, fwd_before, cv::NORM_INF) == 0);
  CHECK(cv::norm(copy.canonical_from_color().dense().y, c->canonical_from_color().dense().y, cv::NORM_INF) ==
        Approx(0.5).margin(1e-3));
  // The cached rectifier is the one built directly.
  const fusion::Rectifier direct(moved);
  CHECK(cv::norm(direct.canonical_from_color().dense().x, c->canonical_from_color().dense().x, cv::NORM_INF) == 0);
  fusion::clear_rectifier_cache();
  CHECK(fusion::cached_rectifier(moved) != c);
}
