#pragma once
// Rectification of image pairs into the canonical frame (mono = left image, a mono pixel x
// matches the colour pixel x - d, d > 0), and back to each camera's own pixel grid.
#include <opencv2/core.hpp>

#include "dualcam/engine/rectify_geometry.hpp"
#include "dualcam/engine/rig.hpp"

namespace dualcam::fusion {

class Rectifier {
 public:
  Rectifier(const StereoRig& rig, const RectifyOptions& options = {});
  // Uncalibrated (self_rectify.hpp): homographies from each camera's pixels to the canonical
  // frame of `canonical_size`. geometry() then has no focal length or baseline (0).
  Rectifier(const cv::Matx33d& mono_to_canonical, const cv::Matx33d& color_to_canonical, const cv::Size& mono_size,
            const cv::Size& color_size, const cv::Size& canonical_size);

  // Moves the colour view inside the canonical frame by `correction` (canonical px -> canonical
  // px), e.g. the row correction of a drifted rig (fit_row_correction).
  void correct_color(const cv::Matx33d& correction);

  const RectifyGeometry& geometry() const { return geometry_; }
  cv::Size canonical_size() const { return geometry_.canonical_size(); }

  // Original camera image -> canonical rectified image (bilinear unless `interpolation` says).
  cv::Mat rectify_mono(const cv::Mat& image, int interpolation = 1 /*cv::INTER_LINEAR*/) const;
  cv::Mat rectify_color(const cv::Mat& image, int interpolation = 1) const;

  // Canonical image -> the given camera's original pixel grid. `valid` (CV_8U, optional) marks
  // the pixels that the canonical image covers.
  cv::Mat unrectify_to_mono(const cv::Mat& canonical, int interpolation, cv::Mat* valid = nullptr) const;
  cv::Mat unrectify_to_color(const cv::Mat& canonical, int interpolation, cv::Mat* valid = nullptr) const;

  // Warps the ORIGINAL mono image into the colour camera's original pixel grid through the
  // canonical disparity of the colour (right) view, with a single interpolation of the image
  // (the rectify, shift and un-rectify steps are composed as coordinate maps). `valid` marks
  // pixels whose disparity is known and whose source lies inside the mono image.
  cv::Mat warp_mono_to_color(const cv::Mat& mono, const cv::Mat& canonical_disparity_right, cv::Mat* valid) const;
  // The same from the original colour image into the mono camera's grid, through the canonical
  // disparity of the mono (left) view.
  cv::Mat warp_color_to_mono(const cv::Mat& color, const cv::Mat& canonical_disparity_left, cv::Mat* valid) const;

 private:
  struct Maps {
    cv::Mat x, y;
  };
  Maps forward_maps(const CameraModel& cam, const cv::Matx33d& R, const cv::Matx34d& P) const;
  Maps inverse_maps(const CameraModel& cam, const cv::Matx33d& R, const cv::Matx34d& P) const;
  static Maps homography_maps(const cv::Matx33d& H, const cv::Size& out_size);
  cv::Mat unrectify(const cv::Mat& canonical, const Maps& maps, int interpolation, cv::Mat* valid) const;
  cv::Mat warp_composed(const cv::Mat& src, const Maps& src_fwd, const cv::Size& src_size, const Maps& dst_inv,
                        const cv::Mat& canonical_disparity, float sign, cv::Mat* valid) const;

  StereoRig rig_;
  RectifyGeometry geometry_;
  Maps mono_fwd_, color_fwd_, mono_inv_, color_inv_;
};

}  // namespace dualcam::fusion
