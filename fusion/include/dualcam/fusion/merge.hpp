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

#include "dualcam/fusion/noise.hpp"

namespace dualcam::fusion {

struct MergeOptions {
  int transfer_radius = 2;    // window radius of the local linear model, px (from 2 on, fitted at half resolution: radius/2 there, so 3 acts as 2)
  double transfer_eps = 1e-5; // its regularisation (linear light squared): larger = smoother
  // Reference = colour: the guide (the mono) is denoised first by a self-guided filter of this
  // radius, px (at half resolution: radius/2 there), whose eps is this scale x the guide's
  // measured noise variance: the real mono is high-ISO, and its grain must not come through as
  // detail.
  int guide_denoise_radius = 4;
  // Times min(1, the guide's noise / the colour's; see MergeResult). 24 with detail_noise_scale
  // 1.25 (was 16 and 1): real pairs' colour-view flat noise 0.241 / 0.234 -> 0.232 / 0.209 levels
  // (NLM 0.270 / 0.217), detail 0.593 / 0.792 -> 0.593 / 0.793; P2 light 0.05 31.37 -> 31.29 dB,
  // light 1.0 33.63 -> 33.55, realistic 0.05 / 0.02 29.70 / 26.99 -> 29.58 / 26.91 (NLM 27.87 /
  // 25.24). Measured beside: 32 and 1.1: 0.232 / 0.215, P2 31.33 / 33.58; 32 and 1.25: 0.230 /
  // 0.205, P2 31.29 / 33.54; 16 and 1.25: 0.236 / 0.214, P2 31.29 / 33.56.
  double guide_denoise_scale = 24.0;
  // ... the chromaticity comes from an edge-aware filter of this reach, px (domain transform at
  // quarter resolution: reach/4 there), guided by the denoised guide, that stops at guide edges
  // above chroma_edge (sRGB-encoded units; never below 4x the guide's noise there):
  int color_chroma_radius = 16;
  double chroma_edge = 0.03;
  // ... and the transfer's own chroma is kept where the two differ by more than this x the
  // difference's measured noise (local Wiener shrinkage).
  double chroma_noise_scale = 1.0;
  // Reference = colour: colour detail the transfer misses is put back where it stands out of
  // the colour camera's noise (local Wiener shrinkage over a box of detail_radius; 0 = off).
  // A 9x9 box rather than 5x5: a real camera's noise is spatially correlated (demosaic, JPEG), so
  // a small box's energy swings above the noise level by chance and keeps noise. Real pairs'
  // colour-view flat noise 0.260 / 0.272 -> 0.241 / 0.234 (radius 2 -> 4; 6: 0.236 / 0.220, 8:
  // 0.239 / 0.217), P2 light 0.05 31.48 -> 31.37 dB (6: 31.23, 8: 31.12; docs/evaluation.md).
  int detail_radius = 4;
  double detail_noise_scale = 1.25;  // the noise variance = this x the colour camera's measured model (see guide_denoise_scale)
  // ... and out of what misalignment would leave: an edge this far off (px; the fuse pipeline
  // sets it from the alignment it measured, 0 for a pair given rectified).
  double alignment_px = 0;
  // Reference = mono: the mono (the output's luminance) is denoised by the same self-guided filter
  // (radius guide_denoise_radius), eps = this x its measured noise variance (0 = off). 1: on the
  // 27 dev scenes, P1 simple sensor 31.74 -> 31.63 dB (its mono is nearly clean), realistic
  // sensor at light 0.05 26.42 -> 27.99 dB; the real pairs' flat-area noise 0.95 -> 0.70 levels
  // (2: 31.44 / 28.27 dB, 0.58; 4: 31.13 / 28.26 dB, 0.46).
  double mono_denoise_scale = 1.0;
  // ... and this scale where the mono came as a raw frame and its noise was fitted on the frame
  // (raw_noise.hpp: the sites' own noise, which no JPEG or ISP has lowered; the fuse pipeline
  // picks it). On `dualcam eval --protocol raw` (27 dev scenes, 10-bit frames) the mono view from
  // the raw pair at light 0.05 / 0.02: 2: 29.04 / 26.36 dB, 4: 29.29 / 26.92, 8: 29.24 / 27.01
  // (from the finished pictures of the same samples: 28.57 / 26.02).
  double raw_mono_denoise_scale = 4.0;
  // ... and, where the mono came as a raw frame, the self-guided filter's radius (both references)
  // and, reference colour, its scale, instead of guide_denoise_radius and guide_denoise_scale. A
  // raw mono's noise is white (no demosaic, ISP or JPEG has correlated it): a small window
  // averages it and keeps more of the mono's detail. On `dualcam eval --protocol raw` (27 dev
  // scenes, 10-bit frames) at light 0.02, with the colour's raw settings below at 2 and 1.25:
  // radius 4, scale 24 (the images' settings) colour view 28.30, mono view 26.92 dB; radius 2,
  // scale 24: 28.40 / 27.38; radius 2, scale 12: 28.46 / 27.38 (scale 48: 28.26, 6: 28.42);
  // from the finished pictures of the same samples 27.52 / 26.02 (docs/evaluation.md#raw-protocol).
  int raw_guide_denoise_radius = 2;
  double raw_guide_denoise_scale = 12.0;
  // Reference = colour, the colour camera given as a raw frame: the transfer's window radius
  // instead of transfer_radius (its frame's noise is white and strong, which a larger window
  // averages; the rest of the merge is the same). On `dualcam eval --protocol raw` (27 dev scenes,
  // 10-bit frames) the colour view's gain over the finished pictures at light 0.05 / 0.02: radius
  // 2 (transfer_radius) +0.42 / +0.01 dB, 4 +0.48 / +0.24, 6 +0.36 / +0.22; on the simulator's
  // own scenes through `dualcam fuse` (240x180 and 640x480, light 0.05) within 0.1 dB of radius 2.
  int raw_transfer_radius = 4;
  // Reference = colour: the merged image's chroma denoised, as an ISP's chroma noise reduction:
  // blue's and red's ratios to the luminance smoothed by a colour-guided filter (guided.hpp) of
  // this radius (px; fitted at half resolution; 0 = off), guided by the image's square root, eps =
  // chroma_denoise_scale x the colour camera's noise variance in that square root at the image's
  // mean level; green from the luminance, which is kept ...
  int chroma_denoise_radius = 0;
  double chroma_denoise_scale = 0.5;
  // ... and this radius where the colour camera came as a raw frame. On `dualcam eval --protocol
  // raw` (27 dev scenes, 10-bit frames) the colour view's gain over the finished pictures at light
  // 0.05 / 0.02: off +0.48 / +0.24 dB, radius 2 +0.83 / +0.60 (scale 1, three ratios: +0.88 /
  // +0.63, but the regress scene's poles and floor tiles -0.11 dB against its truth;
  // docs/evaluation.md#raw-protocol). With the raw guide and detail settings (raw_guide_*,
  // raw_detail_*): radius 2 +1.35 / +0.97, 4 +1.36 / +1.07, 6 +1.09 at 0.02.
  // Image inputs keep it off: their ISP has denoised the chroma already.
  int raw_chroma_denoise_radius = 4;
  // Reference = colour: the colour's own values that the detail restore puts back (where its
  // detail stands out of its noise: edges, texture), and measures the residual's noise on,
  // denoised first by an edge-aware filter of this radius (px; a separable joint bilateral of the
  // image's square root, range sigma = detail_denoise_scale x the colour camera's noise in that
  // root at the image's mean level; merge_color.cpp; 0 = off) ...
  int detail_denoise_radius = 0;
  double detail_denoise_scale = 1.0;
  // ... and this radius where the colour camera came as a raw frame. On `dualcam eval --protocol
  // raw` (27 dev scenes, 10-bit frames) the colour view's gain over the finished pictures at light
  // 0.05 / 0.02, and the regress case fuse-raw and a 640x480 simulator scene against their truth:
  // off +0.83 / +0.60 dB, 23.68 / 28.82 dB; scale 1 +1.07 / +0.78, 23.83 / 28.87; 1.5 +1.10 /
  // +0.86, 23.72 / 28.50; 2 +1.06 / +0.84, 23.58 / 28.06 (docs/evaluation.md#raw-protocol).
  // Image inputs keep it off: on the real pairs (radius 2, scale 1) it raised the colour view's
  // flat-area noise from 0.220 to 0.265 levels (detail 0.693 -> 0.688), their ISP having
  // smoothed what it would.
  int raw_detail_denoise_radius = 2;
  // ... and, the colour camera given as a raw frame, detail_noise_scale's value: the values put
  // back are denoised, so less of the residual needs to be taken for noise. On the raw protocol
  // at light 0.05 / 0.02 (the settings above): 1.25 +1.18 / +1.01 dB, 1.0 +1.36 / +1.07, 0.8
  // +1.39 / +0.96; the regress case fuse-raw and the 640x480 simulator scene 23.81 / 28.93 dB
  // at 1.25, 24.03 / 29.03 at 1.0.
  double raw_detail_noise_scale = 1.0;
  // Reference = mono: the colour is scaled in linear light until the mono's fitted spectral
  // response to it equals what the mono read; this regularises that ratio in dark pixels
  // (linear light).
  double response_eps = 0.003;
  int feather_px = 2;         // width of the soft transition at the edges of the mono's coverage
  int fill_radius = 60;       // reference = mono: spatial reach (px) of chroma flowing into holes
  double fill_edge = 0.3;     // ... how strongly mono edges stop it (sRGB units; smaller = stronger)
  // ... and the weight of grey in that fill: where little known chroma reaches a hole (its local
  // share of known pixels, edge-aware, is not well above this), the fill fades to neutral rather
  // than carry a hue from far away (0 = off). 0.02 on the 27 dev scenes (P1, with
  // chroma_consistency 0.5): 32.02 -> 32.01 dB, the chroma error where the colour camera did not
  // see 8.47 -> 8.43 levels (docs/evaluation.md#p1).
  double fill_neutral = 0.02;
  // Reference = mono: a pixel lends its chroma only where the mono's fitted response to the
  // warped colour agrees with what the mono read, within this share (5x5 means; 0 = off): other
  // pixels are holes for the fill. 0.5 on the 27 dev scenes (P1): 31.63 -> 32.02 dB; the chroma
  // error where the colour camera did not see 9.28 -> 8.47 levels, where it did 4.16 -> 3.91;
  // realistic sensor at light 0.05: 27.99 -> 28.11 dB (0.3: 31.83, 1.0: 31.76 dB).
  double chroma_consistency = 0.5;
  int chroma_radius = 4;      // reference = mono: guided-filter radius smoothing the chroma, px (at half resolution, radius/2 there rounded down: 1 and 3 act as 2)
  double chroma_eps = 1e-3;   // ... and its regularisation (sRGB-encoded units squared)
  void validate() const;
  // These options with the raw_* settings in place of the ones they stand for, for a mono and a
  // colour camera that came as raw frames (their noise fitted on the frames): what the fuse
  // pipeline merges with.
  MergeOptions for_raw_frames(bool mono_raw, bool color_raw) const;
};

struct MergeResult {
  cv::Mat image;   // CV_32FC3 linear BGR at the reference view
  cv::Mat weight;  // CV_32F in [0,1]: where the other view's image was used (1) or not (0)
  double fit_gain = 1, fit_offset = 0;  // mono ~ gain * colour_luma + offset
  cv::Vec3d mono_response{0, 0, 0};      // reference = mono: mono ~ B,G,R weights . colour (linear)
  double mono_clip_level = 1;            // the mono's clip level found in the data (linear light)
  double mono_clipped_share = 0;         // share of the mono's pixels at that level
  double guide_noise_ratio = 0;          // reference = colour: the mono's noise variance / the colour's (mapped, at the mean level)
};

// The two cameras' noise (noise.hpp), each measured on its own camera's image as written (the
// fuse pipeline does): what every decision of the merges that depends on noise reads.
struct MergeNoise {
  NoiseModel color;  // 3 channels, B, G, R
  NoiseModel mono;   // 1 channel
};

// Reference = colour: `color` (CV_32FC3) is the colour camera image, `mono_warped` (CV_32FC1)
// the mono image warped into the colour view, `valid` (CV_8U) where that warp is known.
// `noise` null: both models are measured on the inputs (estimate_noise_linear; the warped mono's
// outside, 0, shows as clipped and is left out).
MergeResult merge_reference_color(const cv::Mat& color, const cv::Mat& mono_warped, const cv::Mat& valid,
                                  const MergeOptions& options, const MergeNoise* noise = nullptr);

// Reference = mono: `mono` (CV_32FC1) is the mono camera image, `color_warped` (CV_32FC3) the
// colour image warped into the mono view, `valid` where that warp is known. The luminance is the
// mono's (mapped to the colour's scale); chroma comes from the warped colour, smoothed guided by
// the mono; holes get chroma flowing in from their neighbourhood.
MergeResult merge_reference_mono(const cv::Mat& mono, const cv::Mat& color_warped, const cv::Mat& valid,
                                 const MergeOptions& options, const MergeNoise* noise = nullptr);

}  // namespace dualcam::fusion
