#pragma once
// A phone camera as its sensor and ISP make a picture: the "realistic" sensor of
// docs/evaluation.md#sensor-realistic, made so that development figures predict real captures
// (issue 17), where sensor.hpp's models (Gaussian noise on sRGB-ready values) are far cleaner
// than a real pair:
//
//   scene light (linear BGR at a good-light exposure) x light level
//   -> electrons per site: Poisson photon noise, through an RGGB colour filter whose green
//      passes most (the raw image is green; white balance undoes it), or no filter (mono)
//   -> read noise (electrons), analogue gain (the ISO, up to max_analog_gain), ADC noise,
//      quantisation to adc_bits with a black level, clipping at the ADC's full scale
//   -> the ISP: black level off, bilinear demosaic, white balance, the digital gain that brings
//      the dark frame up to the good-light exposure (this is what posterises an 8-bit sensor in
//      low light: a few DN of signal stretched over many output levels), output_gain (a mono
//      brighter than the colour clips its highlights), clipping, the sRGB tone curve, 8 bits,
//      and the ISP's chroma noise reduction: a blur of the chroma (phones smooth it, which turns
//      chroma noise into the low-frequency blotches of a real low-light picture)
//   -> JPEG at jpeg_quality (chroma subsampled 4:2:0 for colour, as phones store them).
//
// The expected value of the picture is the scene's light x output_gain through the sRGB curve:
// the clean image the protocols compare with is the same light without noise.
#include <cstdint>
#include <string>

#include <opencv2/core.hpp>

#include "dualcam/engine/raw.hpp"

#include "dualcam/datasets/sensor.hpp"

namespace dualcam::datasets {

// Which camera model makes a picture from light: Simple = sensor.hpp's models, Realistic = this
// file's sensor and ISP. `dualcam simulate --sensor` and `dualcam eval --sensor` take the same
// choice.
enum class SensorModel { Simple, Realistic };
const char* to_string(SensorModel model);
SensorModel parse_sensor_model(const std::string& text);  // "simple" | "realistic"; else Error(InvalidInput)

struct RealisticCamera {
  bool mono = false;                 // no colour filter; the picture is 1-channel
  double light = 0.05;               // light on the sensor relative to a good-light exposure
  double electrons_at_white = 4000;  // per site at white in good light (green site for colour)
  double read_noise_e = 3.0;         // electrons rms, before the analogue gain
  double max_analog_gain = 4.0;      // the rest of 1 / light is digital gain, after the ADC
  int adc_bits = 8;                  // quantisation at the sensor: 8..16
  double black_level_dn = 16;        // ADC offset in DN of adc_bits; noise below it is kept
  double adc_noise_dn = 0.5;         // noise after the analogue gain, DN rms
  cv::Vec3d filter_response{0.6, 1.0, 0.5};  // B, G, R colour-filter transmissions (colour)
  cv::Vec3d mono_weights{0.25, 0.45, 0.30};  // the mono's response to B, G, R light (mono)
  double output_gain = 1.0;          // brightness of the picture relative to the scene's light
  double chroma_blur_px = 1.5;       // Gaussian sigma of the ISP's chroma smoothing (colour); 0 = none
  int jpeg_quality = 90;             // 1..100; 0 = no JPEG (the 8-bit image as the ISP made it)
  void validate() const;
};

// The default colour and mono cameras of the realistic protocol at `light`: the mono has no
// filter (2.5x the electrons at white), a higher read noise (a high-ISO mode), and is rendered
// brighter than the colour camera (MonoSensor's gain, 1.15), so its highlights clip, as in the
// real pairs.
RealisticCamera realistic_color_camera(double light, int adc_bits = 8);
RealisticCamera realistic_mono_camera(double light, int adc_bits = 8);
// The same mono camera with the response (weights) and brightness (gain) of a simple-model mono,
// so that --mono-weights / --mono-gain mean the same for both sensor models (simulate and eval).
RealisticCamera realistic_mono_camera(double light, int adc_bits, const MonoSensor& response);

// The camera's picture of `linear_bgr` (CV_32FC3, linear BGR in [0,1] at a good-light exposure):
// CV_8UC3 sRGB BGR, or CV_8UC1 for a mono camera. Deterministic for a seed and the same for any
// thread count (the noise is drawn on fixed bands of rows).
cv::Mat realistic_camera_image(const cv::Mat& linear_bgr, const RealisticCamera& camera, std::uint64_t seed);
// The same camera's raw frame, before its ISP (engine/raw.hpp): the ADC's samples (an RGGB
// mosaic for the colour camera), its black level and full scale, the white balance that undoes
// the filter's transmissions, and the ISP's gain as baseline_exposure_ev. The same seed gives the
// samples realistic_camera_image() made its picture from.
RawFrame realistic_camera_raw(const cv::Mat& linear_bgr, const RealisticCamera& camera, std::uint64_t seed);
// The camera's picture made by its ISP from such a frame: realistic_camera_image() is
// realistic_camera_picture(realistic_camera_raw(...)).
cv::Mat realistic_camera_picture(const RawFrame& raw, const RealisticCamera& camera);

}  // namespace dualcam::datasets
