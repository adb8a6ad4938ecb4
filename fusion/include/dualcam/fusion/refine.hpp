#pragma once
// The refine stage: disparity clean-up after matching (hole filling, edge-aware median), the way
// back from the working scale to full resolution, and the edge snap of a disparity at a view.
// Every hole fill of dualcam lives here (the pipeline's, bokeh's, the peers').
#include <limits>

#include <opencv2/core.hpp>

#include "dualcam/fusion/match.hpp"

namespace dualcam::fusion {

// Fills unknown (NaN) pixels row by row from the nearer valid neighbour on the BACKGROUND side
// (the smaller of the two disparities on the left and right): occlusions belong to the farther
// surface. Rows with no valid pixel get `fallback` (NaN by default: they stay unknown).
void fill_holes_background(cv::Mat& disparity, float fallback = std::numeric_limits<float>::quiet_NaN());

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

// Clean-up and upsampling of the matcher's disparity (the fuse pipeline's refine stage).
struct RefineOptions {
  // Fill unknown disparities after matching: census: occlusions from the background side and
  // mismatches by the median of their neighbours (8 directions), then a weighted median guided by
  // the reference image; sgbm: the peer's row-wise background fill + 5x5 median.
  bool fill_holes = true;
  int median_radius = 7;      // weighted median window radius, px at working scale; 0 = plain 5x5 median
  double median_sigma = 25;   // its range weight, 8-bit grey levels
  UpsampleOptions upsample;   // working scale -> full resolution
  // At the reference view, after the way back from the canonical frame: the disparity's edges
  // snapped onto the output image's (refine_view_disparity), window radius px; 0 = off. fuse
  // and depth leave it off; bokeh_from_pair turns it on (7), which gains 1-3 dB at depth edges
  // and ~9 dB in focus on the bokeh protocol (docs/bokeh.md).
  int edge_snap_radius = 0;
  void validate() const;
};

// The refine stage's output: the reference view's disparity in the canonical frame at full
// resolution, with the matcher's confidence and occlusion brought to the same grid.
struct RefinedDisparity {
  cv::Mat disparity;   // CV_32F canonical px, NaN = unknown (only where filling found nothing)
  cv::Mat confidence;  // CV_32F [0,1] (MatchResult), nearest-upsampled
  cv::Mat occlusion;   // CV_8U 255 = occluded (MatchResult), nearest-upsampled
};

// The refine stage of the pipeline. `match` is the disparity of the reference view at the
// working scale, `guide_low` the reference view's grey image there (CV_8UC1) and `guide` at full
// resolution (the same image when the working scale is 1). Holes filled as RefineOptions says,
// then (when the working scale is reduced) joint bilateral upsampling guided by `guide`.
RefinedDisparity refine_disparity(const MatchResult& match, const cv::Mat& guide_low, const cv::Mat& guide,
                                  MatcherKind matcher, const RefineOptions& options);

// A disparity at a view made fit for depth effects: unknown values filled (fill_holes_background,
// with the median known value as fallback), then a joint weighted median guided by the image (7x7
// samples over a window of about radius_px, weighted by colour similarity), so that depth edges
// follow image edges. `disparity` CV_32F (engine/disparity.hpp), `image_linear` CV_32FC3 of its
// size. radius_px 0 = fill only. Throws Error(InvalidInput) when no disparity is known.
cv::Mat refine_view_disparity(const cv::Mat& disparity, const cv::Mat& image_linear, int radius_px);

// Joint bilateral upsampling (Kopf et al., SIGGRAPH 2007): each full-resolution pixel averages
// the low-resolution disparities around it, weighted by distance and by how close the guide's
// grey level at the low-resolution sample is to its own, so disparity edges follow the image's
// edges. `low` CV_32F (NaN = unknown, ignored), `guide_low` / `guide` CV_8UC1 at the low and the
// full resolution. Disparities are multiplied by the width ratio. Deterministic for any thread count.
cv::Mat upsample_disparity(const cv::Mat& low, const cv::Mat& guide_low, const cv::Mat& guide,
                           const UpsampleOptions& options = {});

}  // namespace dualcam::fusion
