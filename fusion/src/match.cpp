#include "dualcam/fusion/match.hpp"

#include <cmath>
#include <limits>

#include <opencv2/calib3d.hpp>

#include "census_sgm.hpp"
#include "dualcam/engine/error.hpp"

namespace dualcam::fusion {

const char* to_string(MatcherKind kind) { return kind == MatcherKind::Sgbm ? "sgbm" : "census"; }

MatcherKind parse_matcher(const std::string& text) {
  if (text == "census" || text == "sgm" || text == "census-sgm") return MatcherKind::CensusSgm;
  if (text == "sgbm") return MatcherKind::Sgbm;
  throw_invalid("parse_matcher: the matcher must be 'census' (or 'sgm', 'census-sgm') or 'sgbm', got '" + text + "'");
}

void CensusSgmOptions::validate() const {
  check_range("CensusSgmOptions::census_width", census_width, 3, 15);
  check_range("CensusSgmOptions::census_height", census_height, 1, 15);
  if (census_width % 2 == 0 || census_height % 2 == 0)
    throw_invalid("CensusSgmOptions::census_width and census_height must be odd, got " + std::to_string(census_width) +
                  "x" + std::to_string(census_height));
  if (census_width * census_height > 65)
    throw_invalid("CensusSgmOptions: the census window must have at most 65 pixels (64 bits), got " +
                  std::to_string(census_width * census_height));
  check_range("CensusSgmOptions::box_radius", box_radius, 0, 3);
  check_range("CensusSgmOptions::prefilter_sigma", prefilter_sigma, 0.0, 5.0);
  check_range("CensusSgmOptions::p1", p1, 0.0, 100.0);
  check_range("CensusSgmOptions::p2", p2, p1, 255.0);
  check_range("CensusSgmOptions::p2_edge", p2_edge, 0.01, 1.0);
  check_range("CensusSgmOptions::edge_threshold", edge_threshold, 0, 255);
  if (paths != 4 && paths != 8) throw_invalid("CensusSgmOptions::paths must be 4 or 8, got " + std::to_string(paths));
  check_range("CensusSgmOptions::lr_tolerance", lr_tolerance, 0, 8);
  check_range("CensusSgmOptions::uniqueness", uniqueness, 0, 100);
  // Path costs are 16-bit: paths * (largest cost + P2) must fit.
  const double area = (2 * box_radius + 1) * (2 * box_radius + 1);
  if (paths * area * (census_width * census_height + p2) > 65000)
    throw_invalid("CensusSgmOptions: box_radius " + std::to_string(box_radius) + " with p2 " + std::to_string(p2) +
                  " overflows the 16-bit path costs; lower one of them");
  check_range("CensusSgmOptions::speckle_size", speckle_size, 0, 100000);
  check_range("CensusSgmOptions::coarse_min_distance", coarse_min_distance, 0.0, 1000.0);
  check_range("CensusSgmOptions::coarse_min_confidence", coarse_min_confidence, 0.0, 1.0);
  check_range("CensusSgmOptions::clip_min_share", clip_min_share, 0.0, 1.0);
  check_range("CensusSgmOptions::clip_plane_inliers", clip_plane_inliers, 0.0, 2.0);
  check_range("CensusSgmOptions::clip_ring", clip_ring, 1, 50);
}

void MatchOptions::validate() const {
  check_range("MatchOptions::max_disparity", max_disparity, 0, 4096);
  check_range("MatchOptions::block_size", block_size, 1, 21);
  if (block_size % 2 == 0) throw_invalid("MatchOptions::block_size must be odd, got " + std::to_string(block_size));
  check_range("MatchOptions::uniqueness", uniqueness, 0, 100);
  check_range("MatchOptions::max_working_pixels", max_working_pixels, 1.0e4, 1.0e9);
  check_range("MatchOptions::max_working_disparity", max_working_disparity, 16, 1024);
  census.validate();
  check_range("MatchOptions::sgbm_disp12_max_diff", sgbm_disp12_max_diff, -1, 4096);
  check_range("MatchOptions::sgbm_pre_filter_cap", sgbm_pre_filter_cap, 0, 63);
  check_range("MatchOptions::sgbm_speckle_window", sgbm_speckle_window, 0, 100000);
  check_range("MatchOptions::sgbm_speckle_range", sgbm_speckle_range, 0, 4096);
}

int MatchOptions::disparity_range(int width) const {
  int d = max_disparity > 0 ? max_disparity : std::max(16, width / 4);
  return (d + 15) / 16 * 16;
}

double MatchOptions::working_scale(const cv::Size& size, int range) const {
  if (kind == MatcherKind::Sgbm) return 1.0;  // the peer runs at full resolution
  const double by_pixels = std::sqrt(double(size.area()) / max_working_pixels);
  const double by_range = double(range) / max_working_disparity;
  return std::max({1.0, by_pixels, by_range});
}

MatchResult StereoMatcher::match_right_full(const cv::Mat& left, const cv::Mat& right, int range) const {
  // Mirroring both images and swapping them turns the right view into a left view.
  cv::Mat fl, fr;
  cv::flip(right, fl, 1);
  cv::flip(left, fr, 1);
  MatchResult r = match_left_full(fl, fr, range);
  cv::flip(r.disparity, r.disparity, 1);
  cv::flip(r.confidence, r.confidence, 1);
  cv::flip(r.occlusion, r.occlusion, 1);
  return r;
}

cv::Mat StereoMatcher::match_left(const cv::Mat& left, const cv::Mat& right) const {
  return match_left_full(left, right, options_.disparity_range(left.cols)).disparity;
}

namespace {

class SgbmMatcher final : public StereoMatcher {
 public:
  explicit SgbmMatcher(const MatchOptions& o) : StereoMatcher(o) {}

  MatchResult match_left_full(const cv::Mat& left, const cv::Mat& right, int range) const override {
    if (left.type() != CV_8UC1 || right.type() != CV_8UC1 || left.size() != right.size())
      throw_invalid("SGBM matcher: expects two CV_8UC1 images of the same size");
    const int bs = options_.block_size;
    range = (std::max(range, 16) + 15) / 16 * 16;
    // OpenCV's SGBM asserts on images no wider than the range, and on the smallest ones (1x1) its
    // buffer cleanup throws from a destructor and ends the process.
    if (left.cols <= range)
      throw_invalid("SGBM matcher: the images must be wider than the disparity range rounded up to 16 (" +
                    std::to_string(range) + " px), got " + std::to_string(left.cols) + " px");
    const MatchOptions& o = options_;
    auto sgbm = cv::StereoSGBM::create(0, range, bs, 8 * bs * bs, 32 * bs * bs, o.sgbm_disp12_max_diff,
                                       o.sgbm_pre_filter_cap, o.uniqueness, o.sgbm_speckle_window,
                                       o.sgbm_speckle_range, cv::StereoSGBM::MODE_SGBM_3WAY);
    cv::Mat raw;
    sgbm->compute(left, right, raw);  // CV_16S, 4 fractional bits, < 0 where unknown
    MatchResult r;
    r.disparity.create(raw.size(), CV_32F);
    r.confidence.create(raw.size(), CV_32F);
    r.occlusion = cv::Mat::zeros(raw.size(), CV_8U);  // SGBM does not tell occlusion from ambiguity
    const float nan = std::numeric_limits<float>::quiet_NaN();
    for (int y = 0; y < raw.rows; ++y) {
      const short* s = raw.ptr<short>(y);
      float* o = r.disparity.ptr<float>(y);
      float* c = r.confidence.ptr<float>(y);
      for (int x = 0; x < raw.cols; ++x) {
        o[x] = s[x] < 0 ? nan : s[x] / 16.0f;
        c[x] = s[x] < 0 ? 0.0f : 1.0f;
      }
    }
    return r;
  }
};

}  // namespace

std::unique_ptr<StereoMatcher> StereoMatcher::create(const MatchOptions& options) {
  options.validate();
  switch (options.kind) {
    case MatcherKind::CensusSgm: return make_census_sgm_matcher(options);
    case MatcherKind::Sgbm: return std::make_unique<SgbmMatcher>(options);
  }
  throw_invalid("unknown matcher");
}

}  // namespace dualcam::fusion
