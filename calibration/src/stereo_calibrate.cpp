#include "dualcam/calibration/stereo_calibrate.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <sstream>

#include <ceres/ceres.h>
#include <ceres/covariance.h>
#include <ceres/manifold.h>
#include <opencv2/calib3d.hpp>
#include <opencv2/imgproc.hpp>

#include "dualcam/calibration/cost.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/report.hpp"

namespace dualcam::calibration {
namespace {

constexpr double kRadToDeg = 180.0 / M_PI;
const char* const kParamNames[kIntrinsicCount] = {"fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2", "k3"};

[[noreturn]] void throw_calibration(const std::string& message) { throw Error(ErrorCategory::Calibration, message); }

// One corner observed by one camera in one view.
struct Observation {
  int view = 0;      // index into the used views
  int camera = 0;    // 0 = mono, 1 = colour
  cv::Point2f px;
  cv::Point3f X;     // board point, mm
  bool inlier = true;
};

struct State {
  double intr[2][kIntrinsicCount];
  double extr[kPoseCount];
  std::vector<std::array<double, kPoseCount>> pose;  // mono_from_board per used view
  // color_from_board per used view, used only where `split` is set: the pair's two images
  // disagree (the board moved between them), so each camera has its own board pose and the pair
  // constrains the intrinsics but not the extrinsics.
  std::vector<std::array<double, kPoseCount>> pose_color;
  std::vector<bool> split;
};

// Gives view k's colour camera its own board pose, starting from the one the rig predicts.
void split_view(State& s, int k) {
  const auto& p = s.pose[std::size_t(k)];
  cv::Matx33d Rb, Re;
  cv::Rodrigues(cv::Vec3d(p[0], p[1], p[2]), Rb);
  cv::Rodrigues(cv::Vec3d(s.extr[0], s.extr[1], s.extr[2]), Re);
  const cv::Matx33d R = Re * Rb;
  const cv::Vec3d t = Re * cv::Vec3d(p[3], p[4], p[5]) + cv::Vec3d(s.extr[3], s.extr[4], s.extr[5]);
  cv::Vec3d r;
  cv::Rodrigues(R, r);
  auto& q = s.pose_color[std::size_t(k)];
  for (int j = 0; j < 3; ++j) q[std::size_t(j)] = r[j], q[std::size_t(3 + j)] = t[j];
  s.split[std::size_t(k)] = true;
}

struct Fixed {
  bool flag[2][kIntrinsicCount] = {};
};

Fixed parse_fixed(const std::vector<std::string>& names) {
  Fixed f;
  for (const std::string& full : names) {
    std::string name = full;
    int cam = -1;
    if (name.rfind("mono.", 0) == 0) cam = 0, name = name.substr(5);
    else if (name.rfind("color.", 0) == 0) cam = 1, name = name.substr(6);
    else if (name.rfind("colour.", 0) == 0) cam = 1, name = name.substr(7);
    int idx = -1;
    for (int i = 0; i < kIntrinsicCount; ++i)
      if (name == kParamNames[i]) idx = i;
    if (idx < 0)
      throw_invalid("cannot fix '" + full + "': expected one of fx fy cx cy k1 k2 p1 p2 k3, optionally prefixed mono. or color.");
    for (int c = 0; c < 2; ++c)
      if (cam < 0 || cam == c) f.flag[c][idx] = true;
  }
  return f;
}

cv::Matx33d K_of(const double* in) { return {in[0], 0, in[2], 0, in[1], in[3], 0, 0, 1}; }
cv::Mat dist_of(const double* in) { return (cv::Mat_<double>(1, 5) << in[4], in[5], in[6], in[7], in[8]); }

void set_intr(double* out, const cv::Mat& K, const cv::Mat& D) {
  out[0] = K.at<double>(0, 0);
  out[1] = K.at<double>(1, 1);
  out[2] = K.at<double>(0, 2);
  out[3] = K.at<double>(1, 2);
  for (int i = 0; i < 5; ++i) out[4 + i] = i < int(D.total()) ? D.at<double>(i) : 0.0;
}

cv::Matx33d rot_of(const double* aa) {
  cv::Matx33d R;
  cv::Rodrigues(cv::Vec3d(aa[0], aa[1], aa[2]), R);
  return R;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

cv::Vec2d residual_of(const State& s, const Observation& o) {
  double r[2];
  if (o.camera == 0) {
    MonoReprojectionCost c(o.px.x, o.px.y, o.X.x, o.X.y, o.X.z);
    c(s.intr[0], s.pose[o.view].data(), r);
  } else if (s.split[std::size_t(o.view)]) {
    MonoReprojectionCost c(o.px.x, o.px.y, o.X.x, o.X.y, o.X.z);  // same form: own intrinsics and pose
    c(s.intr[1], s.pose_color[o.view].data(), r);
  } else {
    ColorReprojectionCost c(o.px.x, o.px.y, o.X.x, o.X.y, o.X.z);
    c(s.intr[1], s.extr, s.pose[o.view].data(), r);
  }
  return {r[0], r[1]};
}

// Builds the joint problem over the inlier observations of the views still in use.
void build_problem(ceres::Problem& problem, State& s, const std::vector<Observation>& obs,
                   const std::vector<bool>& view_used, const Fixed& fixed, double huber_px) {
  for (const Observation& o : obs) {
    if (!o.inlier || !view_used[o.view]) continue;
    ceres::LossFunction* loss = huber_px > 0 ? new ceres::HuberLoss(huber_px) : nullptr;
    if (o.camera == 0)
      problem.AddResidualBlock(MonoReprojectionCost::Create(o.px.x, o.px.y, o.X.x, o.X.y, o.X.z), loss, s.intr[0],
                               s.pose[o.view].data());
    else if (s.split[std::size_t(o.view)])
      problem.AddResidualBlock(MonoReprojectionCost::Create(o.px.x, o.px.y, o.X.x, o.X.y, o.X.z), loss, s.intr[1],
                               s.pose_color[o.view].data());
    else
      problem.AddResidualBlock(ColorReprojectionCost::Create(o.px.x, o.px.y, o.X.x, o.X.y, o.X.z), loss, s.intr[1],
                               s.extr, s.pose[o.view].data());
  }
  for (int c = 0; c < 2; ++c) {
    std::vector<int> idx;
    for (int i = 0; i < kIntrinsicCount; ++i)
      if (fixed.flag[c][i]) idx.push_back(i);
    if (!problem.HasParameterBlock(s.intr[c])) continue;
    if (int(idx.size()) == kIntrinsicCount) problem.SetParameterBlockConstant(s.intr[c]);
    else if (!idx.empty()) problem.SetManifold(s.intr[c], new ceres::SubsetManifold(kIntrinsicCount, idx));
  }
}

std::vector<cv::Point3f> object_points_of(const Detection& d, const std::vector<cv::Point3f>& model) {
  std::vector<cv::Point3f> pts;
  for (int id : d.ids) pts.push_back(model.at(std::size_t(id)));
  return pts;
}

// The used views' detections without their outlier corners (obs is in the order view, camera,
// corner of the used views).
std::vector<StereoView> inlier_views(const std::vector<StereoView>& views, const std::vector<int>& used_index,
                                     const std::vector<Observation>& obs, const std::vector<bool>& view_used) {
  const std::size_t nv = used_index.size();
  std::vector<StereoView> kept(nv);
  std::size_t oi = 0;
  for (std::size_t k = 0; k < nv; ++k) {
    const StereoView& v = views[std::size_t(used_index[k])];
    kept[k].name = v.name;
    kept[k].mono.found = kept[k].color.found = view_used[k];
    for (int cam = 0; cam < 2; ++cam) {
      const Detection& d = cam == 0 ? v.mono : v.color;
      Detection& out = cam == 0 ? kept[k].mono : kept[k].color;
      for (std::size_t i = 0; i < d.corners.size(); ++i, ++oi)
        if (obs[oi].inlier) {
          out.corners.push_back(d.corners[i]);
          out.ids.push_back(d.ids[i]);
        }
    }
  }
  return kept;
}

StereoRig rig_of(const State& s, cv::Size mono_size, cv::Size color_size) {
  StereoRig rig;
  rig.mono.K = K_of(s.intr[0]);
  rig.mono.dist = dist_of(s.intr[0]);
  rig.mono.size = mono_size;
  rig.color.K = K_of(s.intr[1]);
  rig.color.dist = dist_of(s.intr[1]);
  rig.color.size = color_size;
  rig.R = rot_of(s.extr);
  rig.T = cv::Vec3d(s.extr[3], s.extr[4], s.extr[5]);
  return rig;
}

// Robust upper limit of a set of per-view values: median + sigmas * 1.4826 * MAD, at least
// factor * median and floor.
double robust_limit(const std::vector<double>& values, double sigmas, double factor, double floor, double* med_out) {
  const double med = median(values);
  std::vector<double> dev;
  for (double v : values) dev.push_back(std::abs(v - med));
  if (med_out) *med_out = med;
  return std::max({med + sigmas * 1.4826 * median(dev), factor * med, floor});
}

std::string fmt(double v, int prec = 3) {
  std::ostringstream os;
  os.setf(std::ios::fixed);
  os.precision(prec);
  os << v;
  return os.str();
}

}  // namespace

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

StereoCalibrationResult calibrate_stereo(const std::vector<StereoView>& views, const BoardSpec& board,
                                         cv::Size mono_size, cv::Size color_size,
                                         const StereoCalibrationOptions& options) {
  options.validate();
  board.validate();
  if (mono_size.empty() || color_size.empty()) throw_invalid("calibrate_stereo: image sizes must be positive");
  const Fixed fixed = parse_fixed(options.fixed);
  const std::vector<cv::Point3f> model = board.object_points();
  StereoCalibrationResult res;
  res.views_total = int(views.size());
  res.views.resize(views.size());

  // --- usable views --------------------------------------------------------------------------
  std::vector<int> used_index;  // into `views`
  for (std::size_t i = 0; i < views.size(); ++i) {
    ViewReport& vr = res.views[i];
    vr.name = views[i].name;
    const StereoView& v = views[i];
    if (!v.mono.found) vr.reason = "mono: " + (v.mono.reason.empty() ? std::string("board not found") : v.mono.reason);
    else if (!v.color.found)
      vr.reason = "colour: " + (v.color.reason.empty() ? std::string("board not found") : v.color.reason);
    else if (int(v.mono.corners.size()) < options.min_corners || int(v.color.corners.size()) < options.min_corners)
      vr.reason = "too few corners (" + std::to_string(v.mono.corners.size()) + " mono, " +
                  std::to_string(v.color.corners.size()) + " colour; need " + std::to_string(options.min_corners) + ")";
    else used_index.push_back(int(i));
  }
  auto too_few = [&](int n, const std::string& why) {
    std::string msg = "only " + std::to_string(n) + " of " + std::to_string(views.size()) +
                      " views are usable (need " + std::to_string(options.min_views) + ")" + why;
    int not_found = 0;
    for (std::size_t i = 0; i < views.size(); ++i) not_found += res.views[i].reason.find("not found") != std::string::npos;
    for (std::size_t i = 0; i < views.size(); ++i)
      if (!res.views[i].reason.empty()) {
        msg += "; first unusable: " + res.views[i].name + ": " + res.views[i].reason;
        break;
      }
    if (2 * not_found > int(views.size())) msg += " (is the board spec " + board.to_string() + " right?)";
    throw_calibration(msg);
  };
  if (int(used_index.size()) < options.min_views) too_few(int(used_index.size()), "");

  // --- per-camera initialisation -------------------------------------------------------------
  State s;
  const int nv = int(used_index.size());
  s.pose.resize(std::size_t(nv));
  s.pose_color.resize(std::size_t(nv));
  s.split.assign(std::size_t(nv), false);
  std::vector<cv::Vec3d> rvec[2], tvec[2];
  for (int cam = 0; cam < 2; ++cam) {
    std::vector<std::vector<cv::Point3f>> obj;
    std::vector<std::vector<cv::Point2f>> img;
    for (int i : used_index) {
      const Detection& d = cam == 0 ? views[std::size_t(i)].mono : views[std::size_t(i)].color;
      obj.push_back(object_points_of(d, model));
      img.push_back(d.corners);
    }
    cv::Mat K, D;
    std::vector<cv::Mat> rv, tv;
    const cv::Size size = cam == 0 ? mono_size : color_size;
    try {
      cv::calibrateCamera(obj, img, size, K, D, rv, tv, cv::CALIB_FIX_K3,
                          cv::TermCriteria(cv::TermCriteria::COUNT + cv::TermCriteria::EPS, 100, 1e-9));
    } catch (const cv::Exception& e) {
      throw_calibration(std::string("initial calibration of the ") + (cam == 0 ? "mono" : "colour") +
                        " camera failed: " + e.err);
    }
    set_intr(s.intr[cam], K, D);
    for (int k = 0; k < nv; ++k) {
      rvec[cam].push_back(cv::Vec3d(rv[std::size_t(k)]));
      tvec[cam].push_back(cv::Vec3d(tv[std::size_t(k)]));
    }
  }
  {
    std::vector<double> comp[6];
    for (int k = 0; k < nv; ++k) {
      cv::Matx33d Rm, Rc;
      cv::Rodrigues(rvec[0][std::size_t(k)], Rm);
      cv::Rodrigues(rvec[1][std::size_t(k)], Rc);
      cv::Matx33d Rrel = Rc * Rm.t();
      cv::Vec3d trel = tvec[1][std::size_t(k)] - Rrel * tvec[0][std::size_t(k)];
      cv::Vec3d r;
      cv::Rodrigues(Rrel, r);
      for (int j = 0; j < 3; ++j) comp[j].push_back(r[j]), comp[3 + j].push_back(trel[j]);
      for (int j = 0; j < 3; ++j) {
        s.pose[std::size_t(k)][std::size_t(j)] = rvec[0][std::size_t(k)][j];
        s.pose[std::size_t(k)][std::size_t(3 + j)] = tvec[0][std::size_t(k)][j];
      }
    }
    for (int j = 0; j < 6; ++j) s.extr[j] = median(comp[j]);
  }

  // --- observations --------------------------------------------------------------------------
  std::vector<Observation> obs;
  for (int k = 0; k < nv; ++k) {
    const StereoView& v = views[std::size_t(used_index[std::size_t(k)])];
    for (int cam = 0; cam < 2; ++cam) {
      const Detection& d = cam == 0 ? v.mono : v.color;
      for (std::size_t i = 0; i < d.corners.size(); ++i)
        obs.push_back({k, cam, d.corners[i], model.at(std::size_t(d.ids[i])), true});
    }
  }
  std::vector<bool> view_used(std::size_t(nv), true);
  std::vector<std::string> reason(static_cast<std::size_t>(nv));

  // --- solve, reject, re-solve ---------------------------------------------------------------
  Stopwatch watch;
  ceres::Solver::Options so;
  so.linear_solver_type = ceres::SPARSE_SCHUR;
  so.max_num_iterations = options.max_iterations;
  so.function_tolerance = 1e-12;
  so.gradient_tolerance = 1e-12;
  so.parameter_tolerance = 1e-12;
  so.num_threads = 1;  // identical results for any --threads
  so.logging_type = ceres::SILENT;
  double view_limit = 0, row_limit = 0, med = 0, med_row = 0;
  for (int round = 0;; ++round) {
    ceres::Problem problem;
    build_problem(problem, s, obs, view_used, fixed, options.huber_px);
    ceres::Solver::Summary summary;
    ceres::Solve(so, &problem, &summary);
    res.iterations += int(summary.iterations.size());
    if (!summary.IsSolutionUsable())
      throw Error(ErrorCategory::Numerical, "the joint refinement failed: " + summary.message);
    if (round >= options.max_rejection_rounds) break;
    bool changed = false;
    // Corners: robust sigma per camera from the median absolute residual component.
    std::vector<double> comps[2];
    for (const Observation& o : obs)
      if (o.inlier && view_used[std::size_t(o.view)]) {
        cv::Vec2d r = residual_of(s, o);
        comps[o.camera].push_back(std::abs(r[0]));
        comps[o.camera].push_back(std::abs(r[1]));
      }
    double limit[2];
    for (int c = 0; c < 2; ++c)
      limit[c] = std::max(options.outlier_sigmas * 1.4826 * median(comps[c]), options.outlier_floor_px);
    for (Observation& o : obs)
      if (o.inlier && view_used[std::size_t(o.view)] && cv::norm(residual_of(s, o)) > limit[o.camera]) {
        o.inlier = false;
        changed = true;
      }
    // Views: RMS far above the others, or too few corners left.
    std::vector<double> sq(std::size_t(nv), 0.0), sqc[2];
    sqc[0].assign(std::size_t(nv), 0.0);
    sqc[1].assign(std::size_t(nv), 0.0);
    std::vector<int> cnt[2];
    cnt[0].assign(std::size_t(nv), 0);
    cnt[1].assign(std::size_t(nv), 0);
    for (const Observation& o : obs)
      if (o.inlier && view_used[std::size_t(o.view)]) {
        cv::Vec2d r = residual_of(s, o);
        sq[std::size_t(o.view)] += r.dot(r);
        sqc[o.camera][std::size_t(o.view)] += r.dot(r);
        cnt[o.camera][std::size_t(o.view)]++;
      }
    std::vector<double> rms_v;
    for (int k = 0; k < nv; ++k)
      if (view_used[std::size_t(k)]) {
        const int n = cnt[0][std::size_t(k)] + cnt[1][std::size_t(k)];
        sq[std::size_t(k)] = n > 0 ? std::sqrt(sq[std::size_t(k)] / n) : 0.0;
        rms_v.push_back(sq[std::size_t(k)]);
      }
    // The view limits come from the first round only: recomputing them after each rejection
    // would peel off ever more views as the spread shrinks.
    if (round == 0)
      view_limit = robust_limit(rms_v, options.view_outlier_sigmas, options.view_rms_factor, options.view_rms_floor_px,
                                &med);
    // Stereo consistency: the view's mean rectified row error with the current rig. A pair whose
    // two images were not taken at the same instant (or one of them blurred) fits each camera
    // well but not the pair.
    // The row error its own corner noise explains: mean |dy| of the difference of the two
    // cameras' per-coordinate noise (RMS / sqrt 2 each, scaled to the rectified focal length) is
    // sqrt(2 / pi) sqrt(s_mono^2 + s_color^2). Blurred or small views have more noise in both
    // cameras, and a larger row error for that reason alone: not a disagreement.
    std::vector<double> row(std::size_t(nv), 0.0), row_v, row_expected(std::size_t(nv), 0.0);
    {
      const StereoRig cur = rig_of(s, mono_size, color_size);
      const RectifyGeometry g = rectify_geometry(cur, row_error_rectify());
      const std::vector<StereoView> kept = inlier_views(views, used_index, obs, view_used);
      const double scale[2] = {g.focal_px / std::sqrt(s.intr[0][0] * s.intr[0][1]),
                               g.focal_px / std::sqrt(s.intr[1][0] * s.intr[1][1])};
      for (int k = 0; k < nv; ++k)
        if (view_used[std::size_t(k)]) {
          row[std::size_t(k)] = rectified_row_error(cur, g, {kept[std::size_t(k)]});
          row_v.push_back(row[std::size_t(k)]);
          double var = 0;
          for (int c = 0; c < 2; ++c)
            if (cnt[c][std::size_t(k)] > 0) var += sqc[c][std::size_t(k)] / cnt[c][std::size_t(k)] / 2 * scale[c] * scale[c];
          row_expected[std::size_t(k)] = std::sqrt(2 / M_PI) * std::sqrt(var);
        }
    }
    if (round == 0)
      row_limit = robust_limit(row_v, options.view_outlier_sigmas, options.view_rms_factor, options.view_rms_floor_px,
                               &med_row);
    for (int k = 0; k < nv; ++k) {
      if (!view_used[std::size_t(k)]) continue;
      if (cnt[0][std::size_t(k)] < options.min_corners || cnt[1][std::size_t(k)] < options.min_corners) {
        view_used[std::size_t(k)] = false;
        reason[std::size_t(k)] = "too few corners left after outlier rejection";
        changed = true;
      } else if (options.drop_outlier_views && sq[std::size_t(k)] > view_limit) {
        view_used[std::size_t(k)] = false;
        reason[std::size_t(k)] = "outlier view: RMS " + fmt(sq[std::size_t(k)]) + " px > " + fmt(view_limit) +
                                 " px (median of the views " + fmt(med) + " px)";
        changed = true;
      } else if (!s.split[std::size_t(k)] && row[std::size_t(k)] > row_limit &&
                 row[std::size_t(k)] > options.row_noise_factor * row_expected[std::size_t(k)]) {
        const std::string why = "rectified row error " + fmt(row[std::size_t(k)]) + " px > " + fmt(row_limit) +
                                " px (median of the views " + fmt(med_row) + " px) and > " +
                                fmt(options.row_noise_factor, 1) + " x the " + fmt(row_expected[std::size_t(k)]) +
                                " px its corner noise explains: the two images disagree (not taken at the same "
                                "instant?)";
        if (options.drop_outlier_views) {
          view_used[std::size_t(k)] = false;
          reason[std::size_t(k)] = "outlier view: " + why;
        } else {
          split_view(s, k);
          reason[std::size_t(k)] = "intrinsics only (own board pose per camera): " + why;
        }
        changed = true;
      }
    }
    if (!changed) break;
    int stereo_left = 0;
    for (int k = 0; k < nv; ++k) stereo_left += view_used[std::size_t(k)] && !s.split[std::size_t(k)];
    if (stereo_left < 2)
      throw_calibration("only " + std::to_string(stereo_left) +
                        " pairs agree as stereo pairs (need 2): the others' two images disagree");
    const int left = int(std::count(view_used.begin(), view_used.end(), true));
    if (left < options.min_views) {
      for (int k = 0; k < nv; ++k)
        if (!view_used[std::size_t(k)]) res.views[std::size_t(used_index[std::size_t(k)])].reason = reason[std::size_t(k)];
      too_few(left, " after outlier rejection");
    }
  }
  res.solve_seconds = watch.seconds();

  // --- statistics and per-view report --------------------------------------------------------
  double sum_sq[2] = {0, 0};
  int n_obs[2] = {0, 0};
  for (int k = 0; k < nv; ++k) {
    ViewReport& vr = res.views[std::size_t(used_index[std::size_t(k)])];
    vr.used = view_used[std::size_t(k)];
    vr.stereo = vr.used && !s.split[std::size_t(k)];
    (vr.used ? vr.note : vr.reason) = reason[std::size_t(k)];
  }
  std::vector<double> vsq[2];
  vsq[0].assign(std::size_t(nv), 0.0);
  vsq[1].assign(std::size_t(nv), 0.0);
  for (const Observation& o : obs) {
    ViewReport& vr = res.views[std::size_t(used_index[std::size_t(o.view)])];
    if (!view_used[std::size_t(o.view)]) continue;
    if (!o.inlier) {
      (o.camera == 0 ? vr.rejected_mono : vr.rejected_color)++;
      res.corners_rejected++;
      continue;
    }
    cv::Vec2d r = residual_of(s, o);
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
    ViewReport& vr = res.views[std::size_t(used_index[std::size_t(k)])];
    if (!vr.used) continue;
    vr.rms_mono_px = vr.corners_mono ? std::sqrt(vsq[0][std::size_t(k)] / vr.corners_mono) : 0.0;
    vr.rms_color_px = vr.corners_color ? std::sqrt(vsq[1][std::size_t(k)] / vr.corners_color) : 0.0;
  }
  res.views_used = int(std::count(view_used.begin(), view_used.end(), true));
  for (int k = 0; k < nv; ++k) res.views_stereo += view_used[std::size_t(k)] && !s.split[std::size_t(k)];
  res.corners_used = n_obs[0] + n_obs[1];
  res.rms_mono_px = n_obs[0] ? std::sqrt(sum_sq[0] / n_obs[0]) : 0.0;
  res.rms_color_px = n_obs[1] ? std::sqrt(sum_sq[1] / n_obs[1]) : 0.0;
  res.rms_px = std::sqrt((sum_sq[0] + sum_sq[1]) / std::max(1, n_obs[0] + n_obs[1]));

  // --- the rig -------------------------------------------------------------------------------
  StereoRig& rig = res.rig;
  rig.mono.K = K_of(s.intr[0]);
  rig.mono.dist = dist_of(s.intr[0]);
  rig.mono.size = mono_size;
  rig.color.K = K_of(s.intr[1]);
  rig.color.dist = dist_of(s.intr[1]);
  rig.color.size = color_size;
  rig.R = rot_of(s.extr);
  rig.T = cv::Vec3d(s.extr[3], s.extr[4], s.extr[5]);
  try {
    rig.validate();
  } catch (const Error& e) {
    throw Error(ErrorCategory::Numerical, std::string("calibration produced an invalid rig: ") + e.what());
  }

  // --- uncertainty ---------------------------------------------------------------------------
  {
    ceres::Problem problem;
    build_problem(problem, s, obs, view_used, fixed, 0.0);
    int n_free = 0;
    std::vector<double*> blocks;
    problem.GetParameterBlocks(&blocks);
    for (double* b : blocks)
      if (!problem.IsParameterBlockConstant(b)) n_free += problem.ParameterBlockTangentSize(b);
    const int m = 2 * res.corners_used;
    const double sigma2 = (sum_sq[0] + sum_sq[1]) / std::max(1, m - n_free);
    res.residual_sigma_px = std::sqrt(sigma2);
    ceres::Covariance::Options co;
    co.algorithm_type = ceres::DENSE_SVD;
    co.null_space_rank = -1;
    co.num_threads = 1;
    ceres::Covariance cov(co);
    std::vector<std::pair<const double*, const double*>> pairs;
    for (int c = 0; c < 2; ++c)
      if (problem.HasParameterBlock(s.intr[c])) pairs.emplace_back(s.intr[c], s.intr[c]);
    pairs.emplace_back(s.extr, s.extr);
    if (cov.Compute(pairs, &problem)) {
      for (int c = 0; c < 2; ++c) {
        double C[kIntrinsicCount * kIntrinsicCount];
        if (!cov.GetCovarianceBlock(s.intr[c], s.intr[c], C)) continue;
        auto sd = [&](int i) { return std::sqrt(std::max(0.0, C[i * kIntrinsicCount + i] * sigma2)); };
        CameraSigma& cs = c == 0 ? res.sigma.mono : res.sigma.color;
        cs.fx = sd(0), cs.fy = sd(1), cs.cx = sd(2), cs.cy = sd(3);
        for (int i = 0; i < 5; ++i) cs.dist[i] = sd(4 + i);
      }
      double C[36];
      if (cov.GetCovarianceBlock(s.extr, s.extr, C)) {
        for (int i = 0; i < 36; ++i) res.sigma.extrinsics_cov.val[i] = C[i] * sigma2;
        const cv::Matx66d& E = res.sigma.extrinsics_cov;
        res.sigma.rotation_deg = std::sqrt(std::max(0.0, E(0, 0) + E(1, 1) + E(2, 2))) * kRadToDeg;
        const cv::Vec3d t = rig.T / cv::norm(rig.T);
        double vb = 0;
        for (int i = 0; i < 3; ++i)
          for (int j = 0; j < 3; ++j) vb += t[i] * E(3 + i, 3 + j) * t[j];
        res.sigma.baseline_mm = std::sqrt(std::max(0.0, vb));
        for (int i = 0; i < 3; ++i) res.sigma.T_mm[i] = std::sqrt(std::max(0.0, E(3 + i, 3 + i)));
      }
    } else {
      throw Error(ErrorCategory::Numerical, "the parameter covariance could not be computed (degenerate views?)");
    }
  }

  res.sigma.covariance_rotation_deg = res.sigma.rotation_deg;
  res.sigma.covariance_baseline_mm = res.sigma.baseline_mm;

  // --- jackknife over views --------------------------------------------------------------------
  if (options.jackknife && res.views_used >= 3) {
    // theta: fx fy cx cy of both cameras (8), rotation vector (3), T (3), baseline (1).
    std::vector<std::array<double, 15>> thetas;
    ceres::Solver::Options jo = so;
    for (int k = 0; k < nv; ++k) {
      if (!view_used[std::size_t(k)]) continue;
      State sk = s;
      std::vector<bool> used_k = view_used;
      used_k[std::size_t(k)] = false;
      ceres::Problem problem;
      build_problem(problem, sk, obs, used_k, fixed, options.huber_px);
      ceres::Solver::Summary summary;
      ceres::Solve(jo, &problem, &summary);
      if (!summary.IsSolutionUsable()) continue;
      std::array<double, 15> th{};
      for (int c = 0; c < 2; ++c)
        for (int i = 0; i < 4; ++i) th[std::size_t(4 * c + i)] = sk.intr[c][i];
      // Rotation as the rotation vector of R_full^T R_k (small, so components add up linearly).
      cv::Vec3d d;
      cv::Rodrigues(rig.R.t() * rot_of(sk.extr), d);
      for (int i = 0; i < 3; ++i) th[std::size_t(8 + i)] = d[i], th[std::size_t(11 + i)] = sk.extr[3 + i];
      th[14] = std::sqrt(sk.extr[3] * sk.extr[3] + sk.extr[4] * sk.extr[4] + sk.extr[5] * sk.extr[5]);
      thetas.push_back(th);
    }
    const int n = int(thetas.size());
    if (n >= 3) {
      std::array<double, 15> mean{}, var{};
      for (const auto& th : thetas)
        for (std::size_t i = 0; i < 15; ++i) mean[i] += th[i] / n;
      for (const auto& th : thetas)
        for (std::size_t i = 0; i < 15; ++i) var[i] += (th[i] - mean[i]) * (th[i] - mean[i]) * (n - 1.0) / n;
      auto up = [](double& sigma, double v) { sigma = std::max(sigma, std::sqrt(v)); };
      for (int c = 0; c < 2; ++c) {
        CameraSigma& cs = c == 0 ? res.sigma.mono : res.sigma.color;
        up(cs.fx, var[std::size_t(4 * c)]);
        up(cs.fy, var[std::size_t(4 * c + 1)]);
        up(cs.cx, var[std::size_t(4 * c + 2)]);
        up(cs.cy, var[std::size_t(4 * c + 3)]);
      }
      res.sigma.jackknife_rotation_deg = std::sqrt(var[8] + var[9] + var[10]) * kRadToDeg;
      res.sigma.jackknife_baseline_mm = std::sqrt(var[14]);
      up(res.sigma.rotation_deg, std::pow(res.sigma.jackknife_rotation_deg, 2));
      up(res.sigma.baseline_mm, var[14]);
      for (int i = 0; i < 3; ++i) up(res.sigma.T_mm[i], var[std::size_t(11 + i)]);
    }
  }

  // --- rectification and row error -----------------------------------------------------------
  res.rectification = rectify_geometry(rig, options.rectify);
  {
    const std::vector<StereoView> kept = inlier_views(views, used_index, obs, view_used);
    const RectifyGeometry metric = rectify_geometry(rig, row_error_rectify());
    std::vector<StereoView> stereo;
    for (int k = 0; k < nv; ++k)
      if (view_used[std::size_t(k)] && !s.split[std::size_t(k)]) stereo.push_back(kept[std::size_t(k)]);
    res.row_error_px = rectified_row_error(rig, metric, stereo);
    res.row_error_all_px = rectified_row_error(rig, metric, kept);
    for (int k = 0; k < nv; ++k)
      if (view_used[std::size_t(k)])
        res.views[std::size_t(used_index[std::size_t(k)])].row_error_px =
            rectified_row_error(rig, metric, {kept[std::size_t(k)]});
  }

  // --- halves --------------------------------------------------------------------------------
  if (options.halves) {
    std::vector<StereoView> half[2];
    int j = 0;
    for (int k = 0; k < nv; ++k)
      if (view_used[std::size_t(k)]) half[(j++) % 2].push_back(views[std::size_t(used_index[std::size_t(k)])]);
    StereoCalibrationOptions ho = options;
    ho.halves = false;
    HalvesReport& h = res.halves;
    h.views_odd = int(half[0].size());   // 1st, 3rd, ... used view
    h.views_even = int(half[1].size());  // 2nd, 4th, ...
    try {
      StereoCalibrationResult a = calibrate_stereo(half[0], board, mono_size, color_size, ho);
      StereoCalibrationResult b = calibrate_stereo(half[1], board, mono_size, color_size, ho);
      cv::Vec3d dr;
      cv::Rodrigues(a.rig.R.t() * b.rig.R, dr);
      h.rotation_diff_deg = cv::norm(dr) * kRadToDeg;
      h.baseline_diff_mm = std::abs(a.rig.baseline() - b.rig.baseline());
      h.baseline_diff_pct = 100.0 * h.baseline_diff_mm / rig.baseline();
      h.translation_diff_mm = cv::norm(a.rig.T - b.rig.T);
      h.translation_diff_pct = 100.0 * h.translation_diff_mm / rig.baseline();
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
  }

  // --- extras in the rig file ----------------------------------------------------------------
  rig.extras["rms_px"] = res.rms_px;
  rig.extras["rms_mono_px"] = res.rms_mono_px;
  rig.extras["rms_color_px"] = res.rms_color_px;
  rig.extras["row_error_px"] = res.row_error_px;
  rig.extras["views_used"] = res.views_used;
  rig.extras["views_stereo"] = res.views_stereo;
  rig.extras["row_error_all_px"] = res.row_error_all_px;
  rig.extras["sigma_fx1_px"] = res.sigma.mono.fx;
  rig.extras["sigma_fy1_px"] = res.sigma.mono.fy;
  rig.extras["sigma_cx1_px"] = res.sigma.mono.cx;
  rig.extras["sigma_cy1_px"] = res.sigma.mono.cy;
  rig.extras["sigma_fx2_px"] = res.sigma.color.fx;
  rig.extras["sigma_fy2_px"] = res.sigma.color.fy;
  rig.extras["sigma_cx2_px"] = res.sigma.color.cx;
  rig.extras["sigma_cy2_px"] = res.sigma.color.cy;
  rig.extras["sigma_rotation_deg"] = res.sigma.rotation_deg;
  rig.extras["sigma_baseline_mm"] = res.sigma.baseline_mm;
  if (res.halves.computed) {
    rig.extras["halves_rotation_diff_deg"] = res.halves.rotation_diff_deg;
    rig.extras["halves_baseline_diff_mm"] = res.halves.baseline_diff_mm;
  }
  return res;
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
