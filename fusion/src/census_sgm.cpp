// The census/SGM matcher (see match.hpp for the method). The loops that need to be fast live in
// sgm_kernels.cpp; this file is the algorithm.
#include "census_sgm.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <vector>

#include <opencv2/calib3d.hpp>
#include <opencv2/imgproc.hpp>

#include "dualcam/engine/error.hpp"
#include "dualcam/engine/parallel.hpp"
#include "sgm_kernels.hpp"

namespace dualcam::fusion {
namespace {

// Large clipped areas (CensusSgmOptions::clip_min_share). A view is clipped when the pixels at
// its top grey level pile up: more of them than 3x the mean count of each of the eight levels
// below (an image that merely reaches its brightest code has no such pile). Inside a clipped
// area the view has no texture, so the census there says nothing about the disparity. The
// pixels clipped together with their 8 neighbours form the blind areas; those covering at least
// `min_share` of the image are returned (CV_8U 255), an empty Mat when there are none.
cv::Mat blind_areas(const cv::Mat& img, double min_share) {
  if (min_share <= 0) return {};
  double hi = 0;
  cv::minMaxLoc(img, nullptr, &hi);
  const int top = static_cast<int>(hi);
  if (top < 9) return {};
  const cv::Mat at_top = img >= top;
  const double n_top = cv::countNonZero(at_top);
  const double n_below = cv::countNonZero((img >= top - 8) & ~at_top);
  if (n_top <= 3.0 * n_below / 8.0) return {};
  cv::Mat inner, labels, stats, centroids;
  cv::erode(at_top, inner, cv::Mat(), cv::Point(-1, -1), 1, cv::BORDER_REPLICATE);
  const int n = cv::connectedComponentsWithStats(inner, labels, stats, centroids, 8, CV_32S);
  std::vector<std::uint8_t> keep(n, 0);
  bool any = false;
  for (int i = 1; i < n; ++i) {
    keep[i] = stats.at<int>(i, cv::CC_STAT_AREA) >= min_share * double(img.total()) ? 255 : 0;
    any = any || keep[i];
  }
  if (!any) return {};
  cv::Mat out(img.size(), CV_8U);
  for (int y = 0; y < img.rows; ++y) {
    const int* l = labels.ptr<int>(y);
    std::uint8_t* o = out.ptr<std::uint8_t>(y);
    for (int x = 0; x < img.cols; ++x) o[x] = keep[l[x]];
  }
  return out;
}

// Fills each blind area of the left view (`blind`, see blind_areas) whose surroundings agree on
// one plane: d = a x + b y + c is fitted (iteratively reweighted least squares, Cauchy weights
// with a 1 px scale, starting from their median) to the known disparities within `ring` px around the area;
// when at least `min_inliers` of them lie within 1 px of it, the area takes the plane, else the
// disparities SGM carried in from its border (`sgm`). Filled pixels get confidence 0.25: they
// are inferred, not measured. Serial over areas: deterministic.
void fill_blind_areas(MatchResult& res, const cv::Mat& blind, const cv::Mat& sgm, int ring, double min_inliers) {
  cv::Mat labels, stats, centroids;
  const int n = cv::connectedComponentsWithStats(blind, labels, stats, centroids, 8, CV_32S);
  const cv::Mat kernel = cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * ring + 1, 2 * ring + 1));
  const cv::Rect image(0, 0, blind.cols, blind.rows);
  for (int i = 1; i < n; ++i) {
    const cv::Rect roi = cv::Rect(stats.at<int>(i, cv::CC_STAT_LEFT) - ring, stats.at<int>(i, cv::CC_STAT_TOP) - ring,
                                  stats.at<int>(i, cv::CC_STAT_WIDTH) + 2 * ring,
                                  stats.at<int>(i, cv::CC_STAT_HEIGHT) + 2 * ring) &
                         image;
    const cv::Mat mine = labels(roi) == i;
    cv::Mat around;
    cv::dilate(mine, around, kernel);
    const double cx = centroids.at<double>(i, 0), cy = centroids.at<double>(i, 1);
    std::vector<cv::Vec3d> pts;  // (x - cx, y - cy, d)
    for (int y = 0; y < roi.height; ++y)
      for (int x = 0; x < roi.width; ++x) {
        if (!around.at<std::uint8_t>(y, x) || blind.at<std::uint8_t>(y + roi.y, x + roi.x)) continue;
        const float d = res.disparity.at<float>(y + roi.y, x + roi.x);
        if (std::isfinite(d)) pts.emplace_back(x + roi.x - cx, y + roi.y - cy, d);
      }
    cv::Vec3d abc(0, 0, 0);
    bool plane = pts.size() >= 8;
    if (plane) {
      std::vector<double> ds;
      for (const auto& p : pts) ds.push_back(p[2]);
      std::nth_element(ds.begin(), ds.begin() + ds.size() / 2, ds.end());
      abc[2] = ds[ds.size() / 2];
      for (int it = 0; it < 8 && plane; ++it) {
        cv::Matx33d A = cv::Matx33d::zeros();
        cv::Vec3d b(0, 0, 0);
        for (const auto& p : pts) {
          const cv::Vec3d u(p[0], p[1], 1.0);
          const double r = p[2] - abc.dot(u);
          const double w = 1.0 / (1.0 + r * r);
          A += w * (u * u.t());
          b += w * p[2] * u;
        }
        // A weak prior on the slopes (as if each sample also spread 1 px in x and y) keeps a
        // border that is nearly a line from tilting the plane without bound.
        A(0, 0) += double(pts.size());
        A(1, 1) += double(pts.size());
        plane = cv::solve(A, b, abc, cv::DECOMP_LU);
      }
    }
    if (plane) {
      std::size_t inliers = 0;
      for (const auto& p : pts) inliers += std::abs(p[2] - abc.dot(cv::Vec3d(p[0], p[1], 1.0))) < 1.0;
      plane = double(inliers) >= min_inliers * double(pts.size());
    }
    for (int y = 0; y < roi.height; ++y)
      for (int x = 0; x < roi.width; ++x) {
        if (!mine.at<std::uint8_t>(y, x)) continue;
        const int gx = x + roi.x, gy = y + roi.y;
        const float d = plane ? float(abc.dot(cv::Vec3d(gx - cx, gy - cy, 1.0))) : sgm.at<float>(gy, gx);
        res.disparity.at<float>(gy, gx) = d;
        res.confidence.at<float>(gy, gx) = std::isfinite(d) ? 0.25f : 0.0f;
      }
  }
}

class CensusSgmMatcher final : public StereoMatcher {
 public:
  explicit CensusSgmMatcher(const MatchOptions& o) : StereoMatcher(o) {}

  // Coarse fill (CensusSgmOptions::coarse_fill): the pair is matched again at half resolution,
  // where the census window covers twice the surface and weakly textured walls often match.
  // Unknown pixels that lie deep inside a hole (at least coarse_min_distance px from a known
  // pixel; small holes are better filled from their neighbours later) and are not marked
  // occluded take the half-resolution disparity where that one is unambiguous (confidence >=
  // coarse_min_confidence). They get half its confidence and lose nothing else.
  // Blind pixels of the left view (`blind`, may be empty) are left to fill_blind_areas.
  void fill_from_coarse(MatchResult& res, const cv::Mat& left, const cv::Mat& right, int range,
                        const cv::Mat& blind) const {
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
        const std::uint8_t* bl = blind.empty() ? nullptr : blind.ptr<std::uint8_t>(y);
        const int cy = std::min(hs.height - 1, y / 2);
        const float* cd = c.disparity.ptr<float>(cy);
        const float* cc = c.confidence.ptr<float>(cy);
        for (int x = 0; x < res.disparity.cols; ++x) {
          if (std::isfinite(d[x]) || occ[x] || dd[x] < min_dist || (bl && bl[x])) continue;
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
    // Large clipped areas have no texture: their pixels (left), and the candidates that fall on
    // them (right), cost the same as a candidate outside the right image, so SGM carries
    // disparities in from the areas' borders instead of following the census noise.
    const cv::Mat blind_l = blind_areas(left_in, co.clip_min_share);
    const cv::Mat blind_r = blind_areas(right_in, co.clip_min_share);
    if (!blind_l.empty() || !blind_r.empty())
      kernels::set_blind_costs(blind_l, blind_r, D, static_cast<std::uint16_t>(bits / 2 * box_area), cost);

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
        const std::uint8_t* br_row = blind_r.empty() ? nullptr : blind_r.ptr<std::uint8_t>(y);
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
          // A match on a blind area of the right view measured nothing: unknown (not occluded),
          // left to the hole filling.
          const bool right_blind = xr >= 0 && br_row && br_row[xr];
          occ[x] = consistent || right_blind ? 0
                   : (xr >= 0 && right_best[xr] > best + co.lr_tolerance) || xr < 0 ? 255
                                                                                    : 0;
          if (!consistent || c1 > uniq * second || right_blind) {
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

    // Blind pixels are kept out of the speckle filter and the coarse fill and filled last.
    cv::Mat sgm_blind;
    if (!blind_l.empty()) {
      sgm_blind = res.disparity.clone();
      res.disparity.setTo(nan, blind_l);
      res.confidence.setTo(0, blind_l);
      res.occlusion.setTo(0, blind_l);
    }
    if (co.speckle_size > 0) remove_speckles(res, co.speckle_size);
    if (co.coarse_fill && W >= 64 && H >= 32) fill_from_coarse(res, left_in, right_in, range, blind_l);
    if (!blind_l.empty()) fill_blind_areas(res, blind_l, sgm_blind, co.clip_ring, co.clip_plane_inliers);
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
