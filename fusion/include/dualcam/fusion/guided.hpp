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

// The same with a colour guide (He et al.'s colour-guided filter): guide and src CV_32FC3 of one
// size; each of the source's channels is fitted as an affine function of all three guide channels,
// a = (Sigma + eps U)^-1 cov(I, p) per window (edges that only the guide's colour shows stop the
// smoothing, where a one-channel guide would let it cross). Not cv::ximgproc::guidedFilter with a
// 3-channel guide, which computes something else (tests/fusion/test_guided.cpp).
cv::Mat guided_filter_color(const cv::Mat& guide, const cv::Mat& src, int radius, double eps, int subsample = 1);

}  // namespace dualcam::fusion
