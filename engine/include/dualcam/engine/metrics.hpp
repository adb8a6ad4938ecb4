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

// Root mean square difference of the chroma of two 8-bit BGR images over `mask`'s non-zero
// pixels (all when empty), in 8-bit levels: Cb = 0.564 (B - Y), Cr = 0.713 (R - Y) with Rec. 601
// Y on the stored (sRGB) values. A wrong hue costs here whatever the luminance does; grey against
// a colour costs that colour's chroma. NaN when the mask selects nothing.
double chroma_rms8(const cv::Mat& a, const cv::Mat& b, const cv::Mat& mask = cv::Mat());

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

// No-reference figures for real captures, where there is no clean image to compare with
// (docs/evaluation.md#real-captures). All take 8-bit images.
//
// The flat areas of a scene, from a guide of it (8-bit, e.g. the mono at the view, which sees
// more light): the 16x16 blocks whose guide, blurred with a Gaussian of sigma 3, varies least
// (the lowest `share` of blocks by standard deviation), whose fine texture (the energy of the
// guide's high-pass) is at most the median block's, and whose mean level is in 6..249 (neither
// black nor clipped). CV_8UC1, 255 = flat.
cv::Mat flat_area_mask(const cv::Mat& guide, double share = 0.2);
// Noise in flat areas: the standard deviation of the high-pass (the image minus its Gaussian blur
// of sigma 1.5) over `mask`, in 8-bit levels, averaged over the channels. What a viewer sees as
// grain; the scene's own texture there is small by construction of the mask.
double flat_area_noise(const cv::Mat& image, const cv::Mat& mask);
// Detail shared with a guide: the correlation of the band-pass luminance (difference of Gaussians
// of sigma 1 and 3) of `image` with the guide's, over mask != 0 (empty = all), in [-1, 1]. Noise
// in either image and detail lost to blur both lower it; it does not need the guide to be clean,
// only independent noise.
double detail_correlation(const cv::Mat& image, const cv::Mat& guide, const cv::Mat& mask = cv::Mat());

}  // namespace dualcam
