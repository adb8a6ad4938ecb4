#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>

#include <opencv2/calib3d.hpp>
#include <opencv2/imgproc.hpp>

#include "dualcam/datasets/sample.hpp"
#include "dualcam/engine/metrics.hpp"
#include "dualcam/engine/parallel.hpp"
#include "dualcam/engine/rectify_geometry.hpp"
#include "dualcam/fusion/match.hpp"
#include "dualcam/fusion/pipeline.hpp"
#include "dualcam/fusion/rectify.hpp"

using namespace dualcam;

namespace {

// A deterministic texture: blurred uniform noise plus a few bars, values in [0,1].
cv::Mat texture(cv::Size size, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  cv::Mat t(size, CV_32F);
  for (int r = 0; r < size.height; ++r)
    for (int c = 0; c < size.width; ++c) t.at<float>(r, c) = u(rng);
  cv::GaussianBlur(t, t, cv::Size(), 1.2);
  cv::normalize(t, t, 0.05, 0.95, cv::NORM_MINMAX);
  return t;
}

struct SyntheticPair {
  cv::Mat left, right;    // CV_8UC1
  cv::Mat truth;          // left disparity, CV_32F
  cv::Mat occluded;       // CV_8U: left pixels that the right view does not see
};

// Left view: a background at disparity `d_bg` with a foreground rectangle at `d_fg`. The right
// view is built from the left by its known disparities, then passes through a different gain
// and gamma (the cross-spectral pair's radiometric gap).
SyntheticPair make_pair(int d_bg, int d_fg) {
  const cv::Size size(200, 120);
  const cv::Mat bg = texture(size + cv::Size(64, 0), 11), fg = texture(size + cv::Size(64, 0), 23);
  SyntheticPair p;
  cv::Mat left(size, CV_32F), right(size, CV_32F, cv::Scalar(0)), right_depth(size, CV_32F, cv::Scalar(-1));
  p.truth.create(size, CV_32F);
  const cv::Rect box(90, 30, 60, 60);
  for (int r = 0; r < size.height; ++r)
    for (int c = 0; c < size.width; ++c) {
      const bool in_fg = box.contains(cv::Point(c, r));
      left.at<float>(r, c) = in_fg ? fg.at<float>(r, c + 32) : bg.at<float>(r, c + 32);
      p.truth.at<float>(r, c) = float(in_fg ? d_fg : d_bg);
    }
  // Right view: the background shifted by d_bg, the foreground pasted over it shifted by d_fg.
  for (int r = 0; r < size.height; ++r)
    for (int c = 0; c < size.width; ++c) {
      right.at<float>(r, c) = bg.at<float>(r, c + 32 + d_bg);
      const int xl = c + d_fg;
      if (xl < size.width && box.contains(cv::Point(xl, r))) right.at<float>(r, c) = fg.at<float>(r, xl + 32);
    }
  // Left background pixels hidden behind the foreground in the right view.
  p.occluded = cv::Mat::zeros(size, CV_8U);
  for (int r = box.y; r < box.y + box.height; ++r)
    for (int c = box.x - (d_fg - d_bg); c < box.x; ++c) p.occluded.at<std::uint8_t>(r, c) = 255;
  left.convertTo(p.left, CV_8U, 255.0);
  cv::Mat gamma;
  cv::pow(right, 0.7, gamma);
  gamma.convertTo(p.right, CV_8U, 0.6 * 255.0, 20.0);
  return p;
}

// Share of pixels in `mask` (non-zero) whose estimate is known and within `tol` px of the truth.
double share_within(const cv::Mat& est, const cv::Mat& truth, const cv::Mat& mask, double tol) {
  long long n = 0, good = 0;
  for (int r = 0; r < est.rows; ++r)
    for (int c = 0; c < est.cols; ++c) {
      if (!mask.at<std::uint8_t>(r, c)) continue;
      ++n;
      const float e = est.at<float>(r, c);
      if (std::isfinite(e) && std::abs(e - truth.at<float>(r, c)) <= tol) ++good;
    }
  return n ? double(good) / double(n) : 0.0;
}

fusion::MatchOptions census_options() {
  fusion::MatchOptions o;
  o.kind = fusion::MatcherKind::CensusSgm;
  return o;
}

}  // namespace

TEST_CASE("Census/SGM recovers a piecewise-constant disparity across a gain and gamma change", "[match]") {
  const SyntheticPair p = make_pair(6, 18);
  auto matcher = fusion::StereoMatcher::create(census_options());
  const fusion::MatchResult m = matcher->match_left_full(p.left, p.right, 32);
  REQUIRE(m.disparity.type() == CV_32F);
  REQUIRE(m.confidence.size() == p.left.size());
  // Evaluate away from the left border (x - d < 0) and the occluded band.
  cv::Mat eval = cv::Mat::zeros(p.left.size(), CV_8U);
  eval(cv::Rect(24, 4, 172, 112)).setTo(255);
  eval.setTo(0, p.occluded);
  const double ok = share_within(m.disparity, p.truth, eval, 1.0);
  INFO("share within 1 px: " << ok);
  CHECK(ok > 0.95);
  // Sub-pixel refinement keeps integer truths close to integers.
  cv::Mat known = (m.disparity == m.disparity) & eval;
  cv::Mat err;
  cv::absdiff(m.disparity, p.truth, err);
  err.setTo(0, ~known);
  CHECK(cv::mean(err, known)[0] < 0.25);
  // The right view's disparity through the mirrored pair agrees on the background.
  const fusion::MatchResult mr = matcher->match_right_full(p.left, p.right, 32);
  CHECK(std::abs(mr.disparity.at<float>(10, 150) - 6.0f) <= 1.0f);
}

TEST_CASE("The left-right check marks the band occluded by a foreground object", "[match]") {
  const SyntheticPair p = make_pair(4, 20);
  auto matcher = fusion::StereoMatcher::create(census_options());
  const fusion::MatchResult m = matcher->match_left_full(p.left, p.right, 32);
  // The band is 16 px wide; its inner part (away from the edges, which the census window blurs)
  // must be flagged occluded and unknown; the open background must not.
  cv::Mat inner = cv::Mat::zeros(p.left.size(), CV_8U);
  inner(cv::Rect(90 - 13, 34, 10, 52)).setTo(255);
  const double flagged = double(cv::countNonZero(m.occlusion & inner)) / cv::countNonZero(inner);
  const double unknown = double(cv::countNonZero(~(m.disparity == m.disparity) & inner)) / cv::countNonZero(inner);
  cv::Mat open = cv::Mat::zeros(p.left.size(), CV_8U);
  open(cv::Rect(30, 4, 40, 20)).setTo(255);
  const double open_flagged = double(cv::countNonZero(m.occlusion & open)) / cv::countNonZero(open);
  INFO("band flagged " << flagged << ", unknown " << unknown << ", open background flagged " << open_flagged);
  CHECK(flagged > 0.5);  // the rest is called a mismatch (the right pixel is not clearly nearer)
  CHECK(unknown > 0.8);
  CHECK(open_flagged < 0.02);
}

TEST_CASE("Census/SGM gives the same bytes with 1 and 2 threads", "[match][threads]") {
  const SyntheticPair p = make_pair(5, 15);
  auto matcher = fusion::StereoMatcher::create(census_options());
  auto run = [&](int n) {
    ThreadScope t(n);
    return t.run([&] { return matcher->match_left_full(p.left, p.right, 32); });
  };
  const fusion::MatchResult a = run(1), b = run(2);
  REQUIRE(a.disparity.size() == b.disparity.size());
  const std::size_t bytes = a.disparity.total() * a.disparity.elemSize();
  CHECK(std::memcmp(a.disparity.data, b.disparity.data, bytes) == 0);  // NaN-safe
  CHECK(cv::norm(a.occlusion, b.occlusion, cv::NORM_INF) == 0);
  CHECK(cv::norm(a.confidence, b.confidence, cv::NORM_INF) == 0);
}

TEST_CASE("The working scale follows the image size and the disparity range", "[match]") {
  fusion::MatchOptions o;
  CHECK(o.working_scale({480, 360}, 128) == 1.0);
  const double s12 = o.working_scale({4000, 3000}, 256);
  CHECK(s12 > 3.0);
  CHECK(4000.0 * 3000.0 / (s12 * s12) <= o.max_working_pixels * 1.0001);
  o.max_working_disparity = 64;
  CHECK(o.working_scale({640, 480}, 256) == Approx(4.0));
  o.kind = fusion::MatcherKind::Sgbm;  // the peer always runs at full resolution
  CHECK(o.working_scale({4000, 3000}, 256) == 1.0);
}

TEST_CASE("Census/SGM is the default matcher and is better than SGBM on the sample", "[match][fuse]") {
  datasets::SampleOptions so;
  so.size = {320, 240};
  so.supersample = 2;
  const datasets::Sample s = datasets::make_sample(so);
  fusion::FuseOptions o;
  REQUIRE(o.match.kind == fusion::MatcherKind::CensusSgm);
  const fusion::DepthResult census = fusion::compute_depth({s.mono, s.color, &s.rig}, o);
  o.match.kind = fusion::MatcherKind::Sgbm;
  const fusion::DepthResult sgbm = fusion::compute_depth({s.mono, s.color, &s.rig}, o);
  const DisparityErrors ec = disparity_errors(census.disparity, s.disparity_color);
  const DisparityErrors es = disparity_errors(sgbm.disparity, s.disparity_color);
  INFO("bad-2.0 census " << ec.bad2 << ", sgbm " << es.bad2);
  CHECK(ec.bad2 < 0.12);
  CHECK(ec.bad2 < es.bad2);
  CHECK(census.stats.match.matcher == fusion::MatcherKind::CensusSgm);
  CHECK(census.stats.to_json()["matcher"] == "census");
  REQUIRE(census.confidence.size() == census.disparity.size());
  REQUIRE(census.confidence.type() == CV_32F);
}

namespace {

// The same scene with both cameras turned 90 degrees about their optical axes: the baseline
// becomes vertical (the colour camera above the mono camera).
datasets::Sample rotated_sample(const datasets::Sample& s) {
  datasets::Sample r = s;
  const cv::Matx33d Rz(0, -1, 0, 1, 0, 0, 0, 0, 1);  // X' = -Y, Y' = X: image x' = H-1-y, y' = x
  auto turn = [&](CameraModel& cam) {
    const cv::Matx33d K = cam.K;
    cam.K = cv::Matx33d(K(1, 1), 0, cam.size.height - 1 - K(1, 2), 0, K(0, 0), K(0, 2), 0, 0, 1);
    cv::Mat d = cam.dist.clone();  // tangential terms turn with the image: p1' = p2, p2' = -p1
    d.at<double>(0, 2) = cam.dist.at<double>(0, 3);
    d.at<double>(0, 3) = -cam.dist.at<double>(0, 2);
    cam.dist = d;
    cam.size = cv::Size(cam.size.height, cam.size.width);
  };
  turn(r.rig.mono);
  turn(r.rig.color);
  r.rig.R = Rz * s.rig.R * Rz.t();
  r.rig.T = Rz * s.rig.T;
  cv::rotate(s.mono, r.mono, cv::ROTATE_90_CLOCKWISE);
  cv::rotate(s.color, r.color, cv::ROTATE_90_CLOCKWISE);
  cv::rotate(s.disparity_color, r.disparity_color, cv::ROTATE_90_CLOCKWISE);
  // Disparities are in each image's own pixels (engine/disparity.hpp): turning the cameras does
  // not change them, whatever the rectified frames' focal lengths.
  return r;
}

}  // namespace

TEST_CASE("A vertical-baseline rig goes through the pipeline", "[match][fuse]") {
  datasets::SampleOptions so;
  so.size = {320, 240};
  so.supersample = 2;
  const datasets::Sample r = rotated_sample(datasets::make_sample(so));
  REQUIRE(rectify_geometry(r.rig).vertical);
  fusion::FuseOptions o;
  const fusion::DepthResult d = fusion::compute_depth({r.mono, r.color, &r.rig}, o);
  REQUIRE(d.disparity.size() == r.color.size());
  const DisparityErrors e = disparity_errors(d.disparity, r.disparity_color);
  INFO("bad-2.0 " << e.bad2);
  CHECK(e.bad2 < 0.15);
}

TEST_CASE("Self-rectification (rig auto) aligns the sample without its rig", "[match][selfrect]") {
  const datasets::Sample s = datasets::make_sample();
  fusion::FuseOptions o;
  o.auto_rig = true;
  const fusion::DepthResult d = fusion::compute_depth({s.mono, s.color, nullptr}, o);
  REQUIRE(d.disparity.size() == s.color.size());
  const Json stats = d.stats.to_json();
  const Json& sr = stats["self_rectification"];
  INFO(sr.dump());
  CHECK(sr["inliers"].get<int>() >= 40);
  CHECK(d.stats.alignment.row_error_px < 0.75);  // median |row error| of the inliers
  // Without the rig the canonical frame is not the rig's, so disparities differ by the rectified
  // scale; their ordering and spread must still be sane: correlated with the truth, inside the
  // range, mostly known.
  cv::Mat known = (d.disparity == d.disparity) & (s.disparity_color == s.disparity_color);
  REQUIRE(cv::countNonZero(known) > 0.9 * known.total());
  std::vector<double> a, b;
  for (int r = 0; r < known.rows; r += 2)
    for (int c = 0; c < known.cols; c += 2)
      if (known.at<std::uint8_t>(r, c)) {
        a.push_back(d.disparity.at<float>(r, c));
        b.push_back(s.disparity_color.at<float>(r, c));
      }
  cv::Mat ma(a), mb(b), corr;
  cv::Scalar mean_a, sd_a, mean_b, sd_b;
  cv::meanStdDev(ma, mean_a, sd_a);
  cv::meanStdDev(mb, mean_b, sd_b);
  const double cov = cv::mean((ma - mean_a[0]).mul(mb - mean_b[0]))[0];
  const double r = cov / (sd_a[0] * sd_b[0]);
  INFO("correlation with the truth " << r);
  CHECK(r > 0.9);
}

TEST_CASE("A drifted rig is corrected from the pair", "[match][selfrect]") {
  datasets::Sample s = datasets::make_sample();
  // The colour module moved after calibration: 2 px down and 0.2 degrees about its centre.
  cv::Mat A = cv::getRotationMatrix2D(cv::Point2f(s.color.cols / 2.0f, s.color.rows / 2.0f), 0.2, 1.0);
  A.at<double>(1, 2) += 2.0;
  cv::Mat moved;
  cv::warpAffine(s.color, moved, A, s.color.size(), cv::INTER_LINEAR, cv::BORDER_REFLECT);
  fusion::FuseOptions o;
  const fusion::DepthResult fixed = fusion::compute_depth({s.mono, moved, &s.rig}, o);
  const Json fixed_stats = fixed.stats.to_json();
  const Json& rect = fixed_stats["rectification"];
  INFO(rect.dump());
  CHECK(rect["drift_corrected"].get<bool>());
  CHECK(rect["row_error_rig"]["median_abs_px"].get<double>() > 1.0);
  CHECK(rect["row_error_corrected"]["median_abs_px"].get<double>() < 0.5);
  o.correct_drift = false;
  const fusion::DepthResult raw = fusion::compute_depth({s.mono, moved, &s.rig}, o);
  const DisparityErrors e_fixed = disparity_errors(fixed.disparity, s.disparity_color);
  const DisparityErrors e_raw = disparity_errors(raw.disparity, s.disparity_color);
  INFO("bad-2.0 corrected " << e_fixed.bad2 << ", uncorrected " << e_raw.bad2);
  CHECK(e_fixed.bad2 < e_raw.bad2);
  // An exact rig is left alone.
  o.correct_drift = true;
  const fusion::DepthResult exact = fusion::compute_depth({s.mono, s.color, &s.rig}, o);
  CHECK_FALSE(exact.stats.alignment.drift->corrected);
}

TEST_CASE("Rectification of a 4:3 colour camera beside a smaller mono one covers their common view", "[match][rectify]") {
  StereoRig rig;
  rig.mono.K = cv::Matx33d(300, 0, 159.5, 0, 300, 119.5, 0, 0, 1);
  rig.mono.size = {320, 240};
  rig.color.K = cv::Matx33d(560, 0, 319.5, 0, 560, 239.5, 0, 0, 1);  // twice the pixels, a wider view
  rig.color.size = {640, 480};
  rig.color.dist = (cv::Mat_<double>(1, 5) << -0.05, 0.01, 0, 0, 0);
  rig.R = cv::Matx33d::eye();
  cv::Rodrigues(cv::Vec3d(0.002, -0.004, 0.003), rig.R);
  rig.T = cv::Vec3d(-10, 0.1, 0);
  const RectifyGeometry g = rectify_geometry(rig);
  // The finer camera's pixel density, and about the mono's field of view (the common part).
  CHECK(g.focal_px == Approx(560).epsilon(0.01));
  CHECK(g.size.width == Approx(320 * 560 / 300.0).epsilon(0.06));
  CHECK(g.size.height == Approx(240 * 560 / 300.0).epsilon(0.06));
  // Points seen by both cameras land on the same canonical row, with a positive disparity.
  std::vector<cv::Point3f> pts;
  for (int i = 0; i < 50; ++i) pts.emplace_back(-100.f + 4.f * i, -60.f + 2.5f * (i % 48), 600.f + 7.f * i);
  std::vector<cv::Point2f> pm, pc, rm, rc;
  cv::Vec3d rvec;
  cv::Rodrigues(rig.R, rvec);
  cv::projectPoints(pts, cv::Vec3d(0, 0, 0), cv::Vec3d(0, 0, 0), cv::Mat(rig.mono.K), rig.mono.dist, pm);
  cv::projectPoints(pts, rvec, rig.T, cv::Mat(rig.color.K), rig.color.dist, pc);
  cv::undistortPoints(pm, rm, cv::Mat(rig.mono.K), rig.mono.dist, cv::Mat(g.R1), cv::Mat(g.P1));
  cv::undistortPoints(pc, rc, cv::Mat(rig.color.K), rig.color.dist, cv::Mat(g.R2), cv::Mat(g.P2));
  for (std::size_t i = 0; i < pts.size(); ++i) {
    CHECK(std::abs(rm[i].y - rc[i].y) < 1e-2);
    CHECK(rm[i].x - rc[i].x > 0);
  }
  // Both rectified images fill the canonical frame.
  fusion::Rectifier rect(rig);
  const cv::Mat white_m(rig.mono.size, CV_8U, cv::Scalar(255)), white_c(rig.color.size, CV_8U, cv::Scalar(255));
  const cv::Mat cm = rect.rectify_mono(white_m), cc = rect.rectify_color(white_c);
  CHECK(cv::countNonZero(cm) > 0.95 * cm.total());
  CHECK(cv::countNonZero(cc) > 0.95 * cc.total());
}

TEST_CASE("Coarse fill: large holes take the half-resolution disparity, known pixels stay as they were", "[match]") {
  // A smooth, weak texture (visible at half resolution) under strong pixel noise drawn
  // independently for each view (which the 9x7 census at full resolution cannot see through).
  const cv::Size size(240, 160);
  const int disparity = 10;
  cv::Mat base = texture(size + cv::Size(32, 0), 5);
  cv::GaussianBlur(base, base, cv::Size(), 3.0);
  cv::normalize(base, base, 0.3, 0.7, cv::NORM_MINMAX);
  std::mt19937 rng(7);
  std::normal_distribution<float> noise(0.f, 0.05f);
  cv::Mat l32(size, CV_32F), r32(size, CV_32F);
  for (int r = 0; r < size.height; ++r)
    for (int c = 0; c < size.width; ++c) {
      l32.at<float>(r, c) = base.at<float>(r, c + 16) + noise(rng);
      r32.at<float>(r, c) = base.at<float>(r, c + 16 + disparity) + noise(rng);
    }
  cv::Mat left, right;
  l32.convertTo(left, CV_8U, 255.0);
  r32.convertTo(right, CV_8U, 255.0);
  fusion::MatchOptions off = census_options(), on = census_options();
  off.census.coarse_fill = false;
  on.census.coarse_fill = true;
  const fusion::MatchResult a = fusion::StereoMatcher::create(off)->match_left_full(left, right, 32);
  const fusion::MatchResult b = fusion::StereoMatcher::create(on)->match_left_full(left, right, 32);
  long kept_changed = 0, filled = 0, filled_good = 0, occluded_filled = 0;
  cv::Mat unknown = ~(a.disparity == a.disparity), dist;
  cv::distanceTransform(unknown, dist, cv::DIST_L2, 3);
  long near_filled = 0;
  for (int r = 0; r < size.height; ++r)
    for (int c = 0; c < size.width; ++c) {
      const float da = a.disparity.at<float>(r, c), db = b.disparity.at<float>(r, c);
      if (std::isfinite(da)) {
        kept_changed += da != db;
        continue;
      }
      if (!std::isfinite(db)) continue;
      occluded_filled += a.occlusion.at<std::uint8_t>(r, c) != 0;
      near_filled += dist.at<float>(r, c) < float(on.census.coarse_min_distance);
      CHECK(b.confidence.at<float>(r, c) <= 0.5f);
      if (c < 2 * disparity) continue;  // the left border, seen by the left view only
      ++filled;
      filled_good += std::abs(db - disparity) <= 2.0f;  // bad-2.0, the protocol's metric
    }
  INFO("unknown without coarse fill " << cv::countNonZero(unknown) << ", filled " << filled << ", of them within 2 px "
                                      << filled_good);
  CHECK(kept_changed == 0);
  CHECK(occluded_filled == 0);
  CHECK(near_filled == 0);
  REQUIRE(filled > 500);
  CHECK(double(filled_good) / double(filled) > 0.9);
}

namespace {

// A textured slanted plane, d = 0.06 x + 0.03 y + 8 (left x), with a bright patch on it (a
// rectangle of the surface, so both views see it where the disparity puts it). The left view
// saturates on the whole patch; the right view, at 0.45x the exposure, keeps its texture.
struct ClippedPair {
  cv::Mat left, right, truth;  // CV_8UC1, CV_8UC1, CV_32F
  cv::Rect patch;              // in left coordinates
};

ClippedPair make_clipped_pair() {
  const cv::Size size(240, 160);
  const double a = 0.06, b = 0.03, c = 8.0;
  cv::Mat surface = texture(size, 31);  // indexed by left x
  ClippedPair p;
  p.patch = cv::Rect(80, 40, 90, 70);
  surface(p.patch) += 1.0;
  cv::Mat left32 = cv::min(surface, 1.0), mapx(size, CV_32F), mapy(size, CV_32F);
  p.truth.create(size, CV_32F);
  for (int y = 0; y < size.height; ++y)
    for (int x = 0; x < size.width; ++x) {
      p.truth.at<float>(y, x) = float(a * x + b * y + c);
      mapx.at<float>(y, x) = float((x + b * y + c) / (1.0 - a));  // left x seen at right x
      mapy.at<float>(y, x) = float(y);
    }
  cv::Mat right32;
  cv::remap(surface, right32, mapx, mapy, cv::INTER_LINEAR, cv::BORDER_REFLECT);
  left32.convertTo(p.left, CV_8U, 255.0);
  right32.convertTo(p.right, CV_8U, 0.45 * 255.0);
  return p;
}

}  // namespace

TEST_CASE("A large area the left view saw clipped is filled from its border, with low confidence", "[match][clip]") {
  const ClippedPair p = make_clipped_pair();
  fusion::MatchOptions on = census_options(), off = census_options();
  off.census.clip_min_share = 0;
  const fusion::MatchResult a = fusion::StereoMatcher::create(off)->match_left_full(p.left, p.right, 48);
  const fusion::MatchResult b = fusion::StereoMatcher::create(on)->match_left_full(p.left, p.right, 48);
  // The patch's interior: pixels whose census window is all clipped.
  cv::Mat inner = cv::Mat::zeros(p.left.size(), CV_8U);
  inner(cv::Rect(p.patch.x + 5, p.patch.y + 4, p.patch.width - 10, p.patch.height - 8)).setTo(255);
  const double ok_off = share_within(a.disparity, p.truth, inner, 1.0);
  const double ok_on = share_within(b.disparity, p.truth, inner, 1.0);
  INFO("inside the clipped patch within 1 px: off " << ok_off << ", on " << ok_on);
  CHECK(ok_on > 0.95);
  CHECK(ok_on > ok_off + 0.2);
  CHECK(cv::countNonZero((b.confidence > 0.25f) & inner) == 0);
  // Outside the patch the surface is still matched.
  cv::Mat outside = cv::Mat::zeros(p.left.size(), CV_8U);
  outside(cv::Rect(24, 4, 50, 150)).setTo(255);
  CHECK(share_within(b.disparity, p.truth, outside, 1.0) > 0.9);
}

TEST_CASE("Clip handling changes nothing on a pair that does not clip, and is thread-count free", "[match][clip][threads]") {
  const SyntheticPair s = make_pair(6, 18);  // texture in [0.05, 0.95]: no pile at the top
  fusion::MatchOptions on = census_options(), off = census_options();
  off.census.clip_min_share = 0;
  const fusion::MatchResult a = fusion::StereoMatcher::create(off)->match_left_full(s.left, s.right, 32);
  const fusion::MatchResult b = fusion::StereoMatcher::create(on)->match_left_full(s.left, s.right, 32);
  const std::size_t bytes = a.disparity.total() * a.disparity.elemSize();
  CHECK(std::memcmp(a.disparity.data, b.disparity.data, bytes) == 0);

  const ClippedPair p = make_clipped_pair();
  auto matcher = fusion::StereoMatcher::create(on);
  auto run = [&](int n) {
    ThreadScope t(n);
    return t.run([&] { return matcher->match_left_full(p.left, p.right, 48); });
  };
  const fusion::MatchResult c = run(1), d = run(2);
  CHECK(std::memcmp(c.disparity.data, d.disparity.data, c.disparity.total() * c.disparity.elemSize()) == 0);
  CHECK(cv::norm(c.confidence, d.confidence, cv::NORM_INF) == 0);
  // The right (colour) view as reference: the clipped patch is in the other view now.
  cv::Mat truth_right(p.left.size(), CV_32F), inner = cv::Mat::zeros(p.left.size(), CV_8U);
  for (int y = 0; y < truth_right.rows; ++y)
    for (int x = 0; x < truth_right.cols; ++x) {
      const double xl = (x + 0.03 * y + 8.0) / (1.0 - 0.06);  // make_clipped_pair's plane
      truth_right.at<float>(y, x) = float(xl - x);
      if (p.patch.contains(cv::Point(int(xl), y)) && xl > p.patch.x + 5 && xl < p.patch.br().x - 5 &&
          y > p.patch.y + 4 && y < p.patch.br().y - 4)
        inner.at<std::uint8_t>(y, x) = 255;
    }
  // Through the pipeline (holes filled, as dualcam depth gives it with the colour reference).
  auto depth = [&](const fusion::MatchOptions& m) {
    fusion::FuseOptions f;
    f.rectified = true;
    f.reference = fusion::Reference::Color;
    f.match = m;
    f.match.max_disparity = 48;
    cv::Mat color;
    cv::cvtColor(p.right, color, cv::COLOR_GRAY2BGR);
    return fusion::compute_depth({p.left, color, nullptr}, f).disparity;
  };
  const double ok = share_within(depth(on), truth_right, inner, 2.0);
  const double ok_off = share_within(depth(off), truth_right, inner, 2.0);
  INFO("colour reference over the clipped patch within 2 px: on " << ok << ", off " << ok_off);
  // Matches on the blind patch are returned unknown and filled from around it (measured: all
  // within 2 px, against 0.91 without clip handling).
  CHECK(ok > 0.97);
  CHECK(ok > ok_off);
}
