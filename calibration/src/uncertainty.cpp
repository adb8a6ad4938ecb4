// The 1-sigma uncertainties of calibrate_stereo: ceres::Covariance scaled by the residual
// variance, and the jackknife over views (joint_problem.hpp).
#include <algorithm>
#include <cmath>

#include <ceres/covariance.h>
#include <ceres/solver.h>
#include <opencv2/calib3d.hpp>

#include "joint_problem.hpp"
#include "dualcam/engine/error.hpp"

namespace dualcam::calibration::internal {
namespace {

// The extrinsics' covariance into res.sigma: rotation (trace), baseline (along T), T per component.
void extrinsics_sigma(const double* C, double sigma2, const StereoRig& rig, RigSigma& sigma) {
  for (int i = 0; i < 36; ++i) sigma.extrinsics_cov.val[i] = C[i] * sigma2;
  const cv::Matx66d& E = sigma.extrinsics_cov;
  sigma.rotation_deg = std::sqrt(std::max(0.0, E(0, 0) + E(1, 1) + E(2, 2))) * kRadToDeg;
  const cv::Vec3d t = rig.T / cv::norm(rig.T);
  double vb = 0;
  for (int i = 0; i < 3; ++i)
    for (int k = 0; k < 3; ++k) vb += t[i] * E(3 + i, 3 + k) * t[k];
  sigma.baseline_mm = std::sqrt(std::max(0.0, vb));
  for (int i = 0; i < 3; ++i) sigma.T_mm[i] = std::sqrt(std::max(0.0, E(3 + i, 3 + i)));
}

// theta: fx fy cx cy of both cameras (8), rotation vector (3), T (3), baseline (1).
using Theta = std::array<double, 15>;

// The parameters re-solved without each used view in turn (the views whose solve fails are left
// out).
std::vector<Theta> leave_one_out(const Joint& j, const StereoCalibrationOptions& options, const cv::Matx33d& R_full) {
  std::vector<Theta> thetas;
  const ceres::Solver::Options jo = solver_options(options);
  for (int k = 0; k < j.views(); ++k) {
    if (!j.view_used[std::size_t(k)]) continue;
    State sk = j.s;
    std::vector<bool> used_k = j.view_used;
    used_k[std::size_t(k)] = false;
    ceres::Problem problem;
    build_problem(problem, sk, j.obs, used_k, j.fixed, options.huber_px);
    ceres::Solver::Summary summary;
    ceres::Solve(jo, &problem, &summary);
    if (!summary.IsSolutionUsable()) continue;
    Theta th{};
    for (int c = 0; c < 2; ++c)
      for (int i = 0; i < 4; ++i) th[std::size_t(4 * c + i)] = sk.intr[c][i];
    // Rotation as the rotation vector of R_full^T R_k (small, so components add up linearly).
    cv::Vec3d d;
    cv::Rodrigues(R_full.t() * rot_of(sk.extr), d);
    for (int i = 0; i < 3; ++i) th[std::size_t(8 + i)] = d[i], th[std::size_t(11 + i)] = sk.extr[3 + i];
    th[14] = std::sqrt(sk.extr[3] * sk.extr[3] + sk.extr[4] * sk.extr[4] + sk.extr[5] * sk.extr[5]);
    thetas.push_back(th);
  }
  return thetas;
}

}  // namespace

void covariance_sigma(Joint& j, double sum_sq, StereoCalibrationResult& res) {
  State& s = j.s;
  ceres::Problem problem;
  build_problem(problem, s, j.obs, j.view_used, j.fixed, 0.0);
  int n_free = 0;
  std::vector<double*> blocks;
  problem.GetParameterBlocks(&blocks);
  for (double* b : blocks)
    if (!problem.IsParameterBlockConstant(b)) n_free += problem.ParameterBlockTangentSize(b);
  const int m = 2 * res.corners_used;
  const double sigma2 = sum_sq / std::max(1, m - n_free);
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
  if (!cov.Compute(pairs, &problem))
    throw Error(ErrorCategory::Numerical, "the parameter covariance could not be computed (degenerate views?)");
  for (int c = 0; c < 2; ++c) {
    double C[kIntrinsicCount * kIntrinsicCount];
    if (!cov.GetCovarianceBlock(s.intr[c], s.intr[c], C)) continue;
    auto sd = [&](int i) { return std::sqrt(std::max(0.0, C[i * kIntrinsicCount + i] * sigma2)); };
    CameraSigma& cs = c == 0 ? res.sigma.mono : res.sigma.color;
    cs.fx = sd(0), cs.fy = sd(1), cs.cx = sd(2), cs.cy = sd(3);
    for (int i = 0; i < 5; ++i) cs.dist[i] = sd(4 + i);
  }
  double C[36];
  if (cov.GetCovarianceBlock(s.extr, s.extr, C)) extrinsics_sigma(C, sigma2, res.rig, res.sigma);
}

void jackknife_sigma(const Joint& j, const StereoCalibrationOptions& options, StereoCalibrationResult& res) {
  const std::vector<Theta> thetas = leave_one_out(j, options, res.rig.R);
  const int n = int(thetas.size());
  if (n < 3) return;
  Theta mean{}, var{};
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

}  // namespace dualcam::calibration::internal
