#pragma once
// The sensor models of docs/evaluation.md#sensors, used by the simulator, the embedded sample and
// `eval`.
// Inputs are CV_32FC3 linear BGR in [0,1]; outputs are what the cameras would write: 8-bit
// sRGB-encoded images. Deterministic for a seed.
#include <cstdint>

#include <opencv2/core.hpp>

namespace dualcam::datasets {

struct MonoSensor {
  // Panchromatic response m = gain * (wB*B + wG*G + wR*R) in linear light.
  double w_b = 0.25, w_g = 0.45, w_r = 0.30;
  double gain = 1.15;  // no colour filter: brighter than the colour camera
  double noise = 0.004;  // Gaussian sigma at 18 % grey; scales with sqrt(signal)
  void validate() const;
};

struct ColorSensor {
  double light = 1.0;  // 1 = good light, 0.05 = dim indoor
  double photons_at_white = 4000.0;  // photons per channel at white, times `light`
  double read_noise = 0.004;  // Gaussian sigma, divided by sqrt(light)
  bool bayer = true;  // RGGB mosaic + OpenCV bilinear demosaic, as a cheap phone ISP
  void validate() const;
};

// Mono camera image: CV_8UC1 sRGB-encoded.
cv::Mat simulate_mono(const cv::Mat& linear_bgr, const MonoSensor& sensor, std::uint64_t seed);
// The noiseless panchromatic signal (CV_32F linear, not clipped).
cv::Mat mono_response(const cv::Mat& linear_bgr, const MonoSensor& sensor);

// Colour camera image: CV_8UC3 sRGB-encoded BGR.
cv::Mat simulate_color(const cv::Mat& linear_bgr, const ColorSensor& sensor, std::uint64_t seed);

// RGGB mosaic of an 8-bit BGR image (R at even rows / even columns) and its bilinear demosaic.
cv::Mat mosaic_rggb(const cv::Mat& bgr8);
cv::Mat demosaic_rggb(const cv::Mat& raw8);

}  // namespace dualcam::datasets
