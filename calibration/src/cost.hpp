#pragma once
// Reprojection cost functors of the joint stereo refinement (Ceres autodiff, STYLE habit 4).
// Private to the library (Ceres is linked PRIVATE, so no installed header may include it); the
// gradient tests reach it through test_calibration's own include directory (tests/CMakeLists.txt).
//
// Parameter blocks (all double):
//   intrinsics[9] = fx fy cx cy k1 k2 p1 p2 k3       OpenCV's pinhole + 5-parameter distortion
//   pose[6]       = angle-axis (3) + translation (3)  mono_from_board (the board pose)
//   extrinsics[6] = angle-axis (3) + translation (3)  color_from_mono: X_color = R X_mono + T
// Residuals are predicted minus observed pixel position (2 values, pixels).
#include <ceres/autodiff_cost_function.h>
#include <ceres/rotation.h>

namespace dualcam::calibration {

constexpr int kIntrinsicCount = 9;
constexpr int kPoseCount = 6;

// OpenCV's projection of a point in the camera frame (x, y, z) to pixels.
template <typename T>
void project_opencv(const T* intr, const T* p, T* uv) {
  const T x = p[0] / p[2], y = p[1] / p[2];
  const T r2 = x * x + y * y;
  const T radial = T(1) + r2 * (intr[4] + r2 * (intr[5] + r2 * intr[8]));
  const T xd = x * radial + T(2) * intr[6] * x * y + intr[7] * (r2 + T(2) * x * x);
  const T yd = y * radial + intr[6] * (r2 + T(2) * y * y) + T(2) * intr[7] * x * y;
  uv[0] = intr[0] * xd + intr[2];
  uv[1] = intr[1] * yd + intr[3];
}

// A board corner seen by the MONO camera: residual of project(K1, R_b X + t_b).
struct MonoReprojectionCost {
  MonoReprojectionCost(double u, double v, double X, double Y, double Z) : u_(u), v_(v), X_{X, Y, Z} {}

  template <typename T>
  bool operator()(const T* intr, const T* pose, T* residual) const {
    const T X[3] = {T(X_[0]), T(X_[1]), T(X_[2])};
    T p[3];
    ceres::AngleAxisRotatePoint(pose, X, p);
    p[0] += pose[3];
    p[1] += pose[4];
    p[2] += pose[5];
    T uv[2];
    project_opencv(intr, p, uv);
    residual[0] = uv[0] - T(u_);
    residual[1] = uv[1] - T(v_);
    return true;
  }

  static ceres::CostFunction* Create(double u, double v, double X, double Y, double Z) {
    return new ceres::AutoDiffCostFunction<MonoReprojectionCost, 2, kIntrinsicCount, kPoseCount>(
        new MonoReprojectionCost(u, v, X, Y, Z));
  }

 private:
  double u_, v_;
  double X_[3];
};

// A board corner seen by the COLOUR camera: residual of project(K2, R (R_b X + t_b) + T).
struct ColorReprojectionCost {
  ColorReprojectionCost(double u, double v, double X, double Y, double Z) : u_(u), v_(v), X_{X, Y, Z} {}

  template <typename T>
  bool operator()(const T* intr, const T* extr, const T* pose, T* residual) const {
    const T X[3] = {T(X_[0]), T(X_[1]), T(X_[2])};
    T pm[3], pc[3];
    ceres::AngleAxisRotatePoint(pose, X, pm);
    pm[0] += pose[3];
    pm[1] += pose[4];
    pm[2] += pose[5];
    ceres::AngleAxisRotatePoint(extr, pm, pc);
    pc[0] += extr[3];
    pc[1] += extr[4];
    pc[2] += extr[5];
    T uv[2];
    project_opencv(intr, pc, uv);
    residual[0] = uv[0] - T(u_);
    residual[1] = uv[1] - T(v_);
    return true;
  }

  static ceres::CostFunction* Create(double u, double v, double X, double Y, double Z) {
    return new ceres::AutoDiffCostFunction<ColorReprojectionCost, 2, kIntrinsicCount, kPoseCount, kPoseCount>(
        new ColorReprojectionCost(u, v, X, Y, Z));
  }

 private:
  double u_, v_;
  double X_[3];
};

}  // namespace dualcam::calibration
