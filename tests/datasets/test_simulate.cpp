// The simulator's truth: self-consistent between the views for every kind of rig, exact to the
// lens model, deterministic, and the options do what they say.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include <opencv2/calib3d.hpp>
#include <opencv2/imgproc.hpp>

#include "dualcam/datasets/simulate.hpp"
#include "dualcam/engine/color.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/metrics.hpp"
#include "dualcam/engine/parallel.hpp"
#include "dualcam/engine/rectify_geometry.hpp"
#include "dualcam/fusion/rectify.hpp"
#include "dualcam/fusion/warp.hpp"

using namespace dualcam;
using namespace dualcam::datasets;

namespace {

SimulateOptions small_options() {
  SimulateOptions o;
  o.mono.size = o.color.size = {240, 180};
  o.supersample = 2;
  o.seed = 3;
  return o;
}

// Agreement of an image warped by the truth with the view it should reproduce (both clean,
// linear), over `mask`, after a slight blur: the test is about geometry, not the warp's
// interpolation blur. Returns the median absolute grey error and the share under 0.01.
struct Agreement {
  double median = 1, share = 0;
};
Agreement agreement(const cv::Mat& warped, const cv::Mat& view, const cv::Mat& mask, double blur = 1.0) {
  cv::Mat a, b, err;
  cv::GaussianBlur(warped, a, cv::Size(0, 0), blur);
  cv::GaussianBlur(view, b, cv::Size(0, 0), blur);
  cv::cvtColor(cv::abs(a - b), err, cv::COLOR_BGR2GRAY);
  std::vector<float> e;
  for (int r = 0; r < err.rows; ++r)
    for (int c = 0; c < err.cols; ++c)
      if (mask.at<std::uint8_t>(r, c)) e.push_back(err.at<float>(r, c));
  REQUIRE(e.size() > 0.4 * err.total());
  std::sort(e.begin(), e.end());
  Agreement g;
  g.median = e[e.size() / 2];
  g.share = double(std::lower_bound(e.begin(), e.end(), 0.01f) - e.begin()) / double(e.size());
  return g;
}

// Pixels of view A whose surface point is seen by camera B too (not occluded, inside B's image),
// found from the truth alone: project the point into B, compare with B's depth there.
cv::Mat visible_in_other(const cv::Mat& points_world, const PlacedCamera& b, const cv::Mat& depth_b) {
  cv::Mat mask(points_world.size(), CV_8U, cv::Scalar(0));
  cv::Vec3d rvec;
  cv::Rodrigues(cv::Mat(b.R_cam_from_world), rvec);
  for (int r = 0; r < mask.rows; ++r)
    for (int c = 0; c < mask.cols; ++c) {
      const cv::Vec3f X = points_world.at<cv::Vec3f>(r, c);
      if (!std::isfinite(X[0])) continue;
      std::vector<cv::Point3d> p{cv::Point3d(X[0], X[1], X[2])};
      std::vector<cv::Point2d> q;
      cv::projectPoints(p, rvec, b.t_cam_from_world, cv::Mat(b.model.K), b.model.dist, q);
      const int x = int(std::lround(q[0].x)), y = int(std::lround(q[0].y));
      if (x < 2 || y < 2 || x >= depth_b.cols - 2 || y >= depth_b.rows - 2) continue;
      const cv::Vec3d Xb = b.R_cam_from_world * cv::Vec3d(X) + b.t_cam_from_world;
      bool all = true;  // the whole 3x3 neighbourhood at the same depth: away from occlusion edges
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) all = all && std::abs(depth_b.at<float>(y + dy, x + dx) - Xb[2]) < 0.01 * Xb[2];
      mask.at<std::uint8_t>(r, c) = all ? 255 : 0;
    }
  return mask;
}

// Where the true disparity sends each pixel, measured on coordinate ramps (bilinear
// interpolation of a ramp is exact): the other camera's pixel that the warp fetches, against
// the projection of the pixel's own surface point into that camera. Returns the median and the
// 90th percentile of the distance (px) over `mask`.
std::pair<double, double> mapping_error(const cv::Mat& fetched_xy, const cv::Mat& points_world, const PlacedCamera& b,
                                        const cv::Mat& mask) {
  cv::Vec3d rvec;
  cv::Rodrigues(cv::Mat(b.R_cam_from_world), rvec);
  std::vector<cv::Point3d> p;
  std::vector<cv::Point2f> got;
  for (int r = 0; r < mask.rows; ++r)
    for (int c = 0; c < mask.cols; ++c)
      if (mask.at<std::uint8_t>(r, c)) {
        const cv::Vec3f X = points_world.at<cv::Vec3f>(r, c);
        p.emplace_back(X[0], X[1], X[2]);
        got.push_back(fetched_xy.at<cv::Point2f>(r, c));
      }
  std::vector<cv::Point2d> q;
  cv::projectPoints(p, rvec, b.t_cam_from_world, cv::Mat(b.model.K), b.model.dist, q);
  std::vector<double> e;
  for (std::size_t i = 0; i < q.size(); ++i) e.push_back(cv::norm(cv::Point2d(got[i]) - q[i]));
  std::sort(e.begin(), e.end());
  return {e[e.size() / 2], e[e.size() * 9 / 10]};
}

cv::Mat ramp(cv::Size size) {
  cv::Mat m(size, CV_32FC2);
  for (int r = 0; r < size.height; ++r)
    for (int c = 0; c < size.width; ++c) m.at<cv::Vec2f>(r, c) = cv::Vec2f(float(c), float(r));
  return m;
}

// Warps each view into the other through the true disparity with fusion's Rectifier (the
// consumer of the truth) and checks (1) the geometry: the fetched pixel is where the surface
// point projects, to a few hundredths of a pixel; (2) the images: on pixels visible in both
// views the warped clean image reproduces the other clean image well below the sensor noise
// (0.0067 at mid-grey for the colour camera in good light), and half a pixel of disparity error
// breaks both.
void check_self_consistent(const Simulation& s, const SimulateOptions& o) {
  fusion::Rectifier rect(s.rig);
  const Scene scene = make_scene(o.scene, o.seed, s.near_mm, s.far_mm);
  RenderOptions ro;
  ro.supersample = 1;
  const PlacedCamera cm = mono_camera(s.rig), cc = color_camera(s.rig);
  const cv::Mat pts_mono = render(scene, cm, ro).points, pts_color = render(scene, cc, ro).points;
  const cv::Mat dm = rect.rectify_mono(s.canonical_disparity_mono, cv::INTER_NEAREST);
  const cv::Mat dc = rect.rectify_color(s.canonical_disparity_color, cv::INTER_NEAREST);
  // Images of different resolution differ in detail: compare them at the coarser one's scale.
  const double blur = s.rig.mono.K(0, 0) == s.rig.color.K(0, 0) ? 1.0 : 1.5;
  struct View {
    const char* name;
    cv::Mat disparity, points, clean, other_clean, other_depth;
    PlacedCamera other;
    bool to_mono;
  };
  const View views[2] = {
      {"mono", dm, pts_mono, s.clean_color_at_mono, s.clean_color_at_color, s.depth_color, cc, true},
      {"colour", dc, pts_color, s.clean_color_at_color, s.clean_color_at_mono, s.depth_mono, cm, false}};
  for (const View& v : views) {
    auto warp = [&](const cv::Mat& src, const cv::Mat& d, cv::Mat& valid) {
      return fusion::warp_through_rig(src, rect, d, v.to_mono ? fusion::Reference::Mono : fusion::Reference::Color,
                                      &valid);
    };
    cv::Mat valid, mask;
    const cv::Mat fetched = warp(ramp(v.other.model.size), v.disparity, valid);
    cv::bitwise_and(valid, visible_in_other(v.points, v.other, v.other_depth), mask);
    const auto [med, p90] = mapping_error(fetched, v.points, v.other, mask);
    const Agreement exact = agreement(warp(v.other_clean, v.disparity, valid), v.clean, mask, blur);
    const Agreement off = agreement(warp(v.other_clean, v.disparity + 0.5f, valid), v.clean, mask, blur);
    INFO("at the " << v.name << " view: " << cv::countNonZero(mask) << " pixels seen by both; mapping error median "
                   << med << " px, 90th percentile " << p90 << " px; image error median " << exact.median
                   << " (half a pixel off: " << off.median << "), share under 0.01: " << exact.share << " ("
                   << off.share << ")");
    // cv::remap quantises coordinates to 1/32 px and the warp chains three remaps: a few
    // hundredths of a pixel is its floor (an ideal rig measures 0.006 px median).
    CHECK(med < 0.03);
    CHECK(p90 < 0.06);
    CHECK(exact.median < 0.004);
    CHECK(exact.share > 0.8);
    CHECK(off.median > 2 * exact.median);
    CHECK(off.share < exact.share - 0.2);
  }
}

}  // namespace

TEST_CASE("Simulator truth: warping one view by the true disparity gives the other (default rig)", "[simulate][truth]") {
  const SimulateOptions o = small_options();
  const Simulation s = simulate(o);
  check_self_consistent(s, o);
}

TEST_CASE("Simulator truth is self-consistent with different resolutions, rotation and distortion",
          "[simulate][truth]") {
  SimulateOptions o = small_options();
  o.color.size = {200, 150};
  o.color.focal_px = 0.9 * 200;
  o.color.principal = {101.5, 73.0};
  o.mono.distortion = {-0.09, 0.03, 0.0008, -0.0005, 0.0};
  o.color.distortion = {-0.05, 0.01, -0.0004, 0.0006};
  o.rotation_deg = {0.6, -0.8, 1.2};
  o.color_position_mm = {11.5, 0.4, -0.3};
  const Simulation s = simulate(o);
  CHECK(s.color.size() == cv::Size(200, 150));
  CHECK(s.mono.size() == cv::Size(240, 180));
  CHECK_FALSE(s.ideal_rectified);
  check_self_consistent(s, o);
}

TEST_CASE("Simulator truth is self-consistent with the colour camera above the mono (vertical baseline)",
          "[simulate][truth]") {
  SimulateOptions o = small_options();
  o.color_position_mm = {0.3, -10.0, 0.0};
  o.rotation_deg = {-0.4, 0.3, 0.5};
  o.color.distortion = {-0.04, 0.01};
  const Simulation s = simulate(o);
  REQUIRE(rectify_geometry(s.rig).vertical);
  check_self_consistent(s, o);
}

TEST_CASE("Simulator truth is self-consistent with the colour camera left of the mono (mirrored)",
          "[simulate][truth]") {
  SimulateOptions o = small_options();
  o.color_position_mm = {-12.0, 0.0, 0.0};
  o.rotation_deg = {0.2, 0.5, -0.3};
  const Simulation s = simulate(o);
  REQUIRE(rectify_geometry(s.rig).flip);
  check_self_consistent(s, o);
}

TEST_CASE("An ideal rectified rig's disparity is f*B/Z, the Middlebury disparity of the pair", "[simulate][truth]") {
  SimulateOptions o = small_options();
  const Simulation s = simulate(o);
  REQUIRE(s.ideal_rectified);
  const double f = s.rig.mono.K(0, 0), B = 12.0;
  // d = f B / Z at a few pixels.
  for (cv::Point p : {cv::Point(10, 10), cv::Point(120, 90), cv::Point(230, 170)}) {
    const float z = s.depth_mono.at<float>(p);
    CHECK(s.disparity_mono.at<float>(p) == Approx(f * B / z).epsilon(1e-5));
  }
  // The left (mono) pixel x matches the right (colour) pixel x - d, in the cameras' own pixels.
  const Scene scene = make_scene(o.scene, o.seed, s.near_mm, s.far_mm);
  RenderOptions ro;
  ro.supersample = 1;
  const cv::Mat pts_mono = render(scene, mono_camera(s.rig), ro).points;
  const cv::Mat pts_color = render(scene, color_camera(s.rig), ro).points;
  cv::Mat valid, mask;
  const cv::Mat warped = fusion::warp_by_disparity(s.clean_color_at_color, s.disparity_mono, -1, &valid);
  cv::bitwise_and(valid, visible_in_other(pts_mono, color_camera(s.rig), s.depth_color), mask);
  const Agreement exact = agreement(warped, s.clean_color_at_mono, mask);
  const cv::Mat off = fusion::warp_by_disparity(s.clean_color_at_color, s.disparity_mono + 0.5, -1, &valid);
  const Agreement shifted = agreement(off, s.clean_color_at_mono, mask);
  INFO("image error median " << exact.median << " (half a pixel off " << shifted.median << ")");
  CHECK(exact.median < 0.004);
  CHECK(shifted.median > 2 * exact.median);
  // And the right view's f*B/Z takes the colour view to the mono view's pixels: x + d.
  const cv::Mat back = fusion::warp_by_disparity(s.clean_color_at_mono, s.disparity_color, +1, &valid);
  cv::bitwise_and(valid, visible_in_other(pts_color, mono_camera(s.rig), s.depth_mono), mask);
  CHECK(agreement(back, s.clean_color_at_color, mask).median < 0.004);
}

TEST_CASE("Rendered surface points project back onto their pixel through the full lens model", "[simulate][scene]") {
  SimulateOptions o = small_options();
  o.color.distortion = {-0.25, 0.08, 0.002, -0.0015, -0.01};
  o.rotation_deg = {1.0, -2.0, 3.0};
  o.color_position_mm = {10, 3, 1};
  const StereoRig rig = simulation_rig(o);
  const Scene scene = make_objects_scene(5, 200, 800);
  RenderOptions ro;
  ro.supersample = 1;
  const RenderedView v = render(scene, color_camera(rig), ro);
  std::vector<cv::Point3d> pts;
  std::vector<cv::Point2d> pix;
  for (int r = 0; r < v.points.rows; r += 7)
    for (int c = 0; c < v.points.cols; c += 7) {
      const cv::Vec3f X = v.points.at<cv::Vec3f>(r, c);
      if (!std::isfinite(X[0])) continue;
      pts.emplace_back(X[0], X[1], X[2]);
      pix.emplace_back(c, r);
    }
  REQUIRE(pts.size() > 500);
  cv::Vec3d rvec;
  cv::Rodrigues(cv::Mat(rig.R), rvec);
  std::vector<cv::Point2d> proj;
  cv::projectPoints(pts, rvec, rig.T, cv::Mat(rig.color.K), rig.color.dist, proj);
  double worst = 0;
  for (std::size_t i = 0; i < proj.size(); ++i) worst = std::max(worst, cv::norm(proj[i] - pix[i]));
  INFO("largest reprojection error " << worst << " px");
  // The points are stored as float (mm at a few hundred mm: about 3e-5 mm), so not 1e-9.
  CHECK(worst < 2e-3);
}

TEST_CASE("A lens that folds over the image is refused with a clear error", "[simulate][bad]") {
  SimulateOptions o = small_options();
  // Barrel distortion x (1 + k1 r^2) peaks at r = 1 / sqrt(-3 k1) = 0.82 (x_d = 0.54): pixels
  // beyond normalised radius 0.54 have no ray. At f = 120 px the corners are at 1.25.
  o.mono.distortion = {-0.5};
  o.mono.focal_px = 120;
  CHECK_THROWS_WITH(simulate(o), Catch::Contains("cannot be inverted"));
}

TEST_CASE("The simulator is deterministic for a seed and independent of the thread count", "[simulate][determinism]") {
  SimulateOptions o = small_options();
  o.mono.size = o.color.size = {120, 90};
  o.mono.distortion = {-0.05};
  const Simulation a = ThreadScope(1).run([&] { return simulate(o); });
  const Simulation b = ThreadScope(2).run([&] { return simulate(o); });
  CHECK(cv::norm(a.mono, b.mono, cv::NORM_INF) == 0);
  CHECK(cv::norm(a.color, b.color, cv::NORM_INF) == 0);
  CHECK(cv::norm(a.clean_color_at_color, b.clean_color_at_color, cv::NORM_INF) == 0);
  CHECK(cv::norm(a.disparity_mono, b.disparity_mono, cv::NORM_INF) == 0);
  CHECK(cv::norm(a.depth_color, b.depth_color, cv::NORM_INF) == 0);
  o.seed = 4;
  const Simulation c = simulate(o);
  CHECK(cv::norm(a.clean_color_at_color, c.clean_color_at_color, cv::NORM_INF) > 0.1);
}

TEST_CASE("Simulated sizes and the default depth range", "[simulate]") {
  for (cv::Size size : {cv::Size(96, 64), cv::Size(320, 240), cv::Size(200, 300)}) {
    SimulateOptions o;
    o.mono.size = o.color.size = size;
    o.supersample = 1;
    for (SceneKind kind : {SceneKind::Objects, SceneKind::Layered}) {
      o.scene = kind;
      const Simulation s = simulate(o);
      CHECK(s.mono.size() == size);
      CHECK(s.color.size() == size);
      CHECK(s.color.type() == CV_8UC3);
      CHECK(s.mono.type() == CV_8UC1);
      CHECK(s.depth_mono.size() == size);
      CHECK(cv::checkRange(s.disparity_mono));  // no NaN: the wall fills the view
      double lo, hi;
      cv::minMaxLoc(s.disparity_mono, &lo, &hi);
      // Depth range chosen for 1.5 % .. 6 % of the width in disparity.
      INFO(to_string(kind) << " " << size << ": disparity " << lo << " .. " << hi);
      CHECK(lo >= 0.015 * size.width * 0.999);
      CHECK(hi <= 0.06 * size.width * 1.001);
      CHECK(hi - lo > 0.02 * size.width);
    }
  }
}

TEST_CASE("The objects scene has fine detail, colour edges and low-texture areas", "[simulate][scene]") {
  SimulateOptions o = small_options();
  o.mono.size = o.color.size = {320, 240};
  const Simulation s = simulate(o);
  const cv::Mat g = luminance(s.clean_color_at_mono);
  cv::Mat gx, gy, mag;
  cv::Sobel(g, gx, CV_32F, 1, 0);
  cv::Sobel(g, gy, CV_32F, 0, 1);
  cv::magnitude(gx, gy, mag);
  // Share of pixels with strong, weak (flat) gradient.
  const double strong = double(cv::countNonZero(mag > 0.2)) / mag.total();
  const double flat = double(cv::countNonZero(mag < 0.002)) / mag.total();
  INFO("strong-gradient share " << strong << ", flat share " << flat);
  CHECK(strong > 0.03);
  CHECK(flat > 0.03);
  // Colour edges: hue differences between neighbours that luminance alone would not show.
  std::vector<cv::Mat> ch;
  cv::split(s.clean_color_at_mono, ch);
  cv::Mat chroma = cv::abs(ch[2] - ch[0]), cx;
  cv::Sobel(chroma, cx, CV_32F, 1, 0);
  CHECK(cv::countNonZero(cv::abs(cx) > 0.3) > 100);
  // Several depth layers: the disparity takes many distinct values.
  cv::Mat d8;
  s.disparity_mono.convertTo(d8, CV_8U);
  int hist[256] = {};
  for (int r = 0; r < d8.rows; ++r)
    for (int c = 0; c < d8.cols; ++c) ++hist[d8.at<std::uint8_t>(r, c)];
  int levels = 0;
  for (int h : hist) levels += h > 50;
  CHECK(levels >= 8);
}

TEST_CASE("Exposure and vignetting change the light before the sensor, not the truth", "[simulate]") {
  SimulateOptions o = small_options();
  o.color_sensor.bayer = false;
  const Simulation plain = simulate(o);
  o.color.vignetting = 0.5;
  o.mono.exposure = 0.5;
  const Simulation v = simulate(o);
  CHECK(cv::norm(plain.clean_color_at_color, v.clean_color_at_color, cv::NORM_INF) == 0);
  auto mean_lin = [](const cv::Mat& img8, cv::Rect r) { return cv::mean(to_linear(img8(r)))[img8.channels() == 3 ? 1 : 0]; };
  const cv::Rect centre(100, 70, 40, 40), corner(0, 0, 12, 12);
  const double c_ratio = mean_lin(v.color, centre) / mean_lin(plain.color, centre);
  const double k_ratio = mean_lin(v.color, corner) / mean_lin(plain.color, corner);
  const double m_ratio = mean_lin(v.mono, centre) / mean_lin(plain.mono, centre);
  INFO("colour centre " << c_ratio << ", colour corner " << k_ratio << ", mono " << m_ratio);
  // Light *= 1 - 0.5 rho^2, rho = distance to the principal point / its largest value (the
  // corner, 149.5 px): about 0.99 over the central patch, 0.555 over the corner patch.
  CHECK(c_ratio == Approx(0.99).margin(0.03));
  CHECK(k_ratio == Approx(0.555).margin(0.04));
  CHECK(m_ratio == Approx(0.5).margin(0.03));
}

TEST_CASE("Simulator options are validated with the field named", "[simulate][bad]") {
  SimulateOptions o = small_options();
  SECTION("tiny image") {
    o.mono.size = {8, 8};
    CHECK_THROWS_WITH(o.validate(), Catch::Contains("mono.size.width"));
  }
  SECTION("no baseline") {
    o.color_position_mm = {0, 0, 0};
    CHECK_THROWS_WITH(o.validate(), Catch::Contains("color_position_mm"));
  }
  SECTION("too many distortion coefficients") {
    o.color.distortion = {0, 0, 0, 0, 0, 0};
    CHECK_THROWS_WITH(o.validate(), Catch::Contains("color.distortion"));
  }
  SECTION("one depth bound only") {
    o.near_mm = 100;
    CHECK_THROWS_WITH(o.validate(), Catch::Contains("near_mm and far_mm"));
  }
  SECTION("vignetting of 1") {
    o.color.vignetting = 1.0;
    CHECK_THROWS_WITH(o.validate(), Catch::Contains("color.vignetting"));
  }
  SECTION("aperture without focus") {
    o.aperture_radius_mm = 2;
    CHECK_THROWS_WITH(o.validate(), Catch::Contains("focus_depth_mm"));
  }
  SECTION("principal point outside the image") {
    o.mono.principal = {500, 20};
    CHECK_THROWS_WITH(o.validate(), Catch::Contains("mono.principal.x"));
  }
}

TEST_CASE("The simulator's sensor noise has the statistics of docs/evaluation.md's sensor models", "[simulate][sensor]") {
  SimulateOptions o = small_options();
  o.mono.size = o.color.size = {320, 240};
  o.color_sensor.bayer = false;  // the demosaic mixes neighbours; the noise model is per pixel
  o.color_sensor.light = 0.2;
  const Simulation s = simulate(o);
  // Residuals in linear light, divided by the model's sigma at each pixel, must be unit normal.
  auto zscore_std = [](const cv::Mat& observed8, const cv::Mat& clean, auto sigma_of) {
    const cv::Mat obs = to_linear(observed8);
    double sum = 0, sum2 = 0;
    long long n = 0;
    const int ch = clean.channels();
    for (int r = 0; r < clean.rows; ++r)
      for (int c = 0; c < clean.cols * ch; ++c) {
        const float m = clean.ptr<float>(r)[c];
        if (m < 0.03f || m > 0.8f) continue;  // away from the 8-bit floor and from clipping
        const double z = (obs.ptr<float>(r)[c] - m) / sigma_of(m);
        sum += z;
        sum2 += z * z;
        ++n;
      }
    REQUIRE(n > 10000);
    const double mean = sum / n;
    return std::sqrt(sum2 / n - mean * mean);
  };
  const MonoSensor ms;
  const cv::Mat mono_clean = mono_response(s.clean_color_at_mono, ms);
  const double zm = zscore_std(s.mono, mono_clean, [&](double m) { return ms.noise * std::sqrt(m / 0.18); });
  const double N = o.color_sensor.photons_at_white * o.color_sensor.light;
  const double read = o.color_sensor.read_noise / std::sqrt(o.color_sensor.light);
  const double zc = zscore_std(s.color, s.clean_color_at_color, [&](double m) { return std::sqrt(m / N + read * read); });
  INFO("mono z-score std " << zm << ", colour " << zc);
  // 8-bit quantisation adds a little (a step of about 1/255 in sRGB).
  CHECK(zm == Approx(1.0).margin(0.12));
  CHECK(zc == Approx(1.0).margin(0.08));
}

TEST_CASE("A simulation's bokeh truth: a pinhole aperture gives the clean colour view, a wide one blurs",
          "[simulate][defocus]") {
  SimulateOptions o = small_options();
  o.mono.size = o.color.size = {96, 72};
  o.supersample = 8;  // the clean view close to the pixel's box filter, as the bokeh samples it
  o.color.exposure = 0.8;
  o.focus_depth_mm = 300;
  o.aperture_radius_mm = 10;  // circles of confusion up to 2 px at 96 px width
  o.bokeh_samples = 256;
  const Simulation s = simulate(o);
  REQUIRE(s.bokeh.size() == s.color.size());
  ThinLens lens;
  lens.focus_depth_mm = 300;
  lens.samples = 256;
  lens.seed = o.seed;
  lens.aperture_radius_mm = 10;
  CHECK(cv::norm(simulation_bokeh_truth(o, lens), s.bokeh, cv::NORM_INF) == 0);
  lens.aperture_radius_mm = 0;
  const double pinhole = psnr8(to_srgb8(simulation_bokeh_truth(o, lens)), to_srgb8(s.clean_color_at_color));
  const double wide = psnr8(to_srgb8(s.bokeh), to_srgb8(s.clean_color_at_color));
  INFO("pinhole " << pinhole << " dB, A = 10 mm " << wide << " dB against the clean colour view");
  CHECK(pinhole > 35);  // 256 scrambled samples against an 8 x 8 grid: the same image
  CHECK(wide < pinhole - 10);
}
