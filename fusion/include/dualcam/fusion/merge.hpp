#pragma once
// Merging the two views once they are aligned. All images CV_32F linear light.
//
// The foundation's merge: a local linear colour transfer (guided filter) with the mono image as
// the guide: in every small window each colour channel is a * mono + b, fitted to the colour
// camera and evaluated on the mono, so the mono's detail and low noise come through while the
// colour camera keeps the local tone and hue. Pixels where the mono view is unknown (occluded,
// outside) or clipped are guided by the colour camera's own luminance instead. The mono's clip
// level is found in the data (its largest value), not assumed.
#include <opencv2/core.hpp>

namespace dualcam::fusion {

struct MergeOptions {
  int transfer_radius = 2;    // window radius of the local linear model, px (from 2 on, fitted at half resolution: radius/2 there, so 3 acts as 2)
  double transfer_eps = 1e-5; // its regularisation (linear light squared): larger = smoother
  // Reference = colour: colour detail the local model misses is put back where it stands out of
  // the colour camera's noise (local Wiener shrinkage over a box of detail_radius; 0 = off).
  int detail_radius = 2;
  double detail_noise_scale = 1.0;  // noise estimate = this x the median local residual energy
  // Reference = mono: the colour is scaled in linear light until the mono's fitted spectral
  // response to it equals what the mono read; this regularises that ratio in dark pixels
  // (linear light).
  double response_eps = 0.003;
  int feather_px = 2;         // width of the soft transition at the edges of the mono's coverage
  int fill_radius = 60;       // reference = mono: spatial reach (px) of chroma flowing into holes
  double fill_edge = 0.3;     // ... how strongly mono edges stop it (sRGB units; smaller = stronger)
  int chroma_radius = 4;      // reference = mono: guided-filter radius smoothing the chroma, px (at half resolution, radius/2 there rounded down: 1 and 3 act as 2)
  double chroma_eps = 1e-3;   // ... and its regularisation (sRGB-encoded units squared)
  void validate() const;
};

struct MergeResult {
  cv::Mat image;   // CV_32FC3 linear BGR at the reference view
  cv::Mat weight;  // CV_32F in [0,1]: where the other view's image was used (1) or not (0)
  double fit_gain = 1, fit_offset = 0;  // mono ~ gain * colour_luma + offset
  cv::Vec3d mono_response{0, 0, 0};      // reference = mono: mono ~ B,G,R weights . colour (linear)
  double mono_clip_level = 1;            // the mono's clip level found in the data (linear light)
  double mono_clipped_share = 0;         // share of the mono's pixels at that level
};

// Reference = colour: `color` (CV_32FC3) is the colour camera image, `mono_warped` (CV_32FC1)
// the mono image warped into the colour view, `valid` (CV_8U) where that warp is known.
MergeResult merge_reference_color(const cv::Mat& color, const cv::Mat& mono_warped, const cv::Mat& valid,
                                  const MergeOptions& options);

// Reference = mono: `mono` (CV_32FC1) is the mono camera image, `color_warped` (CV_32FC3) the
// colour image warped into the mono view, `valid` where that warp is known. The luminance is the
// mono's (mapped to the colour's scale); chroma comes from the warped colour, smoothed guided by
// the mono; holes get chroma flowing in from their neighbourhood.
MergeResult merge_reference_mono(const cv::Mat& mono, const cv::Mat& color_warped, const cv::Mat& valid,
                                 const MergeOptions& options);

}  // namespace dualcam::fusion
