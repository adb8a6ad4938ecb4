#pragma once
// The noise of a camera given as a raw frame, fitted on the frame itself and carried through the
// development the input rule applies (engine/inputs.hpp), so that the merge knows the noise of
// the linear image it works on without measuring it on that image.
//
// A developed image's noise cannot be measured as well as its raw frame's: the demosaic
// correlates it (an interpolated site averages its neighbours' noise), and the variance about a
// block's plane that the merge reads (NoiseModel::pixel) counts texture as noise where a camera
// image is textured (on the simulator's 10-bit frames at light 0.05 the green channel's measured
// pixel variance was 10 times the sites' at mid grey). The raw frame's sites are independent: their
// variance is a + b * level per channel (Poissonian-Gaussian), fitted per colour-filter plane
// with the same estimator (noise.hpp) on the plane as an image of its own. What the development
// then does to that noise is measured, not derived: white noise on the sites of one channel of a
// flat frame, developed by the same demosaic, white balance and colour matrix, and measured by
// the same statistics (each scale's fine noise, the pixel variance), gives how much of each
// channel's site variance reaches each output channel; the model is that transfer times the
// fitted curves, at the levels the gains carry them to.
#include <opencv2/core.hpp>

#include "dualcam/engine/finish.hpp"
#include "dualcam/engine/raw.hpp"
#include "dualcam/fusion/noise.hpp"

namespace dualcam::fusion {

// The raw frame's sites: variance = a + b * level per channel (B, G, R for a Bayer frame; one for
// a mono one), in raw_linear() units, fitted on each channel's plane (noise.hpp's estimator, its
// fine noise at full resolution). Throws Error(InvalidInput) for a frame whose planes are under
// 32 px a side, or where nothing could be measured (no flat blocks: a tiny or all-texture frame).
std::vector<NoiseCurve> fit_raw_noise(const RawFrame& frame, const NoiseOptions& options = {});

// The noise model of the frame developed as engine/inputs.hpp's develop_camera_frame develops it
// (`finish`'s demosaic, white balance and colour matrix; the linear image times `exposure`), in
// the form the merge reads (noise.hpp): 3 channels for a Bayer frame, 1 for a mono one.
NoiseModel raw_noise_model(const RawFrame& frame, const FinishOptions& finish, double exposure,
                           const NoiseOptions& options = {});

}  // namespace dualcam::fusion
