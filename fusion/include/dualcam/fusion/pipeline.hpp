#pragma once
// The fuse pipeline: validate -> rectify -> match -> refine -> warp -> merge -> un-rectify.
// Pure: images in, images out; no file I/O (apps/ reads and writes).
#include <string>

#include <opencv2/core.hpp>

#include "dualcam/engine/progress.hpp"
#include "dualcam/engine/rectify_geometry.hpp"
#include "dualcam/engine/report.hpp"
#include "dualcam/engine/rig.hpp"
#include "dualcam/fusion/match.hpp"
#include "dualcam/fusion/merge.hpp"
#include "dualcam/fusion/refine.hpp"
#include "dualcam/fusion/self_rectify.hpp"

namespace dualcam::fusion {

enum class Reference { Color, Mono };
const char* to_string(Reference reference);
Reference parse_reference(const std::string& text);  // "color"/"colour"/"mono"

struct FuseOptions {
  Reference reference = Reference::Color;
  // true: the pair is already rectified with the mono camera on the left (no rig needed).
  bool rectified = false;
  // true: no rig; the rectification is estimated from the pair itself (`--rig auto`).
  bool auto_rig = false;
  // With a rig: measure the rectified pair's row error on features and, when it is above
  // self_rectify.refine_threshold_px (a drifted module), correct the colour rows.
  bool correct_drift = true;
  SelfRectifyOptions self_rectify;
  RectifyOptions rectify;
  MatchOptions match;
  MergeOptions merge;
  RefineOptions refine;
  // Fill unknown disparities after matching: census: occlusions from the background side and
  // mismatches by the median of their neighbours (8 directions), then a weighted median guided by
  // the reference image; sgbm: the peer's row-wise background fill + 5x5 median.
  bool fill_holes = true;
  void validate() const;
};

// The inputs as the cameras wrote them: mono CV_8UC1/CV_16UC1, colour CV_8UC3/CV_16UC3, both
// sRGB-encoded. `rig` may be null only when options.rectified or options.auto_rig is set.
struct FuseInput {
  cv::Mat mono;
  cv::Mat color;
  const StereoRig* rig = nullptr;
};

struct DepthResult {
  cv::Mat disparity;   // CV_32F at the reference camera's pixel grid (rectified px), NaN = unknown
  cv::Mat canonical_left, canonical_right;  // rectified 8-bit pair that was matched
  cv::Mat canonical_disparity;              // disparity of the reference view in the canonical frame
  cv::Mat canonical_confidence;             // CV_32F [0,1] of the matcher, canonical frame (0 = unknown)
  cv::Mat canonical_occlusion;              // CV_8U 255 where the left-right check failed, canonical frame
  Json stats;
};

struct FuseResult {
  cv::Mat image;      // CV_32FC3 linear BGR at the reference camera's pixel grid and size
  cv::Mat disparity;  // as DepthResult::disparity
  cv::Mat weight;     // CV_32F share of luminance taken from the other view
  cv::Mat confidence; // CV_32F [0,1] of the matcher at the reference camera's grid (0 = unknown)
  Json stats;         // fit, coverage, timings (seconds per stage)
};

// Checks the inputs (channels, depths, sizes against the rig or each other); throws
// Error(InvalidInput) naming the problem.
void validate_input(const FuseInput& input, const FuseOptions& options);

DepthResult compute_depth(const FuseInput& input, const FuseOptions& options, Progress* progress = nullptr);
FuseResult fuse(const FuseInput& input, const FuseOptions& options, Progress* progress = nullptr);

}  // namespace dualcam::fusion
