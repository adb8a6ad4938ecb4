#include <catch2/catch.hpp>

#include <opencv2/imgproc.hpp>

#include "dualcam/datasets/sensor.hpp"
#include "dualcam/engine/color.hpp"

using namespace dualcam;
using namespace dualcam::datasets;

TEST_CASE("RGGB mosaic + demosaic keeps flat colours in their channels (no swaps)", "[sensor]") {
  for (cv::Scalar bgr : {cv::Scalar(200, 30, 10), cv::Scalar(10, 200, 30), cv::Scalar(20, 40, 220)}) {
    cv::Mat img(16, 16, CV_8UC3, bgr);
    cv::Mat back = demosaic_rggb(mosaic_rggb(img));
    cv::Mat inner = back(cv::Rect(4, 4, 8, 8));
    cv::Scalar mean = cv::mean(inner);
    for (int k = 0; k < 3; ++k) CHECK(std::abs(mean[k] - bgr[k]) < 2);
  }
  cv::Mat raw = mosaic_rggb(cv::Mat(4, 4, CV_8UC3, cv::Scalar(1, 2, 3)));
  CHECK(raw.at<std::uint8_t>(0, 0) == 3);  // R
  CHECK(raw.at<std::uint8_t>(0, 1) == 2);  // G
  CHECK(raw.at<std::uint8_t>(1, 1) == 1);  // B
}

TEST_CASE("Colour sensor noise follows the light level and the mean is kept", "[sensor]") {
  cv::Mat grey(128, 128, CV_32FC3, cv::Scalar::all(0.18));
  ColorSensor good, dim;
  good.light = 1.0;
  dim.light = 0.05;
  good.bayer = dim.bayer = false;
  cv::Mat a = to_linear(simulate_color(grey, good, 1)), b = to_linear(simulate_color(grey, dim, 1));
  cv::Scalar ma, sa, mb, sb;
  cv::meanStdDev(a, ma, sa);
  cv::meanStdDev(b, mb, sb);
  // Photon noise sqrt(0.18 / 4000 l) plus read noise 0.004 / sqrt(l).
  const double expect_good = std::sqrt(0.18 / 4000 + 0.004 * 0.004);
  const double expect_dim = std::sqrt(0.18 / 200 + 0.004 * 0.004 / 0.05);
  CHECK(sa[0] == Approx(expect_good).epsilon(0.25));
  CHECK(sb[0] == Approx(expect_dim).epsilon(0.15));
  CHECK(ma[0] == Approx(0.18).epsilon(0.03));
  CHECK(mb[0] == Approx(0.18).epsilon(0.05));
  // Deterministic for a seed.
  CHECK(cv::norm(simulate_color(grey, dim, 9), simulate_color(grey, dim, 9), cv::NORM_INF) == 0);
}

TEST_CASE("Mono sensor applies the panchromatic weights and gain", "[sensor]") {
  cv::Mat patch(64, 64, CV_32FC3, cv::Scalar(0.1, 0.2, 0.3));
  MonoSensor s;
  s.noise = 0;
  cv::Mat m = to_linear(simulate_mono(patch, s, 3));
  const double expect = 1.15 * (0.25 * 0.1 + 0.45 * 0.2 + 0.30 * 0.3);
  CHECK(cv::mean(m)[0] == Approx(expect).epsilon(0.01));
  s.w_b = 0.2;
  s.w_g = 0.4;
  s.w_r = 0.4;
  s.gain = 1.3;
  cv::Mat m2 = to_linear(simulate_mono(patch, s, 3));
  CHECK(cv::mean(m2)[0] == Approx(1.3 * (0.02 + 0.08 + 0.12)).epsilon(0.01));
}
