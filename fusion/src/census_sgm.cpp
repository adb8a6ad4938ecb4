// The census/SGM matcher (see match.hpp for the method). The loops that need to be fast live in
// sgm_kernels.cpp; this file is the algorithm.
#include "census_sgm.hpp"

#include <cmath>
#include <cstdlib>
#include <limits>

#include <opencv2/calib3d.hpp>
#include <opencv2/imgproc.hpp>

#include "dualcam/engine/error.hpp"
#include "dualcam/engine/parallel.hpp"
#include "sgm_kernels.hpp"

namespace dualcam::fusion {
namespace {

class CensusSgmMatcher final : public StereoMatcher {
 public:
  explicit CensusSgmMatcher(const MatchOptions& o) : StereoMatcher(o) {}

  // Coarse fill (CensusSgmOptions::coarse_fill): the pair is matched again at half resolution,
  // where the census window covers twice the surface and weakly textured walls often match.
  // Unknown pixels that lie deep inside a hole (at least coarse_min_distance px from a known
  // pixel; small holes are better filled from their neighbours later) and are not marked
  // occluded take the half-resolution disparity where that one is unambiguous (confidence >=
  // coarse_min_confidence). They get half its confidence and lose nothing else.
  void fill_from_coarse(MatchResult& res, const cv::Mat& left, const cv::Mat& right, int range) const {
    const CensusSgmOptions& co = options_.census;
    MatchOptions half = options_;
    half.census.coarse_fill = false;
    const cv::Size hs((left.cols + 1) / 2, (left.rows + 1) / 2);
    cv::Mat l2, r2;
    cv::resize(left, l2, hs, 0, 0, cv::INTER_AREA);
    cv::resize(right, r2, hs, 0, 0, cv::INTER_AREA);
    const MatchResult c = CensusSgmMatcher(half).match_left_full(l2, r2, std::max(1, (range + 1) / 2));
    const float scale = float(left.cols) / float(hs.width);
    cv::Mat dist;  // distance of each unknown pixel to the nearest known one, px
    const cv::Mat unknown = ~(res.disparity == res.disparity);  // (cv::compare gives NaN != NaN as false)
    cv::distanceTransform(unknown, dist, cv::DIST_L2, 3);
    const float min_dist = float(co.coarse_min_distance), min_conf = float(co.coarse_min_confidence);
    parallel_rows(res.disparity.rows, 16, [&](int r0, int r1) {
      for (int y = r0; y < r1; ++y) {
        const float* dd = dist.ptr<float>(y);
        float* d = res.disparity.ptr<float>(y);
        float* conf = res.confidence.ptr<float>(y);
        const std::uint8_t* occ = res.occlusion.ptr<std::uint8_t>(y);
        const int cy = std::min(hs.height - 1, y / 2);
        const float* cd = c.disparity.ptr<float>(cy);
        const float* cc = c.confidence.ptr<float>(cy);
        for (int x = 0; x < res.disparity.cols; ++x) {
          if (std::isfinite(d[x]) || occ[x] || dd[x] < min_dist) continue;
          const int cx = std::min(hs.width - 1, x / 2);
          if (!std::isfinite(cd[cx]) || cc[cx] < min_conf) continue;
          d[x] = cd[cx] * scale;
          conf[x] = 0.5f * cc[cx];
        }
      }
    });
  }

  MatchResult match_left_full(const cv::Mat& left_in, const cv::Mat& right_in, int range) const override {
    if (left_in.type() != CV_8UC1 || right_in.type() != CV_8UC1 || left_in.size() != right_in.size())
      throw_invalid("census/SGM matcher: expects two CV_8UC1 images of the same size");
    if (range < 1) throw_invalid("census/SGM matcher: the disparity range must be positive");
    const CensusSgmOptions& co = options_.census;
    const int W = left_in.cols, H = left_in.rows;
    // Disparities padded to a multiple of 16 so the loops over d have no remainder.
    const int D = std::max(16, (range + 15) / 16 * 16);

    cv::Mat left = left_in, right = right_in;
    if (co.prefilter_sigma > 0) {
      cv::GaussianBlur(left_in, left, cv::Size(), co.prefilter_sigma);
      cv::GaussianBlur(right_in, right, cv::Size(), co.prefilter_sigma);
    }
    const int bits = co.census_width * co.census_height - 1;
    const auto census_l = kernels::census_transform(left, co.census_width, co.census_height);
    const auto census_r = kernels::census_transform(right, co.census_width, co.census_height);
    const int box_area = (2 * co.box_radius + 1) * (2 * co.box_radius + 1);
    std::vector<std::uint16_t> cost, sum;
    // Outside the right image a disparity is neither favoured nor ruled out: half the bits.
    kernels::census_cost_volume(census_l, census_r, W, H, D, co.box_radius, bits / 2, cost);

    kernels::SgmParams sp;
    sp.p1 = static_cast<int>(std::lround(co.p1 * box_area));
    sp.p2 = static_cast<int>(std::lround(co.p2 * box_area));
    sp.p2_edge = co.p2_edge;
    sp.edge_threshold = co.edge_threshold;
    sp.paths = co.paths;
    kernels::sgm_aggregate(cost, left_in, D, sp, sum);
    cost = {};

    // Winner-take-all for both views from the one aggregated volume: the right view's pixel xr
    // has disparity d where sum(xr + d, d) is smallest (Hirschmueller 2008, section 3.4).
    const float nan = std::numeric_limits<float>::quiet_NaN();
    MatchResult res;
    res.disparity.create(H, W, CV_32F);
    res.confidence.create(H, W, CV_32F);
    res.occlusion.create(H, W, CV_8U);
    const std::size_t row_len = static_cast<std::size_t>(W) * D;
    const int dmax = std::min(range, D);
    const double uniq = 1.0 - co.uniqueness / 100.0;
    parallel_rows(H, 8, [&](int r0, int r1) {
      std::vector<int> right_best(W);
      std::vector<std::uint32_t> right_cost(W);
      for (int y = r0; y < r1; ++y) {
        const std::uint16_t* s = sum.data() + y * row_len;
        std::fill(right_cost.begin(), right_cost.end(), std::numeric_limits<std::uint32_t>::max());
        std::fill(right_best.begin(), right_best.end(), -1);
        for (int x = 0; x < W; ++x) {
          const std::uint16_t* sx = s + static_cast<std::size_t>(x) * D;
          for (int d = 0; d < std::min(dmax, x + 1); ++d) {
            const int xr = x - d;
            if (sx[d] < right_cost[xr]) {  // ties: the smaller disparity (x scanned upwards, d too)
              right_cost[xr] = sx[d];
              right_best[xr] = d;
            }
          }
        }
        float* out = res.disparity.ptr<float>(y);
        float* conf = res.confidence.ptr<float>(y);
        std::uint8_t* occ = res.occlusion.ptr<std::uint8_t>(y);
        for (int x = 0; x < W; ++x) {
          const std::uint16_t* sx = s + static_cast<std::size_t>(x) * D;
          int best = 0;
          for (int d = 1; d < dmax; ++d)
            if (sx[d] < sx[best]) best = d;
          unsigned second = std::numeric_limits<unsigned>::max();
          for (int d = 0; d < dmax; ++d)
            if (std::abs(d - best) > 1) second = std::min<unsigned>(second, sx[d]);
          const double c1 = sx[best];
          const double margin = second == std::numeric_limits<unsigned>::max() ? 1.0 : 1.0 - c1 / std::max(1u, second);
          const int xr = x - best;
          const bool consistent = xr >= 0 && right_best[xr] >= 0 && std::abs(right_best[xr] - best) <= co.lr_tolerance;
          // A failed check is an occlusion when the right pixel belongs to a nearer surface
          // (larger disparity); otherwise it is a mismatch (Hirschmueller 2008, section 4.3).
          occ[x] = consistent ? 0 : (xr >= 0 && right_best[xr] > best + co.lr_tolerance) || xr < 0 ? 255 : 0;
          if (!consistent || c1 > uniq * second) {
            out[x] = nan;
            conf[x] = 0;
            continue;
          }
          // Parabola through the three costs around the minimum.
          float sub = 0;
          if (best > 0 && best < dmax - 1) {
            const double a = sx[best - 1], b = sx[best + 1];
            const double den = a - 2 * c1 + b;
            if (den > 0) sub = static_cast<float>(std::clamp((a - b) / (2 * den), -0.5, 0.5));
          }
          out[x] = best + sub;
          conf[x] = static_cast<float>(std::clamp(margin * 4.0, 0.0, 1.0));
        }
      }
    });

    if (co.speckle_size > 0) remove_speckles(res, co.speckle_size);
    if (co.coarse_fill && W >= 64 && H >= 32) fill_from_coarse(res, left_in, right_in, range);
    return res;
  }

 private:
  // Small islands of disparity that differ from their surroundings are almost always wrong
  // (cv::filterSpeckles on a 1/16 px fixed-point copy; serial, deterministic).
  static void remove_speckles(MatchResult& r, int max_size) {
    cv::Mat fixed(r.disparity.size(), CV_16S);
    for (int y = 0; y < fixed.rows; ++y) {
      const float* d = r.disparity.ptr<float>(y);
      short* f = fixed.ptr<short>(y);
      for (int x = 0; x < fixed.cols; ++x) f[x] = std::isfinite(d[x]) ? static_cast<short>(std::lround(d[x] * 16)) : -16;
    }
    cv::filterSpeckles(fixed, -16, max_size, 16);
    for (int y = 0; y < fixed.rows; ++y) {
      const short* f = fixed.ptr<short>(y);
      float* d = r.disparity.ptr<float>(y);
      float* c = r.confidence.ptr<float>(y);
      for (int x = 0; x < fixed.cols; ++x)
        if (f[x] == -16 && std::isfinite(d[x])) {
          d[x] = std::numeric_limits<float>::quiet_NaN();
          c[x] = 0;
        }
    }
  }
};

}  // namespace

std::unique_ptr<StereoMatcher> make_census_sgm_matcher(const MatchOptions& options) {
  return std::make_unique<CensusSgmMatcher>(options);
}

}  // namespace dualcam::fusion
