#pragma once
// Self-rectification: the alignment of a colour + mono pair estimated from the pair itself.
//
//  - Without a rig (`--rig auto`, self_rectify): features that survive the spectral difference
//    (AKAZE on CLAHE-equalised grey views, ratio test + mutual check), each match re-positioned by normalised
//    cross-correlation of a large patch with the colour view pre-warped onto the mono by a coarse
//    homography (the keypoints of noisy low-light views are off by 1-2 px, the patches by ~0.2 px);
//    a fundamental matrix and a homography fitted robustly (USAC MAGSAC++); then
//      * "fundamental": a quasi-Euclidean rectification (Fusiello & Irsara 2011): each camera is a
//        rotation of itself with the principal point at the image centre and one unknown focal
//        length (the colour's a free multiple of the mono's: different resolutions and fields of
//        view), fitted by Levenberg-Marquardt on the Sampson error of the rectified epipolar
//        geometry, with a weak prior towards no rotation (minimal distortion, and the directions
//        the matches do not constrain stay put). The baseline may point any way: the fit is tried
//        with the rows along the images' rows and along their columns (a quarter turn), the
//        better is kept, and a half turn makes the mono the left view;
//      * "homography": when the baseline's direction is not measurable (a distant or flat scene:
//        both directions fit within direction_min_px), the colour view is mapped onto the mono by
//        the homography; disparities are then parallax relative to that plane.
//    The rows of the inlier matches after rectification give the row error (rms, p95) reported.
//  - With a rig that has drifted (a module after a drop or heat): ORB features on the
//    rig-rectified pair measure the residual row error; when it is above a threshold, an affine
//    correction of the colour rows is fitted and applied (Rectifier::correct_color).
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "dualcam/engine/report.hpp"

namespace dualcam::fusion {

struct SelfRectifyOptions {
  // The drift check of a rig (check_drift, match_features): ORB.
  int max_features = 6000;         // features per view (ORB for the drift check, AKAZE without a rig)
  double max_side_px = 1600;       // features are detected on views downscaled to this longer side, px
  double ratio = 0.8;              // Lowe's ratio test of the drift check's ORB matches
  double ransac_threshold_px = 1.0;  // inlier distance to the epipolar line, px (full resolution)
  int min_inliers = 20;            // fewer inlier matches than this: the pair cannot be aligned
  double refine_threshold_px = 0.3;  // a rig is corrected when the median |row error| exceeds this, px
  // Without a rig (self_rectify).
  double auto_ratio = 0.9;         // ratio test of the AKAZE matches (with a mutual check)
  int patch_px = 49;               // side of the correlation patch that re-positions a match (feature scale)
  double min_correlation = 0.5;    // a match whose patch correlates less than this is dropped
  double prior_px_per_rad = 1.0;   // the rotation prior: a rotation of t rad costs as much as t * this px of Sampson error per match
  double max_row_error_px = 2.0;   // refuse when the inliers' rms row error after rectification exceeds this, px
  // Refuse when a view's rectification scales it this many times more at one corner than at
  // another (a rotation of 10 degrees across a 60 degree view: 1.6; a wrong geometry: far more).
  double max_distortion = 1.6;
  // The baseline's direction counts as measured when rectifying along the other direction would
  // leave at least this much more rms Sampson error (sqrt of the difference of the mean squares),
  // px; otherwise the scene shows no parallax that matters and the homography is used.
  double direction_min_px = 0.2;
  void validate() const;
};

// Feature matches between two grey 8-bit views, in full-resolution pixels.
struct FeatureMatches {
  std::vector<cv::Point2f> a, b;
};
// ORB matches (the drift check's). With max_row_px > 0 a feature of `a` is compared only with the
// features of `b` within that many rows of it (full-resolution px; the ratio test among those):
// views that are rectified, or nearly, match on their rows.
FeatureMatches match_features(const cv::Mat& a8, const cv::Mat& b8, const SelfRectifyOptions& options,
                              double max_row_px = 0);

// Row error of matches between two views that should be rectified (|y_a - y_b|).
struct RowError {
  int matches = 0;
  double mean_abs_px = 0, median_abs_px = 0, rms_px = 0, p95_abs_px = 0;
};
RowError row_error(const FeatureMatches& m);

// Correction of the colour (b) view so that its rows meet the mono (a) rows: y_a - y_b = c0 + c1 x_b
// + c2 y_b fitted (iteratively reweighted, Huber), applied as the similarity [1+c2, -c1, 0; c1,
// 1+c2, c0] (a small rotation and scale of the colour camera plus a row shift). 3x3, b px -> b px.
// The rotation and scale are about `centre` (b px; the image centre: a module turns about its axis).
cv::Matx33d fit_row_correction(const FeatureMatches& m, const cv::Point2d& centre);

// The drift check of a rig-rectified pair (`left8` mono, `right8` colour, CV_8UC1, canonical
// frame): feature matches on nearly the same row (|dy| < 20 px; others are mismatches) give the
// rows' residual error; when its median is above options.refine_threshold_px (a module that moved
// since it was calibrated, after a drop or heat) and enough matches support it, an affine
// correction of the colour rows is fitted (fit_row_correction about the canonical centre), to be
// applied with Rectifier::correct_color.
struct DriftCheck {
  RowError before;            // row error on the rig-rectified pair
  bool corrected = false;     // a correction was fitted
  RowError after;             // row error of the same matches after the correction (when corrected)
  cv::Matx33d correction = cv::Matx33d::eye();  // canonical colour px -> canonical colour px
  Json to_json() const;
};
DriftCheck check_drift(const cv::Mat& left8, const cv::Mat& right8, const SelfRectifyOptions& options);

struct SelfRectification {
  cv::Matx33d mono_to_canonical, color_to_canonical;  // homographies, original px -> canonical px
  cv::Size canonical_size;
  std::string model;     // "fundamental" (quasi-Euclidean rectification) or "homography"
  std::string baseline;  // where the colour camera is seen from the mono: "right", "left", "above", "below"
  int matches = 0;       // AKAZE matches (ratio test + mutual check)
  int refined = 0;       // of those, consistent with a loose epipolar fit and re-positioned by correlation
  int inliers = 0;       // of those, inliers of the model
  RowError rows;         // inlier rows after rectification (|y_mono - y_colour|, canonical px)
  // The quasi-Euclidean fit ("fundamental"): focal length of the mono (px), colour focal / mono
  // focal, each camera's rotation (degrees about x = the baseline, y, z = the optical axis; the
  // turn to the canonical frame aside).
  double focal_px = 0, focal_ratio = 1;
  cv::Vec3d mono_rotation_deg{0, 0, 0}, color_rotation_deg{0, 0, 0};
  // The two direction fits (rows along the images' rows / along their columns): mean squared
  // Sampson error plus the prior's share per match, px^2. Their difference decides the model.
  double cost_rows = 0, cost_columns = 0;
  double min_disparity_px = 0, max_disparity_px = 0;  // 5th / 95th percentile of the inliers, canonical
  // The colour view was shifted by this along the rows so that the disparities start near 0:
  // canonical disparity + this = disparity of the unshifted pair.
  double disparity_offset_px = 0;
  Json to_json() const;
};

// Estimates the rectification of a mono (CV_8UC1) + colour grey (CV_8UC1) pair without a rig.
// Throws Error(Numerical) naming what it measured (matches, inliers, row error) when the pair
// cannot be aligned.
SelfRectification self_rectify(const cv::Mat& mono8, const cv::Mat& color8, const SelfRectifyOptions& options = {});

}  // namespace dualcam::fusion
