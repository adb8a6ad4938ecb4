#pragma once
// Stereo matching in the canonical frame (left = mono, right = colour, left x matches right x - d).
// Interface + factory (STYLE habit 5): backends differ, callers do not.
//
// Backends:
//  - CensusSgm (default): dualcam's own cross-spectral matcher. Census transform of both views
//    (only the order of intensities in a window counts, so gain, gamma, exposure and the
//    different spectral response of a panchromatic and a demosaiced colour sensor change little),
//    Hamming costs summed over a small box, semi-global aggregation along 8 (or 4) paths
//    (Hirschmueller, PAMI 2008), winner-take-all with a uniqueness test, left-right consistency,
//    parabolic sub-pixel refinement, large holes filled from the pair matched at half resolution.
//    Integer costs, so the result is identical for any thread count.
//  - Sgbm: OpenCV StereoSGBM (3-way), the peer every other matcher is measured against.
#include <memory>
#include <string>

#include <opencv2/core.hpp>

namespace dualcam::fusion {

enum class MatcherKind {
  CensusSgm,  // census + semi-global matching (default)
  Sgbm,       // OpenCV StereoSGBM (3-way), the baseline every other matcher is measured against
};
const char* to_string(MatcherKind kind);
MatcherKind parse_matcher(const std::string& text);  // "census" / "sgm" / "census-sgm" or "sgbm"

// Options of the census/SGM backend (ignored by Sgbm).
struct CensusSgmOptions {
  int census_width = 9;    // census window width, px (odd, width * height <= 65)
  int census_height = 7;   // census window height, px (odd)
  int box_radius = 0;      // Hamming costs are summed over a (2r+1)^2 box, px; 0 = none
  double prefilter_sigma = 0.0;  // Gaussian smoothing of both views before the census, px; 0 = none
  // Penalties, in Hamming bits per box pixel. Tuned with coarse_fill on the Middlebury 2005/2006
  // dev set (mono/colour, docs/evaluation.md#sensors, good light and light 0.05 together).
  double p1 = 16.0;        // SGM penalty for a 1 px disparity step
  double p2 = 120.0;       // SGM penalty for larger steps
  double p2_edge = 0.2;    // P2 is multiplied by this across reference-image edges (0..1]
  int edge_threshold = 10;  // |grey step| (8-bit) that counts as an edge for p2_edge
  int uniqueness = 0;      // percent margin of the best aggregated cost over the second best; 0 = off
  int paths = 8;           // aggregation paths: 4 (rows + columns) or 8 (plus diagonals)
  int lr_tolerance = 1;    // px: left-right check tolerance
  // Large holes left by the checks are filled from the pair matched at half resolution (see
  // census_sgm.cpp): weakly textured walls that the full-resolution census cannot pin down.
  bool coarse_fill = true;
  double coarse_min_distance = 8.0;    // px: only unknown pixels at least this far from a known one
  double coarse_min_confidence = 1.0;  // only half-resolution disparities at least this confident [0,1]
  int speckle_size = 20;   // connected disparity regions below this many px are removed; 0 = off
  // Large clipped areas (a sensor saturated, e.g. the mono at a higher exposure on a bright
  // surface): where a view's top grey level piles up in its histogram, its pixels clipped together
  // with their 8 neighbours have no texture to match. Areas of them covering at least this share
  // of the image cost the same for every disparity (as do the candidates that fall on such an
  // area of the right view), so SGM carries disparities in from their borders; left pixels whose
  // match lands on a blind area of the right view are returned unknown. 0 = off.
  double clip_min_share = 0.001;
  // Such an area of the left view is then filled with the plane fitted to the known disparities
  // within clip_ring px around it when at least this share of them lie within 1 px of the plane
  // (its border agrees on one surface); otherwise it keeps what SGM carried in. > 1 = never.
  double clip_plane_inliers = 0.75;
  int clip_ring = 5;  // px
  void validate() const;
};

struct MatchOptions {
  MatcherKind kind = MatcherKind::CensusSgm;
  int max_disparity = 0;  // px at full resolution; 0 = automatic (a quarter of the width, rounded up to 16)
  int block_size = 5;     // px, odd (Sgbm only)
  int uniqueness = 10;    // percent margin of the best cost over the second best (Sgbm only)
  // Working scale (CensusSgm only): the pair is matched at a reduced resolution when it is large,
  // so that it has at most `max_working_pixels` pixels and the searched range at most
  // `max_working_disparity` disparities; the result is upsampled guided by the reference image.
  double max_working_pixels = 0.48e6;  // px (12 MP 4:3 -> 800 x 600)
  int max_working_disparity = 160;    // px at working resolution
  CensusSgmOptions census;
  void validate() const;
  // The disparity range actually searched for an image of `width` pixels (a multiple of 16).
  int disparity_range(int width) const;
  // OpenCV StereoSGBM's remaining settings (SGBM backend only; the defaults are the engine's).
  int sgbm_disp12_max_diff = 1;  // px, left-right consistency tolerance; < 0 = no check
  int sgbm_pre_filter_cap = 0;   // clip of the x-derivative prefilter; 0 = OpenCV's default (15)
  int sgbm_speckle_window = 0;   // px, largest blob treated as a speckle; 0 = no speckle filter
  int sgbm_speckle_range = 0;    // px, disparity spread within one connected blob
  // Downscale factor (>= 1) at which a pair of `size` with full-resolution range `range` is matched.
  double working_scale(const cv::Size& size, int range) const;
};

// A disparity map with what the matcher knows about it.
struct MatchResult {
  cv::Mat disparity;   // CV_32F, px, NaN where unknown (occluded, ambiguous or inconsistent)
  cv::Mat confidence;  // CV_32F in [0,1]: 0 = unknown, 1 = unambiguous
  cv::Mat occlusion;   // CV_8U, 255 where the left-right check says occluded (seen by this view only);
                       // other NaN pixels are mismatches or ambiguous
};

class StereoMatcher {
 public:
  virtual ~StereoMatcher() = default;
  // Disparity of the LEFT image with confidence and occlusion. Inputs CV_8UC1, same size;
  // `range` = number of disparities searched (0..range-1).
  virtual MatchResult match_left_full(const cv::Mat& left, const cv::Mat& right, int range) const = 0;
  // The same for the RIGHT image (right x matches left x + d), by matching the mirrored pair.
  MatchResult match_right_full(const cv::Mat& left, const cv::Mat& right, int range) const;

  // Disparity only, with the range the options give for this width.
  cv::Mat match_left(const cv::Mat& left, const cv::Mat& right) const;

  static std::unique_ptr<StereoMatcher> create(const MatchOptions& options);

 protected:
  explicit StereoMatcher(const MatchOptions& options) : options_(options) {}
  MatchOptions options_;
};

}  // namespace dualcam::fusion
