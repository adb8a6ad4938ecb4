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
    const cv::Size work(std::max(16, int(std::lround(left8.cols / scale))), std::max(16, int(std::lround(left8.rows / scale))));
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
    } else {
      fill_holes_directional(d, m.occlusion);
      fill_holes_background(d);  // what the directions did not reach
    }
    median_5x5(d);
  }
  if (scale > 1.0) {
    const cv::Mat& guide_low = ref_left ? l : r;
    const cv::Mat& guide = ref_left ? left8 : right8;
    d = upsample_disparity(d, guide_low, guide);
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
  if (o.rectified) {
    a.left8 = mono8;
    a.right8 = color8;
  } else {
    a.rectifier.emplace(*in.rig, o.rectify);
    a.left8 = a.rectifier->rectify_mono(mono8);
    a.right8 = a.rectifier->rectify_color(color8);
    const RectifyGeometry& g = a.rectifier->geometry();
    stats["rectification"] = {{"focal_px", g.focal_px}, {"baseline", g.baseline}, {"vertical", g.vertical},
                              {"flipped", g.flip}};
  }
  stats["stages_s"]["rectify"] = sw.seconds();
  if (progress) progress->advance(1, "matching");
  sw.reset();
  a.disparity = match_and_refine(a.left8, a.right8, o, stats, &a.confidence, &a.occlusion);
  if (progress) progress->advance(1, "warping");
  return a;
}

// Canonical disparity -> the reference camera's pixel grid (nearest: no blending across edges).
cv::Mat disparity_at_reference(const Aligned& a, Reference ref) {
  if (!a.rectifier) return a.disparity.clone();
  return ref == Reference::Mono ? a.rectifier->unrectify_to_mono(a.disparity, cv::INTER_NEAREST)
                                : a.rectifier->unrectify_to_color(a.disparity, cv::INTER_NEAREST);
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
  if (in.mono.depth() != in.color.depth() || (in.mono.depth() != CV_8U && in.mono.depth() != CV_16U))
    throw_invalid("mono and colour images must both be 8-bit or both 16-bit");
  if (o.rectified) {
    if (in.mono.size() != in.color.size())
      throw_invalid("with --rectified the mono (" + size_str(in.mono.size()) + ") and colour (" +
                    size_str(in.color.size()) + ") images must have the same size");
    return;
  }
  if (!in.rig) throw_invalid("a rig is needed unless the pair is already rectified (--rectified)");
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
  const cv::Mat other_lin = to_linear(ref_color ? in.mono : in.color);
  cv::Mat warped, valid;
  if (a.rectifier) {
    warped = ref_color ? a.rectifier->warp_mono_to_color(other_lin, a.disparity, &valid)
                       : a.rectifier->warp_color_to_mono(other_lin, a.disparity, &valid);
  } else {
    warped = warp_by_disparity(other_lin, a.disparity, ref_color ? +1 : -1, &valid);
  }
  cv::patchNaNs(warped, 0.0);
  res.stats["stages_s"]["warp"] = sw.seconds();
  if (progress) progress->advance(1, "merging");
  sw.reset();
  MergeResult m = o.reference == Reference::Color ? merge_reference_color(reference_lin, warped, valid, o.merge)
                                                  : merge_reference_mono(reference_lin, warped, valid, o.merge);
  res.stats["stages_s"]["merge"] = sw.seconds();
  res.stats["mono_fit"] = {{"gain", m.fit_gain}, {"offset", m.fit_offset}};
  res.stats["coverage"] = double(cv::countNonZero(valid)) / double(valid.total());
  res.image = m.image;
  res.weight = m.weight;
  res.disparity = disparity_at_reference(a, o.reference);
  if (progress) progress->advance(1, "done");
  return res;
}

}  // namespace dualcam::fusion
