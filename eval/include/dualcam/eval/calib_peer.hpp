#pragma once
// The calibration peer (docs/evaluation.md#peer-calib): what a user would run from OpenCV instead
// of dualcam's calibration, scored by the calibration protocols (calib_eval.hpp) with the same
// figures.
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "dualcam/calibration/board.hpp"
#include "dualcam/calibration/stereo_calibrate.hpp"
#include "dualcam/engine/rig.hpp"

namespace dualcam::eval {

using calibration::BoardSpec;
using calibration::Detection;
using calibration::StereoView;

// findChessboardCorners + cornerSubPix 5x5 detection (chessboard only), calibrateCamera per
// camera, then stereoCalibrate with the intrinsics refined (5-parameter distortion).
Detection detect_board_peer(const cv::Mat& image, const BoardSpec& spec);
struct PeerResult {
  StereoRig rig;
  std::vector<StereoView> used;      // the views it used
  double rms_px = 0;
  double row_error_px = 0;
  int views_used = 0;
  std::vector<std::string> skipped;  // names of the views without the board in both cameras
};
PeerResult calibrate_stereo_peer(const std::vector<StereoView>& views, const BoardSpec& board, cv::Size mono_size,
                                 cv::Size color_size);

}  // namespace dualcam::eval
