// The joint problem of calibrate_stereo: its state, the per-camera initialisation, the
// observations and the Ceres problem over them (joint_problem.hpp).
#include "joint_problem.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include <ceres/loss_function.h>
#include <ceres/manifold.h>
#include <opencv2/calib3d.hpp>

#include "dualcam/engine/error.hpp"

namespace dualcam::calibration::internal {
namespace {

const char* const kParamNames[kIntrinsicCount] = {"fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2", "k3"};

cv::Matx33d K_of(const double* in) { return {in[0], 0, in[2], 0, in[1], in[3], 0, 0, 1}; }
cv::Mat dist_of(const double* in) { return (cv::Mat_<double>(1, 5) << in[4], in[5], in[6], in[7], in[8]); }

void set_intr(double* out, const cv::Mat& K, const cv::Mat& D) {
  out[0] = K.at<double>(0, 0);
  out[1] = K.at<double>(1, 1);
  out[2] = K.at<double>(0, 2);
  out[3] = K.at<double>(1, 2);
  for (int i = 0; i < 5; ++i) out[4 + i] = i < int(D.total()) ? D.at<double>(i) : 0.0;
}

// cv::calibrateCamera of one camera (0 = mono, 1 = colour) on the usable views: its intrinsics
// into s.intr[cam], its per-view board poses into rvec, tvec.
void calibrate_camera_alone(int cam, const std::vector<StereoView>& views, const std::vector<int>& used_index,
                            const std::vector<cv::Point3f>& model, cv::Size size, State& s, std::vector<cv::Vec3d>& rvec,
                            std::vector<cv::Vec3d>& tvec) {
  std::vector<std::vector<cv::Point3f>> obj;
  std::vector<std::vector<cv::Point2f>> img;
  for (int i : used_index) {
    const Detection& d = cam == 0 ? views[std::size_t(i)].mono : views[std::size_t(i)].color;
    obj.push_back(object_points_of(d, model));
    img.push_back(d.corners);
  }
  cv::Mat K, D;
  std::vector<cv::Mat> rv, tv;
  try {
    cv::calibrateCamera(obj, img, size, K, D, rv, tv, cv::CALIB_FIX_K3,
                        cv::TermCriteria(cv::TermCriteria::COUNT + cv::TermCriteria::EPS, 100, 1e-9));
  } catch (const cv::Exception& e) {
    throw_calibration(std::string("initial calibration of the ") + (cam == 0 ? "mono" : "colour") +
                      " camera failed: " + e.err);
  }
  set_intr(s.intr[cam], K, D);
  for (std::size_t k = 0; k < used_index.size(); ++k) {
    rvec.push_back(cv::Vec3d(rv[k]));
    tvec.push_back(cv::Vec3d(tv[k]));
  }
}

}  // namespace

[[noreturn]] void throw_calibration(const std::string& message) { throw Error(ErrorCategory::Calibration, message); }

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

double robust_limit(const std::vector<double>& values, double sigmas, double factor, double floor, double* med_out) {
  const double med = median(values);
  std::vector<double> dev;
  for (double v : values) dev.push_back(std::abs(v - med));
  if (med_out) *med_out = med;
  return std::max({med + sigmas * 1.4826 * median(dev), factor * med, floor});
}

std::string fmt(double v, int prec) {
  std::ostringstream os;
  os.setf(std::ios::fixed);
  os.precision(prec);
  os << v;
  return os.str();
}

std::vector<cv::Point3f> object_points_of(const Detection& d, const std::vector<cv::Point3f>& model) {
  std::vector<cv::Point3f> pts;
  for (int id : d.ids) pts.push_back(model.at(std::size_t(id)));
  return pts;
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

void initialise(Joint& j, const std::vector<StereoView>& views, const std::vector<cv::Point3f>& model,
                cv::Size mono_size, cv::Size color_size) {
  State& s = j.s;
  const int nv = j.views();
  s.pose.resize(std::size_t(nv));
  s.pose_color.resize(std::size_t(nv));
  s.split.assign(std::size_t(nv), false);
  std::vector<cv::Vec3d> rvec[2], tvec[2];
  for (int cam = 0; cam < 2; ++cam)
    calibrate_camera_alone(cam, views, j.used_index, model, cam == 0 ? mono_size : color_size, s, rvec[cam], tvec[cam]);
  std::vector<double> comp[6];
  for (int k = 0; k < nv; ++k) {
    cv::Matx33d Rm, Rc;
    cv::Rodrigues(rvec[0][std::size_t(k)], Rm);
    cv::Rodrigues(rvec[1][std::size_t(k)], Rc);
    cv::Matx33d Rrel = Rc * Rm.t();
    cv::Vec3d trel = tvec[1][std::size_t(k)] - Rrel * tvec[0][std::size_t(k)];
    cv::Vec3d r;
    cv::Rodrigues(Rrel, r);
    for (int i = 0; i < 3; ++i) comp[i].push_back(r[i]), comp[3 + i].push_back(trel[i]);
    for (int i = 0; i < 3; ++i) {
      s.pose[std::size_t(k)][std::size_t(i)] = rvec[0][std::size_t(k)][i];
      s.pose[std::size_t(k)][std::size_t(3 + i)] = tvec[0][std::size_t(k)][i];
    }
  }
  for (int i = 0; i < 6; ++i) s.extr[i] = median(comp[i]);
}

void collect_observations(Joint& j, const std::vector<StereoView>& views, const std::vector<cv::Point3f>& model) {
  const int nv = j.views();
  for (int k = 0; k < nv; ++k) {
    const StereoView& v = views[std::size_t(j.used_index[std::size_t(k)])];
    for (int cam = 0; cam < 2; ++cam) {
      const Detection& d = cam == 0 ? v.mono : v.color;
      for (std::size_t i = 0; i < d.corners.size(); ++i)
        j.obs.push_back({k, cam, d.corners[i], model.at(std::size_t(d.ids[i])), true});
    }
  }
  j.view_used.assign(std::size_t(nv), true);
  j.reason.assign(std::size_t(nv), std::string());
}

ceres::Solver::Options solver_options(const StereoCalibrationOptions& options) {
  ceres::Solver::Options so;
  so.linear_solver_type = ceres::SPARSE_SCHUR;
  so.max_num_iterations = options.max_iterations;
  so.function_tolerance = 1e-12;
  so.gradient_tolerance = 1e-12;
  so.parameter_tolerance = 1e-12;
  so.num_threads = 1;  // identical results for any --threads
  so.logging_type = ceres::SILENT;
  return so;
}

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

}  // namespace dualcam::calibration::internal
