#pragma once
// Stereo matching in the canonical frame (left = mono, right = colour, left x matches right x - d).
// Interface + factory (STYLE habit 5): backends differ, callers do not.
#include <memory>

#include <opencv2/core.hpp>

namespace dualcam::fusion {

enum class MatcherKind {
  Sgbm,  // OpenCV StereoSGBM (3-way), the baseline every other matcher is measured against
};

struct MatchOptions {
  MatcherKind kind = MatcherKind::Sgbm;
  int max_disparity = 0;  // px; 0 = automatic (a quarter of the image width, rounded up to 16)
  int block_size = 5;     // px, odd
  int uniqueness = 10;    // percent margin of the best cost over the second best
  void validate() const;
  // The disparity range actually searched for an image of `width` pixels (a multiple of 16).
  int disparity_range(int width) const;
  // OpenCV StereoSGBM's remaining settings (SGBM backend only; the defaults are the engine's).
  int sgbm_disp12_max_diff = 1;  // px, left-right consistency tolerance; < 0 = no check
  int sgbm_pre_filter_cap = 0;   // clip of the x-derivative prefilter; 0 = OpenCV's default (15)
  int sgbm_speckle_window = 0;   // px, largest blob treated as a speckle; 0 = no speckle filter
  int sgbm_speckle_range = 0;    // px, disparity spread within one connected blob
};

class StereoMatcher {
 public:
  virtual ~StereoMatcher() = default;
  // Disparity of the LEFT image: CV_32F, pixels, NaN where unknown. Inputs CV_8UC1, same size.
  virtual cv::Mat match_left(const cv::Mat& left, const cv::Mat& right) const = 0;
  // Disparity of the RIGHT image (right x matches left x + d), by matching the mirrored pair.
  cv::Mat match_right(const cv::Mat& left, const cv::Mat& right) const;

  static std::unique_ptr<StereoMatcher> create(const MatchOptions& options);
};

}  // namespace dualcam::fusion
