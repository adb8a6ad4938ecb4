#pragma once
// The warp stage: the other camera's image brought into the reference camera's own pixel grid
// by the canonical disparity of the reference view. The reference image is never resampled.
#include <opencv2/core.hpp>

#include "dualcam/fusion/rectify.hpp"
#include "dualcam/fusion/reference.hpp"

namespace dualcam::fusion {

// The warp stage of the pipeline. `other` is the other camera's image as it wrote it (sRGB
// 8/16-bit, 1 or 3 channels), or its linear signal (CV_32F, a raw frame's); `canonical_disparity` the reference view's disparity in the
// canonical frame. With a rectifier, reference pixel -> canonical coordinates -> shift by the
// disparity -> the other camera's pixel are composed as coordinate maps and the image is fetched
// once (bilinear): rectify + shift + un-rectify as three resamplings blurred fine texture
// measurably. Without one (a rectified pair) the canonical frame is the cameras' own and each row
// is decoded as it is warped (warp_encoded_by_disparity). Returns CV_32F linear light of the
// reference grid (0 where unknown); `valid` (CV_8U) marks the pixels whose disparity is known and
// whose source lies inside the other image.
cv::Mat warp_to_reference(const cv::Mat& other, const Rectifier* rectifier, const cv::Mat& canonical_disparity,
                          Reference reference, cv::Mat* valid);

// Through a rectifier, on a linear (CV_32F) image of the other camera: see warp_to_reference.
cv::Mat warp_through_rig(const cv::Mat& other_linear, const Rectifier& rectifier, const cv::Mat& canonical_disparity,
                         Reference reference, cv::Mat* valid);

// out(x, y) = src(x + sign * d(x, y), y), bilinear. `sign` = -1 fetches the right (colour) view
// for a left (mono) disparity; +1 fetches the left view for a right disparity. `valid` (CV_8U)
// marks pixels with a known disparity whose source lies inside `src`. Invalid pixels are 0.
cv::Mat warp_by_disparity(const cv::Mat& src, const cv::Mat& disparity, int sign, cv::Mat* valid);

// The same for an sRGB-encoded 8- or 16-bit source (1 or 3 channels): equals
// warp_by_disparity(to_linear(src), ...) bit for bit, without the full-size linear copy (each
// row is decoded as it is warped). The result is CV_32F linear light.
cv::Mat warp_encoded_by_disparity(const cv::Mat& src, const cv::Mat& disparity, int sign, cv::Mat* valid);

}  // namespace dualcam::fusion
