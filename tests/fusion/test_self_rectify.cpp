// Self-rectification without a rig (`--rig auto`) on simulated uncalibrated pairs whose truth is
// known: the true correspondence of every mono pixel (from its depth through the true rig) must
// land on the same canonical row, and the disparity fuse returns must match the simulator's.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include <opencv2/calib3d.hpp>
#include <opencv2/imgproc.hpp>

#include "dualcam/datasets/simulate.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/parallel.hpp"
#include "dualcam/fusion/pipeline.hpp"
#include "dualcam/fusion/self_rectify.hpp"

using namespace dualcam;

namespace {

datasets::SimulateOptions base_options(std::uint32_t seed) {
  datasets::SimulateOptions o;
  o.mono.size = o.color.size = {640, 480};
  o.supersample = 1;
  o.seed = seed;
  o.color_sensor.light = 0.25;  // a dim scene: noisy colour
  o.mono_sensor.noise = 0.012;  // and a noisy mono (three times the simulator's default)
  return o;
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  const std::size_t k = std::min(v.size() - 1, std::size_t(q * (v.size() - 1) + 0.5));
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return v[k];
}

cv::Point2d apply(const cv::Matx33d& H, const cv::Point2d& p) {
  const cv::Vec3d v = H * cv::Vec3d(p.x, p.y, 1.0);
  return {v[0] / v[2], v[1] / v[2]};
}

struct TruthRows {
  int points = 0;
  double rms = 0, p95 = 0, max = 0;
};

// The true colour pixel of every 4th mono pixel (its depth through the true rig), kept where the
// colour camera sees that same surface (its own depth agrees: not occluded), taken to the
// canonical frame by the self-rectification: the rows must agree.
TruthRows truth_rows(const datasets::Simulation& sim, const fusion::SelfRectification& s) {
  const StereoRig& rig = sim.rig;
  std::vector<cv::Point2f> px;
  std::vector<float> z;
  for (int r = 0; r < sim.depth_mono.rows; r += 4)
    for (int c = 0; c < sim.depth_mono.cols; c += 4) {
      const float d = sim.depth_mono.at<float>(r, c);
      if (std::isfinite(d)) {
        px.emplace_back(float(c), float(r));
        z.push_back(d);
      }
    }
  std::vector<cv::Point2f> norm;
  cv::undistortPoints(px, norm, cv::Mat(rig.mono.K), rig.mono.dist);
  std::vector<cv::Point3d> X;
  for (std::size_t i = 0; i < norm.size(); ++i) X.emplace_back(norm[i].x * z[i], norm[i].y * z[i], z[i]);
  cv::Vec3d rvec;
  cv::Rodrigues(cv::Mat(rig.R), rvec);
  std::vector<cv::Point2d> in_color;
  cv::projectPoints(X, rvec, cv::Vec3d(rig.T), cv::Mat(rig.color.K), rig.color.dist, in_color);
  std::vector<double> dy;
  for (std::size_t i = 0; i < X.size(); ++i) {
    const cv::Point2d q = in_color[i];
    const int qc = int(std::lround(q.x)), qr = int(std::lround(q.y));
    if (qc < 0 || qr < 0 || qc >= sim.depth_color.cols || qr >= sim.depth_color.rows) continue;
    const cv::Vec3d Xc = rig.R * cv::Vec3d(X[i].x, X[i].y, X[i].z) + rig.T;
    const float seen = sim.depth_color.at<float>(qr, qc);
    if (!std::isfinite(seen) || std::abs(seen - Xc[2]) > 0.01 * Xc[2]) continue;  // occluded
    dy.push_back(apply(s.mono_to_canonical, px[i]).y - apply(s.color_to_canonical, q).y);
  }
  TruthRows t;
  t.points = int(dy.size());
  double sum2 = 0;
  for (double v : dy) {
    sum2 += v * v;
    t.max = std::max(t.max, std::abs(v));
  }
  for (double& v : dy) v = std::abs(v);
  t.rms = dy.empty() ? 0 : std::sqrt(sum2 / dy.size());
  t.p95 = percentile(dy, 0.95);
  return t;
}

cv::Mat grey(const cv::Mat& bgr) {
  cv::Mat g;
  cv::cvtColor(bgr, g, cv::COLOR_BGR2GRAY);
  return g;
}

}  // namespace

namespace {

struct DisparityCheck {
  double offset = 0;         // median of (fused - truth), px: the constant the matches cannot tell
  double mae = 0;            // mean |fused - truth - offset|, px
  double bad1 = 0;           // share of |fused - truth - offset| > 1 px
  double known = 0;          // share of the truth's pixels with a fused disparity
};

DisparityCheck disparity_check(const cv::Mat& d, const cv::Mat& truth) {
  std::vector<double> e;
  int truth_px = 0;
  for (int r = 0; r < d.rows; ++r)
    for (int c = 0; c < d.cols; ++c) {
      const float t = truth.at<float>(r, c), v = d.at<float>(r, c);
      if (!std::isfinite(t)) continue;
      ++truth_px;
      if (std::isfinite(v)) e.push_back(double(v) - t);
    }
  DisparityCheck k;
  k.known = truth_px ? double(e.size()) / truth_px : 0;
  if (e.empty()) return k;
  k.offset = percentile(e, 0.5);
  int bad = 0;
  double sum = 0;
  for (double v : e) {
    sum += std::abs(v - k.offset);
    bad += std::abs(v - k.offset) > 1.0;
  }
  k.mae = sum / e.size();
  k.bad1 = double(bad) / e.size();
  return k;
}

struct Outcome {
  fusion::SelfRectification s;
  TruthRows rows;
  DisparityCheck disparity;  // fuse's disparity at the colour view without a rig
  DisparityCheck with_rig;   // the same with the true rig: what the matcher itself achieves
};

Outcome run(const datasets::SimulateOptions& so) {
  const datasets::Simulation sim = datasets::simulate(so);
  Outcome out;
  out.s = fusion::self_rectify(sim.mono, grey(sim.color));
  out.rows = truth_rows(sim, out.s);
  fusion::FuseOptions fo;
  fo.auto_rig = true;
  const fusion::DepthResult d = fusion::compute_depth({sim.mono, sim.color, nullptr}, fo);
  out.disparity = disparity_check(d.disparity, sim.disparity_color);
  fo.auto_rig = false;
  const fusion::DepthResult dr = fusion::compute_depth({sim.mono, sim.color, &sim.rig}, fo);
  out.with_rig = disparity_check(dr.disparity, sim.disparity_color);
  return out;
}

std::string describe(const Outcome& o) {
  const auto& s = o.s;
  return s.model + " baseline " + s.baseline + ", " + std::to_string(s.inliers) + " inliers of " +
         std::to_string(s.refined) + " (" + std::to_string(s.matches) + " matches); feature rows rms " +
         std::to_string(s.rows.rms_px) + " p95 " + std::to_string(s.rows.p95_abs_px) + "; truth rows rms " +
         std::to_string(o.rows.rms) + " p95 " + std::to_string(o.rows.p95) + " max " + std::to_string(o.rows.max) +
         " over " + std::to_string(o.rows.points) + "; disparity offset " + std::to_string(o.disparity.offset) +
         " mae " + std::to_string(o.disparity.mae) + " bad-1 " + std::to_string(o.disparity.bad1) + " known " +
         std::to_string(o.disparity.known) + " (true rig: offset " + std::to_string(o.with_rig.offset) + " mae " +
         std::to_string(o.with_rig.mae) + " bad-1 " + std::to_string(o.with_rig.bad1) + "); focal " + std::to_string(s.focal_px) + " ratio " +
         std::to_string(s.focal_ratio) + "; direction costs " + std::to_string(s.cost_rows) + " / " +
         std::to_string(s.cost_columns);
}

}  // namespace

TEST_CASE("Self-rectification: colour camera above the mono, 3 degrees of roll, 5 % scale, 10 % offset",
          "[selfrect][truth]") {
  datasets::SimulateOptions o = base_options(11);
  o.color_position_mm = {0.0, -10.0, 0.0};
  o.rotation_deg = {0.5, -0.8, 3.0};
  o.color.focal_px = 1.05 * 0.875 * 640;           // 5 % more pixels per degree
  o.color.principal = {319.5 + 64.0, 239.5 - 10.0};  // the image 10 % of the width off
  const Outcome r = run(o);
  INFO(describe(r));
  CHECK(r.s.model == "fundamental");
  CHECK(r.s.baseline == "above");
  CHECK(r.rows.rms < 0.3);
  CHECK(r.rows.p95 < 0.5);
  // As close to the truth as with the true rig, up to the constant offset (engine/disparity.hpp).
  CHECK(r.disparity.bad1 < r.with_rig.bad1 + 0.03);
  CHECK(r.disparity.mae < 1.2 * r.with_rig.mae);
}

TEST_CASE("Self-rectification: colour camera left of the mono, larger and wider, turned 2.5 degrees",
          "[selfrect][truth]") {
  datasets::SimulateOptions o = base_options(12);
  o.color.size = {800, 600};
  o.color.focal_px = 0.8 * 800;  // 64 degrees across against the mono's 60
  o.color_position_mm = {-12.0, 0.0, 0.0};
  o.rotation_deg = {-0.6, 2.0, -2.5};
  const Outcome r = run(o);
  INFO(describe(r));
  CHECK(r.s.model == "fundamental");
  CHECK(r.s.baseline == "left");
  CHECK(r.rows.rms < 0.3);
  CHECK(r.rows.p95 < 0.5);
  // As close to the truth as with the true rig, up to the constant offset (engine/disparity.hpp).
  CHECK(r.disparity.bad1 < r.with_rig.bad1 + 0.03);
  CHECK(r.disparity.mae < 1.2 * r.with_rig.mae);
}

TEST_CASE("Self-rectification: colour camera below the mono, rotated the other way, a noisier mono",
          "[selfrect][truth]") {
  datasets::SimulateOptions o = base_options(13);
  o.mono_sensor.noise = 0.03;
  o.color_position_mm = {0.5, 10.0, 0.0};
  o.rotation_deg = {-1.0, 0.5, -3.0};
  o.color.focal_px = 0.95 * 0.875 * 640;
  const Outcome r = run(o);
  INFO(describe(r));
  CHECK(r.s.model == "fundamental");
  CHECK(r.s.baseline == "below");
  CHECK(r.rows.rms < 0.3);
  CHECK(r.rows.p95 < 0.5);
  // As close to the truth as with the true rig, up to the constant offset (engine/disparity.hpp).
  CHECK(r.disparity.bad1 < r.with_rig.bad1 + 0.03);
  CHECK(r.disparity.mae < 1.2 * r.with_rig.mae);
}

TEST_CASE("Self-rectification of a distant scene falls back to the homography", "[selfrect][truth]") {
  datasets::SimulateOptions o = base_options(14);
  o.near_mm = 400000;
  o.far_mm = 800000;  // under 0.02 px of parallax
  o.rotation_deg = {0.4, -1.5, 1.0};
  o.color.focal_px = 1.03 * 0.875 * 640;
  const Outcome r = run(o);
  INFO(describe(r));
  CHECK(r.s.model == "homography");
  CHECK(r.rows.rms < 0.3);
  CHECK(r.rows.p95 < 0.5);
}

TEST_CASE("Self-rectification does not depend on the thread count", "[selfrect][determinism]") {
  datasets::SimulateOptions o = base_options(15);
  o.rotation_deg = {0.3, 0.5, 1.5};
  const datasets::Simulation sim = datasets::simulate(o);
  const cv::Mat g = grey(sim.color);
  const fusion::SelfRectification a = ThreadScope(1).run([&] { return fusion::self_rectify(sim.mono, g); });
  const fusion::SelfRectification b = ThreadScope(2).run([&] { return fusion::self_rectify(sim.mono, g); });
  CHECK(a.inliers == b.inliers);
  CHECK(cv::norm(cv::Mat(a.mono_to_canonical), cv::Mat(b.mono_to_canonical), cv::NORM_INF) == 0.0);
  CHECK(cv::norm(cv::Mat(a.color_to_canonical), cv::Mat(b.color_to_canonical), cv::NORM_INF) == 0.0);
}

TEST_CASE("Self-rectification refuses a pair it cannot align, saying what it measured", "[selfrect][bad]") {
  datasets::SimulateOptions o = base_options(16);
  const datasets::Simulation sim = datasets::simulate(o);
  // The colour view of another scene: features match only by chance.
  o.seed = 99;
  const datasets::Simulation other = datasets::simulate(o);
  try {
    const fusion::SelfRectification s = fusion::self_rectify(sim.mono, grey(other.color));
    FAIL("expected an error; got " << s.to_json().dump());
  } catch (const Error& e) {
    INFO(e.what());
    CHECK(e.category() == ErrorCategory::Numerical);
    CHECK_THAT(e.what(), Catch::Contains("matches") && Catch::Contains("give a rig"));
  }
}
