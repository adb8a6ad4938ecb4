#include "dualcam/fusion/rectify.hpp"

#include <cmath>
#include <limits>

#include <opencv2/calib3d.hpp>
#include <opencv2/imgproc.hpp>

#include "dualcam/engine/error.hpp"
#include "dualcam/engine/parallel.hpp"

namespace dualcam::fusion {

Rectifier::Rectifier(const StereoRig& rig, const RectifyOptions& options)
    : rig_(rig), geometry_(rectify_geometry(rig, options)) {
  mono_fwd_ = forward_maps(rig_.mono, geometry_.R1, geometry_.P1);
  color_fwd_ = forward_maps(rig_.color, geometry_.R2, geometry_.P2);
  mono_inv_ = inverse_maps(rig_.mono, geometry_.R1, geometry_.P1);
  color_inv_ = inverse_maps(rig_.color, geometry_.R2, geometry_.P2);
}

Rectifier::Rectifier(const cv::Matx33d& mono_to_canonical, const cv::Matx33d& color_to_canonical,
                     const cv::Size& mono_size, const cv::Size& color_size, const cv::Size& canonical_size) {
  if (mono_size.empty() || color_size.empty() || canonical_size.empty())
    throw_invalid("Rectifier: empty image size for an uncalibrated rectification");
  rig_.mono.size = mono_size;
  rig_.color.size = color_size;
  geometry_.size = canonical_size;
  geometry_.R1 = geometry_.R2 = cv::Matx33d::eye();
  mono_fwd_ = homography_maps(mono_to_canonical.inv(), canonical_size);
  color_fwd_ = homography_maps(color_to_canonical.inv(), canonical_size);
  mono_inv_ = homography_maps(mono_to_canonical, mono_size);
  color_inv_ = homography_maps(color_to_canonical, color_size);
}

Rectifier::Maps Rectifier::homography_maps(const cv::Matx33d& H, const cv::Size& out_size) {
  // For every pixel of the output: where H sends it.
  Maps m;
  m.x.create(out_size, CV_32F);
  m.y.create(out_size, CV_32F);
  parallel_rows(out_size.height, 16, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      float* mx = m.x.ptr<float>(r);
      float* my = m.y.ptr<float>(r);
      for (int c = 0; c < out_size.width; ++c) {
        const cv::Vec3d v = H * cv::Vec3d(c, r, 1.0);
        mx[c] = float(v[0] / v[2]);
        my[c] = float(v[1] / v[2]);
      }
    }
  });
  return m;
}

void Rectifier::correct_color(const cv::Matx33d& correction) {
  // Forward: canonical p -> correction^-1 p in the old canonical frame -> old forward maps.
  const Maps where = homography_maps(correction.inv(), geometry_.canonical_size());
  Maps fwd;
  cv::remap(color_fwd_.x, fwd.x, where.x, where.y, cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(-1));
  cv::remap(color_fwd_.y, fwd.y, where.x, where.y, cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(-1));
  color_fwd_ = fwd;
  // Inverse: original pixel -> old canonical -> correction.
  for (int r = 0; r < color_inv_.x.rows; ++r) {
    float* mx = color_inv_.x.ptr<float>(r);
    float* my = color_inv_.y.ptr<float>(r);
    for (int c = 0; c < color_inv_.x.cols; ++c) {
      const cv::Vec3d v = correction * cv::Vec3d(mx[c], my[c], 1.0);
      mx[c] = float(v[0] / v[2]);
      my[c] = float(v[1] / v[2]);
    }
  }
}

Rectifier::Maps Rectifier::forward_maps(const CameraModel& cam, const cv::Matx33d& R, const cv::Matx34d& P) const {
  Maps m;
  cv::Mat newK = cv::Mat(P).colRange(0, 3);
  cv::initUndistortRectifyMap(cv::Mat(cam.K), cam.dist, cv::Mat(R), newK, geometry_.size, CV_32FC1, m.x, m.y);
  // Bring stereoRectify's frame into the canonical one: transpose for a vertical baseline, then
  // mirror when the colour camera is on the left. Moving the maps moves the images they produce.
  if (geometry_.vertical) {
    cv::transpose(m.x, m.x);
    cv::transpose(m.y, m.y);
  }
  if (geometry_.flip) {
    cv::flip(m.x, m.x, 1);
    cv::flip(m.y, m.y, 1);
  }
  return m;
}

Rectifier::Maps Rectifier::inverse_maps(const CameraModel& cam, const cv::Matx33d& R, const cv::Matx34d& P) const {
  // For every pixel of the original camera: where it lands in the canonical rectified image.
  Maps m;
  m.x.create(cam.size, CV_32F);
  m.y.create(cam.size, CV_32F);
  const cv::Size canon = geometry_.canonical_size();
  parallel_rows(cam.size.height, 16, [&](int r0, int r1) {
    std::vector<cv::Point2f> src, dst;
    for (int r = r0; r < r1; ++r) {
      src.resize(cam.size.width);
      for (int c = 0; c < cam.size.width; ++c) src[c] = cv::Point2f(float(c), float(r));
      cv::undistortPoints(src, dst, cv::Mat(cam.K), cam.dist, cv::Mat(R), cv::Mat(P));
      float* mx = m.x.ptr<float>(r);
      float* my = m.y.ptr<float>(r);
      for (int c = 0; c < cam.size.width; ++c) {
        float x = dst[c].x, y = dst[c].y;
        if (geometry_.vertical) std::swap(x, y);
        if (geometry_.flip) x = float(canon.width - 1) - x;
        mx[c] = x;
        my[c] = y;
      }
    }
  });
  return m;
}

cv::Mat Rectifier::rectify_mono(const cv::Mat& image, int interpolation) const {
  if (image.size() != rig_.mono.size) throw_invalid("rectify: mono image size does not match the rig");
  cv::Mat out;
  cv::remap(image, out, mono_fwd_.x, mono_fwd_.y, interpolation, cv::BORDER_CONSTANT);
  return out;
}

cv::Mat Rectifier::rectify_color(const cv::Mat& image, int interpolation) const {
  if (image.size() != rig_.color.size) throw_invalid("rectify: colour image size does not match the rig");
  cv::Mat out;
  cv::remap(image, out, color_fwd_.x, color_fwd_.y, interpolation, cv::BORDER_CONSTANT);
  return out;
}

cv::Mat Rectifier::unrectify(const cv::Mat& canonical, const Maps& maps, int interpolation, cv::Mat* valid) const {
  cv::Mat out;
  cv::remap(canonical, out, maps.x, maps.y, interpolation, cv::BORDER_CONSTANT,
            cv::Scalar::all(std::numeric_limits<double>::quiet_NaN()));
  if (valid) {
    const cv::Size s = canonical.size();
    valid->create(maps.x.size(), CV_8U);
    for (int r = 0; r < maps.x.rows; ++r) {
      const float* mx = maps.x.ptr<float>(r);
      const float* my = maps.y.ptr<float>(r);
      std::uint8_t* v = valid->ptr<std::uint8_t>(r);
      for (int c = 0; c < maps.x.cols; ++c)
        v[c] = (mx[c] >= 0 && my[c] >= 0 && mx[c] <= s.width - 1 && my[c] <= s.height - 1) ? 255 : 0;
    }
  }
  return out;
}

cv::Mat Rectifier::unrectify_to_mono(const cv::Mat& canonical, int interpolation, cv::Mat* valid) const {
  return unrectify(canonical, mono_inv_, interpolation, valid);
}

cv::Mat Rectifier::unrectify_to_color(const cv::Mat& canonical, int interpolation, cv::Mat* valid) const {
  return unrectify(canonical, color_inv_, interpolation, valid);
}

cv::Mat Rectifier::warp_composed(const cv::Mat& src, const Maps& src_fwd, const cv::Size& src_size,
                                 const Maps& dst_inv, const cv::Mat& disparity, float sign, cv::Mat* valid) const {
  const cv::Size canon = geometry_.canonical_size();
  if (disparity.type() != CV_32F || disparity.size() != canon)
    throw_invalid("warp: the disparity must be CV_32F of the canonical size");
  // 1. reference pixel -> canonical reference coordinates (dst_inv); its disparity (nearest).
  cv::Mat d;
  cv::remap(disparity, d, dst_inv.x, dst_inv.y, cv::INTER_NEAREST, cv::BORDER_CONSTANT,
            cv::Scalar::all(std::numeric_limits<double>::quiet_NaN()));
  // 2. shift along the canonical row to the other view, 3. back to that camera's own pixel
  // (bilinear on the smooth forward maps), 4. one bilinear fetch of the image.
  cv::Mat cx = dst_inv.x + sign * d;
  cv::Mat sx, sy;
  cv::remap(src_fwd.x, sx, cx, dst_inv.y, cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(-1));
  cv::remap(src_fwd.y, sy, cx, dst_inv.y, cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(-1));
  cv::Mat v(d.size(), CV_8U);
  for (int r = 0; r < d.rows; ++r) {
    const float* pd = d.ptr<float>(r);
    const float* pcx = cx.ptr<float>(r);
    const float* py = dst_inv.y.ptr<float>(r);
    float* px = sx.ptr<float>(r);
    float* pys = sy.ptr<float>(r);
    std::uint8_t* pv = v.ptr<std::uint8_t>(r);
    for (int c = 0; c < d.cols; ++c) {
      const bool ok = std::isfinite(pd[c]) && pcx[c] >= 0 && pcx[c] <= canon.width - 1 && py[c] >= 0 &&
                      py[c] <= canon.height - 1 && px[c] >= 0 && pys[c] >= 0 && px[c] <= src_size.width - 1 &&
                      pys[c] <= src_size.height - 1;
      pv[c] = ok ? 255 : 0;
      if (!ok) px[c] = pys[c] = -1;
    }
  }
  cv::Mat out;
  cv::remap(src, out, sx, sy, cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar::all(0));
  if (valid) *valid = v;
  return out;
}

cv::Mat Rectifier::warp_mono_to_color(const cv::Mat& mono, const cv::Mat& disparity_right, cv::Mat* valid) const {
  if (mono.size() != rig_.mono.size) throw_invalid("warp: mono image size does not match the rig");
  // A right (colour) pixel x matches the left (mono) pixel x + d.
  return warp_composed(mono, mono_fwd_, rig_.mono.size, color_inv_, disparity_right, +1.0f, valid);
}

cv::Mat Rectifier::warp_color_to_mono(const cv::Mat& color, const cv::Mat& disparity_left, cv::Mat* valid) const {
  if (color.size() != rig_.color.size) throw_invalid("warp: colour image size does not match the rig");
  return warp_composed(color, color_fwd_, rig_.color.size, mono_inv_, disparity_left, -1.0f, valid);
}

}  // namespace dualcam::fusion
