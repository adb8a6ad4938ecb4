#pragma once
// Internal: the small pieces both merges (merge_color.cpp, merge_mono.cpp) and their fits
// (merge_fits.cpp) use. Private to fusion (not installed).
#include <cstddef>
#include <vector>

#include <opencv2/core.hpp>

#include "dualcam/fusion/noise.hpp"
#include "guided_rows.hpp"

namespace dualcam::fusion::detail {

// Throws Error(InvalidInput), naming `function` and the arguments, unless `three` is CV_32FC3,
// `one` CV_32FC1 and `valid` CV_8UC1, all of one non-empty size (an empty image would reach the
// fits with nothing to fit).
void check_merge_inputs(const char* function, const cv::Mat& three, const char* three_name, const cv::Mat& one,
                        const char* one_name, const cv::Mat& valid);

// The value std::nth_element(v.begin(), v.begin() + k, v.end()) puts at k, for finite values
// >= 0 (residual magnitudes): a radix select on the float bit patterns, which sort as the values
// do when the sign is clear. The histogram of the top 16 bits is counted in parallel (integer
// counts: the same for any thread count); the values of the bin that holds the k-th are then
// selected exactly.
float kth_nonneg(const std::vector<float>& v, std::size_t k);

// Binary mask -> soft weight that is 0 outside the mask and rises to 1 within `feather` px: the
// mask eroded by an elliptic element of diameter 2 feather + 1 (outside the image counts as
// inside the mask), box-averaged over the same size (borders reflected, 101), times the mask:
// what cv::erode + cv::blur + a product give, in one parallel pass over bands of rows.
cv::Mat feathered(const cv::Mat& mask, int feather);

// Applies a one-channel GuidedRows to every row of `src` (of the rows' size).
cv::Mat apply_rows(const GuidedRows& rows, const cv::Mat& src);

// A one-channel linear image (CV_32F) denoised by a self-guided filter (guide = source, He et al.
// 2010) in its fast form: coefficients fitted at half resolution over windows of radius/2, eps at
// each window = `scale` x the image's measured noise variance there (`model`, one channel, at
// scale 1: 2x2 means), applied to the full-resolution image. A window whose variance is within
// that of noise is flattened, an edge kept. What both merges do to a noisy mono.
GuidedRows self_denoiser(const cv::Mat& image, const NoiseModel& model, int radius, double scale);

}  // namespace dualcam::fusion::detail
