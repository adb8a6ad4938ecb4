#include "dualcam/fusion/pipeline.hpp"

#include <cmath>
#include <optional>

#include <opencv2/imgproc.hpp>

#include "dualcam/engine/color.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/fusion/rectify.hpp"
#include "dualcam/fusion/refine.hpp"
#include "dualcam/fusion/warp.hpp"

namespace dualcam::fusion {

const char* to_string(Reference r) { return r == Reference::Color ? "color" : "mono"; }

Reference parse_reference(const std::string& text) {
  if (text == "color" || text == "colour") return Reference::Color;
  if (text == "mono") return Reference::Mono;
  throw_invalid("--reference must be 'color' or 'mono', got '" + text + "'");
}

void FuseOptions::validate() const {
  rectify.validate();
  match.validate();
  merge.validate();
  refine.validate();
  self_rectify.validate();
  if (rectified && auto_rig) throw_invalid("FuseOptions: rectified and auto_rig exclude each other");
}

namespace {

std::string size_str(const cv::Size& s) { return std::to_string(s.width) + "x" + std::to_string(s.height); }

cv::Mat to_gray8(const cv::Mat& img) {
  cv::Mat g = img;
  if (g.channels() == 3) cv::cvtColor(g, g, cv::COLOR_BGR2GRAY);
  if (g.depth() == CV_16U) g.convertTo(g, CV_8U, 1.0 / 257.0);
  return g;
}

// Everything the two stages share: the pair in the canonical frame and the disparity of the
// reference view there.
struct Aligned {
  std::optional<Rectifier> rectifier;
  cv::Mat left8, right8;        // canonical 8-bit grey pair that is matched
  cv::Mat disparity;            // canonical disparity of the reference view
  cv::Mat confidence, occlusion;  // of the reference view, canonical grid (see MatchResult)
  double disparity_offset = 0;    // --rig auto: add to canonical disparities for the unshifted pair
};

// Matches the canonical pair at the working scale and brings the reference view's disparity back
// to full resolution: occlusions and rejected pixels filled from the background side, then
// (when the working scale is reduced) joint bilateral upsampling guided by the reference image.
cv::Mat match_and_refine(const cv::Mat& left8, const cv::Mat& right8, const FuseOptions& o, Json& stats,
                         cv::Mat* confidence, cv::Mat* occlusion) {
  Stopwatch sw;
  const bool ref_left = o.reference == Reference::Mono;
  const int range = o.match.disparity_range(left8.cols);
  const double scale = o.match.working_scale(left8.size(), range);
  cv::Mat l = left8, r = right8;
  int work_range = range;
  if (scale > 1.0) {
    const cv::Size work(std::max(16, int(std::lround(left8.cols / scale))),
                        std::max(16, int(std::lround(left8.rows / scale))));
    cv::resize(left8, l, work, 0, 0, cv::INTER_AREA);
    cv::resize(right8, r, work, 0, 0, cv::INTER_AREA);
    work_range = int(std::ceil(range * double(work.width) / left8.cols));
  }
  auto matcher = StereoMatcher::create(o.match);
  MatchResult m = ref_left ? matcher->match_left_full(l, r, work_range) : matcher->match_right_full(l, r, work_range);
  stats["matcher"] = to_string(o.match.kind);
  stats["disparity_range_px"] = range;
  stats["working_scale"] = scale;
  stats["working_size"] = {l.cols, l.rows};
  stats["stages_s"]["match"] = sw.seconds();
  sw.reset();
  cv::Mat known = m.disparity == m.disparity;
  stats["matched_share"] = double(cv::countNonZero(known)) / double(known.total());
  stats["occluded_share"] = double(cv::countNonZero(m.occlusion)) / double(m.occlusion.total());
  cv::Mat d = m.disparity;
  if (o.fill_holes) {
    if (o.match.kind == MatcherKind::Sgbm) {  // the peer's post-processing
      fill_holes_background(d);
      median_5x5(d);
    } else {
      fill_holes_directional(d, m.occlusion);
      fill_holes_background(d);  // what the directions did not reach
      if (o.refine.median_radius > 0)
        weighted_median(d, ref_left ? l : r, o.refine.median_radius, o.refine.median_sigma);
      else
        median_5x5(d);
    }
  }
  if (scale > 1.0) {
    const cv::Mat& guide_low = ref_left ? l : r;
    const cv::Mat& guide = ref_left ? left8 : right8;
    d = upsample_disparity(d, guide_low, guide, o.refine.upsample);
    cv::resize(m.confidence, *confidence, left8.size(), 0, 0, cv::INTER_NEAREST);
    cv::resize(m.occlusion, *occlusion, left8.size(), 0, 0, cv::INTER_NEAREST);
  } else {
    *confidence = m.confidence;
    *occlusion = m.occlusion;
  }
  stats["stages_s"]["refine"] = sw.seconds();
  return d;
}

Aligned align(const FuseInput& in, const FuseOptions& o, Json& stats, Progress* progress) {
  Aligned a;
  Stopwatch sw;
  cv::Mat mono8 = to_gray8(in.mono), color8 = to_gray8(in.color);
  FuseOptions opts = o;
  if (o.rectified) {
    a.left8 = mono8;
    a.right8 = color8;
  } else if (o.auto_rig) {
    const SelfRectification sr = self_rectify(mono8, color8, o.self_rectify);
    a.rectifier.emplace(sr.mono_to_canonical, sr.color_to_canonical, mono8.size(), color8.size(), sr.canonical_size);
    a.left8 = a.rectifier->rectify_mono(mono8);
    a.right8 = a.rectifier->rectify_color(color8);
    stats["self_rectification"] = sr.to_json();
    stats["row_error_px"] = sr.after.median_abs_px;  // median |row error| of the inlier features
    // The features say how far the disparities reach; search at least that far.
    const int needed = int(std::ceil(sr.max_disparity_px * 1.25)) + 8;
    a.disparity_offset = sr.disparity_offset_px;
    if (o.match.max_disparity == 0 && needed > o.match.disparity_range(a.left8.cols))
      opts.match.max_disparity = std::min(4096, needed);
  } else {
    a.rectifier.emplace(*in.rig, o.rectify);
    a.left8 = a.rectifier->rectify_mono(mono8);
    a.right8 = a.rectifier->rectify_color(color8);
    const RectifyGeometry& g = a.rectifier->geometry();
    stats["rectification"] = {{"focal_px", g.focal_px}, {"baseline", g.baseline}, {"vertical", g.vertical},
                              {"flipped", g.flip}};
    if (o.correct_drift) {
      // Features on the rectified pair: rows that do not agree mean the module moved since it
      // was calibrated. An affine correction of the colour rows takes most of it out.
      const FeatureMatches fm = match_features(a.left8, a.right8, o.self_rectify);
      FeatureMatches kept;  // matches on the same row give the row error; far ones are mismatches
      for (std::size_t i = 0; i < fm.a.size(); ++i)
        if (std::abs(fm.a[i].y - fm.b[i].y) < 20.0f && fm.a[i].x - fm.b[i].x > -4.0f) {
          kept.a.push_back(fm.a[i]);
          kept.b.push_back(fm.b[i]);
        }
      const RowError before = row_error(kept);
      stats["rectification"]["row_error_rig"] = {{"matches", before.matches}, {"mean_abs_px", before.mean_abs_px},
                                                 {"median_abs_px", before.median_abs_px}};
      stats["row_error_px"] = before.median_abs_px;
      stats["rectification"]["drift_corrected"] = false;
      if (before.matches >= o.self_rectify.min_inliers && before.median_abs_px > o.self_rectify.refine_threshold_px) {
        const cv::Size cs = a.rectifier->canonical_size();
        const cv::Matx33d c = fit_row_correction(kept, cv::Point2d(0.5 * (cs.width - 1), 0.5 * (cs.height - 1)));
        a.rectifier->correct_color(c);
        a.right8 = a.rectifier->rectify_color(color8);
        FeatureMatches moved = kept;
        for (std::size_t i = 0; i < moved.b.size(); ++i) {
          const cv::Vec3d v = c * cv::Vec3d(moved.b[i].x, moved.b[i].y, 1.0);
          moved.b[i] = cv::Point2f(float(v[0] / v[2]), float(v[1] / v[2]));
        }
        const RowError after = row_error(moved);
        stats["rectification"]["drift_corrected"] = true;
        stats["rectification"]["row_error_corrected"] = {
            {"matches", after.matches}, {"mean_abs_px", after.mean_abs_px}, {"median_abs_px", after.median_abs_px}};
        stats["row_error_px"] = after.median_abs_px;
      }
    }
  }
  stats["stages_s"]["rectify"] = sw.seconds();
  if (progress) progress->advance(1, "matching");
  sw.reset();
  a.disparity = match_and_refine(a.left8, a.right8, opts, stats, &a.confidence, &a.occlusion);
  if (progress) progress->advance(1, "warping");
  return a;
}

// Canonical disparity -> the reference camera's pixel grid (nearest: no blending across edges).
cv::Mat disparity_at_reference(const Aligned& a, Reference ref) {
  if (!a.rectifier) return a.disparity.clone();
  cv::Mat d = ref == Reference::Mono ? a.rectifier->unrectify_to_mono(a.disparity, cv::INTER_NEAREST)
                                     : a.rectifier->unrectify_to_color(a.disparity, cv::INTER_NEAREST);
  if (a.disparity_offset != 0) d += a.disparity_offset;
  return d;
}

}  // namespace

void validate_input(const FuseInput& in, const FuseOptions& o) {
  o.validate();
  if (in.mono.empty()) throw_invalid("the mono image is empty");
  if (in.color.empty()) throw_invalid("the colour image is empty");
  if (in.mono.channels() != 1)
    throw_invalid("the mono image has " + std::to_string(in.mono.channels()) + " channels; expected 1 (grey)");
  if (in.color.channels() != 3)
    throw_invalid("the colour image has " + std::to_string(in.color.channels()) + " channel(s); expected 3");
  for (const cv::Mat* m : {&in.mono, &in.color})
    if (m->depth() != CV_8U && m->depth() != CV_16U) throw_invalid("the images must be 8- or 16-bit");
  if (o.auto_rig) return;  // any sizes: the canonical frame comes from the pair
  if (o.rectified) {
    if (in.mono.size() != in.color.size())
      throw_invalid("with --rectified the mono (" + size_str(in.mono.size()) + ") and colour (" +
                    size_str(in.color.size()) + ") images must have the same size");
    return;
  }
  if (!in.rig) throw_invalid("a rig is needed unless the pair is already rectified (--rectified) or --rig auto is given");
  in.rig->validate();
  if (in.mono.size() != in.rig->mono.size)
    throw_invalid("the mono image is " + size_str(in.mono.size()) + " but the rig says " + size_str(in.rig->mono.size));
  if (in.color.size() != in.rig->color.size)
    throw_invalid("the colour image is " + size_str(in.color.size()) + " but the rig says " +
                  size_str(in.rig->color.size));
}

DepthResult compute_depth(const FuseInput& in, const FuseOptions& o, Progress* progress) {
  validate_input(in, o);
  DepthResult res;
  Aligned a = align(in, o, res.stats, progress);
  res.canonical_left = a.left8;
  res.canonical_right = a.right8;
  res.canonical_disparity = a.disparity;
  res.canonical_confidence = a.confidence;
  res.canonical_occlusion = a.occlusion;
  res.disparity = disparity_at_reference(a, o.reference);
  return res;
}

FuseResult fuse(const FuseInput& in, const FuseOptions& o, Progress* progress) {
  validate_input(in, o);
  FuseResult res;
  Aligned a = align(in, o, res.stats, progress);
  Stopwatch sw;
  // Warp the other view into the reference camera's own grid, where the reference image is used
  // untouched. With a rig, rectify + shift + un-rectify are composed so that the other image is
  // interpolated once.
  const bool ref_color = o.reference == Reference::Color;
  cv::Mat reference_lin = to_linear(ref_color ? in.color : in.mono);
  const cv::Mat& other = ref_color ? in.mono : in.color;
  cv::Mat warped, valid;
  if (a.rectifier) {
    const cv::Mat other_lin = to_linear(other);
    warped = ref_color ? a.rectifier->warp_mono_to_color(other_lin, a.disparity, &valid)
                       : a.rectifier->warp_color_to_mono(other_lin, a.disparity, &valid);
    cv::patchNaNs(warped, 0.0);
  } else {
    // Decoded row by row as it is warped: no full-size linear copy of the other image.
    warped = warp_encoded_by_disparity(other, a.disparity, ref_color ? +1 : -1, &valid);
  }
  res.stats["stages_s"]["warp"] = sw.seconds();
  if (progress) progress->advance(1, "merging");
  sw.reset();
  MergeResult m = o.reference == Reference::Color ? merge_reference_color(reference_lin, warped, valid, o.merge)
                                                  : merge_reference_mono(reference_lin, warped, valid, o.merge);
  res.stats["stages_s"]["merge"] = sw.seconds();
  res.stats["mono_fit"] = {{"gain", m.fit_gain}, {"offset", m.fit_offset}};
  res.stats["mono_clip"] = {{"level", m.mono_clip_level}, {"clipped_share", m.mono_clipped_share}};
  if (o.reference == Reference::Mono)
    res.stats["mono_fit"]["response_bgr"] = {m.mono_response[0], m.mono_response[1], m.mono_response[2]};
  res.stats["coverage"] = double(cv::countNonZero(valid)) / double(valid.total());
  res.image = m.image;
  res.weight = m.weight;
  // Without a rig the reference grid is the canonical one, and `a` ends here: its maps are
  // handed over, not copied.
  res.disparity = a.rectifier ? disparity_at_reference(a, o.reference) : a.disparity;
  if (!a.rectifier)
    res.confidence = a.confidence;
  else
    res.confidence = ref_color ? a.rectifier->unrectify_to_color(a.confidence, cv::INTER_NEAREST)
                               : a.rectifier->unrectify_to_mono(a.confidence, cv::INTER_NEAREST);
  if (progress) progress->advance(1, "done");
  return res;
}

}  // namespace dualcam::fusion
