// Quasi-Euclidean epipolar rectification (Fusiello & Irsara 2011, "Quasi-Euclidean epipolar
// rectification of uncalibrated images", Machine Vision and Applications 22(4)), with the colour
// camera's focal length a free multiple of the mono's (two cameras of different resolution and
// field of view) and a weak prior towards no rotation. Hartley's uncalibrated rectification
// (what cv::stereoRectifyUncalibrated does) picks any homographies that make the epipolar lines
// rows; those shear and stretch the views, and a fronto-parallel phone rig needs almost none of
// that. Here each view is only rotated (about its camera centre, with an assumed pinhole), so the
// rectified views stay as close to the captured ones as the epipolar geometry allows.
#include <algorithm>
#include <cmath>

#include <Eigen/Dense>

#include "self_rectify_internal.hpp"

namespace dualcam::fusion::detail {

cv::Matx33d quarter_turn(int quarter_turns, const cv::Size& size, cv::Size* turned) {
  const double w = size.width, h = size.height;
  const int k = ((quarter_turns % 4) + 4) % 4;
  if (turned) *turned = (k % 2) ? cv::Size(size.height, size.width) : size;
  switch (k) {
    case 1: return {0, -1, h - 1, 1, 0, 0, 0, 0, 1};  // x' = h-1-y, y' = x
    case 2: return {-1, 0, w - 1, 0, -1, h - 1, 0, 0, 1};
    case 3: return {0, 1, 0, -1, 0, w - 1, 0, 0, 1};  // x' = y, y' = w-1-x
    default: return cv::Matx33d::eye();
  }
}

std::vector<double> sampson_errors(const cv::Matx33d& F, const FeatureMatches& m) {
  std::vector<double> e(m.a.size());
  for (std::size_t i = 0; i < m.a.size(); ++i) {
    const cv::Vec3d a(m.a[i].x, m.a[i].y, 1.0), b(m.b[i].x, m.b[i].y, 1.0);
    const cv::Vec3d Fa = F * a, Ftb = F.t() * b;
    const double den = std::sqrt(Fa[0] * Fa[0] + Fa[1] * Fa[1] + Ftb[0] * Ftb[0] + Ftb[1] * Ftb[1]);
    e[i] = den > 0 ? b.dot(Fa) / den : 0.0;
  }
  return e;
}

namespace {

using Params = std::array<double, 8>;

cv::Matx33d rot_x(double t) { return {1, 0, 0, 0, std::cos(t), -std::sin(t), 0, std::sin(t), std::cos(t)}; }
cv::Matx33d rot_y(double t) { return {std::cos(t), 0, std::sin(t), 0, 1, 0, -std::sin(t), 0, std::cos(t)}; }
cv::Matx33d rot_z(double t) { return {std::cos(t), -std::sin(t), 0, std::sin(t), std::cos(t), 0, 0, 0, 1}; }

cv::Matx33d intrinsics(double f, const cv::Size& s) {
  return {f, 0, 0.5 * (s.width - 1), 0, f, 0.5 * (s.height - 1), 0, 0, 1};
}

struct Model {
  cv::Size mono_turned, color_turned;
  cv::Matx33d turn_mono, turn_color;

  double focal(const Params& p) const { return std::max(mono_turned.width, mono_turned.height) * std::pow(3.0, p[5]); }

  void homographies(const Params& p, cv::Matx33d& H1, cv::Matx33d& H2) const {
    const double f1 = focal(p), f2 = f1 * std::exp(p[6]);
    const cv::Matx33d K1 = intrinsics(f1, mono_turned), K2 = intrinsics(f2, color_turned);
    const cv::Matx33d R1 = rot_y(p[0]) * rot_z(p[1]), R2 = rot_x(p[2]) * rot_y(p[3]) * rot_z(p[4]);
    const cv::Matx33d row_shift(1, 0, 0, 0, 1, p[7], 0, 0, 1);
    H1 = K1 * R1 * K1.inv() * turn_mono;
    H2 = row_shift * K1 * R2 * K2.inv() * turn_color;
  }

  // Rectified views have F = [e1]_x, e1 = (1, 0, 0): equal rows.
  cv::Matx33d fundamental(const Params& p) const {
    cv::Matx33d H1, H2;
    homographies(p, H1, H2);
    const cv::Matx33d U(0, 0, 0, 0, 0, -1, 0, 1, 0);
    return H2.t() * U * H1;
  }
};

Eigen::VectorXd residuals(const Model& model, const Params& p, const FeatureMatches& m, double prior) {
  const std::vector<double> e = sampson_errors(model.fundamental(p), m);
  const int n = int(e.size());
  Eigen::VectorXd r(n + 7);
  for (int i = 0; i < n; ++i) r[i] = e[i];
  const double w = std::sqrt(double(n)) * prior;
  for (int k = 0; k < 5; ++k) r[n + k] = w * p[k];
  r[n + 5] = 0.1 * w * p[5];
  // The row shift as the angle it would take a rotation to make it: a principal point far off
  // is as unlikely as a module turned as far.
  r[n + 6] = w * p[7] / model.focal(p);
  return r;
}

}  // namespace

QuasiEuclidean fit_quasi_euclidean(const FeatureMatches& m, const cv::Size& mono_size, const cv::Size& color_size,
                                   int quarter_turns, const std::array<double, 8>& start, double prior) {
  Model model;
  model.turn_mono = quarter_turn(quarter_turns, mono_size, &model.mono_turned);
  model.turn_color = quarter_turn(quarter_turns, color_size, &model.color_turned);
  Params p = start;
  Eigen::VectorXd r = residuals(model, p, m, prior);
  double cost = r.squaredNorm(), lambda = 1e-3;
  QuasiEuclidean q;
  const int np = 8;
  for (int iter = 0; iter < 100; ++iter) {
    // Central differences: 14 evaluations of a few thousand Sampson errors, cheaper than
    // deriving the chain through three rotations and two intrinsic matrices.
    Eigen::MatrixXd J(r.size(), np);
    for (int k = 0; k < np; ++k) {
      const double h = 1e-6;
      Params lo = p, hi = p;
      lo[k] -= h;
      hi[k] += h;
      J.col(k) = (residuals(model, hi, m, prior) - residuals(model, lo, m, prior)) / (2 * h);
    }
    const Eigen::MatrixXd A = J.transpose() * J;
    const Eigen::VectorXd g = J.transpose() * r;
    bool improved = false;
    while (lambda < 1e12) {
      Eigen::MatrixXd damped = A;
      for (int k = 0; k < np; ++k) damped(k, k) += lambda * std::max(A(k, k), 1e-12);
      const Eigen::VectorXd step = damped.ldlt().solve(-g);
      Params next = p;
      for (int k = 0; k < np; ++k) next[k] += step[k];
      const Eigen::VectorXd rn = residuals(model, next, m, prior);
      const double cn = rn.squaredNorm();
      if (std::isfinite(cn) && cn < cost) {
        const double gain = cost - cn;
        p = next;
        r = rn;
        cost = cn;
        lambda = std::max(lambda / 10, 1e-12);
        improved = gain > 1e-12 * cost && step.norm() > 1e-12;
        break;
      }
      lambda *= 10;
    }
    q.iterations = iter + 1;
    if (!improved) break;
  }
  q.params = p;
  model.homographies(p, q.H_mono, q.H_color);
  const std::vector<double> e = sampson_errors(model.fundamental(p), m);
  double sum2 = 0;
  for (double v : e) sum2 += v * v;
  q.cost = e.empty() ? 0 : sum2 / e.size();
  q.objective = e.empty() ? 0 : cost / e.size();
  q.focal_px = model.focal(p);
  q.focal_ratio = std::exp(p[6]);
  return q;
}

}  // namespace dualcam::fusion::detail
