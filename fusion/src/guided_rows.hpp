#pragma once
// Internal: the fast guided filter (guided.hpp) split in two, so a caller can apply it row by row
// inside its own pass instead of receiving a full-size filtered image.
#include <functional>
#include <vector>

#include <opencv2/core.hpp>

namespace dualcam::fusion::detail {

class GuidedRows {
 public:
  // The smoothed coefficients of `src_small` (CV_32FC1/3) with the guide `guide_small` (CV_32FC1),
  // both already reduced from `full` (radius in reduced pixels, eps in the guide's units squared):
  // by cv::resize INTER_AREA (block = 0), or by averaging block x block pixels (the last block of
  // a row or column partial). `eps_map` (CV_32F of the reduced size, may be null) adds to eps at
  // each window's centre (a noisy guide's noise variance there).
  GuidedRows(const cv::Mat& guide_small, const cv::Mat& src_small, cv::Size full, int radius, double eps,
             int block = 0, const cv::Mat* eps_map = nullptr);
  int channels() const { return C_; }
  // The same coefficients, evaluated at another size (the rows' guide then has that size).
  GuidedRows resampled(cv::Size size) const;
  // The coefficients (per reduced pixel: mean(a) of each channel, then mean(b)), and a copy that
  // applies other ones (of any reduced size, the same layout) at the same full size.
  const cv::Mat& coefficients() const { return coef_; }
  GuidedRows with_coefficients(const cv::Mat& coef) const;
  // Row y of the filtered image, out[x * C + c], from the full-resolution guide's row y:
  // the coefficients upsampled bilinearly (as cv::resize INTER_LINEAR) and applied.
  // `scratch` belongs to the caller (one per thread).
  void row(int y, const float* guide_row, float* out, std::vector<float>& scratch) const;

 private:
  cv::Mat coef_;  // per reduced pixel: mean(a) of each channel, then mean(b)
  int C_ = 1, full_width_ = 0;
  std::vector<int> x0_, y0_;
  std::vector<float> tx_, ty_;
};

// The colour-guided filter (He et al.'s with a 3-channel guide; guided.hpp) streamed by rows:
// the coefficients of `src_small` (CV_32F, 1-3 channels) with the guide `guide_small` (CV_32FC3),
// both of one size, reduced from `full` by cv::resize INTER_AREA (block = 0) or by averaging
// block x block pixels (radius in reduced pixels), are fitted band by band, upsampled bilinearly
// and applied to each full row as it comes: `guide_row(y, planes)` fills the full-resolution
// guide's row y into 3 planes of full.width, `emit(y, planes)` receives the filtered row, one
// plane per source channel. No full-size coefficient image is made. Rows are emitted from
// parallel bands, each row once.
void color_guided_rows(const cv::Mat& guide_small, const cv::Mat& src_small, cv::Size full, int radius, double eps,
                       int block, const std::function<void(int, float* const*)>& guide_row,
                       const std::function<void(int, const float* const*)>& emit);

}  // namespace dualcam::fusion::detail
