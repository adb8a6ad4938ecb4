// Cross-spectral matches for self-rectification (self_rectify_internal.hpp).
//
// Measured on the two real low-light pairs (../shared/data/real_color_mono, 1440x960, colour
// luminance against a brighter, noisy mono), inliers of a 1 px MAGSAC++ fundamental matrix,
// pair 0013 / 0030: ORB 83 / 170 (raw grey), 74 / 134 (CLAHE); SIFT 19 / 41 (raw), 52 / 74
// (CLAHE); AKAZE 83 / 134 (raw), 308 / 276 (CLAHE), 188 / 311 (local mean / deviation
// normalisation, but three times slower). So AKAZE on CLAHE-equalised views. Its keypoints are
// off by 1-2 px on such noisy views: a cubic polynomial warp fitted to the matches leaves a
// median residual of 2.4 / 2.2 px. Re-positioning every match by the correlation of a 49 px
// patch (21 px: 2.0 / 1.2, 31 px: 1.4 / 0.8) brings that to 0.8 / 0.5 px; the rest is the
// scene's relief, the lenses and the noise.
#include <algorithm>
#include <cmath>
#include <numeric>

#include <opencv2/calib3d.hpp>
#include <opencv2/features2d.hpp>
#include <opencv2/imgproc.hpp>

#include "dualcam/engine/parallel.hpp"
#include "self_rectify_internal.hpp"

namespace dualcam::fusion::detail {

namespace {

// A view as the features see it: downscaled to the longer side `max_side` (factor <= 1).
struct FeatureView {
  cv::Mat grey;  // downscaled, as captured
  double factor = 1;
  std::vector<cv::KeyPoint> keys;
  cv::Mat descriptors;
};

FeatureView feature_view(const cv::Mat& img8, const SelfRectifyOptions& o) {
  FeatureView v;
  v.factor = std::min(1.0, o.max_side_px / std::max(img8.cols, img8.rows));
  if (v.factor < 1.0)
    cv::resize(img8, v.grey, cv::Size(), v.factor, v.factor, cv::INTER_AREA);
  else
    v.grey = img8;
  // CLAHE evens out the two cameras' different tone (a dark colour view, a bright mono) locally,
  // so that the same structures pass AKAZE's contrast threshold in both.
  cv::Mat eq;
  cv::createCLAHE(3.0, cv::Size(8, 8))->apply(v.grey, eq);
  // A low detector threshold (OpenCV's default is 0.001): low-light views have little contrast.
  auto akaze = cv::AKAZE::create(cv::AKAZE::DESCRIPTOR_MLDB, 0, 3, 0.0005f, 4, 4, cv::KAZE::DIFF_PM_G2);
  akaze->detectAndCompute(eq, cv::noArray(), v.keys, v.descriptors);
  if (int(v.keys.size()) > o.max_features) {
    std::vector<int> order(v.keys.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int i, int j) { return v.keys[i].response > v.keys[j].response; });
    order.resize(o.max_features);
    std::vector<cv::KeyPoint> keys;
    cv::Mat desc(int(order.size()), v.descriptors.cols, v.descriptors.type());
    for (std::size_t k = 0; k < order.size(); ++k) {
      keys.push_back(v.keys[order[k]]);
      v.descriptors.row(order[k]).copyTo(desc.row(int(k)));
    }
    v.keys = std::move(keys);
    v.descriptors = desc;
  }
  return v;
}

// Ratio test on the two nearest descriptors from a to b, kept only when b's nearest in a is the
// same point (mutual check). Feature-scale coordinates.
void mutual_matches(const FeatureView& a, const FeatureView& b, double ratio, std::vector<cv::Point2f>& pa,
                    std::vector<cv::Point2f>& pb) {
  if (a.descriptors.empty() || b.descriptors.empty() || b.keys.size() < 2) return;
  cv::BFMatcher matcher(cv::NORM_HAMMING);
  std::vector<std::vector<cv::DMatch>> ab, ba;
  matcher.knnMatch(a.descriptors, b.descriptors, ab, 2);
  matcher.knnMatch(b.descriptors, a.descriptors, ba, 1);
  for (const auto& k : ab) {
    if (k.size() < 2 || k[0].distance >= ratio * k[1].distance) continue;
    const auto& back = ba[k[0].trainIdx];
    if (back.empty() || back[0].trainIdx != k[0].queryIdx) continue;
    pa.push_back(a.keys[k[0].queryIdx].pt);
    pb.push_back(b.keys[k[0].trainIdx].pt);
  }
}

cv::Point2d apply(const cv::Matx33d& H, const cv::Point2d& p) {
  const cv::Vec3d v = H * cv::Vec3d(p.x, p.y, 1.0);
  return {v[0] / v[2], v[1] / v[2]};
}

// Feature-scale px -> full-resolution px (pixel centres: INTER_AREA keeps the image's extent).
cv::Point2f to_full(const cv::Point2d& p, double factor) {
  return {float((p.x + 0.5) / factor - 0.5), float((p.y + 0.5) / factor - 0.5)};
}

// Re-positions the colour end of every candidate by normalised cross-correlation of the mono's
// patch around its (integer) point, searched +-search px around where the match puts it, in the
// colour view warped onto the mono by H (mono -> colour, feature scale): the warp takes out the
// scale, rotation and shear between the views, so one patch fits. Sub-pixel peak by a parabola
// per axis. Drops patches without texture, peaks on the search border (the match was elsewhere)
// and correlations below options.min_correlation.
FeatureMatches refine_by_correlation(const FeatureView& mono, const FeatureView& color, const cv::Matx33d& H,
                                     const std::vector<cv::Point2f>& pa, const std::vector<cv::Point2f>& pb,
                                     const SelfRectifyOptions& o) {
  // Blur: both views are noisy at the pixel level; the correlation needs their structure.
  cv::Mat mono_f, warped_f, warped;
  mono.grey.convertTo(mono_f, CV_32F);
  cv::warpPerspective(color.grey, warped, cv::Mat(H), mono.grey.size(), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP,
                      cv::BORDER_CONSTANT, cv::Scalar(0));
  warped.convertTo(warped_f, CV_32F);
  cv::GaussianBlur(mono_f, mono_f, cv::Size(), 1.5);
  cv::GaussianBlur(warped_f, warped_f, cv::Size(), 1.5);
  const int half = o.patch_px / 2, search = 6;
  const cv::Matx33d Hinv = H.inv();
  const int n = int(pa.size());
  std::vector<std::uint8_t> ok(n, 0);
  std::vector<cv::Point2d> ra(n), rb(n);
  const cv::Rect inside(0, 0, mono_f.cols, mono_f.rows);
  parallel_rows(n, 8, [&](int i0, int i1) {
    cv::Mat R;
    for (int i = i0; i < i1; ++i) {
      const cv::Point ia(int(std::lround(pa[i].x)), int(std::lround(pa[i].y)));
      const cv::Point2d q = apply(Hinv, cv::Point2d(pb[i]));
      if (!std::isfinite(q.x) || !std::isfinite(q.y)) continue;
      const cv::Point iq(int(std::lround(q.x)), int(std::lround(q.y)));
      const cv::Rect templ_rect(ia.x - half, ia.y - half, 2 * half + 1, 2 * half + 1);
      const cv::Rect search_rect(iq.x - half - search, iq.y - half - search, 2 * (half + search) + 1,
                                 2 * (half + search) + 1);
      if ((templ_rect & inside) != templ_rect || (search_rect & inside) != search_rect) continue;
      const cv::Mat templ = mono_f(templ_rect), region = warped_f(search_rect);
      cv::Scalar mean, sd;
      cv::meanStdDev(templ, mean, sd);
      if (sd[0] < 1.0) continue;  // flat: correlation is noise
      cv::meanStdDev(region, mean, sd);
      if (sd[0] < 1.0) continue;  // also the warp's empty border
      cv::matchTemplate(region, templ, R, cv::TM_CCOEFF_NORMED);
      double best = 0;
      cv::Point at;
      cv::minMaxLoc(R, nullptr, &best, nullptr, &at);
      if (best < o.min_correlation || at.x == 0 || at.y == 0 || at.x == R.cols - 1 || at.y == R.rows - 1) continue;
      auto vertex = [](float l, float c, float r) {
        const double den = double(l) - 2.0 * c + r;
        return den < 0 ? 0.5 * (double(l) - r) / den : 0.0;
      };
      const double dx = vertex(R.at<float>(at.y, at.x - 1), R.at<float>(at.y, at.x), R.at<float>(at.y, at.x + 1));
      const double dy = vertex(R.at<float>(at.y - 1, at.x), R.at<float>(at.y, at.x), R.at<float>(at.y + 1, at.x));
      const cv::Point2d in_warped(iq.x - search + at.x + dx, iq.y - search + at.y + dy);
      ra[i] = cv::Point2d(ia);
      rb[i] = apply(H, in_warped);
      ok[i] = 1;
    }
  });
  FeatureMatches out;
  for (int i = 0; i < n; ++i)
    if (ok[i]) {
      out.a.push_back(to_full(ra[i], mono.factor));
      out.b.push_back(to_full(rb[i], color.factor));
    }
  return out;
}

}  // namespace

CrossSpectralMatches cross_spectral_matches(const cv::Mat& mono8, const cv::Mat& color8, const SelfRectifyOptions& o) {
  CrossSpectralMatches out;
  const FeatureView mono = feature_view(mono8, o), color = feature_view(color8, o);
  std::vector<cv::Point2f> pa, pb;
  mutual_matches(mono, color, o.auto_ratio, pa, pb);
  out.matches = int(pa.size());
  if (out.matches < 8) return out;
  // A coarse homography for the correlation's warp, and a loose epipolar fit (3 px at the
  // feature scale: the keypoints' own error) that removes mismatches but keeps parallax.
  std::vector<std::uint8_t> mask_h, mask_f;
  const cv::Mat H = cv::findHomography(pa, pb, cv::USAC_MAGSAC, 3.0, mask_h, 10000, 0.9999);
  const cv::Mat F = cv::findFundamentalMat(pa, pb, cv::USAC_MAGSAC, 3.0, 0.9999, 10000, mask_f);
  if (H.rows != 3 || F.rows != 3) return out;
  std::vector<cv::Point2f> ca, cb;
  for (std::size_t i = 0; i < pa.size(); ++i)
    if (mask_f[i]) {
      ca.push_back(pa[i]);
      cb.push_back(pb[i]);
    }
  out.refined = refine_by_correlation(mono, color, cv::Matx33d(H), ca, cb, o);
  return out;
}

}  // namespace dualcam::fusion::detail
