#include "dualcam/datasets/camera_isp.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "dualcam/datasets/sensor.hpp"
#include "dualcam/engine/color.hpp"
#include "dualcam/engine/error.hpp"
#include "noise_bands.hpp"

namespace dualcam::datasets {

const char* to_string(SensorModel m) { return m == SensorModel::Realistic ? "realistic" : "simple"; }

SensorModel parse_sensor_model(const std::string& text) {
  if (text == "simple") return SensorModel::Simple;
  if (text == "realistic") return SensorModel::Realistic;
  throw_invalid("the sensor model must be simple or realistic, got '" + text + "'");
}

void RealisticCamera::validate() const {
  check_range("RealisticCamera::light", light, 1e-4, 1);
  check_range("RealisticCamera::electrons_at_white", electrons_at_white, 1, 1e7);
  check_range("RealisticCamera::read_noise_e", read_noise_e, 0, 1e4);
  check_range("RealisticCamera::max_analog_gain", max_analog_gain, 1, 1024);
  check_range("RealisticCamera::adc_bits", adc_bits, 8, 16);
  check_range("RealisticCamera::black_level_dn", black_level_dn, 0, std::ldexp(1.0, adc_bits - 2));
  check_range("RealisticCamera::adc_noise_dn", adc_noise_dn, 0, 1e3);
  for (int c = 0; c < 3; ++c) {
    check_range("RealisticCamera::filter_response", filter_response[c], 0.01, 1);
    check_range("RealisticCamera::mono_weights", mono_weights[c], 0, 4);
  }
  if (mono && !(mono_weights[0] + mono_weights[1] + mono_weights[2] > 0))
    throw_invalid("RealisticCamera::mono_weights must not all be zero");
  check_range("RealisticCamera::output_gain", output_gain, 0.01, 100);
  check_range("RealisticCamera::chroma_blur_px", chroma_blur_px, 0, 64);
  check_range("RealisticCamera::jpeg_quality", jpeg_quality, 0, 100);
}

RealisticCamera realistic_color_camera(double light, int adc_bits) {
  RealisticCamera c;
  c.light = light;
  c.adc_bits = adc_bits;
  c.black_level_dn = std::ldexp(16.0, adc_bits - 8);
  return c;
}

RealisticCamera realistic_mono_camera(double light, int adc_bits) {
  RealisticCamera c = realistic_color_camera(light, adc_bits);
  c.mono = true;
  c.electrons_at_white = 2.5 * c.electrons_at_white;  // no colour filter
  c.read_noise_e = 6.0;                               // a high-ISO readout
  c.output_gain = MonoSensor{}.gain;                  // rendered brighter: the highlights clip
  return c;
}

RealisticCamera realistic_mono_camera(double light, int adc_bits, const MonoSensor& response) {
  RealisticCamera c = realistic_mono_camera(light, adc_bits);
  c.mono_weights = cv::Vec3d(response.w_b, response.w_g, response.w_r);
  c.output_gain = response.gain;
  return c;
}

namespace {

// Gains from electrons to DN and back to the scene's light.
struct Gains {
  double analog = 1;        // before the ADC
  double dn_per_e = 1;      // at unit analogue gain: white in good light = the ADC's full scale
  double light_per_dn = 1;  // the ISP's gain from DN above black to the good-light signal
  double full_scale = 255;
};

Gains gains_of(const RealisticCamera& c) {
  Gains g;
  g.full_scale = std::ldexp(1.0, c.adc_bits) - 1;
  g.analog = std::min(c.max_analog_gain, 1.0 / c.light);
  g.dn_per_e = (g.full_scale - c.black_level_dn) / c.electrons_at_white;
  g.light_per_dn = 1.0 / (g.dn_per_e * g.analog * c.electrons_at_white * c.light);
  return g;
}

// The filter's channel (B=0, G=1, R=2) at a site of an RGGB mosaic (R at even rows and columns).
inline int rggb_channel(int y, int x) { return (y % 2 == 0) ? (x % 2 == 0 ? 2 : 1) : (x % 2 == 0 ? 1 : 0); }

// The ADC's output for rows [row0, row0 + band.rows) of the light (CV_32F, whole DN incl. black).
cv::Mat sensor_dn(const cv::Mat& band, int row0, const RealisticCamera& c, const Gains& g, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> gauss(0.0, 1.0);
  cv::Mat dn(band.size(), CV_32F);
  const double e_scale = c.electrons_at_white * c.light;
  for (int y = 0; y < band.rows; ++y) {
    const cv::Vec3f* s = band.ptr<cv::Vec3f>(y);
    float* d = dn.ptr<float>(y);
    for (int x = 0; x < band.cols; ++x) {
      double response;
      if (c.mono) {
        response = c.mono_weights[0] * s[x][0] + c.mono_weights[1] * s[x][1] + c.mono_weights[2] * s[x][2];
      } else {
        const int ch = rggb_channel(row0 + y, x);
        response = c.filter_response[ch] * s[x][ch];
      }
      const double mean_e = e_scale * std::max(0.0, response);
      double e = 0;
      if (mean_e > 0) {
        std::poisson_distribution<long long> poisson(mean_e);
        e = double(poisson(rng));
      }
      e += c.read_noise_e * gauss(rng);
      const double v = c.black_level_dn + e * g.analog * g.dn_per_e + c.adc_noise_dn * gauss(rng);
      d[x] = float(std::clamp(std::round(v), 0.0, g.full_scale));
    }
  }
  return dn;
}

// The ISP's chroma noise reduction: Cr and Cb (of the 8-bit sRGB picture) blurred, Y kept.
cv::Mat smooth_chroma(const cv::Mat& bgr8, double sigma) {
  if (sigma <= 0) return bgr8;
  cv::Mat ycc, out;
  cv::cvtColor(bgr8, ycc, cv::COLOR_BGR2YCrCb);
  std::vector<cv::Mat> ch;
  cv::split(ycc, ch);
  for (int k = 1; k < 3; ++k) cv::GaussianBlur(ch[k], ch[k], cv::Size(), sigma, sigma, cv::BORDER_REFLECT101);
  cv::merge(ch, ycc);
  cv::cvtColor(ycc, out, cv::COLOR_YCrCb2BGR);
  return out;
}

cv::Mat through_jpeg(const cv::Mat& img8, int quality) {
  if (quality == 0) return img8;
  std::vector<std::uint8_t> bytes;
  if (!cv::imencode(".jpg", img8, bytes, {cv::IMWRITE_JPEG_QUALITY, quality}))
    throw Error(ErrorCategory::Numerical, "realistic_camera_image: JPEG encoding failed");
  return cv::imdecode(bytes, img8.channels() == 1 ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR);
}

}  // namespace

namespace {

// The ADC's samples of the whole frame (CV_32F whole DN, black included).
cv::Mat frame_dn(const cv::Mat& linear_bgr, const RealisticCamera& c, const Gains& g, std::uint64_t seed, const char* what) {
  c.validate();
  if (linear_bgr.empty() || linear_bgr.type() != CV_32FC3)
    throw_invalid(std::string(what) + ": expected CV_32FC3 linear BGR");
  return detail::by_bands(linear_bgr, CV_32F, [&](const cv::Mat& band, int b) {
    return sensor_dn(band, b * detail::kNoiseBandRows, c, g, detail::band_seed(seed, b));
  });
}

// The ISP: the ADC's samples (CV_32F DN) to the camera's 8-bit picture.
cv::Mat picture_from_dn(const cv::Mat& dn, const RealisticCamera& c, const Gains& g) {
  cv::Mat linear;
  if (c.mono) {
    // Black off (values below it kept: the noise is symmetric about it), the gains, the output.
    dn.convertTo(linear, CV_32F, g.light_per_dn * c.output_gain, -c.black_level_dn * g.light_per_dn * c.output_gain);
  } else {
    // Bilinear demosaic on the DN scaled into 16 bits, so that its averages keep 1/2^(16-bits) DN
    // instead of rounding to whole DN. OpenCV names RGGB "BayerBG".
    const double up = std::ldexp(1.0, 16 - c.adc_bits);
    cv::Mat raw16, bgr16;
    dn.convertTo(raw16, CV_16U, up);
    cv::cvtColor(raw16, bgr16, cv::COLOR_BayerBG2BGR);
    bgr16.convertTo(linear, CV_32F, 1.0 / up);
    // White balance (the filter's transmissions undone) and the digital gain, per channel.
    const cv::Scalar mul(g.light_per_dn * c.output_gain / c.filter_response[0],
                         g.light_per_dn * c.output_gain / c.filter_response[1],
                         g.light_per_dn * c.output_gain / c.filter_response[2]);
    cv::subtract(linear, cv::Scalar::all(c.black_level_dn), linear);
    cv::multiply(linear, mul, linear);
  }
  cv::Mat picture = to_srgb8(linear);
  if (!c.mono) picture = smooth_chroma(picture, c.chroma_blur_px);
  return through_jpeg(picture, c.jpeg_quality);
}

}  // namespace

RawFrame realistic_camera_raw(const cv::Mat& linear_bgr, const RealisticCamera& c, std::uint64_t seed) {
  const Gains g = gains_of(c);
  RawFrame f;
  frame_dn(linear_bgr, c, g, seed, "realistic_camera_raw").convertTo(f.samples, CV_16U);
  f.bits = c.adc_bits;
  f.cfa = c.mono ? CfaPattern::None : CfaPattern::Rggb;
  f.black_level = c.black_level_dn;
  f.white_level = g.full_scale;
  if (!c.mono)
    f.white_balance = cv::Vec3d(c.filter_response[1] / c.filter_response[0], 1.0, c.filter_response[1] / c.filter_response[2]);
  // The ISP's gain from the linear frame (raw_linear: 1 = the ADC's full scale) to the picture:
  // realistic_camera_image's light_per_dn and output gain, over the green filter.
  const double gain = (g.full_scale - c.black_level_dn) * g.light_per_dn * c.output_gain / (c.mono ? 1.0 : c.filter_response[1]);
  f.baseline_exposure_ev = std::log2(gain);
  f.format = "dualcam simulator";
  return f;
}

cv::Mat realistic_camera_image(const cv::Mat& linear_bgr, const RealisticCamera& c, std::uint64_t seed) {
  const Gains g = gains_of(c);
  return picture_from_dn(frame_dn(linear_bgr, c, g, seed, "realistic_camera_image"), c, g);
}

cv::Mat realistic_camera_picture(const RawFrame& raw, const RealisticCamera& c) {
  c.validate();
  if (raw.samples.type() != CV_16UC1 || raw.mono() != c.mono)
    throw_invalid("realistic_camera_picture: the frame is not this camera's (CV_16UC1, mono or RGGB as the camera)");
  cv::Mat dn;
  raw.samples.convertTo(dn, CV_32F);
  return picture_from_dn(dn, c, gains_of(c));
}

}  // namespace dualcam::datasets
