#pragma once
// Pictures for people: colour-mapped disparity, weight maps.
#include <opencv2/core.hpp>

namespace dualcam {

// Disparity (CV_32F, NaN = unknown) -> CV_8UC3 with the Turbo colour map, near = warm; unknown
// pixels black. The range is [lo, hi]; when hi <= lo it is taken from the 1st and 99th
// percentiles of the known values.
cv::Mat colorize_disparity(const cv::Mat& disparity, float lo = 0, float hi = 0);

// Values in [0,1] (CV_32F) -> CV_8UC1.
cv::Mat weight_to_u8(const cv::Mat& weight);

}  // namespace dualcam
