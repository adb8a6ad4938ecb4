#pragma once
// Self-rectification: the alignment of a colour + mono pair estimated from the pair itself.
//
//  - Without a rig (`--rig auto`): ORB features on both views, ratio-tested Hamming matches, a
//    fundamental matrix fitted robustly (USAC MAGSAC++), Hartley's uncalibrated rectification
//    (transposed for a vertical baseline, mirrored when the colour view is left of or above the
//    mono view), then the colour view is rotated, scaled and shifted so that its rows meet the
//    mono rows (modules are built nearly rectified; the mono view stays untouched). Only when
//    that leaves row errors above 1 px are both views rectified by Hartley's homographies
//    (cv::stereoRectifyUncalibrated). Last, the colour view is shifted along the rows so that
//    the disparities of the matched features are positive.
//  - With a rig that has drifted (a module after a drop or heat): the same features on the
//    rig-rectified pair measure the residual row error; when it is above a threshold, an affine
//    correction of the colour rows is fitted and applied (Rectifier::correct_color).
// Both report the residual row error after rectification.
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "dualcam/engine/report.hpp"

namespace dualcam::fusion {

struct SelfRectifyOptions {
  int max_features = 6000;         // ORB features per view
  double max_side_px = 1600;       // features are detected on views downscaled to this longer side, px
  double ratio = 0.8;              // Lowe's ratio test on the two nearest Hamming matches
  double ransac_threshold_px = 1.0;  // inlier distance to the epipolar line, px (full resolution)
  int min_inliers = 20;            // fewer inlier matches than this: the pair cannot be aligned
  double refine_threshold_px = 0.3;  // a rig is corrected when the median |row error| exceeds this, px
  void validate() const;
};

// Feature matches between two grey 8-bit views, in full-resolution pixels.
struct FeatureMatches {
  std::vector<cv::Point2f> a, b;
};
FeatureMatches match_features(const cv::Mat& a8, const cv::Mat& b8, const SelfRectifyOptions& options);

// Row error of matches between two views that should be rectified (|y_a - y_b|).
struct RowError {
  int matches = 0;
  double mean_abs_px = 0, median_abs_px = 0, rms_px = 0;
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
  int matches = 0, inliers = 0;
  std::string method;  // "similarity" (colour view moved only) or "hartley" (both views, homographies)
  RowError before;  // of the inlier matches after the first fit
  RowError after;   // after the canonical-frame adjustments and the row correction
  double min_disparity_px = 0, max_disparity_px = 0;  // 5th / 95th percentile of the inliers, canonical
  // The colour view was shifted by this along the rows to make disparities positive: canonical
  // disparity + this = disparity of the unshifted pair.
  double disparity_offset_px = 0;
  Json to_json() const;
};

// Estimates the rectification of a mono (CV_8UC1) + colour grey (CV_8UC1) pair without a rig.
// Throws Error(Numerical) when too few matches support a fundamental matrix.
SelfRectification self_rectify(const cv::Mat& mono8, const cv::Mat& color8, const SelfRectifyOptions& options = {});

}  // namespace dualcam::fusion
