#include "dualcam/fusion/self_rectify.hpp"

#include <algorithm>
#include <cmath>

#include <opencv2/calib3d.hpp>
#include <opencv2/features2d.hpp>
#include <opencv2/imgproc.hpp>

#include "dualcam/engine/error.hpp"

namespace dualcam::fusion {

void SelfRectifyOptions::validate() const {
  check_range("SelfRectifyOptions::max_features", max_features, 100, 100000);
  check_range("SelfRectifyOptions::max_side_px", max_side_px, 200, 20000);
  check_range("SelfRectifyOptions::ratio", ratio, 0.1, 1.0);
  check_range("SelfRectifyOptions::ransac_threshold_px", ransac_threshold_px, 0.05, 20.0);
  check_range("SelfRectifyOptions::min_inliers", min_inliers, 8, 100000);
  check_range("SelfRectifyOptions::refine_threshold_px", refine_threshold_px, 0.0, 100.0);
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

FeatureMatches match_features(const cv::Mat& a8, const cv::Mat& b8, const SelfRectifyOptions& o) {
  o.validate();
  if (a8.type() != CV_8UC1 || b8.type() != CV_8UC1) throw_invalid("match_features: expects two CV_8UC1 views");
  double fa = 1, fb = 1;
  const cv::Mat sa = downscaled(a8, o.max_side_px, fa), sb = downscaled(b8, o.max_side_px, fb);
  // Low FAST threshold and a small border: cross-spectral pairs and small views give few corners.
  auto orb = cv::ORB::create(o.max_features, 1.2f, 8, 19, 0, 2, cv::ORB::HARRIS_SCORE, 19, 7);
  std::vector<cv::KeyPoint> ka, kb;
  cv::Mat da, db;
  orb->detectAndCompute(sa, cv::noArray(), ka, da);
  orb->detectAndCompute(sb, cv::noArray(), kb, db);
  FeatureMatches m;
  if (da.empty() || db.empty()) return m;
  cv::BFMatcher matcher(cv::NORM_HAMMING);
  std::vector<std::vector<cv::DMatch>> knn;
  matcher.knnMatch(da, db, knn, 2);
  for (const auto& k : knn) {
    if (k.size() < 2 || k[0].distance >= o.ratio * k[1].distance) continue;
    m.a.push_back(ka[k[0].queryIdx].pt * (1.0 / fa));
    m.b.push_back(kb[k[0].trainIdx].pt * (1.0 / fb));
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

DriftCheck check_drift(const cv::Mat& left8, const cv::Mat& right8, const SelfRectifyOptions& o) {
  DriftCheck dc;
  const FeatureMatches fm = match_features(left8, right8, o);
  FeatureMatches kept;  // matches on the same row give the row error; far ones are mismatches
  for (std::size_t i = 0; i < fm.a.size(); ++i)
    if (std::abs(fm.a[i].y - fm.b[i].y) < 20.0f && fm.a[i].x - fm.b[i].x > -4.0f) {
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
  auto row = [](const RowError& e) {
    return Json{{"matches", e.matches}, {"mean_abs_px", e.mean_abs_px}, {"median_abs_px", e.median_abs_px},
                {"rms_px", e.rms_px}};
  };
  return Json{{"method", method},
              {"matches", matches},
              {"inliers", inliers},
              {"canonical_size", {canonical_size.width, canonical_size.height}},
              {"row_error_first_fit", row(before)},
              {"row_error_after", row(after)},
              {"disparity_px_p5_p95", {min_disparity_px, max_disparity_px}},
              {"disparity_offset_px", disparity_offset_px}};
}

SelfRectification self_rectify(const cv::Mat& mono8, const cv::Mat& color8, const SelfRectifyOptions& o) {
  o.validate();
  SelfRectification s;
  FeatureMatches m = match_features(mono8, color8, o);
  s.matches = int(m.a.size());
  if (s.matches < o.min_inliers)
    throw Error(ErrorCategory::Numerical, "self-rectification (no rig): only " + std::to_string(s.matches) +
                                              " feature matches between the views (need " +
                                              std::to_string(o.min_inliers) + "); give a rig");
  std::vector<std::uint8_t> mask;
  cv::Mat F = cv::findFundamentalMat(m.a, m.b, cv::USAC_MAGSAC, o.ransac_threshold_px, 0.9999, 10000, mask);
  FeatureMatches in;
  for (std::size_t i = 0; i < mask.size(); ++i)
    if (mask[i]) {
      in.a.push_back(m.a[i]);
      in.b.push_back(m.b[i]);
    }
  s.inliers = int(in.a.size());
  if (F.rows != 3 || s.inliers < o.min_inliers)
    throw Error(ErrorCategory::Numerical, "self-rectification (no rig): no epipolar geometry fits the pair (" +
                                              std::to_string(s.inliers) + " inliers of " +
                                              std::to_string(s.matches) + " matches); give a rig");
  // Orientation: a baseline along y is turned into one along x (transpose), and mirrored when
  // the colour view would be left of the mono view.
  cv::Matx33d H1 = cv::Matx33d::eye(), H2 = cv::Matx33d::eye();
  {
    std::vector<double> dx, dy;
    for (std::size_t i = 0; i < in.a.size(); ++i) {
      dx.push_back(double(in.a[i].x) - in.b[i].x);
      dy.push_back(double(in.a[i].y) - in.b[i].y);
    }
    const double mx = percentile(dx, 0.5), my = percentile(dy, 0.5);
    if (std::abs(my) > std::abs(mx)) {
      const cv::Matx33d transpose(0, 1, 0, 1, 0, 0, 0, 0, 1);
      H1 = transpose * H1;
      H2 = transpose * H2;
    }
    if ((std::abs(my) > std::abs(mx) ? my : mx) < 0) {
      const cv::Matx33d mirror(-1, 0, 0, 0, 1, 0, 0, 0, 1);
      H1 = mirror * H1;
      H2 = mirror * H2;
    }
  }
  // A module is built nearly rectified: first try moving the colour view only (rotation, scale
  // and row shift; the mono view, the usual reference, stays untouched). When that leaves row
  // errors, the views are rectified by Hartley's homographies (cv::stereoRectifyUncalibrated).
  s.method = "similarity";
  const cv::Point2f centre_b = apply(H2, cv::Point2f(0.5f * (color8.cols - 1), 0.5f * (color8.rows - 1)));
  H2 = fit_row_correction(transformed(in, H1, H2), centre_b) * H2;
  s.before = row_error(transformed(in, H1, H2));
  if (s.before.median_abs_px > 1.0) {
    cv::Mat H1m, H2m;
    if (!cv::stereoRectifyUncalibrated(in.a, in.b, F, mono8.size(), H1m, H2m, 5.0))
      throw Error(ErrorCategory::Numerical, "self-rectification (no rig): the uncalibrated rectification failed; give a rig");
    H1 = cv::Matx33d(H1m);
    H2 = cv::Matx33d(H2m);
    s.method = "hartley";
    std::vector<double> d;
    const FeatureMatches t = transformed(in, H1, H2);
    for (std::size_t i = 0; i < t.a.size(); ++i) d.push_back(double(t.a[i].x) - t.b[i].x);
    if (percentile(d, 0.5) < 0) {
      const cv::Matx33d mirror(-1, 0, 0, 0, 1, 0, 0, 0, 1);
      H1 = mirror * H1;
      H2 = mirror * H2;
    }
  }
  // The canonical canvas: the mono image's outline through H1, moved to the origin.
  {
    const std::vector<cv::Point2f> corners = {
        {0, 0}, {float(mono8.cols - 1), 0}, {float(mono8.cols - 1), float(mono8.rows - 1)}, {0, float(mono8.rows - 1)}};
    float x0 = 1e30f, y0 = 1e30f, x1 = -1e30f, y1 = -1e30f;
    for (const auto& c : corners) {
      const cv::Point2f p = apply(H1, c);
      x0 = std::min(x0, p.x);
      y0 = std::min(y0, p.y);
      x1 = std::max(x1, p.x);
      y1 = std::max(y1, p.y);
    }
    const double longest = std::max(mono8.cols, mono8.rows);
    if (!(x1 - x0 < 2 * longest && y1 - y0 < 2 * longest))
      throw Error(ErrorCategory::Numerical, "self-rectification (no rig): the rectification distorts the view too much; give a rig");
    const cv::Matx33d to_origin(1, 0, -x0, 0, 1, -y0, 0, 0, 1);
    H1 = to_origin * H1;
    H2 = to_origin * H2;
    s.canonical_size = cv::Size(int(std::lround(x1 - x0)) + 1, int(std::lround(y1 - y0)) + 1);
  }
  // What the homographies left: an affine fit of the colour rows onto the mono rows.
  H2 = fit_row_correction(transformed(in, H1, H2),
                          apply(H2, cv::Point2f(0.5f * (color8.cols - 1), 0.5f * (color8.rows - 1)))) *
       H2;
  // Shift the colour view along the rows when some disparities would be negative (the matcher
  // searches 0..range); the shift is reported so that disparities can be given unshifted.
  FeatureMatches t = transformed(in, H1, H2);
  std::vector<double> d;
  for (std::size_t i = 0; i < t.a.size(); ++i) d.push_back(double(t.a[i].x) - t.b[i].x);
  const double dmin = percentile(d, 0.05);
  if (dmin < 0.0) {
    H2 = cv::Matx33d(1, 0, dmin - 2.0, 0, 1, 0, 0, 0, 1) * H2;
    s.disparity_offset_px = dmin - 2.0;
  }
  t = transformed(in, H1, H2);
  d.clear();
  for (std::size_t i = 0; i < t.a.size(); ++i) d.push_back(double(t.a[i].x) - t.b[i].x);
  s.min_disparity_px = percentile(d, 0.05);
  s.max_disparity_px = percentile(d, 0.95);
  s.after = row_error(t);
  s.mono_to_canonical = H1;
  s.color_to_canonical = H2;
  return s;
}

}  // namespace dualcam::fusion
