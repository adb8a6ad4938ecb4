#include <catch2/catch.hpp>

#include <cmath>

#include "dualcam/engine/color.hpp"
#include "dualcam/engine/metrics.hpp"

using namespace dualcam;

TEST_CASE("sRGB transfer curve matches the standard and round-trips 8-bit codes", "[color]") {
  CHECK(srgb_to_linear(0.0f) == 0.0f);
  CHECK(srgb_to_linear(1.0f) == Approx(1.0f));
  CHECK(srgb_to_linear(0.5f) == Approx(0.21404f).epsilon(1e-4));
  CHECK(linear_to_srgb(0.18f) == Approx(0.46135f).epsilon(1e-4));
  cv::Mat codes(1, 256, CV_8U);
  for (int i = 0; i < 256; ++i) codes.at<std::uint8_t>(i) = std::uint8_t(i);
  CHECK(cv::norm(to_srgb8(to_linear(codes)), codes, cv::NORM_INF) == 0);
  cv::Mat codes16(1, 65536, CV_16U);
  for (int i = 0; i < 65536; ++i) codes16.at<std::uint16_t>(i) = std::uint16_t(i);
  CHECK(cv::norm(to_srgb16(to_linear(codes16)), codes16, cv::NORM_INF) <= 1);
}

TEST_CASE("PSNR and SSIM behave on known cases", "[metrics]") {
  cv::Mat a(32, 32, CV_8UC3, cv::Scalar(100, 100, 100));
  cv::Mat b = a.clone();
  CHECK(std::isinf(psnr8(a, b)));
  CHECK(ssim8(a, b) == Approx(1.0));
  b += cv::Scalar(10, 10, 10);
  CHECK(psnr8(a, b) == Approx(10 * std::log10(255.0 * 255.0 / 100.0)));
  cv::Mat noise(32, 32, CV_8UC3);
  cv::randu(noise, 0, 255);
  CHECK(ssim8(a, noise) < 0.2);
}

TEST_CASE("Disparity errors count unknown estimates as bad and skip unknown truth", "[metrics]") {
  cv::Mat truth = (cv::Mat_<float>(1, 5) << 10, 10, 10, 0, 10);
  cv::Mat est = (cv::Mat_<float>(1, 5) << 10.5f, 11.5f, NAN, 99, 13);
  DisparityErrors e = disparity_errors(est, truth);
  CHECK(e.evaluated == 4);
  CHECK(e.bad1 == Approx(3.0 / 4));
  CHECK(e.bad2 == Approx(2.0 / 4));
  CHECK(e.mae_px == Approx((0.5 + 1.5 + 3.0) / 3));
}
