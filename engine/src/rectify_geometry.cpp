#include "dualcam/engine/rectify_geometry.hpp"

#include "dualcam/engine/disparity.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include <opencv2/calib3d.hpp>

#include "dualcam/engine/error.hpp"

namespace dualcam {

void RectifyOptions::validate() const {
  check_range("RectifyOptions::alpha", alpha, -1.0, 1.0);
  if (size.width < 0 || size.height < 0) throw_invalid("RectifyOptions::size must not be negative");
}

RectifyGeometry rectify_geometry(const StereoRig& rig, const RectifyOptions& options) {
  rig.validate();
  options.validate();
  RectifyGeometry g;
  // stereoRectify gives the rotations. Its projections assume both cameras have one image size,
  // which is wrong for a 12 MP 4:3 colour camera beside a smaller mono one, so the common
  // projection is built here: the canonical frame covers the area both cameras see, at the
  // pixel density of the finer camera (or scaled down to fit options.size).
  cv::Mat R1, R2, P1, P2, Q;
  cv::stereoRectify(cv::Mat(rig.mono.K), rig.mono.dist, cv::Mat(rig.color.K), rig.color.dist, rig.mono.size,
                    cv::Mat(rig.R), cv::Mat(rig.T), R1, R2, P1, P2, Q, cv::CALIB_ZERO_DISPARITY, options.alpha,
                    rig.mono.size);
  // Each camera's outline in rectified normalised coordinates: the box of its border (alpha = 1:
  // every source pixel) and the box inside it (alpha = 0: only valid pixels), blended by alpha.
  auto outline = [&](const CameraModel& cam, const cv::Mat& R) {
    std::vector<cv::Point2f> border, norm;
    const int n = 32;
    for (int i = 0; i <= n; ++i) {
      const float u = float(i) / n;
      border.emplace_back(u * (cam.size.width - 1), 0.f);
      border.emplace_back(u * (cam.size.width - 1), float(cam.size.height - 1));
      border.emplace_back(0.f, u * (cam.size.height - 1));
      border.emplace_back(float(cam.size.width - 1), u * (cam.size.height - 1));
    }
    cv::undistortPoints(border, norm, cv::Mat(cam.K), cam.dist, R);
    // Outer box, and inner box: the innermost point of each side.
    float ox0 = 1e9f, oy0 = 1e9f, ox1 = -1e9f, oy1 = -1e9f, ix0 = -1e9f, iy0 = -1e9f, ix1 = 1e9f, iy1 = 1e9f;
    for (std::size_t k = 0; k < norm.size(); ++k) {
      const cv::Point2f p = norm[k];
      ox0 = std::min(ox0, p.x), oy0 = std::min(oy0, p.y), ox1 = std::max(ox1, p.x), oy1 = std::max(oy1, p.y);
      switch (k % 4) {
        case 0: iy0 = std::max(iy0, p.y); break;
        case 1: iy1 = std::min(iy1, p.y); break;
        case 2: ix0 = std::max(ix0, p.x); break;
        default: ix1 = std::min(ix1, p.x); break;
      }
    }
    const double a = std::clamp(options.alpha, 0.0, 1.0);
    return cv::Rect2d(cv::Point2d(a * ox0 + (1 - a) * ix0, a * oy0 + (1 - a) * iy0),
                      cv::Point2d(a * ox1 + (1 - a) * ix1, a * oy1 + (1 - a) * iy1));
  };
  const cv::Rect2d common = outline(rig.mono, R1) & outline(rig.color, R2);
  if (!(common.width > 0 && common.height > 0))
    throw Error(ErrorCategory::Numerical, "rectification of the rig failed: the two cameras see no common area");
  // Pixel density: the finer camera's focal length (the canonical frame loses no detail).
  double f = std::max({rig.mono.K(0, 0), rig.mono.K(1, 1), rig.color.K(0, 0), rig.color.K(1, 1)});
  if (!options.size.empty())
    f = std::min(options.size.width / common.width, options.size.height / common.height);
  g.size = options.size.empty() ? cv::Size(int(std::ceil(common.width * f)), int(std::ceil(common.height * f)))
                                : options.size;
  const double cx = -common.x * f, cy = -common.y * f;
  const cv::Matx34d old_p2(P2);
  const double tx = old_p2(0, 3) / old_p2(0, 0), ty = old_p2(1, 3) / old_p2(1, 1);
  P1 = cv::Mat(cv::Matx34d(f, 0, cx, 0, 0, f, cy, 0, 0, 0, 1, 0));
  P2 = cv::Mat(cv::Matx34d(f, 0, cx, f * tx, 0, f, cy, f * ty, 0, 0, 1, 0));
  const double t_base = std::abs(ty) > std::abs(tx) ? ty : tx;
  Q = cv::Mat(cv::Matx44d(1, 0, 0, -cx, 0, 1, 0, -cy, 0, 0, 0, f, 0, 0, -1.0 / t_base, 0));
  g.R1 = cv::Matx33d(R1);
  g.R2 = cv::Matx33d(R2);
  g.P1 = cv::Matx34d(P1);
  g.P2 = cv::Matx34d(P2);
  g.Q = cv::Matx44d(Q);
  // stereoRectify puts the baseline on x (P2(0,3) = Tx * f) or, when |Ty| > |Tx|, on y.
  g.vertical = std::abs(g.P2(1, 3)) > std::abs(g.P2(0, 3));
  g.focal_px = g.P1(0, 0);
  const double t = g.vertical ? g.P2(1, 3) / g.P2(1, 1) : g.P2(0, 3) / g.P2(0, 0);
  g.baseline = std::abs(t);
  // Mono must end up on the left (or top): colour camera at +x (t < 0) in the rectified frame.
  // When the colour camera is at -x, mirror both images so the geometry becomes mono-left.
  g.flip = t > 0;
  if (!(g.focal_px > 0) || !(g.baseline > 0) || !std::isfinite(g.focal_px))
    throw Error(ErrorCategory::Numerical, "rectification of the rig failed (degenerate geometry)");
  return g;
}

double disparity_view_scale(const RectifyGeometry& geometry, const CameraModel& view) {
  return view.K(0, 0) / geometry.focal_px;
}

}  // namespace dualcam
