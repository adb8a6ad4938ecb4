#include "dualcam/fusion/match.hpp"

#include <cmath>
#include <limits>

#include <opencv2/calib3d.hpp>

#include "dualcam/engine/error.hpp"

namespace dualcam::fusion {

void MatchOptions::validate() const {
  check_range("MatchOptions::max_disparity", max_disparity, 0, 4096);
  check_range("MatchOptions::block_size", block_size, 1, 21);
  if (block_size % 2 == 0) throw_invalid("MatchOptions::block_size must be odd, got " + std::to_string(block_size));
  check_range("MatchOptions::uniqueness", uniqueness, 0, 100);
  check_range("MatchOptions::sgbm_disp12_max_diff", sgbm_disp12_max_diff, -1, 4096);
  check_range("MatchOptions::sgbm_pre_filter_cap", sgbm_pre_filter_cap, 0, 63);
  check_range("MatchOptions::sgbm_speckle_window", sgbm_speckle_window, 0, 100000);
  check_range("MatchOptions::sgbm_speckle_range", sgbm_speckle_range, 0, 4096);
}

int MatchOptions::disparity_range(int width) const {
  int d = max_disparity > 0 ? max_disparity : std::max(16, width / 4);
  return (d + 15) / 16 * 16;
}

cv::Mat StereoMatcher::match_right(const cv::Mat& left, const cv::Mat& right) const {
  // Mirroring both images and swapping them turns the right view into a left view.
  cv::Mat fl, fr;
  cv::flip(right, fl, 1);
  cv::flip(left, fr, 1);
  cv::Mat d = match_left(fl, fr);
  cv::flip(d, d, 1);
  return d;
}

namespace {

class SgbmMatcher final : public StereoMatcher {
 public:
  explicit SgbmMatcher(const MatchOptions& o) : options_(o) {}

  cv::Mat match_left(const cv::Mat& left, const cv::Mat& right) const override {
    if (left.type() != CV_8UC1 || right.type() != CV_8UC1 || left.size() != right.size())
      throw_invalid("SGBM matcher: expects two CV_8UC1 images of the same size");
    const int bs = options_.block_size;
    const int range = options_.disparity_range(left.cols);
    const MatchOptions& o = options_;
    auto sgbm = cv::StereoSGBM::create(0, range, bs, 8 * bs * bs, 32 * bs * bs, o.sgbm_disp12_max_diff,
                                       o.sgbm_pre_filter_cap, o.uniqueness, o.sgbm_speckle_window,
                                       o.sgbm_speckle_range, cv::StereoSGBM::MODE_SGBM_3WAY);
    cv::Mat raw;
    sgbm->compute(left, right, raw);  // CV_16S, 4 fractional bits, < 0 where unknown
    cv::Mat d(raw.size(), CV_32F);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    for (int r = 0; r < raw.rows; ++r) {
      const short* s = raw.ptr<short>(r);
      float* o = d.ptr<float>(r);
      for (int c = 0; c < raw.cols; ++c) o[c] = s[c] < 0 ? nan : s[c] / 16.0f;
    }
    return d;
  }

 private:
  MatchOptions options_;
};

}  // namespace

std::unique_ptr<StereoMatcher> StereoMatcher::create(const MatchOptions& options) {
  options.validate();
  switch (options.kind) {
    case MatcherKind::Sgbm: return std::make_unique<SgbmMatcher>(options);
  }
  throw_invalid("unknown matcher");
}

}  // namespace dualcam::fusion
