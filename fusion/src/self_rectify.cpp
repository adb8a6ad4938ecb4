#include "dualcam/fusion/self_rectify.hpp"

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <tuple>

#include <opencv2/calib3d.hpp>
#include <opencv2/core/hal/hal.hpp>
#include <opencv2/features2d.hpp>
#include <opencv2/imgproc.hpp>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_invoke.h>

#include "dualcam/engine/error.hpp"
#include "self_rectify_internal.hpp"

namespace dualcam::fusion {

void SelfRectifyOptions::validate() const {
  check_range("SelfRectifyOptions::max_features", max_features, 100, 100000);
  check_range("SelfRectifyOptions::max_side_px", max_side_px, 200, 20000);
  check_range("SelfRectifyOptions::ratio", ratio, 0.1, 1.0);
  check_range("SelfRectifyOptions::ransac_threshold_px", ransac_threshold_px, 0.05, 20.0);
  check_range("SelfRectifyOptions::min_inliers", min_inliers, 8, 100000);
  check_range("SelfRectifyOptions::refine_threshold_px", refine_threshold_px, 0.0, 100.0);
  check_range("SelfRectifyOptions::auto_ratio", auto_ratio, 0.1, 1.0);
  check_range("SelfRectifyOptions::patch_px", patch_px, 9, 201);
  check_range("SelfRectifyOptions::min_correlation", min_correlation, -1.0, 1.0);
  check_range("SelfRectifyOptions::prior_px_per_rad", prior_px_per_rad, 0.0, 1000.0);
  check_range("SelfRectifyOptions::max_row_error_px", max_row_error_px, 0.01, 1000.0);
  check_range("SelfRectifyOptions::direction_min_px", direction_min_px, 0.0, 100.0);
  check_range("SelfRectifyOptions::max_distortion", max_distortion, 1.0, 100.0);
}

namespace {

cv::Mat downscaled(const cv::Mat& img, double max_side, double& factor) {
  factor = std::min(1.0, max_side / std::max(img.cols, img.rows));
  if (factor >= 1.0) return img;
  cv::Mat out;
  cv::resize(img, out, cv::Size(), factor, factor, cv::INTER_AREA);
  return out;
}

cv::Point2f apply(const cv::Matx33d& H, const cv::Point2f& p) {
  const cv::Vec3d v = H * cv::Vec3d(p.x, p.y, 1.0);
  return {float(v[0] / v[2]), float(v[1] / v[2])};
}

FeatureMatches transformed(const FeatureMatches& m, const cv::Matx33d& Ha, const cv::Matx33d& Hb) {
  FeatureMatches t;
  for (std::size_t i = 0; i < m.a.size(); ++i) {
    t.a.push_back(apply(Ha, m.a[i]));
    t.b.push_back(apply(Hb, m.b[i]));
  }
  return t;
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  const std::size_t k = std::min(v.size() - 1, std::size_t(q * (v.size() - 1) + 0.5));
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return v[k];
}

}  // namespace

FeatureMatches match_features(const cv::Mat& a8, const cv::Mat& b8, const SelfRectifyOptions& o, double max_row_px) {
  o.validate();
  if (a8.type() != CV_8UC1 || b8.type() != CV_8UC1) throw_invalid("match_features: expects two CV_8UC1 views");
  double fa = 1, fb = 1;
  std::vector<cv::KeyPoint> ka, kb;
  cv::Mat da, db;
  // Each view downscaled and its features found, the two views side by side: OpenCV's ORB runs
  // on one thread (the same features as one after the other).
  const auto detect = [&](const cv::Mat& view, double& f, std::vector<cv::KeyPoint>& k, cv::Mat& d) {
    const cv::Mat s = downscaled(view, o.max_side_px, f);
    // Low FAST threshold and a small border: cross-spectral pairs and small views give few corners.
    // One pyramid level: both views are rectified to the same scale, so coarser levels only find
    // fewer, blurrier corners (the bench's 12 MP rig pair through `dualcam fuse --json`: 3188
    // row matches, mean |row error| 0.44 px, against 2228 and 0.62 px with ORB's 8 levels).
    auto orb = cv::ORB::create(o.max_features, 1.2f, 1, 19, 0, 2, cv::ORB::HARRIS_SCORE, 19, 7);
    orb->detectAndCompute(s, cv::noArray(), k, d);
  };
  tbb::parallel_invoke([&] { detect(a8, fa, ka, da); }, [&] { detect(b8, fb, kb, db); });
  FeatureMatches m;
  if (da.empty() || db.empty()) return m;
  // Per feature of a: its best and second-best match in b (index, Hamming distance).
  std::vector<std::array<int, 4>> best(ka.size(), {-1, INT_MAX, -1, INT_MAX});
  if (max_row_px <= 0) {
    cv::BFMatcher matcher(cv::NORM_HAMMING);
    std::vector<std::vector<cv::DMatch>> knn;
    matcher.knnMatch(da, db, knn, 2);
    for (const auto& k : knn)
      if (k.size() == 2) best[k[0].queryIdx] = {k[0].trainIdx, int(k[0].distance), k[1].trainIdx, int(k[1].distance)};
  } else {
    // Each view's features by row, each feature against those of the other view in its band (at
    // 12 MP with 6000 features, 2 % of the pairs: the brute-force matcher was two thirds of the
    // drift check), and kept where the two agree (mutual best): a band holds fewer candidates
    // than the whole view, so the ratio test alone lets more wrong ones through.
    struct Rows {
      std::vector<int> order;
      std::vector<double> y;
    };
    const auto by_row = [](const std::vector<cv::KeyPoint>& k, double f) {
      Rows r;
      for (std::size_t j = 0; j < k.size(); ++j) r.order.push_back(int(j));
      std::sort(r.order.begin(), r.order.end(), [&](int p, int q) { return std::make_pair(k[p].pt.y, p) < std::make_pair(k[q].pt.y, q); });
      for (int j : r.order) r.y.push_back(double(k[j].pt.y) / f);
      return r;
    };
    const Rows rows_a = by_row(ka, fa), rows_b = by_row(kb, fb);
    // best[i] for every feature of `from` against `to`; ties go to the lower index.
    const auto match_band = [&](const std::vector<cv::KeyPoint>& from, double ff, const cv::Mat& dfrom, const Rows& to,
                                const cv::Mat& dto, std::vector<std::array<int, 4>>& out) {
      out.assign(from.size(), {-1, INT_MAX, -1, INT_MAX});
      tbb::parallel_for(tbb::blocked_range<std::size_t>(0, from.size(), 64), [&](const tbb::blocked_range<std::size_t>& r) {
        for (std::size_t i = r.begin(); i < r.end(); ++i) {
          const double y = double(from[i].pt.y) / ff;
          const auto lo = std::lower_bound(to.y.begin(), to.y.end(), y - max_row_px);
          const auto hi = std::upper_bound(to.y.begin(), to.y.end(), y + max_row_px);
          std::array<int, 4>& b = out[i];
          for (auto it = lo; it != hi; ++it) {
            const int j = to.order[std::size_t(it - to.y.begin())];
            const int d = cv::hal::normHamming(dfrom.ptr<std::uint8_t>(int(i)), dto.ptr<std::uint8_t>(j), dfrom.cols);
            if (d < b[1] || (d == b[1] && j < b[0])) b = {j, d, b[0], b[1]};
            else if (d < b[3] || (d == b[3] && j < b[2])) b[2] = j, b[3] = d;
          }
        }
      });
    };
    std::vector<std::array<int, 4>> back;
    match_band(ka, fa, da, rows_b, db, best);
    match_band(kb, fb, db, rows_a, da, back);
    for (std::size_t i = 0; i < ka.size(); ++i)
      if (best[i][0] >= 0 && back[std::size_t(best[i][0])][0] != int(i)) best[i][2] = -1;  // not mutual: dropped below
  }
  for (std::size_t i = 0; i < ka.size(); ++i) {
    const auto& b = best[i];
    if (b[2] < 0 || b[1] >= o.ratio * b[3]) continue;
    m.a.push_back(ka[i].pt * (1.0 / fa));
    m.b.push_back(kb[b[0]].pt * (1.0 / fb));
  }
  return m;
}

RowError row_error(const FeatureMatches& m) {
  RowError e;
  e.matches = int(m.a.size());
  if (m.a.empty()) return e;
  std::vector<double> abs_err;
  double sum = 0, sum2 = 0;
  for (std::size_t i = 0; i < m.a.size(); ++i) {
    const double d = double(m.a[i].y) - m.b[i].y;
    abs_err.push_back(std::abs(d));
    sum += std::abs(d);
    sum2 += d * d;
  }
  e.mean_abs_px = sum / abs_err.size();
  e.rms_px = std::sqrt(sum2 / abs_err.size());
  e.median_abs_px = percentile(abs_err, 0.5);
  e.p95_abs_px = percentile(abs_err, 0.95);
  return e;
}

cv::Matx33d fit_row_correction(const FeatureMatches& m, const cv::Point2d& centre) {
  if (m.a.size() < 3) return cv::Matx33d::eye();
  // y_a - y_b = c0 + c1 x_b + c2 y_b, Huber-reweighted least squares (a few outliers survive
  // RANSAC). Read as a small rotation (c1) and scale (c2) of the colour view plus a row shift
  // (c0), the same rotation and scale are applied to x, so that disparities are not skewed.
  cv::Vec3d c(0, 0, 0);
  for (int iter = 0; iter < 6; ++iter) {
    cv::Matx33d A = cv::Matx33d::zeros();
    cv::Vec3d rhs(0, 0, 0);
    for (std::size_t i = 0; i < m.a.size(); ++i) {
      const cv::Vec3d row(1.0, m.b[i].x - centre.x, m.b[i].y - centre.y);
      const double target = double(m.a[i].y) - m.b[i].y;
      const double r = target - c.dot(row);
      const double w = std::abs(r) <= 1.0 ? 1.0 : 1.0 / std::abs(r);
      A += w * row * row.t();
      rhs += w * target * row;
    }
    cv::Mat next;
    if (!cv::solve(cv::Mat(A), cv::Mat(rhs), next, cv::DECOMP_SVD)) break;
    c = cv::Vec3d(next);
  }
  const cv::Matx33d to_centre(1, 0, -centre.x, 0, 1, -centre.y, 0, 0, 1);
  const cv::Matx33d back(1, 0, centre.x, 0, 1, centre.y, 0, 0, 1);
  return back * cv::Matx33d(1 + c[2], -c[1], 0, c[1], 1 + c[2], c[0], 0, 0, 1) * to_centre;
}

// The rows a drifted rig's match can be off by, full-resolution px: the drift check matches
// within them and keeps what lies within them.
constexpr double kDriftRowBandPx = 20.0;

DriftCheck check_drift(const cv::Mat& left8, const cv::Mat& right8, const SelfRectifyOptions& o) {
  DriftCheck dc;
  const FeatureMatches fm = match_features(left8, right8, o, kDriftRowBandPx);
  FeatureMatches kept;  // matches on the same row give the row error; far ones are mismatches
  for (std::size_t i = 0; i < fm.a.size(); ++i)
    if (std::abs(fm.a[i].y - fm.b[i].y) < float(kDriftRowBandPx) && fm.a[i].x - fm.b[i].x > -4.0f) {
      kept.a.push_back(fm.a[i]);
      kept.b.push_back(fm.b[i]);
    }
  dc.before = row_error(kept);
  if (dc.before.matches < o.min_inliers || dc.before.median_abs_px <= o.refine_threshold_px) return dc;
  dc.correction = fit_row_correction(kept, cv::Point2d(0.5 * (left8.cols - 1), 0.5 * (left8.rows - 1)));
  FeatureMatches moved = kept;
  for (auto& p : moved.b) p = apply(dc.correction, p);
  dc.after = row_error(moved);
  dc.corrected = true;
  return dc;
}

namespace {

Json row_json(const RowError& e) {
  return Json{{"matches", e.matches}, {"mean_abs_px", e.mean_abs_px}, {"median_abs_px", e.median_abs_px}};
}

}  // namespace

Json DriftCheck::to_json() const {
  Json j{{"row_error_rig", row_json(before)}, {"drift_corrected", corrected}};
  if (corrected) j["row_error_corrected"] = row_json(after);
  return j;
}


Json SelfRectification::to_json() const {
  Json j{{"model", model},
         {"baseline", baseline},
         {"matches", matches},
         {"refined", refined},
         {"inliers", inliers},
         {"row_error_px",
          {{"rms", rows.rms_px}, {"p95", rows.p95_abs_px}, {"median", rows.median_abs_px}, {"mean", rows.mean_abs_px}}},
         {"direction_cost_px2", {{"rows", cost_rows}, {"columns", cost_columns}}},
         {"canonical_size", {canonical_size.width, canonical_size.height}},
         {"disparity_px_p5_p95", {min_disparity_px, max_disparity_px}},
         {"disparity_offset_px", disparity_offset_px}};
  auto matrix = [](const cv::Matx33d& H) {
    Json rows = Json::array();
    for (int r = 0; r < 3; ++r) rows.push_back({H(r, 0), H(r, 1), H(r, 2)});
    return rows;
  };
  j["mono_to_canonical"] = matrix(mono_to_canonical);
  j["color_to_canonical"] = matrix(color_to_canonical);
  if (model == "fundamental")
    j["quasi_euclidean"] = {
        {"focal_px", focal_px},
        {"focal_ratio", focal_ratio},
        {"mono_rotation_deg", {mono_rotation_deg[0], mono_rotation_deg[1], mono_rotation_deg[2]}},
        {"color_rotation_deg", {color_rotation_deg[0], color_rotation_deg[1], color_rotation_deg[2]}}};
  return j;
}

namespace {

std::string fixed(double v, int decimals = 2) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

[[noreturn]] void refuse(const std::string& what) {
  throw Error(ErrorCategory::Numerical, "self-rectification (no rig): " + what + "; give a rig");
}

FeatureMatches selected(const FeatureMatches& m, const std::vector<std::uint8_t>& mask) {
  FeatureMatches s;
  for (std::size_t i = 0; i < mask.size() && i < m.a.size(); ++i)
    if (mask[i]) {
      s.a.push_back(m.a[i]);
      s.b.push_back(m.b[i]);
    }
  return s;
}

std::vector<double> disparities(const FeatureMatches& m) {
  std::vector<double> d;
  for (std::size_t i = 0; i < m.a.size(); ++i) d.push_back(double(m.a[i].x) - m.b[i].x);
  return d;
}

// The rotations (each view's own, its turn aside) of a quasi-Euclidean fit, degrees:
// mono (0, yaw, roll), colour (pitch, yaw, roll).
void record_fit(const detail::QuasiEuclidean& q, SelfRectification& s) {
  const double deg = 180.0 / CV_PI;
  s.focal_px = q.focal_px;
  s.focal_ratio = q.focal_ratio;
  s.mono_rotation_deg = cv::Vec3d(0, q.params[0] * deg, q.params[1] * deg);
  s.color_rotation_deg = cv::Vec3d(q.params[2] * deg, q.params[3] * deg, q.params[4] * deg);
}

// Largest over smallest local scale (square root of the Jacobian's determinant) of H over the
// corners and the centre of an image of `size`.
double distortion(const cv::Matx33d& H, const cv::Size& size) {
  const double w = size.width - 1, h = size.height - 1;
  double lo = 1e300, hi = 0;
  for (const cv::Point2d p : {cv::Point2d(0, 0), cv::Point2d(w, 0), cv::Point2d(0, h), cv::Point2d(w, h),
                              cv::Point2d(0.5 * w, 0.5 * h)}) {
    const cv::Vec3d v = H * cv::Vec3d(p.x, p.y, 1.0);
    const double u = v[0] / v[2], t = v[1] / v[2];
    const double a = (H(0, 0) - u * H(2, 0)) / v[2], b = (H(0, 1) - u * H(2, 1)) / v[2];
    const double c = (H(1, 0) - t * H(2, 0)) / v[2], d = (H(1, 1) - t * H(2, 1)) / v[2];
    const double scale = std::sqrt(std::abs(a * d - b * c));
    if (!(v[2] > 0) || !std::isfinite(scale)) return std::numeric_limits<double>::infinity();  // folds the view
    lo = std::min(lo, scale);
    hi = std::max(hi, scale);
  }
  return lo > 0 ? hi / lo : std::numeric_limits<double>::infinity();
}

const char* baseline_name(int quarter_turns) {
  static const char* names[] = {"right", "above", "left", "below"};
  return names[((quarter_turns % 4) + 4) % 4];
}

// Strength of the prior of the two direction fits, px per rad. Strong enough that neither fit
// can turn its rows by a quarter turn into the other's (that would cost every match pi/2 * 5 px),
// weak against the few degrees a module is mounted off; the final fit then uses the options'
// weak prior (5 px/rad biased the row error of simulated pairs from 0.06 to 0.3 px rms).
constexpr double kDirectionPrior = 5.0;

struct Alignment {
  cv::Matx33d H1, H2;      // original px -> canonical px (before the canvas placement)
  FeatureMatches inliers;  // original px
};

// The quasi-Euclidean rectification along the better direction, or the homography when the
// matches do not tell the direction; fills the model, the fit and the direction costs of `s`.
Alignment align_views(const FeatureMatches& refined, const cv::Size& mono_size, const cv::Size& color_size,
                      const SelfRectifyOptions& o, SelfRectification& s) {
  Alignment al;
  std::vector<std::uint8_t> mask;
  const cv::Mat F = cv::findFundamentalMat(refined.a, refined.b, cv::USAC_MAGSAC, o.ransac_threshold_px, 0.9999,
                                           10000, mask);
  const FeatureMatches in_f = F.rows == 3 ? selected(refined, mask) : FeatureMatches{};
  if (int(in_f.a.size()) < o.min_inliers)
    refuse("no epipolar geometry fits the pair (" + std::to_string(in_f.a.size()) + " inliers of " +
           std::to_string(refined.a.size()) + " matches; need " + std::to_string(o.min_inliers) + ")");
  // The colour's focal length over the mono's starts at the matches' scale.
  double scale = 1.0;
  const cv::Mat sim = cv::estimateAffinePartial2D(in_f.a, in_f.b);
  if (!sim.empty()) scale = std::hypot(sim.at<double>(0, 0), sim.at<double>(1, 0));
  const std::array<double, 8> start{0, 0, 0, 0, 0, 0, std::log(std::clamp(scale, 0.1, 10.0)), 0};
  const detail::QuasiEuclidean rows = detail::fit_quasi_euclidean(in_f, mono_size, color_size, 0, start, kDirectionPrior);
  const detail::QuasiEuclidean cols = detail::fit_quasi_euclidean(in_f, mono_size, color_size, 1, start, kDirectionPrior);
  s.cost_rows = rows.objective;
  s.cost_columns = cols.objective;
  if (std::sqrt(std::abs(rows.objective - cols.objective)) >= o.direction_min_px) {
    const int turns = rows.objective <= cols.objective ? 0 : 1;
    const detail::QuasiEuclidean q = detail::fit_quasi_euclidean(in_f, mono_size, color_size, turns,
                                                                 (turns ? cols : rows).params, o.prior_px_per_rad);
    record_fit(q, s);
    s.model = "fundamental";
    al.H1 = q.H_mono;
    al.H2 = q.H_color;
    al.inliers = in_f;
    // The mono must be the left view (positive disparities): else a half turn of the frame.
    if (percentile(disparities(transformed(in_f, al.H1, al.H2)), 0.5) < 0) {
      const cv::Matx33d half(-1, 0, 0, 0, -1, 0, 0, 0, 1);
      al.H1 = half * al.H1;
      al.H2 = half * al.H2;
      s.baseline = baseline_name(turns + 2);
    } else {
      s.baseline = baseline_name(turns);
    }
    return al;
  }
  // Both directions explain the matches as well: no parallax that matters (a distant or flat
  // scene). The colour view is mapped onto the mono; the rows are the mono's, turned towards
  // where the colour camera's centre falls in the mono (its offset is mostly the baseline).
  const cv::Mat H = cv::findHomography(refined.a, refined.b, cv::USAC_MAGSAC, 2.0 * o.ransac_threshold_px, mask,
                                       10000, 0.9999);
  al.inliers = H.rows == 3 ? selected(refined, mask) : FeatureMatches{};
  if (int(al.inliers.a.size()) < o.min_inliers)
    refuse("no homography fits the pair (" + std::to_string(al.inliers.a.size()) + " inliers of " +
           std::to_string(refined.a.size()) + " matches; need " + std::to_string(o.min_inliers) + ")");
  const cv::Matx33d to_mono = cv::Matx33d(H).inv();
  const cv::Point2f c = apply(to_mono, cv::Point2f(0.5f * (color_size.width - 1), 0.5f * (color_size.height - 1)));
  const double vx = c.x - 0.5 * (mono_size.width - 1), vy = c.y - 0.5 * (mono_size.height - 1);
  const int turns = std::abs(vx) >= std::abs(vy) ? (vx >= 0 ? 0 : 2) : (vy <= 0 ? 1 : 3);
  const cv::Matx33d turn = detail::quarter_turn(turns, mono_size);
  al.H1 = turn;
  al.H2 = turn * to_mono;
  s.model = "homography";
  s.baseline = baseline_name(turns);
  return al;
}

}  // namespace

SelfRectification self_rectify(const cv::Mat& mono8, const cv::Mat& color8, const SelfRectifyOptions& o) {
  o.validate();
  if (mono8.type() != CV_8UC1 || color8.type() != CV_8UC1) throw_invalid("self_rectify: expects two CV_8UC1 views");
  SelfRectification s;
  const detail::CrossSpectralMatches cs = detail::cross_spectral_matches(mono8, color8, o);
  s.matches = cs.matches;
  s.refined = int(cs.refined.a.size());
  if (s.refined < o.min_inliers)
    refuse("only " + std::to_string(s.matches) + " feature matches between the views, " + std::to_string(s.refined) +
           " of them confirmed by correlation (need " + std::to_string(o.min_inliers) + ")");
  Alignment al = align_views(cs.refined, mono8.size(), color8.size(), o, s);
  s.inliers = int(al.inliers.a.size());
  const std::string measured = std::to_string(s.inliers) + " inliers of " + std::to_string(s.refined) + " matches";
  for (const auto& [H, size, name] : {std::make_tuple(al.H1, mono8.size(), "mono"),
                                      std::make_tuple(al.H2, color8.size(), "colour")}) {
    const double k = distortion(H, size);
    if (!(k <= o.max_distortion))
      refuse("the rectification distorts the view too much (the " + std::string(name) + " view's scale varies " +
             fixed(k) + "x across it, limit " + fixed(o.max_distortion) + "; " + s.model + ", " + measured + ")");
  }
  // The canonical canvas: the mono image's outline through H1, moved to the origin.
  {
    const std::vector<cv::Point2f> corners = {
        {0, 0}, {float(mono8.cols - 1), 0}, {float(mono8.cols - 1), float(mono8.rows - 1)}, {0, float(mono8.rows - 1)}};
    float x0 = 1e30f, y0 = 1e30f, x1 = -1e30f, y1 = -1e30f;
    for (const auto& c : corners) {
      const cv::Point2f p = apply(al.H1, c);
      x0 = std::min(x0, p.x);
      y0 = std::min(y0, p.y);
      x1 = std::max(x1, p.x);
      y1 = std::max(y1, p.y);
    }
    const double longest = std::max(mono8.cols, mono8.rows);
    if (!(x1 - x0 < 2 * longest && y1 - y0 < 2 * longest))
      refuse("the rectification distorts the view too much (the mono's outline spans " + fixed(x1 - x0, 0) + " x " +
             fixed(y1 - y0, 0) + " px; " + s.model + ", " + measured + ")");
    const cv::Matx33d to_origin(1, 0, -x0, 0, 1, -y0, 0, 0, 1);
    al.H1 = to_origin * al.H1;
    al.H2 = to_origin * al.H2;
    s.canonical_size = cv::Size(int(std::lround(x1 - x0)) + 1, int(std::lround(y1 - y0)) + 1);
  }
  // Shift the colour view along the rows so that the disparities start a little above 0 (the
  // matcher searches 0..range, and a constant offset between the views, a yaw the matches can
  // hardly tell from parallax, would only widen the search); the shift is reported so that
  // disparities are given unshifted.
  {
    const std::vector<double> d = disparities(transformed(al.inliers, al.H1, al.H2));
    const double p5 = percentile(d, 0.05), p95 = percentile(d, 0.95);
    const double shift = p5 - (2.0 + 0.25 * (p95 - p5));
    al.H2 = cv::Matx33d(1, 0, shift, 0, 1, 0, 0, 0, 1) * al.H2;
    s.disparity_offset_px = shift;
  }
  const FeatureMatches t = transformed(al.inliers, al.H1, al.H2);
  const std::vector<double> d = disparities(t);
  s.min_disparity_px = percentile(d, 0.05);
  s.max_disparity_px = percentile(d, 0.95);
  s.rows = row_error(t);
  s.mono_to_canonical = al.H1;
  s.color_to_canonical = al.H2;
  if (!(s.rows.rms_px <= o.max_row_error_px))
    refuse("the rows still disagree after rectification: rms " + fixed(s.rows.rms_px) + " px, p95 " +
           fixed(s.rows.p95_abs_px) + " px (limit " + fixed(o.max_row_error_px) + " px; " + s.model + ", " + measured +
           ")");
  return s;
}

}  // namespace dualcam::fusion
