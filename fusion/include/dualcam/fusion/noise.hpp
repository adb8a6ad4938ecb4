#pragma once
// A camera's noise measured from one of its images: signal-dependent noise per channel (variance
// as a function of the linear level), in the spirit of Foi, Trimeche, Katkovnik & Egiazarian,
// "Practical Poissonian-Gaussian noise modeling and fitting for single-image raw-data" (IEEE TIP
// 2008): a high-pass of local blocks, level sets by the blocks' local means, a robust variance
// per level set, and a fit variance = a + b * level.
//
// What real captures need beyond the raw-data setting of the paper (measured on the real pairs of
// ../shared/data/real_color_mono):
// - Clipped blocks (holding a code piled up at the top or the bottom of the histogram) are left
//   out: their noise is truncated. So is a level set that is mostly clipped.
// - Codes quantise. Where the noise is below the step the image is flat and its measured noise
//   would be zero, so every variance has a floor of step^2 / 12, the step being the linear size of
//   one code times the spacing of the codes the image actually uses (a dark frame stretched by a
//   digital gain uses only every k-th code).
// - A processed (demosaicked, in-camera denoised, JPEG) image's noise is spatially correlated:
//   on the colour camera of pair 0013 a pixel's variance about a plane fitted to its 16x16 block
//   is 10-20 times the high-pass's white-noise equivalent (the mono's: 1.0-1.4 times). Both are
//   measured: `fine` (the high-pass, at each scale of a pyramid of 2x2 means) and `pixel` (the
//   variance about the block's plane, full resolution): what a filter that averages over a few
//   pixels, or over many, has to expect.
// - After a camera's tone curve the variance is not affine in the level (the real mono's fine
//   variance grows 7x less steeply at level 0.3 than at 0.01), so the model used is the measured
//   level sets, interpolated; the affine fit is reported and carries the curve beyond the levels
//   the image has.
#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include <opencv2/core.hpp>

#include "dualcam/engine/report.hpp"

namespace dualcam::fusion {

struct NoiseOptions {
  int block = 8;         // fine noise: blocks of block x block samples at every scale, 4..32
  int pixel_block = 32;  // pixel variance: blocks of this side at full resolution, 8..64
  int level_sets = 16;   // level sets (equal shares of the blocks, by local mean), 2..64
  int scales = 3;        // fine noise at full resolution, then each halved by 2x2 means, 1..5
  // Blocks of each statistic used per channel, at most (an even spread over the image; coarser
  // scales use a quarter as many per step, and at least 2048; 0 = all): at 12 MP the full
  // resolution has 190 000 blocks of 8x8, and 20 000 give level sets within 2 %.
  int max_blocks = 20000;
  void validate() const;
};

// One level set of one channel.
struct NoiseLevelSet {
  double level = 0;     // mean linear level of its blocks
  double variance = 0;  // the statistic's robust mean over the set's flat blocks (linear light^2)
  int blocks = 0;       // blocks that were used (unclipped, not textured)
};

// One statistic of one channel (at one scale).
struct NoiseCurve {
  double a = 0, b = 0;       // variance ~ a + b * level (Poissonian-Gaussian fit, b >= 0)
  double fit_rms_rel = 0;    // RMS relative deviation of the level sets from that fit
  std::vector<NoiseLevelSet> sets;  // by increasing level
};

// The measured model: variances as functions of the linear level, per channel (and scale). An
// empty (default) model says nothing was measured; its variances are 0.
class NoiseModel {
 public:
  int channels() const { return int(pixel_.size()); }
  int scales() const { return int(fine_.size()); }
  bool empty() const { return pixel_.empty(); }
  // Noise variance (linear light squared) of one sample of the image reduced by 2^scale (2x2
  // means, `scale` times) at linear level `level`, white-noise equivalent: what the high-pass
  // sees. Never below the quantisation floor. Scales beyond those measured: the last one / 4 per
  // step (as white noise).
  float fine(int scale, int channel, float level) const;
  // Variance of one full-resolution pixel's noise, its spatially correlated part included
  // (never below fine(0, ...)).
  float pixel(int channel, float level) const { return empty() ? 0.0f : pixel_table_[channel][index(level)]; }
  // Quantisation floor at `level`: step^2 / 12 (see above).
  float floor(float level) const { return floor_.empty() ? 0.0f : floor_[index(level)]; }
  const NoiseCurve& fine_curve(int scale, int channel) const { return fine_.at(scale).at(channel); }
  const NoiseCurve& pixel_curve(int channel) const { return pixel_.at(channel); }
  // The median spacing of the codes used in the darkest fifth of the image's range (1: every
  // code; k: a gain of k stretched a dark frame), and the codes found clipped (-1: none).
  double code_spacing() const { return code_spacing_; }
  std::array<int, 2> clipped_codes() const { return clipped_; }
  // {"channels", "code_spacing", "clipped_codes", "fine": [per scale: [{"a", "b", "fit_rms_rel"}
  // per channel]], "pixel": [{"a", "b", "fit_rms_rel", "sets": [[level, sigma, blocks], ...]}
  // per channel]}
  Json to_json() const;

  // The tables' layout: kTable + 1 entries over sqrt(level) in [0, 1], and the entry of a level.
  static constexpr int kTable = 1024;
  static int index(float level) {  // inline: the merges read a table per pixel and channel
    const float t = std::sqrt(std::min(std::max(level, 0.0f), 1.0f)) * kTable;
    return std::min(kTable, int(t + 0.5f));
  }
  // A model from its curves (estimate_noise builds one; tests state one): `fine` [scale][channel],
  // `pixel` [channel], `floor` the quantisation floor at the kTable + 1 levels of the tables
  // (empty: none).
  static NoiseModel from_curves(std::vector<std::vector<NoiseCurve>> fine, std::vector<NoiseCurve> pixel,
                                std::vector<float> floor, double code_spacing = 1, std::array<int, 2> clipped = {-1, -1});

 private:
  std::vector<std::vector<NoiseCurve>> fine_;      // [scale][channel]
  std::vector<NoiseCurve> pixel_;                  // [channel]
  std::vector<std::vector<float>> fine_table_;     // [scale * channels + channel][kTable + 1]
  std::vector<std::vector<float>> pixel_table_;    // [channel][kTable + 1]
  std::vector<float> floor_;                       // [kTable + 1]
  double code_spacing_ = 1;
  std::array<int, 2> clipped_{-1, -1};
};

// Measures the noise of a camera image as it was written: CV_8U or CV_16U, 1 or 3 channels,
// sRGB-encoded (the model is in linear light). Deterministic for any thread count. An image
// smaller than 4 blocks a side is measured with blocks that fit (down to 8 px pixel blocks).
// Throws Error(InvalidInput) for other types or an image under 32 px a side.
NoiseModel estimate_noise(const cv::Mat& encoded, const NoiseOptions& options = {});

// The same for a CV_32F linear image (1 or 3 channels): it is encoded to 16-bit sRGB codes first,
// so the quantisation floor is that of 16-bit codes.
NoiseModel estimate_noise_linear(const cv::Mat& linear, const NoiseOptions& options = {});

// The noise of a band of an image (the difference of two smoothings of it, say): the mean square
// of its samples as a function of the local mean of a level image, measured as a camera's noise
// is (level sets of blocks, the textured ones left out), per channel. For a processed image's
// correlated noise this measures what the camera's model cannot say without the correlation's
// full shape: how much noise one smoothing keeps that another removes.
class BandNoise {
 public:
  int channels() const { return int(tables_.size()); }
  float variance(int channel, float level) const {
    return tables_.empty() ? 0.0f : tables_[channel][NoiseModel::index(level)];
  }
  const NoiseCurve& curve(int channel) const { return curves_.at(channel); }

 private:
  friend BandNoise estimate_band_noise(const cv::Mat&, const cv::Mat&, const NoiseOptions&, const cv::Mat&);
  std::vector<NoiseCurve> curves_;
  std::vector<std::vector<float>> tables_;
};

// `band` and `level`: CV_32F of one size and channel count (1 or 3); `level` in [0, 1]. The band
// is `band - subtract` when `subtract` (of the same type) is given, so a residual need not be
// made. Uses options.block, options.level_sets and options.max_blocks.
BandNoise estimate_band_noise(const cv::Mat& band, const cv::Mat& level, const NoiseOptions& options = {},
                              const cv::Mat& subtract = cv::Mat());

}  // namespace dualcam::fusion
