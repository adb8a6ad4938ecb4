// calibrate_stereo: the stages in order (joint_problem.hpp; the solve / reject rounds in
// outlier_rejection.cpp, the uncertainty in uncertainty.cpp), the result, and OpenCV's peer.
#include "dualcam/calibration/stereo_calibrate.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include <opencv2/calib3d.hpp>
#include <opencv2/imgproc.hpp>

#include "joint_problem.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/report.hpp"

namespace dualcam::calibration {
using namespace internal;

void StereoCalibrationOptions::validate() const {
  parse_fixed(fixed);
  check_range("StereoCalibrationOptions::min_views", min_views, 2, 100000);
  check_range("StereoCalibrationOptions::min_corners", min_corners, 4, 100000);
  check_range("StereoCalibrationOptions::huber_px", huber_px, 0.0, 1000.0);
  check_range("StereoCalibrationOptions::outlier_sigmas", outlier_sigmas, 1.0, 1000.0);
  check_range("StereoCalibrationOptions::outlier_floor_px", outlier_floor_px, 0.0, 1000.0);
  check_range("StereoCalibrationOptions::view_outlier_sigmas", view_outlier_sigmas, 1.0, 1000.0);
  check_range("StereoCalibrationOptions::view_rms_factor", view_rms_factor, 1.0, 1000.0);
  check_range("StereoCalibrationOptions::view_rms_floor_px", view_rms_floor_px, 0.0, 1000.0);
  check_range("StereoCalibrationOptions::row_noise_factor", row_noise_factor, 0.0, 1000.0);
  check_range("StereoCalibrationOptions::max_rejection_rounds", max_rejection_rounds, 0, 100);
  check_range("StereoCalibrationOptions::max_iterations", max_iterations, 1, 100000);
  rectify.validate();
}

RectifyOptions row_error_rectify() {
  RectifyOptions o;
  o.alpha = -1;  // stereoRectify's default scaling, as the design's peer figures (docs/evaluation.md)
  return o;
}

double rectified_row_error(const StereoRig& rig, const RectifyGeometry& g, const std::vector<StereoView>& views,
                           int* count) {
  try {
    rig.validate();
  } catch (const Error& e) {
    throw_invalid(std::string("rectified_row_error: ") + e.what());
  }
  check_stereo_views(views, "rectified_row_error");
  double sum = 0;
  int n = 0;
  for (const StereoView& v : views) {
    if (!v.mono.found || !v.color.found) continue;
    std::map<int, cv::Point2f> color_by_id;
    for (std::size_t i = 0; i < v.color.ids.size(); ++i) color_by_id[v.color.ids[i]] = v.color.corners[i];
    std::vector<cv::Point2f> pm, pc;
    for (std::size_t i = 0; i < v.mono.ids.size(); ++i) {
      auto it = color_by_id.find(v.mono.ids[i]);
      if (it == color_by_id.end()) continue;
      pm.push_back(v.mono.corners[i]);
      pc.push_back(it->second);
    }
    if (pm.empty()) continue;
    std::vector<cv::Point2f> rm, rc;
    cv::undistortPoints(pm, rm, cv::Mat(rig.mono.K), rig.mono.dist, cv::Mat(g.R1), cv::Mat(g.P1));
    cv::undistortPoints(pc, rc, cv::Mat(rig.color.K), rig.color.dist, cv::Mat(g.R2), cv::Mat(g.P2));
    for (std::size_t i = 0; i < rm.size(); ++i) {
      sum += g.vertical ? std::abs(rm[i].x - rc[i].x) : std::abs(rm[i].y - rc[i].y);
      ++n;
    }
  }
  if (count) *count = n;
  return n > 0 ? sum / n : 0.0;
}

namespace internal {

[[noreturn]] void throw_too_few(const StereoCalibrationResult& res, int usable, const std::string& why,
                                const StereoCalibrationOptions& options, const BoardSpec& board) {
  const std::size_t n = res.views.size();
  std::string msg = "only " + std::to_string(usable) + " of " + std::to_string(n) + " views are usable (need " +
                    std::to_string(options.min_views) + ")" + why;
  int not_found = 0;
  for (std::size_t i = 0; i < n; ++i) not_found += res.views[i].reason.find("not found") != std::string::npos;
  for (std::size_t i = 0; i < n; ++i)
    if (!res.views[i].reason.empty()) {
      msg += "; first unusable: " + res.views[i].name + ": " + res.views[i].reason;
      break;
    }
  if (2 * not_found > int(n)) msg += " (is the board spec " + board.to_string() + " right?)";
  throw_calibration(msg);
}

}  // namespace internal

namespace {

// The views with the board in both images and enough corners (index into `views`); the others
// get their reason in res.views.
std::vector<int> usable_views(const std::vector<StereoView>& views, const StereoCalibrationOptions& options,
                              StereoCalibrationResult& res) {
  std::vector<int> used_index;
  for (std::size_t i = 0; i < views.size(); ++i) {
    ViewReport& vr = res.views[i];
    vr.name = views[i].name;
    const StereoView& v = views[i];
    vr.reason = unusable_reason(v);
    if (!vr.reason.empty()) continue;
    if (int(v.mono.corners.size()) < options.min_corners || int(v.color.corners.size()) < options.min_corners)
      vr.reason = "too few corners (" + std::to_string(v.mono.corners.size()) + " mono, " +
                  std::to_string(v.color.corners.size()) + " colour; need " + std::to_string(options.min_corners) + ")";
    else used_index.push_back(int(i));
  }
  return used_index;
}

// Statistics and the per-view report of the final solve; returns the sum of the squared inlier
// residuals of both cameras.
double report_views(const Joint& j, StereoCalibrationResult& res) {
  const int nv = j.views();
  double sum_sq[2] = {0, 0};
  int n_obs[2] = {0, 0};
  for (int k = 0; k < nv; ++k) {
    ViewReport& vr = res.views[std::size_t(j.used_index[std::size_t(k)])];
    vr.used = j.view_used[std::size_t(k)];
    vr.stereo = vr.used && !j.s.split[std::size_t(k)];
    (vr.used ? vr.note : vr.reason) = j.reason[std::size_t(k)];
  }
  std::vector<double> vsq[2];
  vsq[0].assign(std::size_t(nv), 0.0);
  vsq[1].assign(std::size_t(nv), 0.0);
  for (const Observation& o : j.obs) {
    ViewReport& vr = res.views[std::size_t(j.used_index[std::size_t(o.view)])];
    if (!j.view_used[std::size_t(o.view)]) continue;
    if (!o.inlier) {
      (o.camera == 0 ? vr.rejected_mono : vr.rejected_color)++;
      res.corners_rejected++;
      continue;
    }
    cv::Vec2d r = residual_of(j.s, o);
    const double q = r.dot(r);
    sum_sq[o.camera] += q;
    n_obs[o.camera]++;
    vsq[o.camera][std::size_t(o.view)] += q;
    if (o.camera == 0) {
      vr.corners_mono++;
      vr.points_mono.push_back(o.px);
      vr.residuals_mono.emplace_back(float(r[0]), float(r[1]));
    } else {
      vr.corners_color++;
      vr.points_color.push_back(o.px);
      vr.residuals_color.emplace_back(float(r[0]), float(r[1]));
    }
  }
  for (int k = 0; k < nv; ++k) {
    ViewReport& vr = res.views[std::size_t(j.used_index[std::size_t(k)])];
    if (!vr.used) continue;
    vr.rms_mono_px = vr.corners_mono ? std::sqrt(vsq[0][std::size_t(k)] / vr.corners_mono) : 0.0;
    vr.rms_color_px = vr.corners_color ? std::sqrt(vsq[1][std::size_t(k)] / vr.corners_color) : 0.0;
  }
  res.views_used = int(std::count(j.view_used.begin(), j.view_used.end(), true));
  for (int k = 0; k < nv; ++k) res.views_stereo += j.view_used[std::size_t(k)] && !j.s.split[std::size_t(k)];
  res.corners_used = n_obs[0] + n_obs[1];
  res.rms_mono_px = n_obs[0] ? std::sqrt(sum_sq[0] / n_obs[0]) : 0.0;
  res.rms_color_px = n_obs[1] ? std::sqrt(sum_sq[1] / n_obs[1]) : 0.0;
  res.rms_px = std::sqrt((sum_sq[0] + sum_sq[1]) / std::max(1, n_obs[0] + n_obs[1]));
  return sum_sq[0] + sum_sq[1];
}

// The rectified row error of the inlier corners: of the stereo pairs, of every used pair, and of
// each used pair.
void measure_row_errors(const Joint& j, const std::vector<StereoView>& views, StereoCalibrationResult& res) {
  const int nv = j.views();
  const std::vector<StereoView> kept = inlier_views(views, j.used_index, j.obs, j.view_used);
  const RectifyGeometry metric = rectify_geometry(res.rig, row_error_rectify());
  std::vector<StereoView> stereo;
  for (int k = 0; k < nv; ++k)
    if (j.view_used[std::size_t(k)] && !j.s.split[std::size_t(k)]) stereo.push_back(kept[std::size_t(k)]);
  res.row_error_px = rectified_row_error(res.rig, metric, stereo);
  res.row_error_all_px = rectified_row_error(res.rig, metric, kept);
  for (int k = 0; k < nv; ++k)
    if (j.view_used[std::size_t(k)])
      res.views[std::size_t(j.used_index[std::size_t(k)])].row_error_px =
          rectified_row_error(res.rig, metric, {kept[std::size_t(k)]});
}

// The odd and the even used views calibrated separately (without halves of their own), and how
// far their extrinsics differ against their uncertainties.
HalvesReport halves_of(const Joint& j, const std::vector<StereoView>& views, const BoardSpec& board,
                       cv::Size mono_size, cv::Size color_size, const StereoCalibrationOptions& options,
                       double baseline) {
  std::vector<StereoView> half[2];
  int n = 0;
  for (int k = 0; k < j.views(); ++k)
    if (j.view_used[std::size_t(k)]) half[(n++) % 2].push_back(views[std::size_t(j.used_index[std::size_t(k)])]);
  StereoCalibrationOptions ho = options;
  ho.halves = false;
  HalvesReport h;
  h.views_odd = int(half[0].size());   // 1st, 3rd, ... used view
  h.views_even = int(half[1].size());  // 2nd, 4th, ...
  try {
    StereoCalibrationResult a = calibrate_stereo(half[0], board, mono_size, color_size, ho);
    StereoCalibrationResult b = calibrate_stereo(half[1], board, mono_size, color_size, ho);
    cv::Vec3d dr;
    cv::Rodrigues(a.rig.R.t() * b.rig.R, dr);
    h.rotation_diff_deg = cv::norm(dr) * kRadToDeg;
    h.baseline_diff_mm = std::abs(a.rig.baseline() - b.rig.baseline());
    h.baseline_diff_pct = 100.0 * h.baseline_diff_mm / baseline;
    h.translation_diff_mm = cv::norm(a.rig.T - b.rig.T);
    h.translation_diff_pct = 100.0 * h.translation_diff_mm / baseline;
    h.translation_sigma_mm = std::sqrt(a.sigma.T_mm.dot(a.sigma.T_mm) + b.sigma.T_mm.dot(b.sigma.T_mm));
    h.rotation_sigma_deg = std::hypot(a.sigma.rotation_deg, b.sigma.rotation_deg);
    h.baseline_sigma_mm = std::hypot(a.sigma.baseline_mm, b.sigma.baseline_mm);
    h.within_3sigma = h.rotation_diff_deg <= 3 * h.rotation_sigma_deg && h.baseline_diff_mm <= 3 * h.baseline_sigma_mm &&
                      h.translation_diff_mm <= 3 * h.translation_sigma_mm;
    h.computed = true;
  } catch (const Error& e) {
    h.computed = false;
    h.reason = e.what();
  }
  return h;
}

// The figures the rig file carries besides the model.
void write_rig_extras(StereoCalibrationResult& res) {
  auto& extras = res.rig.extras;
  extras["rms_px"] = res.rms_px;
  extras["rms_mono_px"] = res.rms_mono_px;
  extras["rms_color_px"] = res.rms_color_px;
  extras["row_error_px"] = res.row_error_px;
  extras["views_used"] = res.views_used;
  extras["views_stereo"] = res.views_stereo;
  extras["row_error_all_px"] = res.row_error_all_px;
  extras["sigma_fx1_px"] = res.sigma.mono.fx;
  extras["sigma_fy1_px"] = res.sigma.mono.fy;
  extras["sigma_cx1_px"] = res.sigma.mono.cx;
  extras["sigma_cy1_px"] = res.sigma.mono.cy;
  extras["sigma_fx2_px"] = res.sigma.color.fx;
  extras["sigma_fy2_px"] = res.sigma.color.fy;
  extras["sigma_cx2_px"] = res.sigma.color.cx;
  extras["sigma_cy2_px"] = res.sigma.color.cy;
  extras["sigma_rotation_deg"] = res.sigma.rotation_deg;
  extras["sigma_baseline_mm"] = res.sigma.baseline_mm;
  if (res.halves.computed) {
    extras["halves_rotation_diff_deg"] = res.halves.rotation_diff_deg;
    extras["halves_baseline_diff_mm"] = res.halves.baseline_diff_mm;
  }
}

}  // namespace

StereoCalibrationResult calibrate_stereo(const std::vector<StereoView>& views, const BoardSpec& board,
                                         cv::Size mono_size, cv::Size color_size,
                                         const StereoCalibrationOptions& options) {
  options.validate();
  board.validate();
  if (mono_size.empty() || color_size.empty()) throw_invalid("calibrate_stereo: image sizes must be positive");
  check_stereo_views(views, "calibrate_stereo", &board);
  Joint j;
  j.fixed = parse_fixed(options.fixed);
  const std::vector<cv::Point3f> model = board.object_points();
  StereoCalibrationResult res;
  res.views_total = int(views.size());
  res.views.resize(views.size());
  j.used_index = usable_views(views, options, res);
  if (j.views() < options.min_views) throw_too_few(res, j.views(), "", options, board);

  initialise(j, views, model, mono_size, color_size);
  collect_observations(j, views, model);
  Stopwatch watch;
  solve_with_rejection(j, views, mono_size, color_size, options, board, res);
  res.solve_seconds = watch.seconds();

  const double sum_sq = report_views(j, res);
  res.rig = rig_of(j.s, mono_size, color_size);
  try {
    res.rig.validate();
  } catch (const Error& e) {
    throw Error(ErrorCategory::Numerical, std::string("calibration produced an invalid rig: ") + e.what());
  }
  covariance_sigma(j, sum_sq, res);
  res.sigma.covariance_rotation_deg = res.sigma.rotation_deg;
  res.sigma.covariance_baseline_mm = res.sigma.baseline_mm;
  if (options.jackknife && res.views_used >= 3) jackknife_sigma(j, options, res);

  res.rectification = rectify_geometry(res.rig, options.rectify);
  measure_row_errors(j, views, res);
  if (options.halves) res.halves = halves_of(j, views, board, mono_size, color_size, options, res.rig.baseline());
  write_rig_extras(res);
  return res;
}

CalibrationVerdict calibration_verdict(const StereoCalibrationResult& result, double max_rms_px,
                                       double max_row_error_px) {
  if (!(max_rms_px >= 0) || !(max_row_error_px >= 0))
    throw_invalid("the verdict's limits must be >= 0 px (0 = no limit)");
  CalibrationVerdict v;
  v.max_rms_px = max_rms_px;
  v.max_row_error_px = max_row_error_px;
  char buf[256];
  if (max_rms_px > 0 && result.rms_px > max_rms_px) {
    std::snprintf(buf, sizeof buf, "RMS %.4f px > --max-rms %.4f px", result.rms_px, max_rms_px);
    v.failed.emplace_back(buf);
  }
  if (max_row_error_px > 0 && result.row_error_px > max_row_error_px) {
    std::snprintf(buf, sizeof buf, "row error %.4f px > --max-row-error %.4f px", result.row_error_px, max_row_error_px);
    v.failed.emplace_back(buf);
  }
  v.pass = v.failed.empty();
  return v;
}

nlohmann::json CalibrationVerdict::to_json() const {
  return {{"pass", pass}, {"failed", failed}, {"max_rms_px", max_rms_px}, {"max_row_error_px", max_row_error_px}};
}

RigMatrices StereoCalibrationResult::rectification_matrices() const {
  const RectifyGeometry& g = rectification;
  return {{"R1", cv::Mat(g.R1)}, {"R2", cv::Mat(g.R2)}, {"P1", cv::Mat(g.P1)}, {"P2", cv::Mat(g.P2)}, {"Q", cv::Mat(g.Q)}};
}

namespace {
nlohmann::json camera_json(const CameraModel& c, const CameraSigma& s) {
  std::vector<double> d(c.dist.begin<double>(), c.dist.end<double>());
  return {{"fx", c.K(0, 0)},        {"fy", c.K(1, 1)},         {"cx", c.K(0, 2)},        {"cy", c.K(1, 2)},
          {"dist", d},              {"size", {c.size.width, c.size.height}},
          {"sigma_fx_px", s.fx},    {"sigma_fy_px", s.fy},     {"sigma_cx_px", s.cx},    {"sigma_cy_px", s.cy},
          {"sigma_dist", std::vector<double>(s.dist, s.dist + 5)}};
}
}  // namespace

nlohmann::json StereoCalibrationResult::to_json() const {
  nlohmann::json j;
  j["views_total"] = views_total;
  j["views_used"] = views_used;
  j["corners_used"] = corners_used;
  j["corners_rejected"] = corners_rejected;
  j["rms_px"] = rms_px;
  j["rms_mono_px"] = rms_mono_px;
  j["rms_color_px"] = rms_color_px;
  j["views_stereo"] = views_stereo;
  j["row_error_px"] = row_error_px;
  j["row_error_all_px"] = row_error_all_px;
  j["residual_sigma_px"] = residual_sigma_px;
  j["iterations"] = iterations;
  j["solve_s"] = solve_seconds;
  j["mono"] = camera_json(rig.mono, sigma.mono);
  j["color"] = camera_json(rig.color, sigma.color);
  cv::Vec3d r;
  cv::Rodrigues(rig.R, r);
  j["color_from_mono"] = {{"rotation_vector", {r[0], r[1], r[2]}},
                          {"rotation_deg", cv::norm(r) * kRadToDeg},
                          {"T_mm", {rig.T[0], rig.T[1], rig.T[2]}},
                          {"baseline_mm", rig.baseline()},
                          {"sigma_rotation_deg", sigma.rotation_deg},
                          {"sigma_baseline_mm", sigma.baseline_mm},
                          {"sigma_T_mm", {sigma.T_mm[0], sigma.T_mm[1], sigma.T_mm[2]}},
                          {"covariance_sigma_rotation_deg", sigma.covariance_rotation_deg},
                          {"covariance_sigma_baseline_mm", sigma.covariance_baseline_mm},
                          {"jackknife_sigma_rotation_deg", sigma.jackknife_rotation_deg},
                          {"jackknife_sigma_baseline_mm", sigma.jackknife_baseline_mm}};
  j["rectification"] = {{"vertical", rectification.vertical}, {"flip", rectification.flip},
                        {"focal_px", rectification.focal_px}};
  j["halves"] = {{"computed", halves.computed},
                 {"reason", halves.reason},
                 {"views_odd", halves.views_odd},
                 {"views_even", halves.views_even},
                 {"rotation_diff_deg", halves.rotation_diff_deg},
                 {"baseline_diff_mm", halves.baseline_diff_mm},
                 {"baseline_diff_pct", halves.baseline_diff_pct},
                 {"translation_diff_mm", halves.translation_diff_mm},
                 {"translation_diff_pct", halves.translation_diff_pct},
                 {"translation_diff_sigma_mm", halves.translation_sigma_mm},
                 {"rotation_diff_sigma_deg", halves.rotation_sigma_deg},
                 {"baseline_diff_sigma_mm", halves.baseline_sigma_mm},
                 {"within_3sigma", halves.within_3sigma}};
  nlohmann::json vs = nlohmann::json::array();
  for (const ViewReport& v : views)
    vs.push_back({{"name", v.name},
                  {"used", v.used},
                  {"reason", v.reason},
                  {"stereo", v.stereo},
                  {"note", v.note},
                  {"corners_mono", v.corners_mono},
                  {"corners_color", v.corners_color},
                  {"rejected_mono", v.rejected_mono},
                  {"rejected_color", v.rejected_color},
                  {"rms_mono_px", v.rms_mono_px},
                  {"rms_color_px", v.rms_color_px},
                  {"row_error_px", v.row_error_px}});
  j["views"] = vs;
  return j;
}

}  // namespace dualcam::calibration
