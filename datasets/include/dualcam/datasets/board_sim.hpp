#pragma once
// Simulated calibration sets: a random phone-like mono + colour rig and board views seen by both
// cameras through it, with blur and the sensor noise of sensor.hpp (mono: panchromatic noise;
// colour: shot + read noise, RGGB mosaic and bilinear demosaic). The ground truth is the rig and
// each board pose, so a calibration can be scored against it (docs/evaluation.md#calib-synthetic).
//
// Frames: world = mono camera frame; a board pose is mono_from_board (X_mono = R X_board + t, mm).
#include <cstdint>
#include <vector>

#include <opencv2/core.hpp>

#include "dualcam/calibration/board.hpp"
#include "dualcam/engine/rig.hpp"

namespace dualcam::datasets {

struct BoardSetOptions {
  int views = 20;                       // board poses, count
  cv::Size mono_size{960, 720};        // mono sensor, pixels
  cv::Size color_size{720, 540};        // colour sensor, pixels
  double baseline_min_mm = 10.0;        // phone-like baseline range, mm
  double baseline_max_mm = 15.0;
  double max_rig_rotation_deg = 1.5;    // colour camera's rotation against the mono, degrees
  double fov_min_deg = 60.0;            // horizontal field of view range of each camera, degrees
  double fov_max_deg = 75.0;
  double max_k1 = 0.15;                 // |k1| bound of the random distortion
  double fill_min = 0.35;               // board width as a share of the mono image width, near/far
  double fill_max = 0.85;
  double max_tilt_deg = 45.0;           // board tilt against the image plane, degrees
  double max_roll_deg = 30.0;           // in-plane rotation, degrees
  double outside_share = 0.15;          // share of views pushed partly out of the frame
  double blur_min_px = 0.4;             // Gaussian blur sigma range (defocus), pixels
  double blur_max_px = 1.1;
  bool noise = true;                    // sensor noise (and the colour camera's mosaic)
  int supersample = 2;                  // anti-aliasing samples per pixel axis, count
  void validate() const;
};

struct BoardSetView {
  cv::Mat mono;               // CV_8UC1 sRGB-encoded
  cv::Mat color;              // CV_8UC3 sRGB-encoded BGR
  cv::Matx33d R_mono_from_board = cv::Matx33d::eye();
  cv::Vec3d t_mono_from_board{0, 0, 0};
};

// A random rig: different resolutions, focal lengths, principal points, distortion, a baseline
// of baseline_min..max mm mostly along +x (colour right of mono) and a small rotation.
StereoRig random_rig(std::uint32_t seed, const BoardSetOptions& options = {});

// Renders `options.views` random board poses seen by both cameras of `rig`. Deterministic for a
// seed; views run in parallel (identical for any thread count).
std::vector<BoardSetView> render_board_set(const StereoRig& rig, const calibration::BoardSpec& board,
                                           std::uint32_t seed, const BoardSetOptions& options = {});

}  // namespace dualcam::datasets
