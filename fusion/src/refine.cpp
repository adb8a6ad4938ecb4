#include "dualcam/fusion/refine.hpp"

#include <cmath>

#include <opencv2/imgproc.hpp>

#include "dualcam/engine/error.hpp"
#include "dualcam/engine/parallel.hpp"

namespace dualcam::fusion {

void fill_holes_background(cv::Mat& d) {
  if (d.type() != CV_32F) throw_invalid("fill_holes_background: expected CV_32F");
  parallel_rows(d.rows, 16, [&](int r0, int r1) {
    std::vector<float> left(d.cols), right(d.cols);
    for (int r = r0; r < r1; ++r) {
      float* p = d.ptr<float>(r);
      float last = NAN;
      for (int c = 0; c < d.cols; ++c) {
        if (std::isfinite(p[c])) last = p[c];
        left[c] = last;
      }
      last = NAN;
      for (int c = d.cols - 1; c >= 0; --c) {
        if (std::isfinite(p[c])) last = p[c];
        right[c] = last;
      }
      for (int c = 0; c < d.cols; ++c) {
        if (std::isfinite(p[c])) continue;
        const float a = left[c], b = right[c];
        if (std::isfinite(a) && std::isfinite(b)) p[c] = std::min(a, b);
        else if (std::isfinite(a)) p[c] = a;
        else if (std::isfinite(b)) p[c] = b;
      }
    }
  });
}

void median_5x5(cv::Mat& d) {
  if (d.type() != CV_32F) throw_invalid("median_5x5: expected CV_32F");
  cv::Mat nan_mask = d != d;
  cv::Mat tmp = d.clone();
  tmp.setTo(0, nan_mask);
  cv::medianBlur(tmp, tmp, 5);
  tmp.setTo(std::numeric_limits<float>::quiet_NaN(), nan_mask);
  d = tmp;
}

}  // namespace dualcam::fusion
