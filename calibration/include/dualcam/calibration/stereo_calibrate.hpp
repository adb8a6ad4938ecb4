#pragma once
// Stereo calibration of a mono + colour module from board views.
//
// Pipeline (calibrate_stereo):
//   1. per-camera initialisation with cv::calibrateCamera (5-parameter distortion) on the views
//      where the board was found in both cameras, and the colour_from_mono transform as the
//      median of the per-view relative poses;
//   2. ONE joint Ceres problem over both cameras' intrinsics (fx fy cx cy k1 k2 p1 p2 k3; any can
//      be fixed), the extrinsics color_from_mono (R, T: X_color = R X_mono + T, engine/rig.hpp)
//      and every board pose (mono_from_board), with a Huber loss;
//   3. outlier rejection: corners whose residual exceeds `outlier_sigmas` robust standard
//      deviations, each with its reason; a pair whose rectified row error is far above the others
//      (its two images disagree: the board moved between them) keeps its corners but gets a board
//      pose per camera, so it constrains both cameras' intrinsics and not the extrinsics; re-solve.
//      (drop_outlier_views: such pairs, and views whose RMS is far above the others, are dropped
//      instead);
//   4. uncertainty: ceres::Covariance of the intrinsics and extrinsics scaled by the residual
//      variance (sum r^2 / (m - n)); the jackknife over views (see `jackknife`); the reported
//      1-sigma is the larger of the two; and the spread of the extrinsics between the odd and the
//      even views calibrated separately;
//   5. rectification (engine's rectify_geometry) and the mean absolute row error of the detected
//      corners after rectification.
// Lengths are in the board's unit (millimetres); pixels are in each camera's own image.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "dualcam/calibration/board.hpp"
#include "dualcam/calibration/stereo_views.hpp"
#include "dualcam/engine/rectify_geometry.hpp"
#include "dualcam/engine/rig.hpp"

namespace dualcam::calibration {

struct StereoCalibrationOptions {
  // Parameters held at their initial value, any of: fx fy cx cy k1 k2 p1 p2 k3, each for both
  // cameras, or prefixed "mono." / "color." for one camera (e.g. "k3", "color.p1").
  std::vector<std::string> fixed;
  int min_views = 4;              // fewest usable views (board found in both cameras), count
  int min_corners = 6;            // fewest corners per camera for a view to be used, count
  double huber_px = 1.0;          // Huber loss scale, pixels
  double outlier_sigmas = 5.0;    // a corner is an outlier beyond this many robust sigmas (of its camera)
  double outlier_floor_px = 0.3;  // ... and never below this residual, pixels
  // A view is an outlier when its RMS lies more than `view_outlier_sigmas` robust standard
  // deviations (1.4826 x the median absolute deviation of the view RMS values; 3.5 is
  // Iglewicz and Hoaglin's modified z-score rule) above the median view RMS, and also exceeds
  // `view_rms_factor` times the median and `view_rms_floor_px` (so near-equal views are kept).
  // Such views are typically pairs whose two images were not taken at the same instant, or
  // blurred ones. Set view_outlier_sigmas to 1000 to treat every pair as a stereo pair.
  double view_outlier_sigmas = 3.5;  // count
  // false: every pair with the board in both images is used; a pair far off in row error gets a
  // board pose per camera (intrinsics only), a high-RMS view keeps its inlier corners.
  // true: both kinds of view are dropped.
  bool drop_outlier_views = false;
  // A pair's row error counts as a disagreement only when it also exceeds this many times the
  // mean row error the pair's own corner residuals explain (noise alone gives about 1).
  double row_noise_factor = 1.5;  // times
  double view_rms_factor = 1.5;      // times the median view RMS
  double view_rms_floor_px = 0.05;   // pixels
  int max_rejection_rounds = 3;   // solve / reject rounds, count
  int max_iterations = 200;       // Ceres iterations per solve
  bool halves = true;             // also calibrate the odd and the even views separately
  // Also estimate the uncertainty by the jackknife over views (re-solving without each view in
  // turn) and report, per parameter, the larger of it and the covariance's: errors that are
  // correlated within a view (board flatness, detector bias, JPEG) make the covariance, which
  // assumes independent corners, too optimistic on real data.
  bool jackknife = true;
  RectifyOptions rectify;         // rectification written to the rig file
  void validate() const;
};

// 1-sigma uncertainties (already scaled by the residual variance).
struct CameraSigma {
  double fx = 0, fy = 0, cx = 0, cy = 0;  // pixels
  double dist[5] = {0, 0, 0, 0, 0};       // k1 k2 p1 p2 k3
};
struct RigSigma {
  CameraSigma mono, color;
  // The parts: from ceres::Covariance alone, and from the jackknife over views (zero when off).
  double covariance_rotation_deg = 0, covariance_baseline_mm = 0;
  double jackknife_rotation_deg = 0, jackknife_baseline_mm = 0;
  double rotation_deg = 0;   // sqrt(trace of the rotation-vector covariance), degrees
  double baseline_mm = 0;    // along T
  cv::Vec3d T_mm{0, 0, 0};   // per component
  cv::Matx66d extrinsics_cov = cv::Matx66d::zeros();  // angle-axis (rad) + T (mm)
};

struct ViewReport {
  std::string name;
  bool used = false;
  std::string reason;              // why not used
  bool stereo = false;             // used as a stereo pair (false: intrinsics only, see `note`)
  std::string note;                // why a used pair is intrinsics only
  int corners_mono = 0, corners_color = 0;     // corners used
  int rejected_mono = 0, rejected_color = 0;   // outlier corners removed
  double rms_mono_px = 0, rms_color_px = 0;    // final residual RMS of this view
  double row_error_px = 0;                     // mean rectified row error of this view's corners
  // Final residual vectors of the used corners (observed position, predicted - observed).
  std::vector<cv::Point2f> points_mono, residuals_mono, points_color, residuals_color;
};

struct HalvesReport {
  bool computed = false;
  std::string reason;                // why not computed
  int views_odd = 0, views_even = 0;
  double rotation_diff_deg = 0;      // angle of R_odd^T R_even
  double baseline_diff_mm = 0;       // |b_odd - b_even|
  double baseline_diff_pct = 0;      // of the full baseline
  double translation_diff_mm = 0;    // |T_odd - T_even|
  double translation_diff_pct = 0;   // of the full baseline
  double translation_sigma_mm = 0;   // 1-sigma of |T_odd - T_even|: sqrt(trace of both T covariances)
  double rotation_sigma_deg = 0;     // 1-sigma of the difference: sqrt(s_odd^2 + s_even^2)
  double baseline_sigma_mm = 0;
  bool within_3sigma = false;        // rotation, baseline and translation differences inside 3 sigma
};

struct StereoCalibrationResult {
  StereoRig rig;                     // with extras: rms_px, row_error_px, sigmas
  RectifyGeometry rectification;
  RigSigma sigma;
  double rms_px = 0;                 // sqrt(sum |r|^2 / corners), both cameras (as stereoCalibrate)
  double rms_mono_px = 0, rms_color_px = 0;
  // Mean |y_mono - y_color| of the inlier corners after rectification (row_error_rectify()), over
  // the pairs used as stereo pairs, and over every used pair (with the intrinsics-only pairs,
  // whose row error measures how far the board moved between their two images).
  double row_error_px = 0;
  double row_error_all_px = 0;
  double residual_sigma_px = 0;      // sqrt(sum r^2 / (m - n)): per-coordinate noise estimate
  int views_used = 0, views_total = 0;
  int views_stereo = 0;              // used views that also constrain the extrinsics
  int corners_used = 0, corners_rejected = 0;
  std::vector<ViewReport> views;
  HalvesReport halves;
  int iterations = 0;
  double solve_seconds = 0;
  nlohmann::json to_json() const;
  // The rig file's extra matrices: R1 R2 P1 P2 Q.
  RigMatrices rectification_matrices() const;
};

// Calibrates from the detections (build them with stereo_views.hpp); throws Error(Calibration)
// when fewer than min_views views are usable (naming how many and why), Error(InvalidInput) for
// bad options, image sizes or views that break StereoView's contract (check_stereo_views).
StereoCalibrationResult calibrate_stereo(const std::vector<StereoView>& views, const BoardSpec& board,
                                         cv::Size mono_size, cv::Size color_size,
                                         const StereoCalibrationOptions& options = {});

// The rectification the row error is measured in: stereoRectify's default scaling (alpha = -1), as
// the design's peer figures were measured (docs/evaluation.md#calib-real) (alpha = 1, the rig
// file's, gives smaller numbers because the rectified focal length is shorter).
RectifyOptions row_error_rectify();

// Mean absolute row difference (column difference for a vertical rig) of the corners seen by both
// cameras after rectification with `geometry`; `count` receives the number of corners.
// Error(InvalidInput) for an invalid rig (StereoRig::validate) or views that break StereoView's
// contract.
double rectified_row_error(const StereoRig& rig, const RectifyGeometry& geometry,
                           const std::vector<StereoView>& views, int* count = nullptr);

// The pass/fail verdict on a calibration (`dualcam calibrate --max-rms --max-row-error`, the
// Python module's calibrate): fail when the stereo RMS or the mean rectified row error exceeds its
// limit (0 = no limit). `failed` names each exceeded limit with both figures.
struct CalibrationVerdict {
  bool pass = true;
  std::vector<std::string> failed;
  double max_rms_px = 0, max_row_error_px = 0;
  nlohmann::json to_json() const;  // {"pass", "failed", "max_rms_px", "max_row_error_px"}
};
CalibrationVerdict calibration_verdict(const StereoCalibrationResult& result, double max_rms_px,
                                       double max_row_error_px);

}  // namespace dualcam::calibration
