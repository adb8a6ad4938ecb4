#include "dualcam/fusion/pipeline.hpp"

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
};

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
  auto matcher = StereoMatcher::create(o.match);
  a.disparity = o.reference == Reference::Mono ? matcher->match_left(a.left8, a.right8)
                                               : matcher->match_right(a.left8, a.right8);
  stats["disparity_range_px"] = o.match.disparity_range(a.left8.cols);
  stats["stages_s"]["match"] = sw.seconds();
  sw.reset();
  cv::Mat known = a.disparity == a.disparity;
  stats["matched_share"] = double(cv::countNonZero(known)) / double(known.total());
  if (o.fill_holes) {
    fill_holes_background(a.disparity);
    median_5x5(a.disparity);
  }
  stats["stages_s"]["refine"] = sw.seconds();
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
  for (const cv::Mat* m : {&in.mono, &in.color})
    if (m->depth() != CV_8U && m->depth() != CV_16U) throw_invalid("the images must be 8- or 16-bit");
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
