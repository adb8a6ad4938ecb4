#pragma once
// The disparity: one unit and one frame for every function of dualcam that returns or takes one
// (fuse, depth, bokeh, the simulator's truth, regress, eval, the PFM files).
//
//   A disparity map is CV_32FC1 on the pixel grid of one camera's own image (the "view": the
//   reference camera for fuse/depth), NaN where unknown, and its values are pixels OF THAT IMAGE:
//       d = f_view * B / Z
//   with f_view the view camera's focal length in its own pixels (K(0,0)), B the baseline and Z
//   the point's depth along the rig's rectified optical axis. Positive: a point farther away has
//   a smaller disparity.
//
// For a rectified pair (`--rectified`, Middlebury data) this is the plain f*B/Z of the pair.
// Through a rig, the matcher works in the canonical rectified frame (rectify_geometry.hpp), whose
// focal length f_rect differs from each camera's (the two cameras may differ, and the rectified
// frame has the finer camera's density): the canonical disparity f_rect * B / Z is multiplied by
// f_view / f_rect (disparity_view_scale). Without a rig (self-rectification) there is no metric
// focal length: the canonical frame is then related to each view by a homography, and the scale
// is that homography's local scale at the view's centre.
//
// Why this unit: it is what a consumer of the map needs without knowing the rig. Bokeh's circle
// of confusion (A / B) * |d - d_focus| comes out in the image's own pixels; the depth is
// Z = f_view * B / d with the camera's own intrinsics; and a PFM written by `dualcam depth` goes
// back into `dualcam bokeh --disparity` as it came out. Canonical-frame disparities stay inside
// fusion (matching and warping) and are never returned.
#include "dualcam/engine/rectify_geometry.hpp"
#include "dualcam/engine/rig.hpp"

namespace dualcam {

// View pixels per canonical pixel of disparity for `view` (one of the rig's cameras) under the
// rectification `geometry`: f_view / f_rect.
double disparity_view_scale(const RectifyGeometry& geometry, const CameraModel& view);

}  // namespace dualcam
