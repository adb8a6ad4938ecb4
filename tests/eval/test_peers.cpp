// The peers' failure modes that the engine is measured against: the naive Gaussian bokeh blurs
// across depth edges (a blurred background bleeds onto a sharp foreground's border, a blurred
// foreground stops at its silhouette). tests/fusion/test_bokeh.cpp checks render_bokeh on the
// same scenes.
#include <catch2/catch.hpp>

#include <cmath>

#include <opencv2/core.hpp>

#include "dualcam/engine/error.hpp"
#include "dualcam/eval/peers.hpp"

using namespace dualcam;

namespace {

// Left half (x < split) at disparity d_left, the rest at d_right.
cv::Mat two_planes(cv::Size size, int split, float d_left, float d_right) {
  cv::Mat d(size, CV_32F, cv::Scalar(d_right));
  d(cv::Rect(0, 0, split, size.height)).setTo(d_left);
  return d;
}

// Two flat colours: BGR `left` for x < split, `right` elsewhere.
cv::Mat two_colours(cv::Size size, int split, cv::Scalar left, cv::Scalar right) {
  cv::Mat img(size, CV_32FC3, right);
  img(cv::Rect(0, 0, split, size.height)).setTo(left);
  return img;
}

}  // namespace

TEST_CASE("Naive Gaussian bokeh: a blurred background bleeds onto the sharp foreground's border", "[eval][peers]") {
  const cv::Size size(160, 100);
  const int split = 80;
  // Foreground (left, disparity 20) in focus, blue 0.9; background (right, 10) blurred with radius 8, blue 0.05.
  const cv::Mat img = two_colours(size, split, cv::Scalar(0.9, 0.4, 0.4), cv::Scalar(0.05, 0.4, 0.4));
  fusion::BokehOptions o;
  o.focus_disparity_px = 20;
  o.blur_per_disparity = 0.8;
  const cv::Mat peer = eval::naive_gaussian_bokeh(img, two_planes(size, split, 20, 10), o);
  REQUIRE(peer.type() == CV_32FC3);
  // The background beside the edge takes the foreground's blue (render_bokeh keeps it below 0.06).
  std::vector<cv::Mat> ch;
  cv::split(peer(cv::Rect(split, 0, 6, size.height)), ch);
  double blue;
  cv::minMaxLoc(ch[0], nullptr, &blue);
  CHECK(blue > 0.2);
  // The focus plane, away from the edge, is untouched.
  CHECK(cv::norm(peer(cv::Rect(0, 0, split - 20, size.height)), img(cv::Rect(0, 0, split - 20, size.height)),
                 cv::NORM_INF) < 1e-5);
}

TEST_CASE("Naive Gaussian bokeh: a blurred foreground stops at its silhouette", "[eval][peers]") {
  const cv::Size size(160, 60);
  const int split = 80;
  const cv::Mat img = two_colours(size, split, cv::Scalar(0.8, 0.1, 0.1), cv::Scalar(0.1, 0.1, 0.8));
  // Foreground (left, disparity 30) blurred with radius 10; background (right, 10) in focus.
  fusion::BokehOptions o;
  o.focus_disparity_px = 10;
  o.blur_per_disparity = 0.5;
  const cv::Mat peer = eval::naive_gaussian_bokeh(img, two_planes(size, split, 30, 10), o);
  // render_bokeh spreads 15 to 60 % of the foreground's blue 2 px outside it; the peer none.
  const float blue_share = (peer.at<cv::Vec3f>(size.height / 2, split + 2)[0] - 0.1f) / 0.7f;
  CHECK(std::abs(blue_share) < 0.02);
  CHECK_THROWS_AS(eval::naive_gaussian_bokeh(img, cv::Mat(10, 10, CV_32F, cv::Scalar(1)), o), Error);
}
