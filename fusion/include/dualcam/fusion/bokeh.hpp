#pragma once
// Synthetic depth of field from one image and its disparity (post-capture refocus).
//
// Optics (thin lens, disparity as inverse depth). A point at depth Z seen by a camera of pixel
// focal length f_px in a rig of baseline B (mm) has disparity d = f_px * B / Z (dualcam's one
// disparity unit, engine/disparity.hpp: what fuse() and compute_depth() return). A thin lens with
// aperture radius A (mm) focused at the depth whose disparity is d_focus spreads that point over a
// circle of confusion of radius
//     r_px = (A / B) * |d - d_focus|
// (the pinhole views through the aperture point a are shifted by (a / B) * (d_focus - d) px).
// So one number, `blur_per_disparity` = A / B, sets the look; the helpers below derive it from a
// largest radius or from an f-number.
//
// Sign convention: the signed radius s = blur_per_disparity * (d - d_focus) is > 0 in front of the
// focus plane (nearer, larger disparity) and < 0 behind it.
//
// Method (see docs/bokeh.md for the measurements behind each choice): the signed radius is cut
// into depth layers with tent (linear) weights, so a pixel lies in the two layers around its
// radius and the kernel radius is interpolated. Each layer (premultiplied colour + coverage) is
// blurred with the aperture kernel by per-row prefix sums (one O(1) span per kernel row), at a
// reduced resolution when its radius is large (all reduced grids filled in one pass over the
// image), and only where it reaches. The output is made tile by tile, each 64x64 tile running
// through the levels near it with its accumulators in cache, so the cost is bounded by the image
// times the number of levels, not by the depth content. Layers are composited front to back
// with an additive coverage model: a layer is hidden by the summed blurred coverage of the layers nearer
// than its neighbour, so a sharp foreground is never overdrawn by the background, and a blurred
// foreground spreads semi-transparently over whatever is behind it.
#include <string>

#include <opencv2/core.hpp>

namespace dualcam::fusion {

// Shape of the lens aperture, hence of the blur kernel (the "bokeh").
struct Aperture {
  int blades = 0;             // 0 = circle; N >= 3 = regular N-gon inscribed in the circle
  double rotation_deg = 0.0;  // rotation of the polygon, degrees (0 = a vertex pointing up)
};
// "circle", "hexagon" (6 blades), "blades:N" (3 <= N <= 32). Throws Error(InvalidInput) otherwise.
Aperture parse_aperture(const std::string& text);
std::string to_string(const Aperture& aperture);

struct BokehOptions {
  double focus_disparity_px = 0.0;  // disparity that is in focus, px
  double blur_per_disparity = 0.0;  // CoC radius per px of disparity difference (= A / B), px/px
  double max_blur_px = 64.0;        // radii are clamped to this, px
  // Depth of field: radii below this are 0 and larger ones are reduced by it, px. Keeps the
  // focus plane sharp under a disparity error of up to focus_tolerance_px / blur_per_disparity.
  double focus_tolerance_px = 0.0;
  Aperture aperture;
  // Highlights: before blurring, pixels whose largest channel is near clipping are multiplied by
  // up to `highlight_gain` (a smooth ramp from `highlight_threshold` to 1), because a clipped
  // highlight stood for more light than the sensor recorded; the lens spreads that light into a
  // bright disc. 1 = off.
  double highlight_gain = 1.0;       // gain at clipping (>= 1)
  double highlight_threshold = 0.9;  // largest channel (linear) where the ramp starts, (0, 1)
  // Layers: radius step between neighbouring layers = max(1, layer_growth * radius) up to
  // full_res_radius_px, max(1, reduced_layer_growth * radius) above, px.
  double layer_growth = 0.15;
  double reduced_layer_growth = 0.25;
  // Layers whose radius exceeds full_res_radius_px are blurred at a reduced resolution, by the
  // integer factor ceil(radius / reduced_radius_px) (so their kernel on the reduced grid has a
  // radius of at most reduced_radius_px), px.
  double full_res_radius_px = 8.0;
  double reduced_radius_px = 4.0;
  void validate() const;
};

// In-focus disparity at an image point: the median of the known disparities in the
// (2 * window_radius + 1)^2 window around it. Throws Error(InvalidInput) when the point lies
// outside the image or the window holds no known disparity.
double focus_disparity_at(const cv::Mat& disparity, cv::Point point, int window_radius = 7);

// blur_per_disparity that makes the largest |d - d_focus| of the known disparities give
// `max_blur_px` after the focus tolerance is taken off (0 when the disparity is constant).
double blur_per_disparity_for_max_blur(const cv::Mat& disparity, double focus_disparity_px, double max_blur_px,
                                       double focus_tolerance_px = BokehOptions{}.focus_tolerance_px);

// blur_per_disparity of a lens of f-number `f_number`: aperture radius A = f_mm / (2 F) with the
// focal length in mm f_mm = focal_px * pixel_pitch_um / 1000, so A / B = focal_px * pitch / (2 F B).
double blur_per_disparity_from_f_number(double f_number, double focal_px, double pixel_pitch_um, double baseline_mm);

// Signed CoC radius per pixel (CV_32F, px): blur_per_disparity * (d - d_focus), moved towards 0
// by focus_tolerance_px (0 inside it), clamped to [-max_blur_px, max_blur_px]; unknown
// disparities are filled first (refine.hpp's fill_holes_background, the focus as fallback).
cv::Mat signed_blur_radius(const cv::Mat& disparity, const BokehOptions& options);

struct BokehStats {
  int layers = 0;                // depth layers rendered
  int reduced_layers = 0;        // of which at reduced resolution
  double max_radius_px = 0;      // largest |radius| in the image
  double seconds = 0;            // wall time of render_bokeh
};

// The synthetic depth of field. image_linear: CV_32FC3 linear BGR; disparity: CV_32F of the same
// size at the same view (engine/disparity.hpp: FuseResult's image and disparity go in as they
// come), NaN = unknown. Returns CV_32FC3 linear BGR (not clipped: boosted
// highlights may exceed 1). Parallel over rows with parallel_rows; identical for any thread count.
cv::Mat render_bokeh(const cv::Mat& image_linear, const cv::Mat& disparity, const BokehOptions& options,
                     BokehStats* stats = nullptr);

}  // namespace dualcam::fusion
