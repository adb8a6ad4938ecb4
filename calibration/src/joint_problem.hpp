#pragma once
// The joint stereo refinement's internals (private to the library, not installed): what Ceres
// solves for, the corner observations, and the stages calibrate_stereo runs in order
// (stereo_calibrate.cpp). The views of the joint problem are the usable ones, numbered k; the
// caller's index of view k is `used_index[k]`.
#include <array>
#include <string>
#include <vector>

#include <ceres/problem.h>
#include <ceres/solver.h>
#include <opencv2/core.hpp>

#include "cost.hpp"
#include "dualcam/calibration/stereo_calibrate.hpp"

namespace dualcam::calibration::internal {

constexpr double kRadToDeg = 180.0 / M_PI;

[[noreturn]] void throw_calibration(const std::string& message);

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
void split_view(State& s, int k);

struct Fixed {
  bool flag[2][kIntrinsicCount] = {};
};
// StereoCalibrationOptions::fixed; Error(InvalidInput) naming an unknown parameter.
Fixed parse_fixed(const std::vector<std::string>& names);

// Everything the stages share: the usable views' observations and the state solved for.
struct Joint {
  std::vector<int> used_index;        // view k of the problem -> index into the caller's views
  std::vector<Observation> obs;       // in the order view, camera, corner
  State s;
  Fixed fixed;
  std::vector<bool> view_used;        // per k: still in the problem
  std::vector<std::string> reason;    // per k: why dropped, or why intrinsics only
  int views() const { return int(used_index.size()); }
};

cv::Matx33d rot_of(const double* aa);
double median(std::vector<double> v);
// Robust upper limit of a set of per-view values: median + sigmas * 1.4826 * MAD, at least
// factor * median and floor.
double robust_limit(const std::vector<double>& values, double sigmas, double factor, double floor, double* med_out);
std::string fmt(double v, int prec = 3);

std::vector<cv::Point3f> object_points_of(const Detection& d, const std::vector<cv::Point3f>& model);
// The rig of the current state.
StereoRig rig_of(const State& s, cv::Size mono_size, cv::Size color_size);
// Predicted minus observed position of one observation, pixels.
cv::Vec2d residual_of(const State& s, const Observation& o);
// The used views' detections without their outlier corners (obs is in the order view, camera,
// corner of the used views).
std::vector<StereoView> inlier_views(const std::vector<StereoView>& views, const std::vector<int>& used_index,
                                     const std::vector<Observation>& obs, const std::vector<bool>& view_used);

// --- the stages --------------------------------------------------------------------------------
// Per-camera initialisation (cv::calibrateCamera on the usable views) and the extrinsics as the
// median of the per-view relative poses; fills j.s.
void initialise(Joint& j, const std::vector<StereoView>& views, const std::vector<cv::Point3f>& model,
                cv::Size mono_size, cv::Size color_size);
// Every corner of every usable view, all inliers; every view in use.
void collect_observations(Joint& j, const std::vector<StereoView>& views, const std::vector<cv::Point3f>& model);
// The solver settings of every solve (joint, rejection rounds, jackknife).
ceres::Solver::Options solver_options(const StereoCalibrationOptions& options);
// Builds the joint problem over the inlier observations of the views still in use.
void build_problem(ceres::Problem& problem, State& s, const std::vector<Observation>& obs,
                   const std::vector<bool>& view_used, const Fixed& fixed, double huber_px);

// Error(Calibration): only `usable` of the views are usable (need min_views), plus `why`, naming
// the first unusable view (res.views' reasons) and, when the board was not found in most, the
// board spec.
[[noreturn]] void throw_too_few(const StereoCalibrationResult& res, int usable, const std::string& why,
                                const StereoCalibrationOptions& options, const BoardSpec& board);

// Solve, reject outlier corners and disagreeing pairs, re-solve (outlier_rejection.cpp). Adds to
// res.iterations; when too few views are left, writes their reasons into res.views and throws.
void solve_with_rejection(Joint& j, const std::vector<StereoView>& views, cv::Size mono_size, cv::Size color_size,
                          const StereoCalibrationOptions& options, const BoardSpec& board,
                          StereoCalibrationResult& res);

// Uncertainty (uncertainty.cpp): ceres::Covariance scaled by the residual variance, given the
// sum of the squared inlier residuals; then the jackknife over views, which can only raise a
// sigma.
void covariance_sigma(Joint& j, double sum_sq, StereoCalibrationResult& res);
void jackknife_sigma(const Joint& j, const StereoCalibrationOptions& options, StereoCalibrationResult& res);

}  // namespace dualcam::calibration::internal
