#pragma once
// The fuse pipeline, a list of stages: rectify (rig / self-rectification / as given) -> match at
// the working scale -> refine (holes, median, upsampling) -> to the reference grid -> warp the
// other view -> merge. Pure: images in, images out; no file I/O (inputs.hpp and apps/ read and
// write).
//
// Every disparity it returns is in dualcam's one unit (engine/disparity.hpp): pixels of the
// reference camera's own image, on its pixel grid. render_bokeh takes it as it comes.
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include <opencv2/core.hpp>

#include "dualcam/engine/inputs.hpp"
#include "dualcam/engine/progress.hpp"
#include "dualcam/engine/rectify_geometry.hpp"
#include "dualcam/engine/report.hpp"
#include "dualcam/engine/rig.hpp"
#include "dualcam/fusion/match.hpp"
#include "dualcam/fusion/merge.hpp"
#include "dualcam/fusion/reference.hpp"
#include "dualcam/fusion/refine.hpp"
#include "dualcam/fusion/self_rectify.hpp"

namespace dualcam::fusion {

struct FuseOptions {
  Reference reference = Reference::Color;
  // true: the pair is already rectified with the mono camera on the left (no rig needed).
  bool rectified = false;
  // true: no rig; the rectification is estimated from the pair itself (`--rig auto`).
  bool auto_rig = false;
  // With a rig: measure the rectified pair's row error on features and, when it is above
  // self_rectify.refine_threshold_px (a drifted module), correct the colour rows (check_drift).
  bool correct_drift = true;
  SelfRectifyOptions self_rectify;
  RectifyOptions rectify;
  MatchOptions match;
  MergeOptions merge;
  NoiseOptions noise;
  RefineOptions refine;
  void validate() const;
};

// The inputs as the cameras wrote them: mono CV_8UC1/CV_16UC1, colour CV_8UC3/CV_16UC3, both
// sRGB-encoded (inputs.hpp prepares them from files). `rig` may be null only when
// options.rectified or options.auto_rig is set.
//
// Raw frames (engine/inputs.hpp develops them) also give the linear signal itself: `mono_linear`
// (CV_32FC1) and `color_linear` (CV_32FC3), the same pixels before the sRGB encoding, which
// clips the noise below black and the highlights above 1 and rounds to 16-bit codes. When given,
// the warp and the merge work on them (matching still takes the encoded images), and a camera's
// noise model, when given, replaces the one the merge would measure on its encoded image
// (raw_noise.hpp fits them on the frames). fuse_input() makes all of it from a CameraPair.
struct FuseInput {
  FuseInput() = default;
  FuseInput(cv::Mat mono_image, cv::Mat color_image, const StereoRig* stereo_rig = nullptr)
      : mono(std::move(mono_image)), color(std::move(color_image)), rig(stereo_rig) {}
  cv::Mat mono;
  cv::Mat color;
  const StereoRig* rig = nullptr;
  cv::Mat mono_linear, color_linear;              // optional, see above
  std::optional<NoiseModel> mono_noise, color_noise;  // optional, see above
};

// The pipeline's input for a pair the input rule prepared (engine/inputs.hpp): its images, and for
// a camera given as a raw frame its linear signal and the noise model fitted on the frame
// (raw_noise_model, developed as `options.raw_finish` says; a frame on which no noise can be
// fitted, a tiny one, gets none: its model is measured on the image). `rig` may be null.
FuseInput fuse_input(const CameraPair& pair, const StereoRig* rig, const InputOptions& options = {},
                     const NoiseOptions& noise = {});

// How the pair was brought into the canonical frame, and what that left.
struct AlignmentStats {
  enum class Mode { Rectified, Rig, Auto };
  Mode mode = Mode::Rectified;
  RectifyGeometry geometry;          // Mode::Rig: the rig's rectification
  std::optional<DriftCheck> drift;   // Mode::Rig with correct_drift
  std::optional<SelfRectification> self_rectification;  // Mode::Auto
  // Median |row error| of the matched features after rectification, px; NaN when not measured
  // (a pair given as rectified, or a rig without the drift check).
  double row_error_px = std::numeric_limits<double>::quiet_NaN();
};

struct MatchStats {
  MatcherKind matcher = MatcherKind::CensusSgm;
  int disparity_range_px = 0;   // searched at full resolution
  double working_scale = 1;     // the pair was matched at 1 / working_scale of its size
  cv::Size working_size;
  double matched_share = 0;     // of the reference view's pixels, at the working scale
  double occluded_share = 0;
};

struct MergeStats {
  double fit_gain = 1, fit_offset = 0;   // mono ~ gain * colour luma + offset
  std::optional<cv::Vec3d> mono_response_bgr;  // reference mono: the mono's fitted spectral response
  double mono_clip_level = 1, mono_clipped_share = 0;
  double coverage = 0;  // share of the reference view that the warped other view covers
  double guide_noise_ratio = 0;  // reference colour: the mono's noise variance / the colour's (merge.hpp)
  double alignment_px = 0;       // what the merge took as the warp's uncertainty (MergeOptions::alignment_px)
  MergeNoise noise;     // both cameras' noise, measured on their images (noise.hpp)
};

struct StageSeconds {
  double rectify = 0, match = 0, refine = 0, warp = 0, noise = 0, merge = 0;
};

// What a run measured; serialised to the JSON report's "stats" in one place (to_json).
struct FuseStats {
  AlignmentStats alignment;
  MatchStats match;
  std::optional<MergeStats> merge;  // fuse only
  StageSeconds seconds;
  Json to_json() const;
};

struct DepthResult {
  cv::Mat disparity;   // CV_32F, engine/disparity.hpp: reference-image px on its grid, NaN = unknown
  cv::Mat confidence;  // CV_32F [0,1] of the matcher at the reference grid (0 = unknown)
  FuseStats stats;
};

struct FuseResult {
  cv::Mat image;      // CV_32FC3 linear BGR at the reference camera's pixel grid and size
  cv::Mat disparity;  // as DepthResult::disparity
  cv::Mat weight;     // CV_32F share of luminance taken from the other view
  cv::Mat confidence; // as DepthResult::confidence
  // The other camera's original pixels warped onto the reference grid, as the merge took them:
  // CV_32FC1 (the mono, reference colour) or CV_32FC3 (the colour, reference mono), linear, 0
  // outside `other_valid` (CV_8U, 255 where the warp is known). What a no-reference figure
  // compares the output with (docs/evaluation.md#real-captures).
  cv::Mat other, other_valid;
  FuseStats stats;
};

// Checks the inputs (channels, depths, sizes against the rig or each other); throws
// Error(InvalidInput) naming the problem.
void validate_input(const FuseInput& input, const FuseOptions& options);

DepthResult compute_depth(const FuseInput& input, const FuseOptions& options, Progress* progress = nullptr);
FuseResult fuse(const FuseInput& input, const FuseOptions& options, Progress* progress = nullptr);

}  // namespace dualcam::fusion
