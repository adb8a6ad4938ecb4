#pragma once
// Post-capture refocus as a user asks for it: a focus (a point or a disparity) and a blur (an
// f-number through the rig, or the largest radius), resolved against a disparity map into
// bokeh.hpp's BokehOptions; and the two paths every caller takes (the CLI, regress, eval, the
// Python module): bokeh from a colour + mono pair (fused first) and bokeh from an image and its
// disparity.
#include <optional>

#include <opencv2/core.hpp>

#include "dualcam/engine/progress.hpp"
#include "dualcam/engine/rig.hpp"
#include "dualcam/fusion/bokeh.hpp"
#include "dualcam/fusion/pipeline.hpp"

namespace dualcam::fusion {

struct RefocusOptions {
  // The focus: exactly one of these.
  std::optional<cv::Point> focus_point;      // the median known disparity around this pixel
  std::optional<double> focus_disparity_px;  // this disparity (engine/disparity.hpp)
  int focus_window = 7;                      // half-size of the focus_point window, px
  // The blur: exactly one of these.
  std::optional<double> f_number;            // a lens of this f-number (needs the rig: focal, baseline)
  double pixel_pitch_um = 1.0;               // sensor pixel pitch for f_number, micrometres
  std::optional<double> max_blur_px;         // the largest blur radius in the image, px
  Aperture aperture;
  double highlight_gain = 1.0;               // BokehOptions::highlight_gain
  void validate() const;
};

// BokehOptions for an image at `view` whose disparity is `disparity` (CV_32F, engine/disparity.hpp).
// `rig` is needed for f_number (the view camera's focal length and the baseline), else may be null.
BokehOptions resolve_refocus(const RefocusOptions& options, const cv::Mat& disparity, const StereoRig* rig,
                             Reference view);

struct BokehResult {
  cv::Mat image;       // CV_32FC3 linear BGR, the refocused image (not clipped: boosted highlights may exceed 1)
  cv::Mat sharp;       // CV_32FC3 linear BGR, the all-in-focus image it was rendered from
  cv::Mat disparity;   // CV_32F, the disparity it was rendered with (refined, holes filled)
  BokehOptions bokeh;  // as resolved
  BokehStats stats;
  std::optional<FuseStats> fuse_stats;  // bokeh_from_pair only
};

// Edge snap of the fused disparity before rendering (RefineOptions::edge_snap_radius) on the
// pair path: measured on the bokeh protocol with dualcam's own disparity, it gains 1-3 dB at
// depth edges and ~9 dB in focus (docs/bokeh.md).
constexpr int kBokehEdgeSnapRadius = 7;

// Fuses the pair at fuse.reference with the fused disparity's edges snapped onto the fused
// image's (fuse.refine.edge_snap_radius is replaced by `edge_snap_radius`; 0 = off), then
// refocuses the fused image.
BokehResult bokeh_from_pair(const FuseInput& input, FuseOptions fuse, const RefocusOptions& refocus,
                            int edge_snap_radius = kBokehEdgeSnapRadius, Progress* progress = nullptr);

// Refocuses `image_linear` (CV_32FC3, or CV_32FC1 taken as grey) with its `disparity` (same size,
// same view). `refine_radius` > 0 snaps the disparity to the image's edges first
// (refine_view_disparity); unknown disparities are filled in any case.
BokehResult bokeh_from_image(const cv::Mat& image_linear, const cv::Mat& disparity, const StereoRig* rig,
                             Reference view, const RefocusOptions& refocus, int refine_radius = 0);

}  // namespace dualcam::fusion
