#pragma once
// Internal: the joint weighted median of the disparity refinement (refine.hpp).
#include <opencv2/core.hpp>

namespace dualcam::fusion::detail {

// The weighted median that ximgproc::weightedMedianFilter defines (Zhang, Xu & Jia, CVPR 2014):
// each pixel takes the value where the weights of its (2 radius + 1)^2 window (clipped at the
// image's borders) split in half, the weight of a neighbour being exp(-d^2 / (2 sigma^2)) for
// the difference d of the 8-bit guide; the values are first quantised to at most 256 levels
// (the smallest error bound that needs no more, each level the median of the values it takes).
// Computed pixel by pixel, rows in parallel: the same result for any thread count, and the
// same as OpenCV's up to the rounding of the weight sums at exact ties.
// `src` CV_32F with finite values, `guide` CV_8UC1 of its size.
cv::Mat weighted_median_filter(const cv::Mat& guide, const cv::Mat& src, int radius, double sigma);

}  // namespace dualcam::fusion::detail
