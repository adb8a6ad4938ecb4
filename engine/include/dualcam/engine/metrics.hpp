#pragma once
// Image and disparity quality metrics shared by tests, eval and regress.
#include <opencv2/core.hpp>

namespace dualcam {

// PSNR in dB between two 8-bit images (any channel count) over the pixels where mask != 0
// (empty mask = all). Identical images give +inf.
double psnr8(const cv::Mat& a, const cv::Mat& b, const cv::Mat& mask = cv::Mat());

// Mean SSIM (Wang et al. 2004, 11x11 Gaussian window, sigma 1.5) of two 8-bit images, averaged
// over channels.
double ssim8(const cv::Mat& a, const cv::Mat& b);

struct DisparityErrors {
  double bad1 = 0;     // share of evaluated pixels unknown or off by > 1 px
  double bad2 = 0;     // ... by > 2 px
  double mae_px = 0;   // mean absolute error over evaluated pixels with a known estimate
  long long evaluated = 0;
};

// Compares an estimated disparity (CV_32F, NaN = unknown) with the truth (CV_32F, NaN or <= 0 =
// unknown) over pixels where the truth is known and mask != 0 (empty mask = all).
DisparityErrors disparity_errors(const cv::Mat& estimate, const cv::Mat& truth, const cv::Mat& mask = cv::Mat());

}  // namespace dualcam
