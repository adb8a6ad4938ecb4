#include "dualcam/engine/rectify_geometry.hpp"

#include <cmath>

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
  g.size = options.size.empty() ? rig.mono.size : options.size;
  cv::Mat R1, R2, P1, P2, Q;
  cv::stereoRectify(cv::Mat(rig.mono.K), rig.mono.dist, cv::Mat(rig.color.K), rig.color.dist, g.size,
                    cv::Mat(rig.R), cv::Mat(rig.T), R1, R2, P1, P2, Q, cv::CALIB_ZERO_DISPARITY, options.alpha,
                    g.size);
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

}  // namespace dualcam
