// The naive Gaussian bokeh: the BOKEH protocol's peer (peers.hpp).
#include <algorithm>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "dualcam/engine/error.hpp"
#include "dualcam/engine/parallel.hpp"
#include "dualcam/eval/peers.hpp"

namespace dualcam::eval {

using fusion::BokehOptions;
using fusion::signed_blur_radius;

cv::Mat naive_gaussian_bokeh(const cv::Mat& image, const cv::Mat& disparity, const BokehOptions& o) {
  o.validate();
  if (image.empty() || image.type() != CV_32FC3) throw_invalid("the bokeh input image must be 3-channel float (linear BGR)");
  if (disparity.size() != image.size()) throw_invalid("the disparity and the image differ in size");
  const cv::Mat radius = cv::abs(signed_blur_radius(disparity, o));
  // Radii about sqrt(2) apart, as one would pick by hand.
  const std::vector<double> levels{0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512};
  double hi;
  cv::minMaxLoc(radius, nullptr, &hi);
  std::size_t count = 1;
  while (count < levels.size() && levels[count - 1] < hi) ++count;
  std::vector<cv::Mat> blurred(count);
  for (std::size_t k = 0; k < count; ++k) {
    if (levels[k] == 0) {
      blurred[k] = image;
    } else {
      const double sigma = levels[k] / 2;
      cv::GaussianBlur(image, blurred[k], cv::Size(), sigma, sigma, cv::BORDER_REFLECT);
    }
  }
  cv::Mat out(image.size(), CV_32FC3);
  parallel_rows(image.rows, 32, [&](int r0, int r1) {
    for (int y = r0; y < r1; ++y) {
      const float* r = radius.ptr<float>(y);
      cv::Vec3f* p = out.ptr<cv::Vec3f>(y);
      std::vector<const cv::Vec3f*> rows(count);
      for (std::size_t k = 0; k < count; ++k) rows[k] = blurred[k].ptr<cv::Vec3f>(y);
      for (int x = 0; x < image.cols; ++x) {
        if (count == 1) {
          p[x] = rows[0][x];
          continue;
        }
        std::size_t k = 0;
        while (k + 2 < count && levels[k + 1] < r[x]) ++k;
        const float t = std::min(1.0f, std::max(0.0f, float((r[x] - levels[k]) / (levels[k + 1] - levels[k]))));
        p[x] = rows[k][x] * (1 - t) + rows[k + 1][x] * t;
      }
    }
  });
  return out;
}

}  // namespace dualcam::eval
