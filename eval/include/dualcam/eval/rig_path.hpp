#pragma once
// The rig path of the evaluation: a rectified pair (the Middlebury data's) seen again through a
// distorted, rotated rig, so that a method gets what `dualcam fuse --rig` gets (each camera's own
// image and the rig) and P1 / P2 measure the path users take: the rectifier built from the rig,
// the drift check, the warp through the rig, the outputs at the cameras' own (distorted) views.
//
// The construction adds no error of its own. A rectified pair is two pinhole views of a scene
// whatever focal length it is read with, and turning a camera about its centre or distorting its
// image adds no parallax; so with the rectified frame read as a pinhole camera of focal length
// focal_share * width (principal point at the centre), each camera of the rig is that frame
// turned by its rotation, zoomed and distorted. A pixel p of camera i sees the rectified pixel
//     q = K_rect * (R_rect_from_i * (x, y, 1)),   (x, y) = the exact inverse of i's lens at p
// (datasets/lens.hpp), and camera i's image is the rectified image resampled there (bicubic, in
// linear light). Each camera's zoom is the smallest that keeps its whole image 1 px inside the
// rectified one, so no pixel of a view is made up. The rig: R = R_color^T R_mono (colour from
// mono), T = -R_color^T (B, 0, 0), i.e. the colour camera B to the right of the mono, as the
// rectified pair's right view is.
#include <vector>

#include <opencv2/core.hpp>

#include "dualcam/datasets/middlebury.hpp"
#include "dualcam/engine/report.hpp"
#include "dualcam/engine/rig.hpp"

namespace dualcam::eval {

struct RigPathOptions {
  // OpenCV lens models, k1 k2 p1 p2 k3 [k4 k5 k6] (4, 5 or 8 numbers) in each camera's normalised
  // coordinates. Defaults: a barrel-distorted mono (its corners move 13 px on the 463 px wide
  // Middlebury third-size scenes) and a colour lens with pincushion distortion and a rational
  // term (5 px).
  std::vector<double> mono_distortion{-0.10, 0.03, 0.0006, -0.0004, 0.0};
  std::vector<double> color_distortion{0.06, -0.01, -0.0005, 0.0004, 0.0, 0.02, 0.0, 0.0};
  // Each camera's rotation against the rectified frame (R_rect_from_camera as a Rodrigues
  // vector, degrees, |.| <= 10 each). Defaults: 1.7 degrees between the two cameras.
  cv::Vec3d mono_rotation_deg{0.3, -0.5, 0.4};
  cv::Vec3d color_rotation_deg{-0.4, 0.6, -0.7};
  double focal_share = 0.875;  // rectified frame's focal length / image width, (0.3, 3]
  double baseline_mm = 12.0;   // only scales the depths the rig implies, (0, 1000]
  void validate() const;
  Json to_json() const;
};

// One camera of the rig and, for each of its pixels, the rectified pixel it sees.
struct RigView {
  CameraModel camera;
  cv::Matx33d rect_from_camera;
  cv::Mat map_x, map_y;  // CV_32F, the camera's size
};

struct RigPath {
  StereoRig rig;
  RigView mono, color;
  double rectified_focal_px = 0;  // the focal length the rectified pair is read with
};

// The rig for a rectified pair of `size` (both views that size). Throws Error(InvalidInput) for
// bad options or a lens that cannot be inverted over the image.
RigPath make_rig_path(cv::Size size, const RigPathOptions& options = {});

// What `view`'s camera sees of a rectified-frame image: 8-bit sRGB (1 or 3 channels) resampled
// bicubically in linear light and returned 8-bit sRGB; CV_8UC1 masks by nearest neighbour.
cv::Mat view_through_rig(const cv::Mat& rectified, const RigView& view, bool mask = false);

// The scene at the rig's views: left = what the mono camera sees of the clean left image, right =
// what the colour camera sees of the clean right image, ndisp scaled to the rig's rectified frame
// (engine/rectify_geometry.hpp, with 5 % to spare); the disparity truth, which is in the data's
// rectified frame, is dropped. `evaluated` (may be null) receives `evaluated_at_rectified` (the
// scene's evaluated pixels, protocol.hpp) at the mono view.
datasets::MiddleburyScene scene_through_rig(const datasets::MiddleburyScene& scene, const RigPath& rig,
                                            const cv::Mat& evaluated_at_rectified, cv::Mat* evaluated);

}  // namespace dualcam::eval
