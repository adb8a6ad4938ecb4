#pragma once
// The simulator's one lens model: OpenCV's pinhole + distortion model of a camera, forward and
// exactly inverted. Every renderer of the simulator casts its rays through it (the scene
// renderer scene.hpp, the thin-lens renderer defocus.hpp, the board renderer board_render.hpp),
// so a rendered point projects back onto its pixel through cv::projectPoints.
//
// The inverse is Newton's method on the analytic Jacobian of the 8-coefficient model
// (k1 k2 p1 p2 k3 k4 k5 k6, the rational model; fewer coefficients are zeros), converged to
// 1e-13 in normalised coordinates (about 1e-10 px). OpenCV's default undistortPoints stops after
// 5 fixed-point iterations, which leaves errors of a few hundredths of a pixel at the corners of
// a strongly distorted lens: too much for ground truth. Models with more than 8 coefficients
// (thin prism, tilted sensor) go through cv::undistortPoints with a tight criterion instead.
#include <opencv2/core.hpp>

#include "dualcam/engine/rig.hpp"

namespace dualcam::datasets {

class LensInverse {
 public:
  // Throws Error(InvalidInput) unless the focal lengths are positive, K is finite and the
  // distortion coefficients (if any) are CV_64F.
  explicit LensInverse(const CameraModel& model);
  // Pixel (u, v) -> undistorted normalised coordinates (x, y) = (X/Z, Y/Z) with
  // project(x, y) == (u, v). False where the model cannot be inverted (a folded distortion far
  // outside its valid range maps two directions onto the pixel, or Newton does not converge).
  bool operator()(double u, double v, double& x, double& y) const;
  // The forward model (normalised -> pixel), identical to cv::projectPoints.
  void project(double x, double y, double& u, double& v) const;

 private:
  void distort(double x, double y, double& xd, double& yd, double J[4]) const;
  double fx_, fy_, cx_, cy_, skew_;
  double k_[8] = {0, 0, 0, 0, 0, 0, 0, 0};  // k1 k2 p1 p2 k3 k4 k5 k6
  bool fallback_ = false;                   // more than 8 coefficients
  CameraModel model_;
};

}  // namespace dualcam::datasets
