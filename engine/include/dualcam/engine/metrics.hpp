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

// Everything a regression check or a person comparing two images wants to know.
struct ImageComparison {
  double psnr_db = 0;          // 8-bit PSNR (+inf when identical)
  double ssim = 0;             // mean SSIM
  int max_abs_diff = 0;        // largest per-channel difference, 8-bit units
  double differing_share = 0;  // share of pixels with any channel differing
};

// Compares two 8-bit images of the same size and channel count (16-bit inputs are reduced to
// 8 bits first). Throws Error(InvalidInput) when the sizes or channel counts differ.
ImageComparison compare_images(const cv::Mat& image, const cv::Mat& reference);

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
