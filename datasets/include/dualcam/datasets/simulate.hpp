#pragma once
// The dual-camera simulator: a procedural 3-D scene rendered through a configurable colour +
// mono rig and the sensor models of docs/evaluation.md#sensors, with exact ground truth at both
// views.
//
// Frames and conventions (those of the rig, engine/rig.hpp): world = the mono camera's frame
// (x right, y down, z forward, mm); camera 1 = mono, camera 2 = colour; X_color = R X_mono + T.
// The rig is given either as a StereoRig or by its parts: per-camera size, focal length,
// principal point and distortion, the colour camera's rotation and its position in the mono
// frame (so "colour camera 10 mm above the mono" is color_position_mm = (0, -10, 0)).
//
// Truth written for each view (on that camera's own pixel grid):
//  - depth: z of the surface point in that camera's frame (mm), NaN where nothing is seen;
//  - disparity: in dualcam's one unit (engine/disparity.hpp), pixels of that camera's image:
//    f_view * B / z_rect of the point (z_rect along the rig's rectified axis, default
//    RectifyOptions), which is what fuse() and compute_depth() should return at that pixel; for
//    an ideal rectified rig (identity rotation, no distortion, identical K and size, a purely
//    horizontal baseline) the plain Middlebury f * B / Z;
//  - the same in pixels of the canonical rectified frame (f_rect * B / z_rect), what a matcher
//    working on the rectified pair should find (not written to files: for tests of rectification);
//  - the clean colour image: the scene's linear light times the colour camera's exposure, with
//    no noise, mosaic or vignetting: what fusion should produce at that view.
// Vignetting and the exposure of each camera are applied to the rendered light before the sensor
// noise. The noise is sensor.hpp's models unchanged, drawn on fixed bands of 32 rows with one
// random stream per band (so 12 MP images use every core; the bytes do not depend on the thread
// count); the colour camera's RGGB mosaic and bilinear demosaic run on the whole image.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "dualcam/datasets/defocus.hpp"
#include "dualcam/datasets/scene.hpp"
#include "dualcam/datasets/camera_isp.hpp"
#include "dualcam/datasets/sensor.hpp"
#include "dualcam/engine/progress.hpp"
#include "dualcam/engine/rectify_geometry.hpp"
#include "dualcam/engine/rig.hpp"

namespace dualcam::datasets {


struct SimCamera {
  cv::Size size{1280, 960};  // pixels
  double focal_px = 0;       // 0 = 0.875 * width (about 60 degrees horizontal field of view)
  // Principal point (px); negative = the image centre ((w - 1) / 2, (h - 1) / 2).
  cv::Point2d principal{-1, -1};
  std::vector<double> distortion;  // k1 k2 p1 p2 [k3]; empty = none
  double exposure = 1.0;    // multiplier on the scene light before the sensor (relative exposure)
  // Relative illumination lost at the image corner farthest from the principal point:
  // light *= 1 - vignetting * (rho / rho_corner)^2. 0 = none, must be < 1.
  double vignetting = 0.0;
  void validate(const std::string& name) const;
  CameraModel model() const;
};

struct SimulateOptions {
  SimCamera mono, color;
  cv::Vec3d rotation_deg{0, 0, 0};          // colour-from-mono rotation vector (Rodrigues), degrees
  cv::Vec3d color_position_mm{12.0, 0, 0};  // colour camera centre in the mono frame (mm)
  std::optional<StereoRig> rig;             // when set, replaces the geometry above (sizes too)

  SceneKind scene = SceneKind::Objects;
  std::uint32_t seed = 1;  // scene layout and sensor noise
  // Depth range of the scene (mm); 0 = chosen so the disparity at the mono view spans about
  // 1.5 % (far) to 6 % (near) of the mono image's width.
  double near_mm = 0, far_mm = 0;
  int supersample = 2;  // n x n samples per pixel

  MonoSensor mono_sensor;
  ColorSensor color_sensor;
  // Simple: sensor.hpp's models (the protocols' sensors). Realistic: camera_isp.hpp's sensor and
  // ISP at color_sensor.light, with the mono's weights and gain from mono_sensor, quantised to
  // adc_bits at the sensor and stored as JPEG at jpeg_quality (0 = none).
  SensorModel sensor = SensorModel::Simple;
  int adc_bits = 8;
  int jpeg_quality = 90;
  // Realistic sensor only: keep both sensors' raw frames (Simulation::mono_raw / color_raw), which
  // write_simulation writes as headerless .raw and DNG files with raw.json (their layout).
  bool raw = false;

  // Bokeh truth at the colour view: rendered when focus_depth_mm > 0.
  double focus_depth_mm = 0;
  double aperture_radius_mm = 0;  // A (mm)
  int bokeh_samples = ThinLens{}.samples;

  void validate() const;
};

struct SimulationTimings {
  double render_s = 0, sensor_s = 0, truth_s = 0, bokeh_s = 0;
};

struct Simulation {
  StereoRig rig;                // the true rig
  double near_mm = 0, far_mm = 0;  // the scene's depth range used
  cv::Mat mono;                 // CV_8UC1, what the mono camera writes
  cv::Mat color;                // CV_8UC3, what the colour camera writes (noisy, demosaiced)
  cv::Mat clean_color_at_color;  // CV_32FC3 linear: the truth for fusion at the colour view
  cv::Mat clean_color_at_mono;   // CV_32FC3 linear: the same at the mono view
  cv::Mat depth_mono, depth_color;          // CV_32F mm, NaN = nothing seen
  cv::Mat disparity_mono, disparity_color;  // CV_32F, engine/disparity.hpp (each view's own px), NaN = none
  cv::Mat canonical_disparity_mono, canonical_disparity_color;  // CV_32F canonical rectified px, NaN = none
  bool ideal_rectified = false;
  cv::Mat bokeh;                // CV_32FC3 linear defocused colour view; empty unless asked for
  RawFrame mono_raw, color_raw;  // the sensors' frames (SimulateOptions::raw); empty samples otherwise
  SimulationTimings timings;
};

// The rig the options describe (validated).
StereoRig simulation_rig(const SimulateOptions& options);

// The scene simulate() renders for these options, and its depth range (near_mm, far_mm after
// the defaults are resolved against the rig).
Scene simulation_scene(const SimulateOptions& options, double* near_mm = nullptr, double* far_mm = nullptr);

// Bokeh truth for a simulated scene at the colour camera's view, in linear light (times the
// colour camera's exposure): what `dualcam eval --protocol bokeh` compares a depth-based bokeh
// with, for any focus and aperture, without re-rendering the pair.
cv::Mat simulation_bokeh_truth(const SimulateOptions& options, const ThinLens& lens);

// Disparity in canonical rectified pixels (f_rect * B / z_rect) of each pixel's surface point,
// for `world_points` (CV_32FC3, world = mono frame, NaN = nothing seen) taken to the view's
// rectified frame by rect_from_world * X + t_rect. NaN where nothing is seen.
cv::Mat canonical_disparity(const cv::Mat& world_points, const cv::Matx33d& rect_from_world, const cv::Vec3d& t_rect,
                            const RectifyGeometry& geometry);

// True when the rig is rectified and ideal: R = I, no distortion, identical K and size, baseline
// along x only. Then the disparity (engine/disparity.hpp) is the plain f*B/Z.
bool is_ideal_rectified(const StereoRig& rig);

// `progress` (optional) advances once per stage: mono render, colour render, sensors, truth,
// and the bokeh truth when asked for.
Simulation simulate(const SimulateOptions& options, Progress* progress = nullptr);
// The number of stages simulate() reports to its Progress.
int simulation_stages(const SimulateOptions& options);

// The files write_simulation writes for `sim` (names only).
std::vector<std::string> simulation_file_names(const Simulation& sim);
// Writes into `dir` (which must exist): mono.png, color.png, rig.yaml, truth_color.png,
// truth_mono_view.png (clean colour, 8-bit sRGB), depth_mono.pfm, depth_color.pfm (mm),
// disparity_mono.pfm, disparity_color.pfm (engine/disparity.hpp), bokeh_truth.png (when rendered).
void write_simulation(const Simulation& sim, const std::string& dir);

}  // namespace dualcam::datasets
