#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>

#include <opencv2/imgproc.hpp>

#include "dualcam/engine/raw.hpp"
#include "dualcam/engine/finish.hpp"

using namespace dualcam;

namespace {

// Edges at every angle and a ring pattern, the same in every channel up to a gain and offset (the
// inter-channel correlation of natural images that Malvar-He-Cutler relies on): linear BGR.
cv::Mat test_scene(int w, int h) {
  cv::Mat img(h, w, CV_32FC3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const double u = double(x) / w, v = double(y) / h;
      const double ring = 0.5 + 0.5 * std::cos(60.0 * std::hypot(u - 0.5, v - 0.5));
      const double l = std::hypot(u - 0.3, v - 0.6) < 0.15 ? 0.9 : 0.2 + 0.5 * ring * (0.5 + 0.5 * u);
      img.at<cv::Vec3f>(y, x) = cv::Vec3f(float(0.05 + 0.8 * l), float(0.1 + 0.7 * l), float(0.02 + 0.9 * l));
    }
  return img;
}

cv::Mat mosaic(const cv::Mat& bgr, CfaPattern p) {
  cv::Mat m(bgr.size(), CV_32FC1);
  for (int y = 0; y < bgr.rows; ++y)
    for (int x = 0; x < bgr.cols; ++x) m.at<float>(y, x) = bgr.at<cv::Vec3f>(y, x)[cfa_channel(p, y, x)];
  return m;
}

double psnr_inner(const cv::Mat& a, const cv::Mat& b) {
  const cv::Rect inner(4, 4, a.cols - 8, a.rows - 8);
  return cv::PSNR(a(inner), b(inner), 1.0);
}

}  // namespace

TEST_CASE("demosaic: every method reconstructs a mosaic of every pattern, and Malvar-He-Cutler, RCD and RI beat bilinear on correlated channels") {
  const cv::Mat truth = test_scene(160, 120);
  for (CfaPattern p : {CfaPattern::Rggb, CfaPattern::Bggr, CfaPattern::Grbg, CfaPattern::Gbrg}) {
    const cv::Mat m = mosaic(truth, p);
    const double bilinear = psnr_inner(demosaic(m, p, Demosaic::Bilinear), truth);
    const double ea = psnr_inner(demosaic(m, p, Demosaic::EdgeAware), truth);
    const double mhc = psnr_inner(demosaic(m, p, Demosaic::Mhc), truth);
    const double rcd = psnr_inner(demosaic(m, p, Demosaic::Rcd), truth);
    const double ri = psnr_inner(demosaic(m, p, Demosaic::Ri), truth);
    INFO("pattern " << to_string(p) << ": bilinear " << bilinear << " dB, ea " << ea << " dB, mhc " << mhc
                    << " dB, rcd " << rcd << " dB, ri " << ri << " dB");
    CHECK(bilinear > 28.0);
    CHECK(ea > 28.0);
    CHECK(mhc > bilinear + 1.0);
    CHECK(rcd > ea + 1.0);
    CHECK(ri > ea + 1.0);
    // The samples themselves come back unchanged.
    for (Demosaic d : {Demosaic::Mhc, Demosaic::Rcd, Demosaic::Ri}) {
      const cv::Mat out = demosaic(m, p, d);
      for (const cv::Point at : {cv::Point(10, 10), cv::Point(11, 10), cv::Point(10, 11), cv::Point(0, 0), cv::Point(159, 119)})
        CHECK(out.at<cv::Vec3f>(at)[cfa_channel(p, at.y, at.x)] == Approx(m.at<float>(at)));
    }
  }
}

TEST_CASE("demosaic: rcd and ri work in strips of rows, with no seam where one strip meets the next", "[finish]") {
  // 301 rows: three strips of rcd's steps (128 rows each, the last one short and odd-sized).
  const cv::Mat truth = test_scene(96, 301);
  const cv::Mat m = mosaic(truth, CfaPattern::Grbg);
  // The same mosaic two rows down (the same pattern): its strips meet two rows further on in the
  // scene, so a seam would show as a difference between the two results.
  const cv::Mat shifted = m.rowRange(2, m.rows).clone();
  for (Demosaic d : {Demosaic::Rcd, Demosaic::Ri}) {
    const cv::Mat a = demosaic(m, CfaPattern::Grbg, d), b = demosaic(shifted, CfaPattern::Grbg, d);
    INFO(to_string(d) << ": " << psnr_inner(a, truth) << " dB");
    CHECK(psnr_inner(a, truth) > 38.0);
    // Away from the frames' first and last rows (their mirrored borders differ), the same values.
    const double diff = cv::norm(a.rowRange(12, a.rows - 12), b.rowRange(10, b.rows - 12), cv::NORM_INF);
    CHECK(diff < 1e-6);
    // The samples come back at a strip's edge and at the frame's last row.
    for (int y : {127, 128, 300})
      for (int x : {10, 11})
        CHECK(a.at<cv::Vec3f>(y, x)[cfa_channel(CfaPattern::Grbg, y, x)] == Approx(m.at<float>(y, x)));
  }
}

TEST_CASE("develop: black level, white balance and clipping of a flat grey frame") {
  RawFrame f;
  f.bits = 10;
  f.black_level = 64;
  f.white_level = 1023;
  f.cfa = CfaPattern::Rggb;
  f.white_balance = cv::Vec3d(2.0, 1.0, 1.5);  // B, G, R gains
  f.samples.create(8, 8, CV_16UC1);
  // A grey at a quarter of the range through filters of 1/2 (B), 1 (G), 2/3 (R).
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x) {
      const double t = cfa_channel(f.cfa, y, x) == 0 ? 0.5 : cfa_channel(f.cfa, y, x) == 1 ? 1.0 : 2.0 / 3.0;
      f.samples.at<std::uint16_t>(y, x) = std::uint16_t(std::lround(64 + 0.25 * t * (1023 - 64)));
    }
  const cv::Mat lin = develop_linear(f, {});
  REQUIRE(lin.type() == CV_32FC3);
  const cv::Vec3f v = lin.at<cv::Vec3f>(4, 4);
  for (int c = 0; c < 3; ++c) CHECK(v[c] == Approx(0.25).margin(0.002));
  FinishOptions no_wb;
  no_wb.white_balance = false;
  CHECK(develop_linear(f, no_wb).at<cv::Vec3f>(4, 4)[0] == Approx(0.125).margin(0.002));
  // A saturated site stays white after the gains: clipped at the sensor's white, not magenta.
  f.samples.setTo(1023);
  const cv::Vec3f w = develop_linear(f, {}).at<cv::Vec3f>(4, 4);
  for (int c = 0; c < 3; ++c) CHECK(w[c] == Approx(1.0f));
  const cv::Mat out = finish_image(develop_linear(f, {}), {});
  CHECK(out.type() == CV_8UC3);
  CHECK(out.at<cv::Vec3b>(4, 4) == cv::Vec3b(255, 255, 255));
}

TEST_CASE("finish: exposure, the filmic curve and the output depth") {
  cv::Mat lin(2, 2, CV_32FC1, cv::Scalar(0.25f));
  lin.at<float>(0, 0) = 2.0f;
  FinishOptions o;
  o.bits = 16;
  const cv::Mat plain = finish_image(lin, o);
  CHECK(plain.type() == CV_16UC1);
  CHECK(plain.at<std::uint16_t>(0, 0) == 65535);  // clipped
  o.exposure = 4.0;
  o.tone = ToneCurve::Filmic;
  const cv::Mat filmic = finish_image(lin, o);
  // Exposed 4x: 2 -> 8 lies above the exposed white (4) and reaches 1; 0.25 -> 1 is rolled off below 1
  // but brighter than unexposed.
  CHECK(filmic.at<std::uint16_t>(0, 0) == 65535);
  CHECK(filmic.at<std::uint16_t>(0, 1) < 65535);
  CHECK(filmic.at<std::uint16_t>(0, 1) > plain.at<std::uint16_t>(0, 1));
  o.bits = 12;
  CHECK_THROWS_WITH(finish_image(lin, o), Catch::Contains("8 or 16"));
  CHECK_THROWS_WITH(parse_demosaic("ahd"), Catch::Contains("mhc"));
}
