#pragma once
// Rectification of image pairs into the canonical frame (mono = left image, a mono pixel x
// matches the colour pixel x - d, d > 0), and back to each camera's own pixel grid.
#include <functional>
#include <memory>
#include <vector>

#include <opencv2/core.hpp>

#include "dualcam/engine/disparity.hpp"
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
  // View pixels per canonical pixel of disparity (engine/disparity.hpp): what a canonical
  // disparity is multiplied by to be given in the mono's / the colour camera's own pixels.
  double mono_disparity_scale() const { return mono_disparity_scale_; }
  double color_disparity_scale() const { return color_disparity_scale_; }
  cv::Size canonical_size() const { return geometry_.canonical_size(); }

  // Original camera image -> canonical rectified image (bilinear unless `interpolation` says).
  cv::Mat rectify_mono(const cv::Mat& image, int interpolation = 1 /*cv::INTER_LINEAR*/) const;
  cv::Mat rectify_color(const cv::Mat& image, int interpolation = 1) const;

  // Canonical image -> the given camera's original pixel grid. `valid` (CV_8U, optional) marks
  // the pixels that the canonical image covers.
  cv::Mat unrectify_to_mono(const cv::Mat& canonical, int interpolation, cv::Mat* valid = nullptr) const;
  cv::Mat unrectify_to_color(const cv::Mat& canonical, int interpolation, cv::Mat* valid = nullptr) const;

  // Coordinate maps (the x and y of the source pixel for every destination pixel):
  // X_from_canonical has the canonical size and gives, for every canonical pixel, the camera pixel
  // it shows; canonical_from_X has the camera's size and gives, for every camera pixel, where it
  // lands in the canonical frame. warp.hpp composes them into one-interpolation warps. They are
  // smooth, so each is kept as its values on a grid (every `step` px, both last pixels included)
  // and bilinear between: at 12 MP the four maps at every pixel were 384 MB, the rig path's whole
  // difference in peak memory from a rectified pair's. tests/fusion/test_rectify.cpp measures the
  // grid against the exact maps.
  class Maps {
   public:
    Maps() = default;
    // The map over an image of `size` whose value at a pixel is what `at` gives for it: `at` is
    // handed the grid's points a row at a time and replaces each by its value.
    static Maps sampled(const cv::Size& size, int step, const std::function<void(std::vector<cv::Point2f>&)>& at);
    cv::Size size() const { return size_; }
    int step() const { return step_; }
    // Rows [r0, r1) at every pixel: x and y, CV_32F of (r1 - r0) x size().width.
    void rows(int r0, int r1, cv::Mat& x, cv::Mat& y) const;
    // At any position (bilinear in its grid cell; the outer cells go on beyond the image).
    cv::Point2f at(float x, float y) const;
    // Every pixel's value (a test's, a small image's).
    struct Dense {
      cv::Mat x, y;
    };
    Dense dense() const;
    // The map whose values are this map's moved by `f` (the grid's values, in place).
    Maps moved(const std::function<void(std::vector<cv::Point2f>&)>& f) const;

   private:
    cv::Size size_;
    int step_ = 1;
    cv::Mat grid_;                 // CV_32FC2, a row per grid row
    std::vector<float> frac_x_;    // per image column: its place in its grid cell, 0..1
    float inv_step_ = 1;
    std::vector<float> inv_cell_x_, inv_cell_y_;  // 1 / each cell's width along x and y
  };
  const Maps& mono_from_canonical() const { return mono_fwd_; }
  const Maps& color_from_canonical() const { return color_fwd_; }
  const Maps& canonical_from_mono() const { return mono_inv_; }
  const Maps& canonical_from_color() const { return color_inv_; }
  cv::Size mono_size() const { return rig_.mono.size; }
  cv::Size color_size() const { return rig_.color.size; }

 private:
  Maps forward_maps(const CameraModel& cam, const cv::Matx33d& R, const cv::Matx34d& P) const;
  Maps inverse_maps(const CameraModel& cam, const cv::Matx33d& R, const cv::Matx34d& P) const;
  static Maps homography_maps(const cv::Matx33d& H, const cv::Size& out_size);
  static int grid_step(const CameraModel& cam);
  static cv::Mat remap_through(const cv::Mat& image, const Maps& maps, int interpolation, double border, cv::Mat* valid);

  StereoRig rig_;
  RectifyGeometry geometry_;
  Maps mono_fwd_, color_fwd_, mono_inv_, color_inv_;
  double mono_disparity_scale_ = 1, color_disparity_scale_ = 1;
};

// The rectifier of a rig, built once per process for the rig and options it was last asked for:
// the fuse pipeline takes it from here, so a batch (`fuse --batch`, `regress`, the Python module)
// through one module builds its maps once (what that saves: `dualcam bench --stages fuse-rig`, the
// rows "fuse, rig path" and "fuse, rig path (cached)"). Keyed by the rig's
// cameras and extrinsics (its extras do not matter) and the options; one entry, so memory holds
// at most one rig's maps beyond the run's own. Thread-safe. A copy of the returned rectifier may
// be corrected (correct_color writes new maps, never the shared ones).
std::shared_ptr<const Rectifier> cached_rectifier(const StereoRig& rig, const RectifyOptions& options = {});
// Drops the cached maps (what the next run would build again, as a single `dualcam fuse` does).
void clear_rectifier_cache();

}  // namespace dualcam::fusion
