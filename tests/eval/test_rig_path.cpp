// The rig path (rig_path.hpp): the rig's two views see the rectified pair's scene consistently
// through the rig's own R, T and lenses, every pixel of a view is inside the rectified image, and
// P1 / P2 on the rig path score against the clean images at the rig's views.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>

#include <opencv2/calib3d.hpp>
#include <opencv2/imgproc.hpp>

#include "datasets/synthetic_middlebury.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/eval/methods.hpp"
#include "dualcam/eval/rig_path.hpp"
#include "support.hpp"

using namespace dualcam;
using namespace dualcam::eval;
namespace fs = std::filesystem;

namespace {

// Bilinear value of a CV_32F map at (x, y).
double at(const cv::Mat& m, cv::Point2d p) {
  const int x = int(std::floor(p.x)), y = int(std::floor(p.y));
  const double a = p.x - x, b = p.y - y;
  auto v = [&](int yy, int xx) { return double(m.at<float>(yy, xx)); };
  return (v(y, x) * (1 - a) + v(y, x + 1) * a) * (1 - b) + (v(y + 1, x) * (1 - a) + v(y + 1, x + 1) * a) * b;
}

cv::Point2d project(const CameraModel& cam, const cv::Matx33d& R, const cv::Vec3d& t, const cv::Vec3d& X) {
  cv::Vec3d rv;
  cv::Rodrigues(R, rv);
  std::vector<cv::Point3d> in{cv::Point3d(X[0], X[1], X[2])};
  std::vector<cv::Point2d> out;
  cv::projectPoints(in, rv, t, cv::Mat(cam.K), cam.dist, out);
  return out[0];
}

// A scene fusion can work on (unlike make_synthetic_scene's colour noise): smooth colour regions
// times fine grey texture, a background plane at disparity d_back and a nearer rectangle at
// d_front; the left view is built from the right one, so the truth is exact.
test::SyntheticScene textured_scene(int seed, cv::Size size, int d_back, int d_front) {
  cv::RNG rng(std::uint64_t(seed) * 104729 + 3);
  cv::Mat coarse(size.height / 16 + 2, size.width / 16 + 2, CV_32FC3), grain(size, CV_32F);
  rng.fill(coarse, cv::RNG::UNIFORM, 0.15, 0.85);
  rng.fill(grain, cv::RNG::UNIFORM, 0.6, 1.0);
  cv::Mat colour, fine, right;
  cv::resize(coarse, colour, size, 0, 0, cv::INTER_CUBIC);
  cv::GaussianBlur(grain, fine, {3, 3}, 0.8);
  cv::Mat fine3;
  cv::merge(std::vector<cv::Mat>{fine, fine, fine}, fine3);
  cv::Mat(colour.mul(fine3)).convertTo(right, CV_8UC3, 255.0);
  test::SyntheticScene s;
  s.right = right;
  s.disparity = cv::Mat(size, CV_32F, cv::Scalar(d_back));
  s.disparity(cv::Rect(size.width / 3, size.height / 4, size.width / 3, size.height / 2)).setTo(d_front);
  s.left = cv::Mat(size, CV_8UC3);
  for (int r = 0; r < size.height; ++r)
    for (int c = 0; c < size.width; ++c) {
      const int xr = c - int(s.disparity.at<float>(r, c));
      s.left.at<cv::Vec3b>(r, c) = right.at<cv::Vec3b>(r, std::max(0, xr));
    }
  return s;
}

}  // namespace

TEST_CASE("Rig path: both views see the rectified pair's scene through the rig's R, T and lenses", "[eval][rig_path]") {
  const cv::Size size(463, 370);
  const RigPathOptions o;
  const RigPath p = make_rig_path(size, o);
  const double f = p.rectified_focal_px, cx = 0.5 * (size.width - 1), cy = 0.5 * (size.height - 1);
  const double B = o.baseline_mm;
  CHECK(f == Approx(0.875 * size.width));
  CHECK(p.rig.baseline() == Approx(B));
  CHECK(p.rig.mono.dist.total() == 5);
  CHECK(p.rig.color.dist.total() == 8);
  int checked = 0;
  double worst = 0;
  for (double y = 30; y < size.height - 30; y += 37)
    for (double x = 80; x < size.width - 30; x += 41)
      for (double d : {12.0, 30.0, 60.0}) {
        // The point the rectified pair shows at left (x, y) and right (x - d, y).
        const cv::Vec3d Xr(B * (x - cx) / d, B * (y - cy) / d, f * B / d);
        const cv::Vec3d Xm = p.mono.rect_from_camera.t() * Xr;
        const cv::Point2d pm = project(p.rig.mono, cv::Matx33d::eye(), {0, 0, 0}, Xm);
        const cv::Point2d pc = project(p.rig.color, p.rig.R, p.rig.T, Xm);
        if (pm.x < 0 || pm.y < 0 || pm.x > size.width - 2 || pm.y > size.height - 2) continue;
        if (pc.x < 0 || pc.y < 0 || pc.x > size.width - 2 || pc.y > size.height - 2) continue;
        ++checked;
        worst = std::max({worst, std::hypot(at(p.mono.map_x, pm) - x, at(p.mono.map_y, pm) - y),
                          std::hypot(at(p.color.map_x, pc) - (x - d), at(p.color.map_y, pc) - y)});
      }
  INFO(checked << " points, worst " << worst << " px");
  CHECK(checked > 100);
  CHECK(worst < 0.01);  // float maps, bilinear between pixels

  // Every pixel of each view sees the rectified image 1 px inside its edges, and no more zoom
  // than that takes: some pixel sees within 0.02 px of the margin.
  for (const RigView* v : {&p.mono, &p.color}) {
    double lo_x, hi_x, lo_y, hi_y;
    cv::minMaxLoc(v->map_x, &lo_x, &hi_x);
    cv::minMaxLoc(v->map_y, &lo_y, &hi_y);
    CHECK(lo_x >= 1.0 - 1e-3);
    CHECK(lo_y >= 1.0 - 1e-3);
    CHECK(hi_x <= size.width - 2 + 1e-3);
    CHECK(hi_y <= size.height - 2 + 1e-3);
    CHECK(std::min({lo_x - 1, lo_y - 1, size.width - 2 - hi_x, size.height - 2 - hi_y}) < 0.02);
  }
  // The lenses move the corners by pixels: the rig is distorted, not nearly ideal.
  const cv::Point2d corner = project(p.rig.mono, cv::Matx33d::eye(), {0, 0, 0}, {-0.5, -0.4, 1.0});
  const cv::Point2d pinhole(p.rig.mono.K(0, 2) - 0.5 * p.rig.mono.K(0, 0), p.rig.mono.K(1, 2) - 0.4 * p.rig.mono.K(1, 1));
  CHECK(cv::norm(corner - pinhole) > 5);

  RigPathOptions bad;
  bad.color_distortion = {0.1, 0.2, 0.3};
  CHECK_THROWS_AS(make_rig_path(size, bad), Error);
  bad = {};
  bad.mono_rotation_deg[1] = 20;
  CHECK_THROWS_AS(make_rig_path(size, bad), Error);
}

TEST_CASE("Rig path: P1 and P2 score at the rig's views, and the engine and the peer run through the rig",
          "[eval][rig_path]") {
  test::TempDir dir;
  for (int i = 0; i < 2; ++i) {
    const fs::path s = dir.path() / ("scene" + std::to_string(i));
    fs::create_directories(s);
    test::write_middlebury_2005(textured_scene(i, {240, 180}, 6, 14), s.string());
  }
  const auto scenes = datasets::find_scenes(dir.path().string());
  EvalOptions o;
  o.rig_path.emplace();
  CHECK_THROWS_AS(o.validate(Protocol::Depth), Error);
  CHECK_NOTHROW(o.validate(Protocol::P1));
  // A method that knows the clean scene at the rig's views scores +inf; the rectified image scores badly.
  std::map<std::string, datasets::MiddleburyScene> clean;
  for (const auto& s : scenes) clean[s.name] = datasets::load_scene(s);
  Method exact{"truth at the rig's view", [&](const MethodInput& in) {
                 REQUIRE(in.rig);
                 const RigPath p = make_rig_path(in.mono.size(), *o.rig_path);
                 CHECK(in.rig->baseline() == Approx(p.rig.baseline()));
                 return view_through_rig(clean.at(in.scene).left, p.mono);
               }};
  const EvalResult r = evaluate_p1(scenes, exact, o);
  CHECK(std::isinf(r.mean_of("psnr_db")));
  CHECK(std::isinf(r.mean_of("psnr_eval_db")));
  CHECK(r.to_json()["options"].contains("rig_path"));
  Method rectified{"rectified truth", [&](const MethodInput& in) { return clean.at(in.scene).left.clone(); }};
  CHECK(evaluate_p1(scenes, rectified, o).mean_of("psnr_db") < 25.0);
  CHECK(std::isinf(evaluate_p1(scenes, rectified, {}).mean_of("psnr_db")));

  // The engine and the peer on the rig path beat the grey mono on P1; the engine stays near its
  // rectified figure (measured: 28.96 -> 27.61 dB) while the peer, which resamples the mono into
  // the rectified frame and back, loses more (28.14 -> 26.42 dB); P2 beats its colour input.
  Method grey{"grey", [](const MethodInput& in) {
                cv::Mat g;
                cv::cvtColor(in.mono, g, cv::COLOR_GRAY2BGR);
                return g;
              }};
  const double grey_db = evaluate_p1(scenes, grey, o).mean_of("psnr_db");
  const double engine_db = evaluate_p1(scenes, engine_method(Protocol::P1), o).mean_of("psnr_db");
  const double peer_db = evaluate_p1(scenes, peer_method(Protocol::P1), o).mean_of("psnr_db");
  const double engine_rect_db = evaluate_p1(scenes, engine_method(Protocol::P1), {}).mean_of("psnr_db");
  const double peer_rect_db = evaluate_p1(scenes, peer_method(Protocol::P1), {}).mean_of("psnr_db");
  INFO("rectified: engine " << engine_rect_db << " dB, peer " << peer_rect_db << " dB");
  INFO("P1 on the rig path: grey " << grey_db << " dB, engine " << engine_db << " dB, peer " << peer_db << " dB");
  CHECK(engine_db > grey_db + 5);
  CHECK(peer_db > grey_db + 3);
  CHECK(engine_db > engine_rect_db - 2.5);
  CHECK(engine_db > peer_db + 0.5);
  const EvalResult p2 = evaluate_p2(scenes, engine_method(Protocol::P2), o);
  CHECK(p2.mean_of("psnr_db") > p2.mean_of("input_psnr_db"));
}

TEST_CASE("peer_colorize_rig refuses a rig whose colour camera is not to the right of the mono", "[eval][rig_path]") {
  const RigPath p = make_rig_path({160, 120});
  StereoRig left = p.rig;
  left.T = -left.T;
  const cv::Mat mono(120, 160, CV_8UC1, cv::Scalar(100)), color(120, 160, CV_8UC3, cv::Scalar(90, 100, 110));
  CHECK_THROWS_AS(peer_colorize_rig(mono, color, left, {}), Error);
  CHECK_THROWS_AS(peer_colorize_rig(mono, color(cv::Rect(0, 0, 100, 100)), p.rig, {}), Error);
}
