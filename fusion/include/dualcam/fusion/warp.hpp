#pragma once
// Warping one canonical view into the other by a disparity map.
#include <opencv2/core.hpp>

namespace dualcam::fusion {

// out(x, y) = src(x + sign * d(x, y), y), bilinear. `sign` = -1 fetches the right (colour) view
// for a left (mono) disparity; +1 fetches the left view for a right disparity. `valid` (CV_8U)
// marks pixels with a known disparity whose source lies inside `src`. Invalid pixels are 0.
cv::Mat warp_by_disparity(const cv::Mat& src, const cv::Mat& disparity, int sign, cv::Mat* valid);

// The same for an sRGB-encoded 8- or 16-bit source (1 or 3 channels): equals
// warp_by_disparity(to_linear(src), ...) bit for bit, without the full-size linear copy (each
// row is decoded as it is warped). The result is CV_32F linear light.
cv::Mat warp_encoded_by_disparity(const cv::Mat& src, const cv::Mat& disparity, int sign, cv::Mat* valid);

}  // namespace dualcam::fusion
