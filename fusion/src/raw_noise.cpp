#include "dualcam/fusion/raw_noise.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include <tbb/parallel_for.h>

#include "dualcam/engine/error.hpp"

namespace dualcam::fusion {

namespace {

// The sites at one offset (dy, dx) of the 2x2 tile (one colour-filter plane), as an image.
cv::Mat plane(const cv::Mat& linear, int dy, int dx) {
  cv::Mat p((linear.rows - dy + 1) / 2, (linear.cols - dx + 1) / 2, CV_32F);
  for (int y = 0; y < p.rows; ++y) {
    const float* s = linear.ptr<float>(2 * y + dy) + dx;
    float* d = p.ptr<float>(y);
    for (int x = 0; x < p.cols; ++x) d[x] = s[2 * x];
  }
  return p;
}

// A plane with many more blocks than the estimator samples (NoiseOptions::max_blocks): every
// k-th band of 64 rows, k such that at least twice that many blocks remain. The estimator spreads
// its blocks evenly either way; the bands spare it the encoding and histograms of the rest (a
// mono frame of 12 MP has 190 000 blocks for 20 000 used). 64 rows are a whole number of blocks
// of any allowed side, so no block straddles a seam.
cv::Mat sampled_bands(const cv::Mat& p, const NoiseOptions& o) {
  constexpr int kBand = 64;
  if (o.max_blocks <= 0) return p;
  const double blocks = double(p.rows / o.block) * double(p.cols / o.block);
  const int k = int(blocks / (2.0 * o.max_blocks));
  const int bands = p.rows / kBand;
  if (k < 2 || bands < 2 * k) return p;
  cv::Mat out((bands + k - 1) / k * kBand, p.cols, p.type());
  for (int b = 0, r = 0; b < bands; b += k, r += kBand)
    p.rowRange(b * kBand, (b + 1) * kBand).copyTo(out.rowRange(r, r + kBand));
  return out;
}

// Variance a + b * level at kSets levels, as a curve's level sets (what NoiseModel tabulates).
NoiseCurve affine_curve(double a, double b) {
  constexpr int kSets = 16;
  NoiseCurve c;
  c.a = a;
  c.b = std::max(0.0, b);
  for (int i = 0; i < kSets; ++i) {
    const double t = (i + 0.5) / kSets, level = t * t;
    c.sets.push_back({level, std::max(1e-12, c.a + c.b * level), 1});
  }
  return c;
}

}  // namespace

std::vector<NoiseCurve> fit_raw_noise(const RawFrame& frame, const NoiseOptions& o) {
  const cv::Mat lin = raw_linear(frame);
  if (std::min(lin.rows, lin.cols) < (frame.mono() ? 32 : 64))
    throw_invalid("fit_raw_noise: the frame (" + std::to_string(lin.cols) + "x" + std::to_string(lin.rows) +
                  ") is too small to fit its noise (each channel's plane needs 32 px a side)");
  // The samples scatter below black in the dark (raw_linear keeps them); the estimator's encoding
  // would clip them and leave the dark blocks out as clipped, so each plane is measured on a
  // pedestal, which the variance does not see: var = a' + b (level + pedestal).
  constexpr double kPedestal = 0.0625;
  // The sites' noise is white: the full-resolution fine noise is all that is fitted.
  NoiseOptions po = o;
  po.scales = 1;
  // Nor is the pixel variance read: its blocks at the smallest side, so that it costs a fraction
  // of the plane instead of all of it (at 32 px it was half of the fit's time).
  po.pixel_block = 8;
  auto fit = [&](const cv::Mat& p) {
    const NoiseModel m = estimate_noise_linear(sampled_bands(p, po) + kPedestal, po);
    const NoiseCurve& c = m.fine_curve(0, 0);
    // No level set: a plane too small or too textured for flat blocks; nothing was measured.
    if (c.sets.empty())
      throw_invalid("fit_raw_noise: no noise could be measured on the frame (" + std::to_string(lin.cols) + "x" +
                    std::to_string(lin.rows) + "): too small or without flat areas");
    return std::array<double, 2>{c.a + c.b * kPedestal, c.b};
  };
  std::vector<NoiseCurve> out;
  if (frame.mono()) {
    const auto ab = fit(lin);
    out.push_back(affine_curve(ab[0], ab[1]));
    return out;
  }
  // Each channel's planes (green has two) fitted alone; a channel's curve is their mean.
  // The four planes at once (the estimator's level sets are serial).
  std::array<std::array<double, 2>, 4> fits;
  tbb::parallel_for(0, 4, [&](int k) { fits[k] = fit(plane(lin, k / 2, k % 2)); });
  std::array<double, 3> a{0, 0, 0}, b{0, 0, 0};
  std::array<int, 3> n{0, 0, 0};
  for (int k = 0; k < 4; ++k) {
    const int c = cfa_channel(frame.cfa, k / 2, k % 2);
    a[c] += fits[k][0], b[c] += fits[k][1], ++n[c];
  }
  for (int c = 0; c < 3; ++c) out.push_back(affine_curve(a[c] / n[c], b[c] / n[c]));
  return out;
}

NoiseModel raw_noise_model(const RawFrame& frame, const FinishOptions& finish, double exposure, const NoiseOptions& o) {
  o.validate();
  finish.validate();
  check_range("raw_noise_model: exposure", exposure, 1e-6, 1e6);
  const std::vector<NoiseCurve> sites = fit_raw_noise(frame, o);
  const int C = frame.mono() ? 1 : 3;
  // The transfer: white noise of variance s^2 on every site of a flat frame at a middle level,
  // developed and measured by the same estimator: how much of a site's variance reaches each
  // output channel at each statistic, the gains of the white balance and the colour matrix
  // included. (One channel's sites alone would leave the other outputs nearly noise-free, where
  // the estimator reports its quantisation floor instead.) Each output channel is then modelled
  // from its own channel's sites: exact for a bilinear demosaic; for the colour-difference
  // demosaics the channels' site variances differ by their filters' transmissions only, which the
  // white balance evens out in the developed image.
  constexpr int kSide = 256;
  constexpr double kLevel = 0.25, kSigma = 0.01;
  RawFrame flat = frame;
  flat.samples = cv::Mat(kSide, kSide, CV_16U);
  flat.black_level = 0;
  flat.white_level = 65535;
  flat.bits = 16;
  cv::RNG rng(0x5EED);
  for (int y = 0; y < kSide; ++y) {
    std::uint16_t* p = flat.samples.ptr<std::uint16_t>(y);
    for (int x = 0; x < kSide; ++x)
      p[x] = std::uint16_t(std::clamp(std::lround((kLevel + rng.gaussian(kSigma)) * 65535.0), 0L, 65535L));
  }
  const cv::Mat developed = develop_linear(flat, finish);
  NoiseOptions mo = o;
  mo.max_blocks = 0;
  const NoiseModel measured = estimate_noise_linear(developed, mo);
  const cv::Scalar level = cv::mean(developed);
  // An output channel's variance at output level L: the transfer times exposure^2 times its sites'
  // variance at the raw level L / (exposure x the channel's white-balance gain) (a grey surface).
  const cv::Vec3d wb = finish.white_balance && C == 3 ? frame.white_balance : cv::Vec3d(1, 1, 1);
  auto model_curve = [&](int c, double transfer) {
    return affine_curve(transfer * exposure * exposure * sites[c].a, transfer * exposure * sites[c].b / wb[c]);
  };
  const double s2 = kSigma * kSigma;
  std::vector<std::vector<NoiseCurve>> fine(o.scales);
  std::vector<NoiseCurve> pixel;
  for (int c = 0; c < C; ++c) {
    const float l = float(level[c]);
    for (int s = 0; s < o.scales; ++s) fine[s].push_back(model_curve(c, measured.fine(s, c, l) / s2));
    pixel.push_back(model_curve(c, measured.pixel(c, l) / s2));
  }
  return NoiseModel::from_curves(std::move(fine), std::move(pixel), {});
}

}  // namespace dualcam::fusion
