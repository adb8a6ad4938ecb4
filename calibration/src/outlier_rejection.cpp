// The solve / reject / re-solve rounds of calibrate_stereo: outlier corners, views far above the
// others in RMS, and pairs whose two images disagree (joint_problem.hpp).
#include <algorithm>
#include <cmath>

#include <ceres/solver.h>

#include "joint_problem.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/rectify_geometry.hpp"

namespace dualcam::calibration::internal {
namespace {

// The inlier residuals of the views in use, per view k.
struct ViewResiduals {
  std::vector<double> rms;        // RMS over both cameras (0 for a view not in use)
  std::vector<double> sum_sq[2];  // sum of |r|^2 per camera
  std::vector<int> count[2];      // inlier corners per camera
  std::vector<double> rms_used;   // `rms` of the views in use, in order
};

// Each pair's mean rectified row error with the current rig, and the part of it its own corner
// noise explains.
struct PairRows {
  std::vector<double> row, expected;  // per view k
  std::vector<double> row_used;       // `row` of the views in use, in order
};

// The view limits, from the first round only: recomputing them after each rejection would peel
// off ever more views as the spread shrinks.
struct ViewLimits {
  double rms = 0, row = 0;                // limits, pixels
  double rms_median = 0, row_median = 0;  // medians of the views, pixels
};

// Corners: robust sigma per camera from the median absolute residual component. Returns whether
// any corner was rejected.
bool reject_outlier_corners(Joint& j, const StereoCalibrationOptions& options) {
  std::vector<double> comps[2];
  for (const Observation& o : j.obs)
    if (o.inlier && j.view_used[std::size_t(o.view)]) {
      cv::Vec2d r = residual_of(j.s, o);
      comps[o.camera].push_back(std::abs(r[0]));
      comps[o.camera].push_back(std::abs(r[1]));
    }
  double limit[2];
  for (int c = 0; c < 2; ++c)
    limit[c] = std::max(options.outlier_sigmas * 1.4826 * median(comps[c]), options.outlier_floor_px);
  bool changed = false;
  for (Observation& o : j.obs)
    if (o.inlier && j.view_used[std::size_t(o.view)] && cv::norm(residual_of(j.s, o)) > limit[o.camera]) {
      o.inlier = false;
      changed = true;
    }
  return changed;
}

ViewResiduals view_residuals(const Joint& j) {
  const std::size_t nv = std::size_t(j.views());
  ViewResiduals v;
  v.rms.assign(nv, 0.0);
  for (int c = 0; c < 2; ++c) {
    v.sum_sq[c].assign(nv, 0.0);
    v.count[c].assign(nv, 0);
  }
  for (const Observation& o : j.obs)
    if (o.inlier && j.view_used[std::size_t(o.view)]) {
      cv::Vec2d r = residual_of(j.s, o);
      v.rms[std::size_t(o.view)] += r.dot(r);
      v.sum_sq[o.camera][std::size_t(o.view)] += r.dot(r);
      v.count[o.camera][std::size_t(o.view)]++;
    }
  for (std::size_t k = 0; k < nv; ++k)
    if (j.view_used[k]) {
      const int n = v.count[0][k] + v.count[1][k];
      v.rms[k] = n > 0 ? std::sqrt(v.rms[k] / n) : 0.0;
      v.rms_used.push_back(v.rms[k]);
    }
  return v;
}

// Stereo consistency: the view's mean rectified row error with the current rig. A pair whose
// two images were not taken at the same instant (or one of them blurred) fits each camera
// well but not the pair.
// The row error its own corner noise explains: mean |dy| of the difference of the two
// cameras' per-coordinate noise (RMS / sqrt 2 each, scaled to the rectified focal length) is
// sqrt(2 / pi) sqrt(s_mono^2 + s_color^2). Blurred or small views have more noise in both
// cameras, and a larger row error for that reason alone: not a disagreement.
PairRows pair_row_errors(const Joint& j, const std::vector<StereoView>& views, const ViewResiduals& res,
                         cv::Size mono_size, cv::Size color_size) {
  const int nv = j.views();
  const State& s = j.s;
  PairRows p;
  p.row.assign(std::size_t(nv), 0.0);
  p.expected.assign(std::size_t(nv), 0.0);
  const StereoRig cur = rig_of(s, mono_size, color_size);
  const RectifyGeometry g = rectify_geometry(cur, row_error_rectify());
  const std::vector<StereoView> kept = inlier_views(views, j.used_index, j.obs, j.view_used);
  const double scale[2] = {g.focal_px / std::sqrt(s.intr[0][0] * s.intr[0][1]),
                           g.focal_px / std::sqrt(s.intr[1][0] * s.intr[1][1])};
  for (int k = 0; k < nv; ++k)
    if (j.view_used[std::size_t(k)]) {
      p.row[std::size_t(k)] = rectified_row_error(cur, g, {kept[std::size_t(k)]});
      p.row_used.push_back(p.row[std::size_t(k)]);
      double var = 0;
      for (int c = 0; c < 2; ++c)
        if (res.count[c][std::size_t(k)] > 0)
          var += res.sum_sq[c][std::size_t(k)] / res.count[c][std::size_t(k)] / 2 * scale[c] * scale[c];
      p.expected[std::size_t(k)] = std::sqrt(2 / M_PI) * std::sqrt(var);
    }
  return p;
}

// Views: too few corners left, RMS far above the others (dropped only with drop_outlier_views),
// or two images that disagree (split into a board pose per camera, or dropped). Returns whether
// any view changed.
bool judge_views(Joint& j, const ViewResiduals& v, const PairRows& p, const ViewLimits& lim,
                 const StereoCalibrationOptions& options) {
  bool changed = false;
  for (int k = 0; k < j.views(); ++k) {
    const std::size_t u = std::size_t(k);
    if (!j.view_used[u]) continue;
    if (v.count[0][u] < options.min_corners || v.count[1][u] < options.min_corners) {
      j.view_used[u] = false;
      j.reason[u] = "too few corners left after outlier rejection";
      changed = true;
    } else if (options.drop_outlier_views && v.rms[u] > lim.rms) {
      j.view_used[u] = false;
      j.reason[u] = "outlier view: RMS " + fmt(v.rms[u]) + " px > " + fmt(lim.rms) + " px (median of the views " +
                    fmt(lim.rms_median) + " px)";
      changed = true;
    } else if (!j.s.split[u] && p.row[u] > lim.row && p.row[u] > options.row_noise_factor * p.expected[u]) {
      const std::string why = "rectified row error " + fmt(p.row[u]) + " px > " + fmt(lim.row) +
                              " px (median of the views " + fmt(lim.row_median) + " px) and > " +
                              fmt(options.row_noise_factor, 1) + " x the " + fmt(p.expected[u]) +
                              " px its corner noise explains: the two images disagree (not taken at the same "
                              "instant?)";
      if (options.drop_outlier_views) {
        j.view_used[u] = false;
        j.reason[u] = "outlier view: " + why;
      } else {
        split_view(j.s, k);
        j.reason[u] = "intrinsics only (own board pose per camera): " + why;
      }
      changed = true;
    }
  }
  return changed;
}

// After a round that changed something: enough stereo pairs and views must be left.
void check_views_left(const Joint& j, const StereoCalibrationOptions& options, const BoardSpec& board,
                      StereoCalibrationResult& res) {
  const int nv = j.views();
  int stereo_left = 0;
  for (int k = 0; k < nv; ++k) stereo_left += j.view_used[std::size_t(k)] && !j.s.split[std::size_t(k)];
  if (stereo_left < 2)
    throw_calibration("only " + std::to_string(stereo_left) +
                      " pairs agree as stereo pairs (need 2): the others' two images disagree");
  const int left = int(std::count(j.view_used.begin(), j.view_used.end(), true));
  if (left < options.min_views) {
    for (int k = 0; k < nv; ++k)
      if (!j.view_used[std::size_t(k)]) res.views[std::size_t(j.used_index[std::size_t(k)])].reason = j.reason[std::size_t(k)];
    throw_too_few(res, left, " after outlier rejection", options, board);
  }
}

}  // namespace

void solve_with_rejection(Joint& j, const std::vector<StereoView>& views, cv::Size mono_size, cv::Size color_size,
                          const StereoCalibrationOptions& options, const BoardSpec& board,
                          StereoCalibrationResult& res) {
  const ceres::Solver::Options so = solver_options(options);
  ViewLimits lim;
  for (int round = 0;; ++round) {
    ceres::Problem problem;
    build_problem(problem, j.s, j.obs, j.view_used, j.fixed, options.huber_px);
    ceres::Solver::Summary summary;
    ceres::Solve(so, &problem, &summary);
    res.iterations += int(summary.iterations.size());
    if (!summary.IsSolutionUsable())
      throw Error(ErrorCategory::Numerical, "the joint refinement failed: " + summary.message);
    if (round >= options.max_rejection_rounds) break;
    bool changed = reject_outlier_corners(j, options);
    const ViewResiduals v = view_residuals(j);
    if (round == 0)
      lim.rms = robust_limit(v.rms_used, options.view_outlier_sigmas, options.view_rms_factor, options.view_rms_floor_px,
                             &lim.rms_median);
    const PairRows p = pair_row_errors(j, views, v, mono_size, color_size);
    if (round == 0)
      lim.row = robust_limit(p.row_used, options.view_outlier_sigmas, options.view_rms_factor, options.view_rms_floor_px,
                             &lim.row_median);
    changed = judge_views(j, v, p, lim, options) || changed;
    if (!changed) break;
    check_views_left(j, options, board, res);
  }
}

}  // namespace dualcam::calibration::internal
