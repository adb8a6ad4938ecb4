#include "dualcam/datasets/lens.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include <opencv2/calib3d.hpp>

#include "dualcam/engine/error.hpp"

namespace dualcam::datasets {

LensInverse::LensInverse(const CameraModel& model) : model_(model) {
  const cv::Matx33d& K = model.K;
  fx_ = K(0, 0);
  fy_ = K(1, 1);
  cx_ = K(0, 2);
  cy_ = K(1, 2);
  skew_ = K(0, 1);
  if (!(fx_ > 0 && fy_ > 0)) throw_invalid("camera model: the focal lengths must be positive");
  for (int i = 0; i < 9; ++i)
    if (!std::isfinite(K.val[i])) throw_invalid("camera model: K must be finite");
  const cv::Mat& d = model.dist;
  const int n = d.empty() ? 0 : int(d.total());
  if (!d.empty() && d.depth() != CV_64F) throw_invalid("camera model: distortion coefficients must be CV_64F");
  fallback_ = n > 8;
  for (int i = 0; i < std::min(n, 8); ++i) k_[i] = d.ptr<double>()[i];
}

void LensInverse::distort(double x, double y, double& xd, double& yd, double J[4]) const {
  const double k1 = k_[0], k2 = k_[1], p1 = k_[2], p2 = k_[3], k3 = k_[4], k4 = k_[5], k5 = k_[6], k6 = k_[7];
  const double r2 = x * x + y * y;
  const double a = 1 + r2 * (k1 + r2 * (k2 + r2 * k3));
  const double b = 1 + r2 * (k4 + r2 * (k5 + r2 * k6));
  const double da = k1 + r2 * (2 * k2 + 3 * k3 * r2);
  const double db = k4 + r2 * (2 * k5 + 3 * k6 * r2);
  const double g = a / b;
  const double dg = (da * b - a * db) / (b * b);  // d g / d r2
  xd = x * g + 2 * p1 * x * y + p2 * (r2 + 2 * x * x);
  yd = y * g + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y;
  if (J) {
    J[0] = g + 2 * x * x * dg + 2 * p1 * y + 6 * p2 * x;
    J[1] = 2 * x * y * dg + 2 * p1 * x + 2 * p2 * y;
    J[2] = 2 * x * y * dg + 2 * p1 * x + 2 * p2 * y;
    J[3] = g + 2 * y * y * dg + 6 * p1 * y + 2 * p2 * x;
  }
}

void LensInverse::project(double x, double y, double& u, double& v) const {
  if (fallback_) {
    std::vector<cv::Point3d> p{cv::Point3d(x, y, 1)};
    std::vector<cv::Point2d> q;
    cv::projectPoints(p, cv::Vec3d(0, 0, 0), cv::Vec3d(0, 0, 0), cv::Mat(model_.K), model_.dist, q);
    u = q[0].x;
    v = q[0].y;
    return;
  }
  double xd, yd;
  distort(x, y, xd, yd, nullptr);
  u = fx_ * xd + skew_ * yd + cx_;
  v = fy_ * yd + cy_;
}

bool LensInverse::operator()(double u, double v, double& x, double& y) const {
  const double yd = (v - cy_) / fy_;
  const double xd = (u - cx_ - skew_ * yd) / fx_;
  if (fallback_) {
    std::vector<cv::Point2d> p{cv::Point2d(u, v)}, q;
    cv::undistortPoints(p, q, cv::Mat(model_.K), model_.dist, cv::noArray(), cv::noArray(),
                        cv::TermCriteria(cv::TermCriteria::COUNT + cv::TermCriteria::EPS, 100, 1e-14));
    x = q[0].x;
    y = q[0].y;
    return std::isfinite(x) && std::isfinite(y);
  }
  x = xd;
  y = yd;
  for (int it = 0; it < 30; ++it) {
    double ex, ey, J[4];
    distort(x, y, ex, ey, J);
    ex -= xd;
    ey -= yd;
    if (ex * ex + ey * ey < 1e-26) return true;
    const double det = J[0] * J[3] - J[1] * J[2];
    if (!(det > 1e-9)) return false;  // folded: the lens maps two directions onto this pixel
    x -= (J[3] * ex - J[1] * ey) / det;
    y -= (-J[2] * ex + J[0] * ey) / det;
    if (!std::isfinite(x) || !std::isfinite(y)) return false;
  }
  double ex, ey;
  distort(x, y, ex, ey, nullptr);
  return (ex - xd) * (ex - xd) + (ey - yd) * (ey - yd) < 1e-20;
}

}  // namespace dualcam::datasets
