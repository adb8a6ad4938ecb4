// Bokeh truth: the thin-lens renderer keeps the focused plane sharp, spreads an out-of-focus edge
// over exactly the predicted circle of confusion, and converges with the sample count.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>

#include "dualcam/datasets/defocus.hpp"
#include "dualcam/datasets/scene.hpp"
#include "dualcam/engine/color.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/metrics.hpp"
#include "dualcam/engine/parallel.hpp"

using namespace dualcam;
using namespace dualcam::datasets;

namespace {

PlacedCamera camera(cv::Size size, double f) {
  PlacedCamera c;
  c.model.K = cv::Matx33d(f, 0, (size.width - 1) / 2.0, 0, f, (size.height - 1) / 2.0, 0, 0, 1);
  c.model.size = size;
  return c;
}

Patch fronto(double x, double z, double half_u, const Texture& t) {
  Patch p;
  p.origin = {x, 0, z};
  p.axis_u = {1, 0, 0};
  p.axis_v = {0, 1, 0};
  p.half_u = half_u;
  p.half_v = 1e6;
  p.texture = t;
  return p;
}

Texture flat(float v) {
  Texture t;
  t.kind = TextureKind::Flat;
  t.color_a = cv::Vec3f(v, v, v);
  return t;
}

// Fraction of a disc of radius r centred at signed distance s from a straight edge that lies on
// the positive side: the edge spread function of a uniform circle of confusion.
double disc_esf(double s, double r) {
  if (s >= r) return 1;
  if (s <= -r) return 0;
  const double q = s / r;
  return 0.5 + (std::asin(q) + q * std::sqrt(1 - q * q)) / CV_PI;
}

}  // namespace

TEST_CASE("Circle of confusion: r = f A |1/z - 1/z_focus| = (A/B) |d - d_focus|", "[defocus]") {
  const double f = 1000, A = 2, B = 12;
  CHECK(coc_radius_px(f, A, 500, 1000) == Approx(f * A * (1.0 / 500 - 1.0 / 1000)));
  CHECK(coc_radius_px(f, A, 1000, 1000) == 0);
  const double d = f * B / 500, d_focus = f * B / 1000;
  CHECK(coc_radius_px(f, A, 500, 1000) == Approx(A / B * std::abs(d - d_focus)));
  CHECK(aperture_radius_from_f_number(4.0, 2.0) == Approx(1.0));
  CHECK_THROWS_WITH(aperture_radius_from_f_number(4.0, 0.0), Catch::Contains("f-number"));
  ThinLens bad;
  bad.samples = 0;
  CHECK_THROWS_WITH(bad.validate(), Catch::Contains("ThinLens::samples"));
}

TEST_CASE("Bokeh truth: the plane in focus stays as sharp as the pinhole render", "[defocus]") {
  Scene scene;
  Texture t;
  t.kind = TextureKind::Noise;
  t.color_a = {0.7f, 0.5f, 0.2f};
  t.color_b = {0.1f, 0.3f, 0.6f};
  t.scale_mm = 6;
  scene.patches.push_back(fronto(0, 500, 1e6, t));
  PlacedCamera cam = camera({160, 120}, 150);
  cam.model.dist = (cv::Mat_<double>(1, 5) << -0.1, 0.02, 0.001, -0.001, 0);
  RenderOptions ro;
  ro.supersample = 8;
  const cv::Mat pinhole = to_srgb8(render(scene, cam, ro).linear_bgr);
  ThinLens lens;
  lens.focus_depth_mm = 500;
  lens.aperture_radius_mm = 20;  // a huge aperture: anything off the plane would blur by pixels
  const cv::Mat bokeh = to_srgb8(render_defocus(scene, cam, lens));
  const double psnr = psnr8(bokeh, pinhole);
  // Out of focus by 10 % the same aperture blurs by f A |1/z - 1/z_f| = 0.55 px: visibly softer.
  lens.focus_depth_mm = 550;
  const double psnr_off = psnr8(to_srgb8(render_defocus(scene, cam, lens)), pinhole);
  INFO("in focus " << psnr << " dB, 10 % off focus " << psnr_off << " dB");
  std::printf("bokeh focus: in-focus plane %.1f dB vs an 8x8-supersampled pinhole render, 10 %% off focus %.1f dB\n",
              psnr, psnr_off);
  CHECK(psnr > 40);
  CHECK(psnr_off < psnr - 8);
}

TEST_CASE("Bokeh truth: an out-of-focus step edge spreads over the predicted circle of confusion", "[defocus]") {
  // A black | white edge at x = 0 on one plane at 500 mm, focused at 1000 mm: every point of the
  // plane becomes a disc of radius r = f A (1/500 - 1/1000) px, so a row across the edge is the
  // disc's edge spread function (integrated over the pixel).
  Scene scene;
  scene.patches.push_back(fronto(-5e5, 500, 5e5, flat(0.0f)));
  scene.patches.push_back(fronto(5e5, 500, 5e5, flat(1.0f)));
  const cv::Size size(120, 40);
  const PlacedCamera cam = camera(size, 200);
  ThinLens lens;
  lens.focus_depth_mm = 1000;
  for (double radius_px : {3.0, 8.0, 15.0}) {
    lens.aperture_radius_mm = radius_px / (200 * (1.0 / 500 - 1.0 / 1000));
    REQUIRE(coc_radius_px(200, lens.aperture_radius_mm, 500, 1000) == Approx(radius_px));
    const cv::Mat img = render_defocus(scene, cam, lens);
    const double edge = (size.width - 1) / 2.0;
    double worst = 0, mean = 0;
    int first_grey = -1, last_grey = -1;
    for (int c = 0; c < size.width; ++c) {
      double v = 0;
      for (int r = 10; r < 30; ++r) v += img.at<cv::Vec3f>(r, c)[1];
      v /= 20;
      double expect = 0;
      for (int k = 0; k < 64; ++k) expect += disc_esf(c - 0.5 + (k + 0.5) / 64 - edge, radius_px) / 64;
      worst = std::max(worst, std::abs(v - expect));
      mean += std::abs(v - expect) / size.width;
      if (v > 0.01 && v < 0.99) {
        if (first_grey < 0) first_grey = c;
        last_grey = c;
      }
    }
    const double spread = last_grey - first_grey + 1;
    std::printf("bokeh edge: CoC r = %.0f px: grey (0.01..0.99) over %.0f px (2r = %.0f), profile error max %.4f mean %.4f\n",
                radius_px, spread, 2 * radius_px, worst, mean);
    INFO("r = " << radius_px << " px: grey over " << spread << " px (2r = " << 2 * radius_px
                << "), profile error max " << worst << ", mean " << mean);
    CHECK(std::abs(spread - 2 * radius_px) <= 2.0);
    CHECK(worst < 0.03);
    CHECK(mean < 0.006);
  }
}

TEST_CASE("Bokeh truth is deterministic and independent of the thread count", "[defocus][determinism]") {
  const Scene scene = make_objects_scene(2, 200, 800);
  const PlacedCamera cam = camera({64, 48}, 56);
  ThinLens lens;
  lens.focus_depth_mm = 300;
  lens.aperture_radius_mm = 3;
  lens.samples = 32;
  const cv::Mat a = ThreadScope(1).run([&] { return render_defocus(scene, cam, lens); });
  const cv::Mat b = ThreadScope(2).run([&] { return render_defocus(scene, cam, lens); });
  CHECK(cv::norm(a, b, cv::NORM_INF) == 0);
}

// Convergence with the number of aperture samples, against a 4096-sample reference, on the
// objects scene with strong defocus (the near objects blur by up to ~12 px, the wall by ~6 px).
// Prints the table the default sample count was chosen from.
TEST_CASE("Bokeh truth converges with the number of samples", "[defocus][convergence]") {
  const Scene scene = make_objects_scene(1, 160, 640);
  const cv::Size size(96, 72);
  const PlacedCamera cam = camera(size, 0.875 * size.width);
  ThinLens lens;
  lens.focus_depth_mm = 320;
  lens.aperture_radius_mm = 12;
  INFO("largest CoC " << coc_radius_px(cam.model.K(0, 0), lens.aperture_radius_mm, 160, 320) << " px");
  lens.samples = 4096;
  const cv::Mat reference = to_srgb8(render_defocus(scene, cam, lens));
  double previous = 0;
  for (int n : {16, 64, 256, 1024}) {
    lens.samples = n;
    lens.seed = 99;  // a pattern independent of the reference's
    const cv::Mat img = to_srgb8(render_defocus(scene, cam, lens));
    const double psnr = psnr8(img, reference);
    cv::Mat diff;
    cv::absdiff(img, reference, diff);
    double worst;
    cv::minMaxLoc(diff.reshape(1), nullptr, &worst);
    std::printf("bokeh convergence: %4d samples: PSNR %.1f dB vs 4096 samples, max 8-bit error %.0f\n", n, psnr, worst);
    CHECK(psnr > previous);
    previous = psnr;
    if (n == 256) CHECK(psnr > 40);
  }
}
