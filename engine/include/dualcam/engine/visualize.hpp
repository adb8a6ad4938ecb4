#pragma once
// Pictures for people: colour-mapped disparity, weight maps.
#include <utility>

#include <opencv2/core.hpp>

namespace dualcam {

// Disparity (CV_32F, NaN = unknown) -> CV_8UC3 with the Turbo colour map, near = warm; unknown
// pixels black. The range is [lo, hi]; when hi <= lo it is taken from the 1st and 99th
// percentiles of the known values.
cv::Mat colorize_disparity(const cv::Mat& disparity, float lo = 0, float hi = 0);

// The range colorize_disparity takes by default: the 1st and 99th percentiles of the known values
// (of every other row and column), hi > lo; {0, 1} when nothing is known. Pass one view's range
// to colour several views on the same scale.
std::pair<float, float> disparity_display_range(const cv::Mat& disparity);

// Values in [0,1] (CV_32F) -> CV_8UC1.
cv::Mat weight_to_u8(const cv::Mat& weight);

// Matcher confidence (CV_32F in [0,1], 0 or NaN = unknown) -> CV_8UC3 with the Viridis colour
// map on the fixed range [0,1]: dark blue = doubtful, green = fair, yellow = confident; unknown
// pixels (occluded, rejected, outside the other view) black.
cv::Mat colorize_confidence(const cv::Mat& confidence);

}  // namespace dualcam
