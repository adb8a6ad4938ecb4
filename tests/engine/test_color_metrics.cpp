#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "dualcam/engine/color.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/metrics.hpp"
#include "dualcam/engine/srgb_tables.hpp"

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

TEST_CASE("to_srgb8 / to_srgb16 give lround(linear_to_srgb(v) * max) for every value, around every step", "[color]") {
  // The encoders read the code from thresholds (color.cpp); the reference is the formula.
  std::vector<float> v = {0.0f, -0.0f, -1.0f, 1.0f, 2.0f, std::nextafter(1.0f, 0.0f), std::numeric_limits<float>::denorm_min(),
                          std::numeric_limits<float>::min(), std::numeric_limits<float>::quiet_NaN(),
                          std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()};
  // Every 4099th float in [0, 1], and 64 floats either side of the middle of every code's step.
  for (std::uint32_t b = 0; b <= 0x3f800000u; b += 4099) {
    float f;
    std::memcpy(&f, &b, sizeof f);
    v.push_back(f);
  }
  for (int max : {255, 65535})
    for (int k = 0; k < max; ++k) {
      float f = srgb_to_linear((float(k) + 0.5f) / float(max));
      for (int i = 0; i < 64; ++i) f = std::nextafter(f, 0.0f);
      for (int i = 0; i < 129; ++i, f = std::nextafter(f, 2.0f)) v.push_back(f);
    }
  const cv::Mat in(1, int(v.size()), CV_32F, v.data());
  const cv::Mat e8 = to_srgb8(in), e16 = to_srgb16(in);
  long bad8 = 0, bad16 = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const float x = std::isfinite(v[i]) ? v[i] : 0.0f;
    bad8 += e8.at<std::uint8_t>(int(i)) != std::lround(linear_to_srgb(x) * 255.0f);
    bad16 += e16.at<std::uint16_t>(int(i)) != std::lround(linear_to_srgb(x) * 65535.0f);
  }
  INFO(v.size() << " values");
  CHECK(bad8 == 0);
  CHECK(bad16 == 0);
}

TEST_CASE("The sRGB tables follow the curves, and apply() gives what one value at a time gives", "[color]") {
  const srgb_tables::CurveTable<65536>& enc = srgb_tables::encode_table();
  const srgb_tables::CurveTable<4096>& dec = srgb_tables::decode_table();
  std::vector<float> x;
  double enc_err = 0, dec_err = 0;
  for (int i = 0; i <= 1000000; ++i) {
    const float v = float(i) / 1000000;
    x.push_back(v);
    enc_err = std::max(enc_err, std::abs(double(enc(v)) - double(linear_to_srgb(v))));
    dec_err = std::max(dec_err, std::abs(double(dec(v)) - double(srgb_to_linear(v))));
  }
  CHECK(enc_err < 1e-6);  // measured 5.3e-7
  CHECK(dec_err < 1e-6);  // measured 3.0e-7
  // Outside [0,1] and not finite: clipped to the ends (NaN as 0), in both paths. An odd count
  // leaves a remainder for the scalar loop after the four-at-a-time one.
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  for (float v : {0.0031308f, 0.04045f, -0.0f, -1.0f, 1.0f, 1.5f, 1e-40f, inf, -inf, nan}) x.push_back(v);
  REQUIRE(x.size() % 4 != 0);
  CHECK(enc(-1.0f) == enc(0.0f));
  CHECK(enc(1.5f) == enc(1.0f));
  CHECK(dec(nan) == dec(0.0f));
  CHECK(dec(inf) == dec(1.0f));
  const int n = int(x.size());
  std::vector<float> fast(x.size()), one(x.size());
  enc.apply(x.data(), fast.data(), n);
  for (int i = 0; i < n; ++i) one[i] = enc(x[i]);
  CHECK(std::memcmp(fast.data(), one.data(), sizeof(float) * x.size()) == 0);
  dec.apply(x.data(), fast.data(), n);
  for (int i = 0; i < n; ++i) one[i] = dec(x[i]);
  CHECK(std::memcmp(fast.data(), one.data(), sizeof(float) * x.size()) == 0);
  // The code tables are the ones to_linear applies, so fused loops that decode codes match it.
  cv::Mat codes(1, 256, CV_8U);
  for (int i = 0; i < 256; ++i) codes.at<std::uint8_t>(i) = std::uint8_t(i);
  const cv::Mat lin = to_linear(codes);
  int same = 0;
  for (int i = 0; i < 256; ++i) same += lin.at<float>(i) == srgb_tables::linear_lut8()[i];
  CHECK(same == 256);
}

TEST_CASE("The colour conversions refuse images of the wrong depth, naming the function", "[color][bad]") {
  const cv::Mat u8(4, 4, CV_8UC3, cv::Scalar::all(10)), f32(4, 4, CV_32FC3, cv::Scalar::all(0.5));
  CHECK_THROWS_WITH(to_srgb8(u8), Catch::Contains("to_srgb8"));
  CHECK_THROWS_WITH(to_srgb16(u8), Catch::Contains("to_srgb16"));
  CHECK_THROWS_WITH(to_srgb(f32, CV_32F), Catch::Contains("to_srgb"));
  CHECK_THROWS_WITH(to_linear(f32), Catch::Contains("to_linear"));
  CHECK_THROWS_WITH(luminance(u8), Catch::Contains("luminance"));
  CHECK(to_srgb(f32, CV_16U).depth() == CV_16U);
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

TEST_CASE("chroma_rms8 measures hue, not brightness, over a mask", "[metrics]") {
  const cv::Mat grey(8, 8, CV_8UC3, cv::Scalar(100, 100, 100));
  CHECK(chroma_rms8(grey, cv::Mat(grey + cv::Scalar(50, 50, 50))) == Approx(0.0).margin(1e-9));
  // Blue 100 -> 200 at G = R = 100: Y = 111.4, Cb = 0.564 x 88.6, Cr = 0.713 x -11.4.
  cv::Mat blue = grey.clone();
  blue(cv::Rect(0, 0, 4, 8)).setTo(cv::Scalar(200, 100, 100));
  const double cb = 0.564 * (200 - 111.4), cr = 0.713 * (100 - 111.4);
  cv::Mat left = cv::Mat::zeros(8, 8, CV_8U);
  left(cv::Rect(0, 0, 4, 8)).setTo(255);
  CHECK(chroma_rms8(grey, blue, left) == Approx(std::sqrt((cb * cb + cr * cr) / 2)).epsilon(1e-6));
  CHECK(chroma_rms8(grey, blue) == Approx(std::sqrt((cb * cb + cr * cr) / 4)).epsilon(1e-6));
  CHECK(std::isnan(chroma_rms8(grey, blue, cv::Mat::zeros(8, 8, CV_8U))));
  CHECK_THROWS_AS(chroma_rms8(grey, cv::Mat(4, 4, CV_8UC3)), Error);
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

TEST_CASE("No-reference figures: flat-area noise reads the noise, detail correlation ranks noise and blur",
          "[metrics]") {
  // A scene: smooth shading with a few sharp-edged rectangles and a fine grating.
  cv::Mat scene(240, 320, CV_32F);
  for (int y = 0; y < scene.rows; ++y)
    for (int x = 0; x < scene.cols; ++x) scene.at<float>(y, x) = 90.0f + 0.1f * x + 0.05f * y;
  cv::rectangle(scene, cv::Rect(40, 40, 60, 50), cv::Scalar(200), cv::FILLED);
  cv::rectangle(scene, cv::Rect(180, 120, 80, 70), cv::Scalar(40), cv::FILLED);
  for (int x = 120; x < 170; x += 4) cv::rectangle(scene, cv::Rect(x, 30, 2, 60), cv::Scalar(230), cv::FILLED);
  cv::Mat clean8;
  scene.convertTo(clean8, CV_8U);
  auto noisy = [&](double sigma, int seed) {
    cv::Mat n(scene.size(), CV_32F);
    cv::RNG rng(seed);
    rng.fill(n, cv::RNG::NORMAL, 0, sigma);
    cv::Mat out;
    cv::Mat(scene + n).convertTo(out, CV_8U);
    return out;
  };
  const cv::Mat mask = flat_area_mask(noisy(3.0, 1));  // a guide is never clean
  REQUIRE(cv::countNonZero(mask) > 0.05 * mask.total());
  // No flat pixel next to an edge: the mask stays off the rectangles' borders.
  CHECK(mask.at<std::uint8_t>(40, 70) == 0);
  // White noise of sigma s: the high-pass keeps sqrt(1 - 2 g0 + sum g^2) = 0.945 of it (sigma 1.5).
  for (double s : {2.0, 6.0}) {
    const double measured = flat_area_noise(noisy(s, 5), mask);
    INFO("noise sigma " << s << ": flat-area noise " << measured);
    CHECK(std::abs(measured - 0.945 * s) < 0.1 * s);
  }
  CHECK(flat_area_noise(clean8, mask) < 0.5);
  // Detail: the clean scene against a noisy guide of it beats a noisier copy and a blurred one.
  const cv::Mat guide = noisy(4.0, 9);
  cv::Mat blurred;
  cv::GaussianBlur(clean8, blurred, cv::Size(), 2.0);
  const double c_clean = detail_correlation(clean8, guide), c_noisy = detail_correlation(noisy(8.0, 3), guide),
               c_blur = detail_correlation(blurred, guide);
  INFO("detail correlation: clean " << c_clean << ", noisy " << c_noisy << ", blurred " << c_blur);
  CHECK(c_clean > c_noisy);
  CHECK(c_clean > c_blur);
  CHECK(detail_correlation(guide, guide) == Approx(1.0));
  CHECK_THROWS_AS(flat_area_noise(clean8, cv::Mat()), Error);
}
