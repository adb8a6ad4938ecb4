// Synthetic depth of field: focus kept, occlusion order, semi-transparent foreground, highlight
// discs of the right size and shape, determinism across thread counts, option checks.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>

#include <opencv2/imgproc.hpp>

#include "dualcam/engine/color.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/metrics.hpp"
#include "dualcam/engine/parallel.hpp"
#include "dualcam/fusion/bokeh.hpp"
#include "dualcam/fusion/refine.hpp"

using namespace dualcam;
using namespace dualcam::fusion;

namespace {

// Deterministic fine texture (linear BGR in [0.05, 0.85]).
cv::Mat texture(cv::Size size, int seed) {
  cv::Mat img(size, CV_32FC3);
  for (int y = 0; y < size.height; ++y)
    for (int x = 0; x < size.width; ++x) {
      const float a = 0.45f + 0.2f * std::sin(0.9f * x + 0.3f * seed) * std::cos(0.7f * y);
      const float b = 0.45f + 0.2f * std::sin(0.31f * (x + 2 * y) + seed);
      img.at<cv::Vec3f>(y, x) = cv::Vec3f(a, b, 0.5f * (a + b)) + cv::Vec3f::all(0.15f * ((x * 7 + y * 13 + seed) % 5 == 0));
    }
  return img;
}

// Left half (x < split) at disparity d_left, the rest at d_right.
cv::Mat two_planes(cv::Size size, int split, float d_left, float d_right) {
  cv::Mat d(size, CV_32F, cv::Scalar(d_right));
  d(cv::Rect(0, 0, split, size.height)).setTo(d_left);
  return d;
}

double max_abs_diff(const cv::Mat& a, const cv::Mat& b) { return cv::norm(a, b, cv::NORM_INF); }

}  // namespace

TEST_CASE("Bokeh leaves the focus plane unchanged and keeps the blurred background off a sharp foreground",
          "[bokeh]") {
  const cv::Size size(160, 100);
  const int split = 80;
  const cv::Mat img = texture(size, 1);
  // Foreground (left, disparity 20) in focus; background (right, 10) blurred with radius 8.
  const cv::Mat d = two_planes(size, split, 20, 10);
  BokehOptions o;
  o.focus_disparity_px = 20;
  o.blur_per_disparity = 0.8;
  const cv::Mat out = render_bokeh(img, d, o);
  const cv::Rect focus(0, 0, split, size.height);
  CHECK(psnr8(to_srgb8(out(focus)), to_srgb8(img(focus))) > 40.0);
  // Up to the very edge: the columns next to the background are untouched.
  const cv::Rect edge(split - 3, 0, 3, size.height);
  CHECK(max_abs_diff(out(edge), img(edge)) < 1e-4);
  // The background is blurred.
  const cv::Rect back(split + 10, 10, 60, 80);
  CHECK(psnr8(to_srgb8(out(back)), to_srgb8(img(back))) < 30.0);
  // Next to the edge the background is blurred with background pixels only. The foreground's
  // blue channel is 0.9 and the background's 0.05: no blue may reach the band beside the edge
  // (the naive peer, which blurs everything together, lets it in: tests/eval/test_peers.cpp).
  cv::Mat marked = img.clone();
  for (int y = 0; y < size.height; ++y)
    for (int x = 0; x < size.width; ++x) marked.at<cv::Vec3f>(y, x)[0] = x < split ? 0.9f : 0.05f;
  const cv::Mat ours_m = render_bokeh(marked, d, o);
  const cv::Rect band(split, 0, 6, size.height);
  std::vector<cv::Mat> ours_ch;
  cv::split(ours_m(band), ours_ch);
  double ours_blue;
  cv::minMaxLoc(ours_ch[0], nullptr, &ours_blue);
  CHECK(ours_blue < 0.06);
}

TEST_CASE("A blurred foreground spreads semi-transparently over a sharp background", "[bokeh]") {
  const cv::Size size(160, 60);
  const int split = 80;
  cv::Mat img(size, CV_32FC3, cv::Scalar(0.1, 0.1, 0.8));  // background: red (BGR)
  img(cv::Rect(0, 0, split, size.height)).setTo(cv::Scalar(0.8, 0.1, 0.1));  // foreground: blue
  // Foreground (left, disparity 30) blurred with radius 10; background (right, 10) in focus.
  const cv::Mat d = two_planes(size, split, 30, 10);
  BokehOptions o;
  o.focus_disparity_px = 10;
  o.blur_per_disparity = 0.5;
  const cv::Mat out = render_bokeh(img, d, o);
  const int y = size.height / 2;
  auto blue_share = [&](const cv::Mat& m, int x) {
    const cv::Vec3f p = m.at<cv::Vec3f>(y, x);
    return (p[0] - 0.1f) / 0.7f;
  };
  // Outside the silhouette, within the radius: part foreground, part background.
  CHECK(blue_share(out, split + 2) > 0.15);
  CHECK(blue_share(out, split + 2) < 0.6);
  CHECK(blue_share(out, split + 5) > 0.02);
  CHECK(blue_share(out, split + 5) < blue_share(out, split + 2));
  // Beyond the radius the background is as it was.
  CHECK(max_abs_diff(out(cv::Rect(split + 12, 0, 20, size.height)), img(cv::Rect(split + 12, 0, 20, size.height))) < 1e-4);
  // Inside the silhouette near the edge the hidden background shows through.
  CHECK(blue_share(out, split - 2) < 0.9);
  CHECK(blue_share(out, split - 2) > 0.4);
}

TEST_CASE("A highlight becomes a disc of the blur radius, in the aperture's shape", "[bokeh]") {
  const cv::Size size(101, 101);
  cv::Mat img(size, CV_32FC3, cv::Scalar::all(0));
  img.at<cv::Vec3f>(50, 50) = cv::Vec3f(1, 1, 1);
  const cv::Mat d(size, CV_32F, cv::Scalar(20.0f));
  BokehOptions o;
  o.focus_disparity_px = 0;
  o.blur_per_disparity = 0.75;  // radius 15
  const double r = 15;
  auto measure = [&](const BokehOptions& opt, double& area, int& half_w, int& half_h, double& energy) {
    const cv::Mat out = render_bokeh(img, d, opt);
    std::vector<cv::Mat> ch;
    cv::split(out, ch);
    double peak;
    cv::minMaxLoc(ch[1], nullptr, &peak);
    const cv::Mat lit = ch[1] > 0.5 * peak;
    area = cv::countNonZero(lit);
    const cv::Rect box = cv::boundingRect(lit);
    half_w = box.width / 2;
    half_h = box.height / 2;
    energy = cv::sum(ch[1])[0];
  };
  double area, energy;
  int hw, hh;
  measure(o, area, hw, hh, energy);
  CHECK(area == Approx(CV_PI * r * r).epsilon(0.06));
  CHECK(std::abs(hw - r) <= 1);
  CHECK(std::abs(hh - r) <= 1);
  CHECK(energy == Approx(1.0).epsilon(0.01));

  o.aperture = parse_aperture("hexagon");  // a vertex up: narrower across than high
  measure(o, area, hw, hh, energy);
  CHECK(area == Approx(1.5 * std::sqrt(3.0) * r * r).epsilon(0.06));
  CHECK(std::abs(hh - r) <= 1);
  CHECK(std::abs(hw - r * std::sqrt(3.0) / 2) <= 1);

  o.aperture = parse_aperture("blades:5");
  measure(o, area, hw, hh, energy);
  CHECK(area == Approx(2.5 * std::sin(2 * CV_PI / 5) * r * r).epsilon(0.06));

  // Highlights near clipping are boosted before the blur: the disc carries G times the light.
  o.aperture = Aperture{};
  o.highlight_gain = 4;
  measure(o, area, hw, hh, energy);
  CHECK(energy == Approx(4.0).epsilon(0.01));
  CHECK(area == Approx(CV_PI * r * r).epsilon(0.06));
}

TEST_CASE("A blurred point is the same wherever it falls on the tile grid", "[bokeh]") {
  // Reduced grids are blurred per 32x32 tile and the output is composited per 64x64 tile, each
  // only where a level reaches: a disc must come out whole and identical across tile borders.
  // Radius 6 (full resolution) and 14 (between two levels on the same reduced grid); the point
  // moves in whole pixels of that grid across several tile borders of both kinds.
  const cv::Size size(300, 140);
  for (const double r : {6.0, 14.0}) {
    BokehOptions o;
    o.focus_disparity_px = 0;
    o.blur_per_disparity = r / 10.0;
    // The levels around r (BokehOptions' step rule) and their grids' reduction.
    double lo = 0, hi = 0;
    while (hi < r) {
      lo = hi;
      hi += std::max(1.0, (hi > o.full_res_radius_px ? o.reduced_layer_growth : o.layer_growth) * hi);
    }
    auto grid = [&](double level) {
      return level > o.full_res_radius_px ? std::max(2, int(std::ceil(level / o.reduced_radius_px))) : 1;
    };
    REQUIRE(grid(lo) == grid(hi));
    const int scale = grid(hi);
    const int step = scale == 1 ? 3 : scale;
    // Nothing beyond the disc grown by the reduced grid's box-down and bilinear-up.
    const int beyond = int(r) + 2 * scale + 2;
    const int half = beyond + 2;
    cv::Mat first;
    for (int x0 = half + 4; x0 + half < size.width - 4; x0 += step) {
      // A small blurred patch (the layer is sparse) in front of a black background in focus.
      cv::Mat d(size, CV_32F, cv::Scalar(0.0f));
      d(cv::Rect(x0 - 2, 68, 5, 5)).setTo(10.0f);
      cv::Mat img(size, CV_32FC3, cv::Scalar::all(0.0));
      img.at<cv::Vec3f>(70, x0) = cv::Vec3f(1, 1, 1);
      const cv::Mat out = render_bokeh(img, d, o);
      const cv::Mat patch = out(cv::Rect(x0 - half, 70 - half, 2 * half + 1, 2 * half + 1)).clone();
      if (first.empty()) {
        first = patch;
        CHECK(cv::sum(out)[1] == Approx(1.0).epsilon(0.01));
        CHECK(out.at<cv::Vec3f>(70, x0 + beyond)[1] == 0.0f);
        CHECK(out.at<cv::Vec3f>(70 - beyond, x0)[1] == 0.0f);
        // ... but the disc has its radius: light at 0.8 r.
        CHECK(out.at<cv::Vec3f>(70, x0 + int(0.8 * r))[1] > 0.0f);
      }
      INFO("radius " << r << ", point at x " << x0);
      CHECK(cv::norm(patch, first, cv::NORM_INF) < 1e-6);
    }
  }
}

TEST_CASE("A depth map of many levels renders: colour kept, close to the all-full-resolution render", "[bokeh]") {
  // Every 4x4 block at its own radius, -24..24 px (all the levels, in every 64x64 tile): the
  // case whose cost used to follow the depth content.
  const cv::Size size(320, 200);
  cv::Mat d(size, CV_32F);
  for (int y = 0; y < size.height; ++y)
    for (int x = 0; x < size.width; ++x) {
      const unsigned h = (unsigned(x / 4) * 73856093u) ^ (unsigned(y / 4) * 19349663u);
      d.at<float>(y, x) = float((h >> 7) % 97) * 0.5f;  // 0 .. 48, focus 24
    }
  BokehOptions o;
  o.focus_disparity_px = 24;
  o.blur_per_disparity = 1.0;
  BokehStats st;
  // A uniform image stays uniform, channel by channel, whatever the layers and their occlusion.
  const cv::Mat flat(size, CV_32FC3, cv::Scalar(0.2, 0.5, 0.8));
  const cv::Mat out_flat = render_bokeh(flat, d, o, &st);
  CHECK(st.layers >= 25);
  CHECK(st.reduced_layers >= 10);
  CHECK(max_abs_diff(out_flat, flat) < 1e-4);
  // The reduced grids against the exact render with every level at full resolution.
  const cv::Mat img = texture(size, 5);
  const cv::Mat out = render_bokeh(img, d, o);
  BokehOptions exact = o;
  exact.full_res_radius_px = 64;
  exact.reduced_radius_px = 64;
  exact.reduced_layer_growth = exact.layer_growth;
  BokehStats st_exact;
  const cv::Mat ref = render_bokeh(img, d, exact, &st_exact);
  CHECK(st_exact.reduced_layers == 0);
  CHECK(cv::checkRange(out));
  const double p = psnr8(to_srgb8(out), to_srgb8(ref));
  INFO("PSNR against the all-full-resolution render " << p << " dB");
  CHECK(p > 40.0);
  // ... and it is blurred: far from the input.
  CHECK(psnr8(to_srgb8(out), to_srgb8(img)) < 30.0);
}

TEST_CASE("Two layers render the same through the reduced grids as through full resolution", "[bokeh]") {
  // A sharp foreground over a background blurred with radius 20: only two levels; the reduced
  // background stays close to the exact one, and the foreground is untouched.
  const cv::Size size(240, 160);
  const cv::Mat img = texture(size, 7);
  const cv::Mat d = two_planes(size, 120, 30, 10);
  BokehOptions o;
  o.focus_disparity_px = 30;
  o.blur_per_disparity = 1.0;
  BokehOptions exact = o;
  exact.full_res_radius_px = 64;
  exact.reduced_radius_px = 64;
  const cv::Mat out = render_bokeh(img, d, o), ref = render_bokeh(img, d, exact);
  const cv::Rect fg(0, 0, 117, size.height), bg(150, 30, 60, 100);
  CHECK(max_abs_diff(out(fg), img(fg)) < 1e-4);
  CHECK(psnr8(to_srgb8(out(bg)), to_srgb8(ref(bg))) > 40.0);
}

TEST_CASE("Bokeh gives the same bytes for 1 and 2 threads", "[bokeh][determinism]") {
  const cv::Size size(300, 200);
  const cv::Mat img = texture(size, 3);
  cv::Mat d(size, CV_32F);
  for (int y = 0; y < size.height; ++y)
    for (int x = 0; x < size.width; ++x) d.at<float>(y, x) = 5.0f + 0.1f * x + (std::hypot(x - 150, y - 100) < 40 ? 25.0f : 0.0f);
  d(cv::Rect(10, 10, 5, 5)).setTo(std::numeric_limits<float>::quiet_NaN());
  BokehOptions o;
  o.focus_disparity_px = 20;
  o.blur_per_disparity = 1.2;
  o.aperture = parse_aperture("hexagon");
  o.highlight_gain = 3;
  cv::Mat a, b;
  {
    ThreadScope t(1);
    a = t.run([&] { return render_bokeh(img, refine_view_disparity(d, img, 5), o); });
  }
  {
    ThreadScope t(2);
    b = t.run([&] { return render_bokeh(img, refine_view_disparity(d, img, 5), o); });
  }
  REQUIRE(a.size() == b.size());
  CHECK(std::memcmp(a.data, b.data, a.total() * a.elemSize()) == 0);
  cv::Mat r1, r2, r3;
  {
    ThreadScope t(1);
    r1 = t.run([&] { return refine_view_disparity(d, img, 5); });
    r3 = t.run([&] { return refine_view_disparity(d, img, 5); });
  }
  {
    ThreadScope t(2);
    r2 = t.run([&] { return refine_view_disparity(d, img, 5); });
  }
  CHECK(cv::norm(r1, r3, cv::NORM_INF) == 0);
  CHECK(cv::norm(r1, r2, cv::NORM_INF) == 0);
  CHECK(cv::checkRange(a));
}

TEST_CASE("Disparity refinement moves a depth edge onto the image edge", "[bokeh]") {
  const cv::Size size(120, 60);
  cv::Mat img(size, CV_32FC3, cv::Scalar(0.05, 0.05, 0.6));
  img(cv::Rect(0, 0, 60, size.height)).setTo(cv::Scalar(0.6, 0.5, 0.05));
  cv::Mat d = two_planes(size, 64, 30, 10);  // the matcher put the edge 4 px too far right
  d(cv::Rect(30, 20, 3, 3)).setTo(std::numeric_limits<float>::quiet_NaN());
  const cv::Mat r = refine_view_disparity(d, img, 7);
  REQUIRE(r.size() == size);
  CHECK(cv::checkRange(r));
  int wrong_before = 0, wrong_after = 0;
  for (int y = 0; y < size.height; ++y)
    for (int x = 0; x < size.width; ++x) {
      const float truth = x < 60 ? 30.0f : 10.0f;
      wrong_before += !(std::abs(d.at<float>(y, x) - truth) < 1);
      wrong_after += !(std::abs(r.at<float>(y, x) - truth) < 1);
    }
  CHECK(wrong_before >= 4 * size.height);
  CHECK(wrong_after < wrong_before / 4);
}

TEST_CASE("Bokeh options and inputs are checked", "[bokeh][bad]") {
  CHECK(parse_aperture("circle").blades == 0);
  CHECK(parse_aperture("hexagon").blades == 6);
  CHECK(parse_aperture("blades:7").blades == 7);
  for (const char* bad : {"square", "blades:2", "blades:33", "blades:", "blades:6x", ""})
    CHECK_THROWS_AS(parse_aperture(bad), Error);
  const cv::Mat d(40, 50, CV_32F, cv::Scalar(3.0f));
  CHECK(focus_disparity_at(d, {10, 10}) == 3.0);
  CHECK_THROWS_AS(focus_disparity_at(d, {50, 10}), Error);
  CHECK_THROWS_AS(focus_disparity_at(d, {-1, 0}), Error);
  const cv::Mat unknown(40, 50, CV_32F, cv::Scalar(std::numeric_limits<float>::quiet_NaN()));
  CHECK_THROWS_AS(focus_disparity_at(unknown, {10, 10}), Error);
  // A disparity of another type is refused by name (it was a CV_Assert: exit code 1 "internal").
  for (const cv::Mat& wrong : {cv::Mat(40, 50, CV_8UC1, cv::Scalar(3)), cv::Mat(40, 50, CV_32FC3), cv::Mat()}) {
    try {
      focus_disparity_at(wrong, {10, 10});
      FAIL("expected an error");
    } catch (const Error& e) {
      CHECK(e.category() == ErrorCategory::InvalidInput);
      CHECK_THAT(e.what(), Catch::Contains("focus_disparity_at") && Catch::Contains("CV_32FC1"));
    }
  }
  BokehOptions o;
  o.blur_per_disparity = -1;
  CHECK_THROWS_AS(o.validate(), Error);
  o = BokehOptions{};
  o.highlight_gain = 0.5;
  CHECK_THROWS_AS(o.validate(), Error);
  const cv::Mat img(40, 50, CV_32FC3, cv::Scalar::all(0.5));
  CHECK_THROWS_AS(render_bokeh(img, cv::Mat(40, 49, CV_32F, cv::Scalar(1.0f)), BokehOptions{}), Error);
  // f-number: A / B = f_px * pitch / (2 F B): 3000 px * 1.0 um = 3 mm focal, F 2 -> A 0.75 mm; B 10 mm.
  CHECK(blur_per_disparity_from_f_number(2.0, 3000, 1.0, 10.0) == Approx(0.075));
  // Largest radius: |d - focus| up to 10 px -> 0.5 px/px for 5 px.
  cv::Mat ramp(1, 11, CV_32F);
  for (int x = 0; x <= 10; ++x) ramp.at<float>(0, x) = float(x);
  CHECK(blur_per_disparity_for_max_blur(ramp, 0.0, 5.0) == Approx(0.5));
}
