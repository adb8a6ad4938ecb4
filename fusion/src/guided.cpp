#include "dualcam/fusion/guided.hpp"

#include <algorithm>
#include <vector>

#include <opencv2/imgproc.hpp>
#include <opencv2/ximgproc/edge_filter.hpp>

#include "dualcam/engine/error.hpp"

namespace dualcam::fusion {

cv::Mat guided_filter(const cv::Mat& guide, const cv::Mat& src, int radius, double eps, int subsample) {
  if (guide.type() != CV_32FC1 || (src.type() != CV_32FC1 && src.type() != CV_32FC3) || guide.size() != src.size())
    throw_invalid("guided_filter: expects a CV_32FC1 guide and a CV_32FC1/3 source of the same size");
  if (radius < 1 || subsample < 1) throw_invalid("guided_filter: radius and subsample must be >= 1");
  const int s = std::min(subsample, std::max(1, radius));
  if (s == 1) {
    cv::Mat out;  // OpenCV's implementation is the faster one at full resolution
    cv::ximgproc::guidedFilter(guide, src, out, radius, eps, CV_32F);
    return out;
  }
  cv::Mat g = guide, p = src;
  if (s > 1) {
    const cv::Size small((guide.cols + s - 1) / s, (guide.rows + s - 1) / s);
    cv::resize(guide, g, small, 0, 0, cv::INTER_AREA);
    cv::resize(src, p, small, 0, 0, cv::INTER_AREA);
  }
  const int r = std::max(1, radius / s);
  const cv::Size k(2 * r + 1, 2 * r + 1);
  auto mean = [&](const cv::Mat& m) {
    cv::Mat out;
    cv::boxFilter(m, out, CV_32F, k, cv::Point(-1, -1), true, cv::BORDER_REFLECT);
    return out;
  };
  const cv::Mat mean_g = mean(g);
  const cv::Mat var_g = mean(g.mul(g)) - mean_g.mul(mean_g);
  std::vector<cv::Mat> channels, out_channels;
  cv::split(p, channels);
  std::vector<cv::Mat> full_src;
  if (s > 1) cv::split(src, full_src);
  for (const cv::Mat& pc : channels) {
    const cv::Mat mean_p = mean(pc);
    const cv::Mat cov = mean(g.mul(pc)) - mean_g.mul(mean_p);
    cv::Mat a = cov / (var_g + eps);
    cv::Mat b = mean_p - a.mul(mean_g);
    a = mean(a);
    b = mean(b);
    if (s > 1) {
      cv::resize(a, a, guide.size(), 0, 0, cv::INTER_LINEAR);
      cv::resize(b, b, guide.size(), 0, 0, cv::INTER_LINEAR);
    }
    out_channels.push_back(a.mul(guide) + b);
  }
  cv::Mat out;
  cv::merge(out_channels, out);
  return out;
}

}  // namespace dualcam::fusion
