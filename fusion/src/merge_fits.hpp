#pragma once
// Internal: the global fits of the two merges (merge_color.cpp, merge_mono.cpp) and the mono's
// clip detection they both start from. Private to fusion (not installed).
#include <vector>

#include <opencv2/core.hpp>

namespace dualcam::fusion::detail {

// The mono's clipping, estimated from the image itself. The candidate level is its largest value;
// it is a clip when the pixels within 0.5 % of it pile up: more of them per unit of level than
// 3x the density just below (the 5 % under it). 8-bit: the top code against the next eight. An
// image that is not clipped then marks nothing.
struct MonoClip {
  float level = 1;    // linear light
  double share = 0;   // share of clipped pixels (0: not clipped)
  cv::Mat clipped;    // CV_8U 255 on clipped pixels; empty when not clipped
};

MonoClip find_mono_clip(const cv::Mat& mono);

// `valid` without the pixels within `element` of a clipped one.
cv::Mat usable_mask(const cv::Mat& valid, const MonoClip& clip, const cv::Mat& element);

// Samples (luma, mono) of the pixels in `mask` on every fourth row and column, in row order (rows
// in parallel into their own slots, then packed). For a global fit that is plenty: 750 000
// samples at 12 MP (every second row and column gave the same dev-set means).
std::vector<cv::Vec2f> gather_fit_samples(const cv::Mat& mono, const cv::Mat& luma, const cv::Mat& mask);

// Least-squares fit mono = gain * luma + offset over `samples` (luma, mono), then refit on the
// samples whose residual is within 2.5 robust sigmas (misaligned pixels must not bend the fit).
// Sums and the median in parallel, deterministic for any thread count.
void fit_linear_samples(const std::vector<cv::Vec2f>& samples, double& gain, double& offset);

// Least-squares fit mono = gain * luma + offset over the pixels in `mask` (every fourth row and
// column), as fit_linear_samples.
void fit_linear(const cv::Mat& mono, const cv::Mat& luma, const cv::Mat& mask, double& gain, double& offset);

// The mono's spectral response (which sets the exposure ratio too): mono ~ a . bgr (B, G, R
// weights, no offset), fitted globally in linear light on `mono` and `bgr` (CV_32FC3, the warped
// colour) averaged over 4x4 blocks (single pixels when a side is below 64 px): averaging keeps a
// linear relation linear and takes the colour camera's noise out, and the reduced fit costs
// little at 12 MP. A block counts only when all of it is in `usable`. The fit is robust and
// non-negative (fit_response in merge_fits.cpp).
cv::Vec3d fit_mono_response(const cv::Mat& mono, const cv::Mat& bgr, const cv::Mat& usable);

}  // namespace dualcam::fusion::detail
