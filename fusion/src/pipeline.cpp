#include "dualcam/fusion/pipeline.hpp"

#include <cmath>
#include <cstdlib>
#include <optional>

#include <opencv2/imgproc.hpp>
#include <tbb/parallel_invoke.h>

#include "dualcam/engine/color.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/fusion/raw_noise.hpp"
#include "dualcam/fusion/rectify.hpp"
#include "dualcam/fusion/refine.hpp"
#include "dualcam/fusion/warp.hpp"

namespace dualcam::fusion {

const char* to_string(Reference r) { return r == Reference::Color ? "color" : "mono"; }

Reference parse_reference(const std::string& text) {
  if (text == "color" || text == "colour") return Reference::Color;
  if (text == "mono") return Reference::Mono;
  throw_invalid("the reference view must be 'color' or 'mono', got '" + text + "'");
}

void FuseOptions::validate() const {
  rectify.validate();
  match.validate();
  merge.validate();
  noise.validate();
  refine.validate();
  self_rectify.validate();
  if (rectified && auto_rig) throw_invalid("FuseOptions: rectified and auto_rig exclude each other");
}

Json FuseStats::to_json() const {
  Json j;
  j["matcher"] = to_string(match.matcher);
  j["disparity_range_px"] = match.disparity_range_px;
  j["working_scale"] = match.working_scale;
  j["working_size"] = {match.working_size.width, match.working_size.height};
  j["matched_share"] = match.matched_share;
  j["occluded_share"] = match.occluded_share;
  j["stages_s"] = {{"rectify", seconds.rectify}, {"match", seconds.match}, {"refine", seconds.refine}};
  if (merge) {
    j["stages_s"]["warp"] = seconds.warp;
    j["stages_s"]["noise"] = seconds.noise;
    j["stages_s"]["merge"] = seconds.merge;
  }
  const AlignmentStats& a = alignment;
  if (a.mode == AlignmentStats::Mode::Rig) {
    const RectifyGeometry& g = a.geometry;
    j["rectification"] = {{"focal_px", g.focal_px}, {"baseline", g.baseline}, {"vertical", g.vertical},
                          {"flipped", g.flip}};
    if (a.drift) j["rectification"].update(a.drift->to_json());
  }
  if (a.self_rectification) j["self_rectification"] = a.self_rectification->to_json();
  if (std::isfinite(a.row_error_px)) j["row_error_px"] = a.row_error_px;
  if (merge) {
    j["mono_fit"] = {{"gain", merge->fit_gain}, {"offset", merge->fit_offset}};
    if (merge->mono_response_bgr) {
      const cv::Vec3d& r = *merge->mono_response_bgr;
      j["mono_fit"]["response_bgr"] = {r[0], r[1], r[2]};
    }
    j["mono_clip"] = {{"level", merge->mono_clip_level}, {"clipped_share", merge->mono_clipped_share}};
    j["coverage"] = merge->coverage;
    if (merge->guide_noise_ratio > 0) j["guide_noise_ratio"] = merge->guide_noise_ratio;
    j["alignment_px"] = merge->alignment_px;
    j["noise"] = {{"color", merge->noise.color.to_json()}, {"mono", merge->noise.mono.to_json()}};
  }
  return j;
}

namespace {

std::string size_str(const cv::Size& s) { return std::to_string(s.width) + "x" + std::to_string(s.height); }

cv::Mat to_gray8(const cv::Mat& img) {
  cv::Mat g = img;
  if (g.channels() == 3) cv::cvtColor(g, g, cv::COLOR_BGR2GRAY);
  if (g.depth() == CV_16U) g.convertTo(g, CV_8U, 1.0 / 257.0);
  return g;
}

// ---- stage 1: rectify ------------------------------------------------------------------------

// The pair in the canonical frame (mono = left, left x matches right x - d, d > 0).
struct CanonicalPair {
  std::optional<Rectifier> rectifier;  // none: the pair was given rectified
  cv::Mat left8, right8;               // canonical 8-bit grey pair that is matched
  double disparity_offset = 0;         // --rig auto: add to canonical disparities for the unshifted pair
  int min_range = 0;                   // --rig auto: the features' disparities need at least this range
};

CanonicalPair rectify_pair(const cv::Mat& mono8, const cv::Mat& color8, const FuseInput& in, const FuseOptions& o,
                           AlignmentStats& stats) {
  CanonicalPair c;
  if (o.rectified) {
    stats.mode = AlignmentStats::Mode::Rectified;
    c.left8 = mono8;
    c.right8 = color8;
  } else if (o.auto_rig) {
    stats.mode = AlignmentStats::Mode::Auto;
    const SelfRectification sr = self_rectify(mono8, color8, o.self_rectify);
    c.rectifier.emplace(sr.mono_to_canonical, sr.color_to_canonical, mono8.size(), color8.size(), sr.canonical_size);
    c.left8 = c.rectifier->rectify_mono(mono8);
    c.right8 = c.rectifier->rectify_color(color8);
    c.disparity_offset = sr.disparity_offset_px;
    // The features say how far the disparities reach; search at least that far.
    c.min_range = int(std::ceil(sr.max_disparity_px * 1.25)) + 8;
    stats.row_error_px = sr.rows.median_abs_px;  // median |row error| of the inlier features
    stats.self_rectification = sr;
  } else {
    stats.mode = AlignmentStats::Mode::Rig;
    c.rectifier.emplace(*cached_rectifier(*in.rig, o.rectify));  // a copy: the drift check may correct it
    c.left8 = c.rectifier->rectify_mono(mono8);
    c.right8 = c.rectifier->rectify_color(color8);
    stats.geometry = c.rectifier->geometry();
    if (o.correct_drift) {
      const DriftCheck dc = check_drift(c.left8, c.right8, o.self_rectify);
      if (dc.corrected) {
        c.rectifier->correct_color(dc.correction);
        c.right8 = c.rectifier->rectify_color(color8);
      }
      stats.row_error_px = dc.corrected ? dc.after.median_abs_px : dc.before.median_abs_px;
      stats.drift = dc;
    }
  }
  return c;
}

// ---- stage 2: match ----------------------------------------------------------------------------

// The canonical pair matched at the working scale, and the reference view's grey image there
// and at full resolution (the refine stage's guides).
struct Matched {
  MatchResult match;
  cv::Mat guide_low, guide;
};

Matched match_pair(const CanonicalPair& c, const FuseOptions& o, MatchStats& stats) {
  const bool ref_left = o.reference == Reference::Mono;
  MatchOptions mo = o.match;
  if (mo.max_disparity == 0 && c.min_range > mo.disparity_range(c.left8.cols))
    mo.max_disparity = std::min(4096, c.min_range);
  const int range = mo.disparity_range(c.left8.cols);
  const double scale = mo.working_scale(c.left8.size(), range);
  cv::Mat l = c.left8, r = c.right8;
  int work_range = range;
  if (scale > 1.0) {
    const cv::Size work(std::max(16, int(std::lround(c.left8.cols / scale))),
                        std::max(16, int(std::lround(c.left8.rows / scale))));
    cv::resize(c.left8, l, work, 0, 0, cv::INTER_AREA);
    cv::resize(c.right8, r, work, 0, 0, cv::INTER_AREA);
    work_range = int(std::ceil(range * double(work.width) / c.left8.cols));
  }
  auto matcher = StereoMatcher::create(mo);
  Matched m;
  m.match = ref_left ? matcher->match_left_full(l, r, work_range) : matcher->match_right_full(l, r, work_range);
  m.guide_low = ref_left ? l : r;
  m.guide = ref_left ? c.left8 : c.right8;
  stats.matcher = mo.kind;
  stats.disparity_range_px = range;
  stats.working_scale = scale;
  stats.working_size = l.size();
  const cv::Mat known = m.match.disparity == m.match.disparity;
  stats.matched_share = double(cv::countNonZero(known)) / double(known.total());
  stats.occluded_share = double(cv::countNonZero(m.match.occlusion)) / double(m.match.occlusion.total());
  return m;
}

// ---- stage 4: to the reference view --------------------------------------------------------------

// A canonical map of the reference view -> the reference camera's pixel grid (nearest: no
// blending across edges). `is_disparity`: also into the reference image's pixels
// (engine/disparity.hpp), the self-rectification's shift undone first.
cv::Mat at_reference(const cv::Mat& canonical, const CanonicalPair& c, Reference ref, bool is_disparity) {
  if (!c.rectifier) return canonical;
  const Rectifier& r = *c.rectifier;
  cv::Mat out = ref == Reference::Mono ? r.unrectify_to_mono(canonical, cv::INTER_NEAREST)
                                       : r.unrectify_to_color(canonical, cv::INTER_NEAREST);
  if (is_disparity) {
    if (c.disparity_offset != 0) out += c.disparity_offset;
    const double scale = ref == Reference::Mono ? r.mono_disparity_scale() : r.color_disparity_scale();
    if (scale != 1.0) out *= scale;
  }
  return out;
}

// Stages 1-3, shared by depth and fuse.
struct Aligned {
  CanonicalPair pair;
  RefinedDisparity refined;  // canonical frame, full resolution
};

Aligned align(const FuseInput& in, const FuseOptions& o, FuseStats& stats, Progress* progress) {
  Aligned a;
  Stopwatch sw;
  a.pair = rectify_pair(to_gray8(in.mono), to_gray8(in.color), in, o, stats.alignment);
  stats.seconds.rectify = sw.seconds();
  if (progress) progress->advance(1, "matching");
  sw.reset();
  const Matched m = match_pair(a.pair, o, stats.match);
  stats.seconds.match = sw.seconds();
  sw.reset();
  a.refined = refine_disparity(m.match, m.guide_low, m.guide, stats.match.matcher, o.refine);
  stats.seconds.refine = sw.seconds();
  return a;
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
  if (!in.mono_linear.empty() && (in.mono_linear.type() != CV_32FC1 || in.mono_linear.size() != in.mono.size()))
    throw_invalid("the mono's linear image must be CV_32FC1 of the mono image's size");
  if (!in.color_linear.empty() && (in.color_linear.type() != CV_32FC3 || in.color_linear.size() != in.color.size()))
    throw_invalid("the colour's linear image must be CV_32FC3 of the colour image's size");
  if ((in.mono_noise && in.mono_noise->channels() != 1) || (in.color_noise && in.color_noise->channels() != 3))
    throw_invalid("the given noise models must have 1 (mono) and 3 (colour) channels");
  if (o.auto_rig) return;  // any sizes: the canonical frame comes from the pair
  if (o.rectified) {
    if (in.mono.size() != in.color.size())
      throw_invalid("a rectified pair's mono (" + size_str(in.mono.size()) + ") and colour (" +
                    size_str(in.color.size()) + ") images must have the same size");
    return;
  }
  if (!in.rig) throw_invalid("a rig is needed unless the pair is already rectified or self-rectification is asked for");
  in.rig->validate();
  if (in.mono.size() != in.rig->mono.size)
    throw_invalid("the mono image is " + size_str(in.mono.size()) + " but the rig says " + size_str(in.rig->mono.size));
  if (in.color.size() != in.rig->color.size)
    throw_invalid("the colour image is " + size_str(in.color.size()) + " but the rig says " +
                  size_str(in.rig->color.size));
}

FuseInput fuse_input(const CameraPair& pair, const StereoRig* rig, const InputOptions& options, const NoiseOptions& noise) {
  FuseInput in{pair.mono, pair.color, rig};
  in.mono_linear = pair.mono_linear;
  in.color_linear = pair.color_linear;
  // A frame too small (or too textured) to fit its noise on leaves the model to be measured on
  // the developed image, as for an image.
  auto model = [&](const RawFrame& f) -> std::optional<NoiseModel> {
    try {
      return raw_noise_model(f, options.raw_finish, options.raw_finish.exposure * std::exp2(f.baseline_exposure_ev),
                             noise);
    } catch (const Error& e) {
      if (e.category() != ErrorCategory::InvalidInput) throw;
      return std::nullopt;
    }
  };
  // One camera after the other, each fit parallel inside: side by side (tbb::parallel_invoke) the
  // 12 MP pair took 0.15 s against 0.10 s, a thread waiting in one fit took up a plane of the other.
  if (!pair.mono_frame.samples.empty()) in.mono_noise = model(pair.mono_frame);
  if (!pair.color_frame.samples.empty()) in.color_noise = model(pair.color_frame);
  return in;
}

DepthResult compute_depth(const FuseInput& in, const FuseOptions& o, Progress* progress) {
  validate_input(in, o);
  DepthResult res;
  const Aligned a = align(in, o, res.stats, progress);
  res.disparity = at_reference(a.refined.disparity, a.pair, o.reference, true);
  res.confidence = at_reference(a.refined.confidence, a.pair, o.reference, false);
  if (o.refine.edge_snap_radius > 0)
    res.disparity = refine_view_disparity(res.disparity, to_linear_bgr(o.reference == Reference::Color ? in.color : in.mono),
                                          o.refine.edge_snap_radius);
  return res;
}

FuseResult fuse(const FuseInput& in, const FuseOptions& o, Progress* progress) {
  validate_input(in, o);
  FuseResult res;
  const Aligned a = align(in, o, res.stats, progress);
  if (progress) progress->advance(1, "warping");
  Stopwatch sw;
  const bool ref_color = o.reference == Reference::Color;
  // The merge's linear images: the raw frames' own signal when given, else the decoded images.
  const cv::Mat& mono_lin = in.mono_linear.empty() ? in.mono : in.mono_linear;
  const cv::Mat& color_lin = in.color_linear.empty() ? in.color : in.color_linear;
  const cv::Mat& other = ref_color ? mono_lin : color_lin;
  cv::Mat valid;
  const cv::Mat warped =
      warp_to_reference(other, a.pair.rectifier ? &*a.pair.rectifier : nullptr, a.refined.disparity, o.reference, &valid);
  res.stats.seconds.warp = sw.seconds();
  if (progress) progress->advance(1, "merging");
  sw.reset();
  MergeStats ms;
  const NoiseOptions& nopt = o.noise;
  // The two cameras' models side by side: each has serial parts (histograms, level sets) that
  // the other's parallel ones fill in around.
  tbb::parallel_invoke([&] { ms.noise.color = in.color_noise ? *in.color_noise : estimate_noise(in.color, nopt); },
                       [&] { ms.noise.mono = in.mono_noise ? *in.mono_noise : estimate_noise(in.mono, nopt); });
  res.stats.seconds.noise = sw.seconds();
  sw.reset();
  // How far off an edge of the warped view may be. A pair given rectified, or aligned by a rig, is
  // trusted: on P2's rig path at light 0.2 (27 scenes) counting half a working pixel there cost
  // 0.39 dB (32.70 against 33.09 dB). An alignment estimated from the pair itself (--rig auto) is
  // not: the row error it measured and half a pixel of the working scale the disparity was matched
  // at (pair 0013: 0.8 px rows, scale 6.1: 3.1 px); on the real pairs this took the detail
  // correlation with the mono from 0.61 to 0.68 at the same flat-area noise.
  MergeOptions mo = o.merge;
  if (res.stats.alignment.mode == AlignmentStats::Mode::Auto) {
    const double row = std::isfinite(res.stats.alignment.row_error_px) ? res.stats.alignment.row_error_px : 0.0;
    const double match = 0.5 * res.stats.match.working_scale;
    mo.alignment_px = std::max(mo.alignment_px, std::sqrt(row * row + match * match));
  }
  ms.alignment_px = mo.alignment_px;
  mo = mo.for_raw_frames(bool(in.mono_noise), bool(in.color_noise));
  const cv::Mat& ref_in = ref_color ? color_lin : mono_lin;
  const cv::Mat reference_lin = ref_in.depth() == CV_32F ? ref_in : to_linear(ref_in);
  MergeResult m = ref_color ? merge_reference_color(reference_lin, warped, valid, mo, &ms.noise)
                            : merge_reference_mono(reference_lin, warped, valid, mo, &ms.noise);
  res.stats.seconds.merge = sw.seconds();
  ms.fit_gain = m.fit_gain;
  ms.fit_offset = m.fit_offset;
  if (!ref_color) ms.mono_response_bgr = m.mono_response;
  ms.mono_clip_level = m.mono_clip_level;
  ms.mono_clipped_share = m.mono_clipped_share;
  ms.guide_noise_ratio = m.guide_noise_ratio;
  ms.coverage = double(cv::countNonZero(valid)) / double(valid.total());
  res.stats.merge = ms;
  res.image = m.image;
  res.weight = m.weight;
  res.other = warped;
  res.other_valid = valid;
  res.disparity = at_reference(a.refined.disparity, a.pair, o.reference, true);
  res.confidence = at_reference(a.refined.confidence, a.pair, o.reference, false);
  if (o.refine.edge_snap_radius > 0)
    res.disparity = refine_view_disparity(res.disparity, res.image, o.refine.edge_snap_radius);
  if (progress) progress->advance(1, "done");
  return res;
}

}  // namespace dualcam::fusion
