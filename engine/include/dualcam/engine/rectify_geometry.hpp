#pragma once
// The rectification of a StereoRig as geometry (no images): the rotations and projections that
// make the two cameras' epipolar lines horizontal rows. Part of the engine because the rig file
// stores it (R1 R2 P1 P2 Q) and the simulator needs it for ground truth; fusion/rectify.hpp
// applies it to images.
//
// Convention after rectification (the "canonical" frame every matcher works in): the MONO view is
// the LEFT image and a mono pixel x matches the colour pixel x - d with d > 0. stereoRectify's
// output is flipped and/or transposed to reach it when the colour camera sits to the left of,
// above or below the mono camera (see `transpose` and `flip`).
#include <opencv2/core.hpp>

#include "dualcam/engine/rig.hpp"

namespace dualcam {

struct RectifyGeometry {
  cv::Matx33d R1, R2;   // rectified_mono_from_mono, rectified_color_from_color (stereoRectify)
  cv::Matx34d P1, P2;   // projections in stereoRectify's rectified frame
  cv::Matx44d Q;
  cv::Size size;        // size of the rectified images in stereoRectify's frame (before transpose)
  bool vertical = false;  // baseline mostly along y: images are transposed into canonical form
  bool flip = false;      // canonical form needs a horizontal flip (colour camera left of / above mono)
  double focal_px = 0;    // rectified focal length
  double baseline = 0;    // |rectified baseline| in the rig's unit
  // Canonical (mono-left) size: size, transposed when vertical.
  cv::Size canonical_size() const { return vertical ? cv::Size(size.height, size.width) : size; }
  // Disparity in canonical pixels of a point at depth z_rect (rectified frame), in the rig's unit.
  double disparity_at_depth(double z_rect) const { return focal_px * baseline / z_rect; }
};

struct RectifyOptions {
  // stereoRectify's free scaling: 0 = only valid pixels (zoom in), 1 = keep every source pixel.
  double alpha = 1.0;
  // Output size of the rectified images; empty = the area both cameras see (after alpha) at the
  // pixel density of the finer camera. The two cameras may differ in size and field of view.
  cv::Size size;
  void validate() const;
};

RectifyGeometry rectify_geometry(const StereoRig& rig, const RectifyOptions& options = {});

}  // namespace dualcam
