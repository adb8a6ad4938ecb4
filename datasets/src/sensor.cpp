#include "dualcam/datasets/sensor.hpp"

#include <cmath>
#include <random>

#include <opencv2/imgproc.hpp>

#include "dualcam/engine/color.hpp"
#include "dualcam/engine/error.hpp"

namespace dualcam::datasets {

void MonoSensor::validate() const {
  check_range("MonoSensor::w_b", w_b, 0, 4);
  check_range("MonoSensor::w_g", w_g, 0, 4);
  check_range("MonoSensor::w_r", w_r, 0, 4);
  if (!(w_b + w_g + w_r > 0)) throw_invalid("MonoSensor: the weights must not all be zero");
  check_range("MonoSensor::gain", gain, 0.01, 100);
  check_range("MonoSensor::noise", noise, 0, 1);
}

void ColorSensor::validate() const {
  check_range("ColorSensor::light", light, 1e-4, 100);
  check_range("ColorSensor::photons_at_white", photons_at_white, 1, 1e9);
  check_range("ColorSensor::read_noise", read_noise, 0, 1);
}

cv::Mat mono_response(const cv::Mat& linear_bgr, const MonoSensor& s) {
  s.validate();
  if (linear_bgr.type() != CV_32FC3) throw_invalid("mono_response: expected CV_32FC3 linear BGR");
  cv::Mat m;
  cv::transform(linear_bgr, m, cv::Matx13f(float(s.gain * s.w_b), float(s.gain * s.w_g), float(s.gain * s.w_r)));
  return m;
}

cv::Mat simulate_mono(const cv::Mat& linear_bgr, const MonoSensor& s, std::uint64_t seed) {
  cv::Mat m = mono_response(linear_bgr, s);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  for (int r = 0; r < m.rows; ++r) {
    float* p = m.ptr<float>(r);
    for (int c = 0; c < m.cols; ++c) {
      float sigma = float(s.noise * std::sqrt(std::max(double(p[c]), 1e-4) / 0.18));
      p[c] += sigma * gauss(rng);
    }
  }
  return to_srgb8(m);
}

cv::Mat simulate_color(const cv::Mat& linear_bgr, const ColorSensor& s, std::uint64_t seed) {
  s.validate();
  if (linear_bgr.type() != CV_32FC3) throw_invalid("simulate_color: expected CV_32FC3 linear BGR");
  const double N = s.photons_at_white * s.light;
  const float read_sigma = float(s.read_noise / std::sqrt(s.light));
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  cv::Mat noisy(linear_bgr.size(), CV_32FC3);
  for (int r = 0; r < noisy.rows; ++r) {
    const float* src = linear_bgr.ptr<float>(r);
    float* dst = noisy.ptr<float>(r);
    for (int i = 0; i < noisy.cols * 3; ++i) {
      double mean = N * std::max(0.0f, src[i]);
      std::poisson_distribution<long long> poisson(mean > 0 ? mean : 1e-12);
      double photons = mean > 0 ? double(poisson(rng)) : 0.0;
      dst[i] = float(photons / N) + read_sigma * gauss(rng);
    }
  }
  cv::Mat encoded = to_srgb8(noisy);
  if (!s.bayer) return encoded;
  return demosaic_rggb(mosaic_rggb(encoded));
}

cv::Mat mosaic_rggb(const cv::Mat& bgr8) {
  if (bgr8.type() != CV_8UC3) throw_invalid("mosaic_rggb: expected CV_8UC3");
  cv::Mat raw(bgr8.size(), CV_8UC1);
  for (int r = 0; r < raw.rows; ++r) {
    const cv::Vec3b* s = bgr8.ptr<cv::Vec3b>(r);
    std::uint8_t* d = raw.ptr<std::uint8_t>(r);
    for (int c = 0; c < raw.cols; ++c) {
      // RGGB: R G / G B. BGR channel index: B=0, G=1, R=2.
      int ch = (r % 2 == 0) ? (c % 2 == 0 ? 2 : 1) : (c % 2 == 0 ? 1 : 0);
      d[c] = s[c][ch];
    }
  }
  return raw;
}

cv::Mat demosaic_rggb(const cv::Mat& raw8) {
  // OpenCV names Bayer patterns by the second row's first two pixels, so an RGGB sensor is
  // COLOR_BayerBG2BGR (the conversion the evaluation prescribes, docs/evaluation.md#sensor-color);
  // tests check no channel swaps.
  cv::Mat bgr;
  cv::cvtColor(raw8, bgr, cv::COLOR_BayerBG2BGR);
  return bgr;
}

}  // namespace dualcam::datasets
