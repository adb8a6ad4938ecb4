#pragma once
// Bokeh truth: the true defocused image of a scene seen through a thin lens, made by averaging
// pinhole renders over points of the lens's aperture disc (distribution ray tracing).
//
// The thin lens sits at the camera centre, perpendicular to the optical axis; the aperture
// (entrance pupil) is a disc of radius A (mm) there. A pixel's chief ray (through the lens
// centre and the camera's full lens-distortion model, exactly as the pinhole renderer casts it)
// meets the focus plane z = z_focus (camera frame) at P; the pixel sees the average of the rays
// from every aperture point L to P. So the plane z = z_focus is rendered exactly as the pinhole
// image, and a point at depth z is spread over a disc — the circle of confusion — of radius, in
// pixels of a camera with focal length f_px:
//
//     r = f_px * A * |1/z - 1/z_focus|
//
// With the stereo disparity d = f_px * B / z of a rig with baseline B (same unit as A), that is
//
//     r = (A / B) * |d - d_focus|
//
// the relation a depth-based bokeh relies on: the blur radius is linear in the disparity, with
// slope A / B, zero at the focused disparity. For a lens of focal length F (mm) at f-number N,
// A = F / (2 N).
//
// Averaging is done in linear light; encode afterwards. Each pixel uses `samples` paired
// (sub-pixel, aperture) points: the aperture points are a Hammersley set mapped onto the disc by
// Shirley and Chiu's concentric map (stratified, no clumping), the sub-pixel points a Halton
// (3, 5) set (the pixel's box filter, anti-aliasing for free), both toroidally shifted by a
// per-pixel hash so that neighbouring pixels' residual errors are uncorrelated noise rather
// than ghost copies of an edge. Deterministic for a seed, identical for any thread count.
#include <cstdint>

#include <opencv2/core.hpp>

#include "dualcam/datasets/scene.hpp"

namespace dualcam::datasets {

struct ThinLens {
  double focus_depth_mm = 1000;   // depth (z in the camera frame, mm) of the plane in focus
  double aperture_radius_mm = 1;  // A: radius of the aperture disc (mm); 0 = a pinhole
  // Paired sub-pixel + aperture samples per pixel. 256 keeps the error of a strongly defocused
  // scene below what 8-bit output shows on average: see tests/datasets/test_defocus.cpp, which
  // measures the convergence against a 4096-sample reference.
  int samples = 256;
  std::uint32_t seed = 1;  // per-pixel scrambling of the sample pattern
  void validate() const;
};

// A = focal_mm / (2 * f_number). Throws Error(InvalidInput) for non-positive arguments.
double aperture_radius_from_f_number(double focal_mm, double f_number);

// Circle-of-confusion radius in pixels of a point at depth z_mm: f_px * A * |1/z - 1/z_focus|.
double coc_radius_px(double focal_px, double aperture_radius_mm, double z_mm, double focus_depth_mm);

// The defocused image (CV_32FC3 linear BGR, the camera's size) of `scene` seen by `camera`
// through `lens`. Pixels whose rays all escape the scene are 0 (black).
cv::Mat render_defocus(const Scene& scene, const PlacedCamera& camera, const ThinLens& lens);

}  // namespace dualcam::datasets
