#include "dualcam/fusion/warp.hpp"

#include <cmath>

#include <opencv2/imgproc.hpp>

#include "dualcam/engine/error.hpp"
#include "dualcam/engine/parallel.hpp"

namespace dualcam::fusion {

cv::Mat warp_by_disparity(const cv::Mat& src, const cv::Mat& disparity, int sign, cv::Mat* valid) {
  if (disparity.type() != CV_32F || disparity.size() != src.size())
    throw_invalid("warp_by_disparity: disparity must be CV_32F of the source's size");
  if (sign != 1 && sign != -1) throw_invalid("warp_by_disparity: sign must be +1 or -1");
  cv::Mat mx(src.size(), CV_32F), my(src.size(), CV_32F), v(src.size(), CV_8U);
  parallel_rows(src.rows, 16, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      const float* d = disparity.ptr<float>(r);
      float* px = mx.ptr<float>(r);
      float* py = my.ptr<float>(r);
      std::uint8_t* pv = v.ptr<std::uint8_t>(r);
      for (int c = 0; c < src.cols; ++c) {
        const float x = c + sign * d[c];
        const bool ok = std::isfinite(d[c]) && x >= 0 && x <= src.cols - 1;
        px[c] = ok ? x : -1.0f;
        py[c] = float(r);
        pv[c] = ok ? 255 : 0;
      }
    }
  });
  cv::Mat out;
  cv::remap(src, out, mx, my, cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar::all(0));
  if (valid) *valid = v;
  return out;
}

}  // namespace dualcam::fusion
