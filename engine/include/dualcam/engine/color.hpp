#pragma once
// Colour conventions: internal images are CV_32F, linear light in [0,1], channel order BGR
// (OpenCV's). sRGB encoding is applied only at the I/O boundary.
#include <cstdint>

#include <opencv2/core.hpp>

namespace dualcam {

// The standard sRGB transfer curve (IEC 61966-2-1) for one value in [0,1].
float srgb_to_linear(float v);
float linear_to_srgb(float v);

// 8/16-bit sRGB-encoded image -> CV_32F linear light in [0,1], same channel count.
cv::Mat to_linear(const cv::Mat& encoded);
// The same as 3 channels (a grey image is repeated in B, G and R): what bokeh and the merge take.
cv::Mat to_linear_bgr(const cv::Mat& encoded);
// CV_32F linear light -> sRGB-encoded CV_8U (clipped to [0,1], rounded to nearest).
cv::Mat to_srgb8(const cv::Mat& linear);
// CV_32F linear light -> sRGB-encoded CV_16U.
cv::Mat to_srgb16(const cv::Mat& linear);
// n linear values -> their sRGB codes, exactly as to_srgb8 / to_srgb16 give them: for a pass that
// makes its linear values a row at a time and encodes them at once (finish_image).
void to_srgb_values(const float* linear, std::uint8_t* out, int n);
void to_srgb_values(const float* linear, std::uint16_t* out, int n);
// CV_32F linear light -> sRGB-encoded at `depth` (CV_8U or CV_16U): an output takes the colour
// camera's bit depth (inputs.hpp).
cv::Mat to_srgb(const cv::Mat& linear, int depth);

// Rec. 709 / sRGB relative luminance of a linear BGR image: CV_32FC1.
cv::Mat luminance(const cv::Mat& linear_bgr);

}  // namespace dualcam
