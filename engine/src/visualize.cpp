#include "dualcam/engine/visualize.hpp"

#include <algorithm>
#include <cmath>
#include <tuple>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "dualcam/engine/error.hpp"

namespace dualcam {

std::pair<float, float> disparity_display_range(const cv::Mat& d) {
  if (d.type() != CV_32F) throw_invalid("disparity_display_range: expected CV_32F");
  std::vector<float> v;
  v.reserve(d.total() / 4 + 1);
  for (int r = 0; r < d.rows; r += 2) {
    const float* p = d.ptr<float>(r);
    for (int c = 0; c < d.cols; c += 2)
      if (std::isfinite(p[c])) v.push_back(p[c]);
  }
  if (v.empty()) return {0.f, 1.f};
  std::sort(v.begin(), v.end());
  const float lo = v[v.size() / 100], hi = v[v.size() - 1 - v.size() / 100];
  return {lo, hi > lo ? hi : lo + 1};
}

cv::Mat colorize_disparity(const cv::Mat& d, float lo, float hi) {
  if (d.type() != CV_32F) throw_invalid("colorize_disparity: expected CV_32F");
  if (!(hi > lo)) std::tie(lo, hi) = disparity_display_range(d);
  cv::Mat u8(d.size(), CV_8U), mask(d.size(), CV_8U);
  for (int r = 0; r < d.rows; ++r) {
    const float* p = d.ptr<float>(r);
    std::uint8_t* o = u8.ptr<std::uint8_t>(r);
    std::uint8_t* m = mask.ptr<std::uint8_t>(r);
    for (int c = 0; c < d.cols; ++c) {
      m[c] = std::isfinite(p[c]) ? 255 : 0;
      float t = std::isfinite(p[c]) ? (p[c] - lo) / (hi - lo) : 0.f;
      o[c] = std::uint8_t(std::lround(255.f * std::min(1.f, std::max(0.f, t))));
    }
  }
  cv::Mat colored;
  cv::applyColorMap(u8, colored, cv::COLORMAP_TURBO);
  colored.setTo(cv::Scalar::all(0), ~mask);
  return colored;
}

cv::Mat colorize_confidence(const cv::Mat& confidence) {
  if (confidence.type() != CV_32F) throw_invalid("colorize_confidence: expected CV_32F");
  const cv::Mat known = confidence > 0;  // false for NaN too
  cv::Mat u8;
  cv::Mat clamped = cv::min(cv::max(confidence, 0.0), 1.0);
  clamped.setTo(0, ~known);
  clamped.convertTo(u8, CV_8U, 255.0);
  cv::Mat colored;
  cv::applyColorMap(u8, colored, cv::COLORMAP_VIRIDIS);
  colored.setTo(cv::Scalar::all(0), ~known);
  return colored;
}

cv::Mat weight_to_u8(const cv::Mat& weight) {
  cv::Mat out;
  weight.convertTo(out, CV_8U, 255.0);
  return out;
}

}  // namespace dualcam
