#pragma once
// Guided filtering (He, Sun, Tang 2010) with the subsampled "fast guided filter" (He & Sun 2015):
// the local linear coefficients are computed on images reduced by `subsample`, then upsampled
// and applied to the full-resolution guide, so edges stay those of the full-resolution guide
// while the cost falls by about subsample^2.
#include <opencv2/core.hpp>

namespace dualcam::fusion {

// guide: CV_32FC1; src: CV_32FC1 or CV_32FC3 (each channel filtered with the same guide).
// radius in full-resolution pixels; eps in the guide's units squared; subsample >= 1.
cv::Mat guided_filter(const cv::Mat& guide, const cv::Mat& src, int radius, double eps, int subsample = 1);

}  // namespace dualcam::fusion
