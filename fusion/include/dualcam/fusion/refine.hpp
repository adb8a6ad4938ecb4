#pragma once
// Disparity clean-up after matching, and the way back from the working scale to full resolution.
#include <opencv2/core.hpp>

namespace dualcam::fusion {

// Fills unknown (NaN) pixels row by row from the nearer valid neighbour on the BACKGROUND side
// (the smaller of the two disparities on the left and right): occlusions belong to the farther
// surface. Rows with no valid pixel stay NaN.
void fill_holes_background(cv::Mat& disparity);

// 5x5 median that ignores nothing: call after fill_holes_background. NaN pixels stay NaN.
void median_5x5(cv::Mat& disparity);

// Fills every unknown (NaN) pixel from the nearest known pixels along 8 directions (Hirschmueller,
// PAMI 2008, section 4.3): pixels marked in `occlusion` (CV_8U, may be empty) take the second
// smallest of the found values (the background: occluded pixels belong to the farther surface,
// and the smallest alone is often an outlier), the others (mismatches) the median. Searches up to
// `max_search` px per direction; pixels with nothing found stay NaN.
void fill_holes_directional(cv::Mat& disparity, const cv::Mat& occlusion, int max_search = 256);

struct UpsampleOptions {
  double sigma_spatial = 1.0;  // Gaussian spatial weight, px of the LOW-resolution map
  double sigma_range = 12.0;   // Gaussian weight on the guide's grey-level difference (8-bit units)
  int radius = 2;              // low-resolution neighbours taken on each side, px
  void validate() const;
};

// Weighted median of a CV_32F disparity with weights from the guide (CV_8UC1, same size)
// (ximgproc::weightedMedianFilter, Zhang et al. CVPR 2014): removes streaks and moves
// disparity edges onto image edges. NaN pixels stay NaN.
void weighted_median(cv::Mat& disparity, const cv::Mat& guide, int radius, double sigma);

// Clean-up and upsampling of the census/SGM disparity (fuse pipeline).
struct RefineOptions {
  int median_radius = 7;      // weighted median window radius, px at working scale; 0 = plain 5x5 median
  double median_sigma = 25;   // its range weight, 8-bit grey levels
  UpsampleOptions upsample;   // working scale -> full resolution
  void validate() const;
};

// Joint bilateral upsampling (Kopf et al., SIGGRAPH 2007): each full-resolution pixel averages
// the low-resolution disparities around it, weighted by distance and by how close the guide's
// grey level at the low-resolution sample is to its own, so disparity edges follow the image's
// edges. `low` CV_32F (NaN = unknown, ignored), `guide_low` / `guide` CV_8UC1 at the low and the
// full resolution. Disparities are multiplied by the width ratio. Deterministic for any thread count.
cv::Mat upsample_disparity(const cv::Mat& low, const cv::Mat& guide_low, const cv::Mat& guide,
                           const UpsampleOptions& options = {});

}  // namespace dualcam::fusion
