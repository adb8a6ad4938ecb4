#include <catch2/catch.hpp>

#include <cmath>
#include <set>

#include <opencv2/imgproc.hpp>

#include "dualcam/datasets/camera_isp.hpp"
#include "dualcam/datasets/recipe.hpp"
#include "dualcam/datasets/simulate.hpp"
#include "dualcam/engine/color.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/parallel.hpp"

using namespace dualcam;
using namespace dualcam::datasets;

namespace {

// Mean and variance of the linear light of a flat 1-channel picture, away from the borders.
void linear_stats(const cv::Mat& img8, double& mean, double& var) {
  cv::Mat lin = to_linear(img8);
  cv::Scalar m, s;
  cv::meanStdDev(lin(cv::Rect(8, 8, lin.cols - 16, lin.rows - 16)), m, s);
  mean = m[0];
  var = s[0] * s[0];
}

}  // namespace

TEST_CASE("The realistic camera's noise follows its Poisson-Gaussian model", "[sensor][isp]") {
  // A mono camera with 16 bits at the ADC (no quantisation to speak of), no JPEG: the picture's
  // linear variance at a flat level s is (s E L + read^2 + (adc / (gain dn_per_e))^2) / (E L)^2.
  RealisticCamera c = realistic_mono_camera(0.05, 16);
  c.output_gain = 1.0;
  c.jpeg_quality = 0;
  const double level = 0.2;
  const cv::Mat flat(256, 256, CV_32FC3, cv::Scalar::all(level));
  double mean = 0, var = 0;
  linear_stats(realistic_camera_image(flat, c, 7), mean, var);
  const double s = level * (c.mono_weights[0] + c.mono_weights[1] + c.mono_weights[2]);
  const double el = c.electrons_at_white * c.light;
  const double analog = std::min(c.max_analog_gain, 1 / c.light);
  const double dn_per_e = (std::ldexp(1.0, 16) - 1 - c.black_level_dn) / c.electrons_at_white;
  const double adc_e = c.adc_noise_dn / (analog * dn_per_e);
  const double expected = (s * el + c.read_noise_e * c.read_noise_e + adc_e * adc_e) / (el * el);
  INFO("mean " << mean << " (signal " << s << "), variance " << var << " (model " << expected << ")");
  // The 8-bit sRGB output adds its own quantisation: small against this noise (sigma ~0.03).
  CHECK(std::abs(mean - s) < 0.01 * s + 0.002);
  CHECK(std::abs(var - expected) < 0.15 * expected);
}

TEST_CASE("An 8-bit sensor in low light posterises, a 12-bit one does not", "[sensor][isp]") {
  // A noiseless ramp over the dark third: the output takes only the levels the ADC had.
  cv::Mat ramp(32, 512, CV_32FC3);
  for (int x = 0; x < ramp.cols; ++x) ramp.col(x).setTo(cv::Scalar::all(0.3 * x / (ramp.cols - 1)));
  auto levels = [&](int bits) {
    RealisticCamera c = realistic_mono_camera(0.02, bits);
    c.output_gain = 1.0;
    c.electrons_at_white = 1e7;  // no photon noise to speak of
    c.read_noise_e = 0;
    c.adc_noise_dn = 0;
    c.jpeg_quality = 0;
    const cv::Mat img = realistic_camera_image(ramp, c, 1);
    std::set<int> seen;
    for (int x = 0; x < img.cols; ++x) seen.insert(img.at<std::uint8_t>(16, x));
    return seen.size();
  };
  const std::size_t l8 = levels(8), l12 = levels(12);
  INFO("distinct output levels over the ramp: 8-bit sensor " << l8 << ", 12-bit " << l12);
  // 8 bits: white at light 0.02 x analogue gain 4 is 0.08 of 239 DN, so the ramp spans ~6 DN.
  CHECK(l8 <= 8);
  CHECK(l12 > 60);
}

TEST_CASE("The realistic colour camera is white-balanced, its mono clips, both are deterministic",
          "[sensor][isp]") {
  const cv::Mat grey(64, 64, CV_32FC3, cv::Scalar::all(0.18));
  RealisticCamera c = realistic_color_camera(0.5, 12);
  c.electrons_at_white = 1e6;
  c.jpeg_quality = 0;
  c.chroma_blur_px = 0;
  const cv::Mat img = realistic_camera_image(grey, c, 3);
  REQUIRE(img.type() == CV_8UC3);
  const cv::Scalar m = cv::mean(img(cv::Rect(4, 4, 56, 56)));
  INFO("mean B,G,R " << m[0] << "," << m[1] << "," << m[2]);
  CHECK(std::abs(m[0] - m[1]) < 1.5);
  CHECK(std::abs(m[2] - m[1]) < 1.5);
  CHECK(std::abs(m[1] - 255 * linear_to_srgb(0.18f)) < 2);
  // The mono is rendered 1.15x brighter: a 0.95 grey clips.
  const cv::Mat bright(64, 64, CV_32FC3, cv::Scalar::all(0.95));
  RealisticCamera mono = realistic_mono_camera(0.5);
  const cv::Mat mimg = realistic_camera_image(bright, mono, 4);
  REQUIRE(mimg.type() == CV_8UC1);
  CHECK(cv::mean(mimg)[0] > 250);
  // The same bytes for 1 and 2 threads, and for the same seed.
  const cv::Mat scene = cv::Mat(200, 150, CV_32FC3, cv::Scalar(0.1, 0.3, 0.5));
  cv::Mat a, b;
  {
    ThreadScope t(1);
    a = realistic_camera_image(scene, realistic_color_camera(0.05), 9);
  }
  {
    ThreadScope t(2);
    b = realistic_camera_image(scene, realistic_color_camera(0.05), 9);
  }
  CHECK(cv::norm(a, b, cv::NORM_INF) == 0);
  // Options are validated.
  RealisticCamera bad = realistic_color_camera(0.05);
  bad.adc_bits = 7;
  CHECK_THROWS_WITH(realistic_camera_image(scene, bad, 1), Catch::Contains("RealisticCamera::adc_bits"));
  CHECK_THROWS_AS(realistic_camera_image(cv::Mat(4, 4, CV_8UC3), c, 1), Error);
}

TEST_CASE("The simulator takes the realistic sensor from a recipe", "[sensor][isp]") {
  Json r = {{"size", {160, 120}}, {"supersample", 1}, {"sensor", "realistic"}, {"light", 0.02}, {"adc_bits", 8}};
  SimulateOptions o = simulate_options_from_recipe(r, strict_json::Where{"recipe", ""}, SimulateOptions{});
  CHECK(o.sensor == SensorModel::Realistic);
  const Simulation realistic = simulate(o);
  o.sensor = SensorModel::Simple;
  const Simulation simple = simulate(o);
  REQUIRE(realistic.color.type() == CV_8UC3);
  REQUIRE(realistic.mono.type() == CV_8UC1);
  // The same scene and brightness through another camera model: the recipe reached the simulator.
  CHECK(cv::norm(realistic.color, simple.color, cv::NORM_INF) > 0);
  CHECK(cv::norm(realistic.mono, simple.mono, cv::NORM_INF) > 0);
  const cv::Mat truth = to_srgb8(realistic.clean_color_at_color);
  CHECK(std::abs(cv::mean(realistic.color)[1] - cv::mean(truth)[1]) < 6);
  r["sensor"] = "raw";
  CHECK_THROWS_WITH(simulate_options_from_recipe(r, strict_json::Where{"recipe", ""}, SimulateOptions{}),
                    Catch::Contains("sensor"));
  r["sensor"] = "realistic";
  r["light"] = 2.0;
  CHECK_THROWS_WITH(simulate_options_from_recipe(r, strict_json::Where{"recipe", ""}, SimulateOptions{}),
                    Catch::Contains("realistic sensor"));
  // "raw": the sensors' frames kept (a regress case then fuses them); realistic only, a boolean.
  r["light"] = 0.02;
  r["raw"] = true;
  o = simulate_options_from_recipe(r, strict_json::Where{"recipe", ""}, SimulateOptions{});
  CHECK(o.raw);
  CHECK(simulate(o).color_raw.samples.type() == CV_16UC1);
  r["raw"] = "yes";
  CHECK_THROWS_WITH(simulate_options_from_recipe(r, strict_json::Where{"recipe", ""}, SimulateOptions{}),
                    Catch::Contains("raw"));
  r["raw"] = true;
  r["sensor"] = "simple";
  CHECK_THROWS_WITH(simulate(simulate_options_from_recipe(r, strict_json::Where{"recipe", ""}, SimulateOptions{})),
                    Catch::Contains("realistic"));
}
