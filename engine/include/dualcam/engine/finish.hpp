#pragma once
// The finishing stage: a raw frame (engine/raw.hpp) made into a picture, as a camera's ISP does
// after the merge (HDR+'s `finish` is the model):
//
//   samples -> linear (black removed, divided by white - black)
//           -> white balance (the frame's as-shot gains, on the mosaic), clipped at the sensor's white
//           -> demosaic (Bayer frames; FinishOptions::demosaic)
//           -> colour matrix (camera RGB -> linear sRGB, the frame's; identity without one)
//           -> exposure gain -> tone curve -> sRGB encoding, 8 or 16 bit.
//
// develop_linear() stops before the exposure: the linear scene-referred image the engine merges
// (CV_32FC3 BGR for a Bayer frame, CV_32FC1 for a mono one). finish_image() does the rest, so a
// merged image and a single developed frame are finished the same way. `dualcam develop` runs
// both on one frame; inputs.hpp develops the raw frames given to fuse, depth and bokeh with them.
#include <string>

#include <opencv2/core.hpp>

#include "dualcam/engine/raw.hpp"

namespace dualcam {

// Bilinear: OpenCV's cvtColor Bayer conversion. EdgeAware: OpenCV's COLOR_Bayer..._EA. Mhc:
// Malvar, He and Cutler 2004, "High-quality linear interpolation for demosaicing of
// Bayer-patterned color images": bilinear corrected by the Laplacian of the site's own channel
// (5x5 kernels), on float samples: best where the channels' detail is correlated, its kernels
// amplify noise. Rcd: a ratio-corrected directional interpolation after Sanz Rodríguez's RCD
// (2017; finish.cpp has its steps), on float samples: best on the unit test's noiseless scene.
// Ri (the default): rcd's green, then red and blue by residual interpolation on it with a
// minimised-Laplacian fit (after Kiku et al. 2014): best on the simulator's noisy frames, and
// ahead of LibRaw's DHT there (docs/fusion.md#finishing has the figures). Every method works on
// the white-balanced mosaic (develop_linear).
enum class Demosaic { Bilinear, EdgeAware, Mhc, Rcd, Ri };
const char* to_string(Demosaic d);
Demosaic parse_demosaic(const std::string& text);  // "bilinear" | "ea" | "mhc" | "rcd" | "ri"; else Error(InvalidInput)

// None: the sRGB encoding alone. Filmic: a global S-curve before it (highlights rolled off,
// shadows kept), the kind of curve phone ISPs use so that a clipped sky does not end in a hard edge.
enum class ToneCurve { None, Filmic };
const char* to_string(ToneCurve t);
ToneCurve parse_tone_curve(const std::string& text);  // "none" | "filmic"

struct FinishOptions {
  Demosaic demosaic = Demosaic::Ri;
  bool white_balance = true;   // apply the frame's as-shot white balance
  bool color_matrix = true;    // apply the frame's camera -> sRGB matrix
  double exposure = 1.0;       // linear gain before the tone curve (> 0)
  ToneCurve tone = ToneCurve::None;
  int bits = 8;                // output depth: 8 or 16
  void validate() const;
};

// A Bayer frame's linear samples (CV_32FC1) demosaiced into CV_32FC3 BGR.
cv::Mat demosaic(const cv::Mat& cfa_linear, CfaPattern pattern, Demosaic method);

// The frame as linear sRGB: CV_32FC3 BGR (Bayer) or CV_32FC1 (mono), 1 = the sensor's white.
cv::Mat develop_linear(const RawFrame& frame, const FinishOptions& options = {});

// Exposure, tone curve and sRGB encoding of a linear image (CV_32FC1 or CV_32FC3):
// CV_8U or CV_16U, as options.bits says. `exposed`, if given, receives the linear image after the
// exposure gain (before the tone curve), made in the same pass: what the input rule merges.
cv::Mat finish_image(const cv::Mat& linear, const FinishOptions& options = {}, cv::Mat* exposed = nullptr);

}  // namespace dualcam
