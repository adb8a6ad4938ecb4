// The noise of a raw frame fitted on the frame itself, and carried through the development.
#include <catch2/catch.hpp>

#include <cmath>

#include "dualcam/engine/error.hpp"
#include "dualcam/engine/finish.hpp"
#include "dualcam/fusion/noise.hpp"
#include "dualcam/fusion/raw_noise.hpp"

using namespace dualcam;
using namespace dualcam::fusion;

namespace {

// A 12-bit frame of smooth ramps (every channel's level from 0.03 to 0.6 of the range across the
// image, no texture) with Gaussian noise of variance a + b * level (raw_linear units) per site.
RawFrame ramp_frame(CfaPattern cfa, double a, double b, int w = 512, int h = 384) {
  RawFrame f;
  f.bits = 12;
  f.cfa = cfa;
  f.black_level = 64;
  f.white_level = 4095;
  f.white_balance = cfa == CfaPattern::None ? cv::Vec3d(1, 1, 1) : cv::Vec3d(1.6, 1.0, 2.0);
  f.samples = cv::Mat(h, w, CV_16U);
  cv::RNG rng(7);
  const double range = f.white_level - f.black_level;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const double level = 0.03 + 0.57 * (0.5 * x / w + 0.5 * y / h);
      const double v = level + rng.gaussian(std::sqrt(a + b * level));
      f.samples.at<std::uint16_t>(y, x) = std::uint16_t(std::lround(std::clamp(f.black_level + v * range, 0.0, 4095.0)));
    }
  return f;
}

}  // namespace

TEST_CASE("fit_raw_noise: a frame's Poissonian-Gaussian noise per channel, from the frame", "[noise][raw]") {
  const double a = 2e-5, b = 1.5e-3;
  for (CfaPattern cfa : {CfaPattern::Rggb, CfaPattern::Gbrg, CfaPattern::None}) {
    const std::vector<NoiseCurve> curves = fit_raw_noise(ramp_frame(cfa, a, b));
    REQUIRE(int(curves.size()) == (cfa == CfaPattern::None ? 1 : 3));
    for (const NoiseCurve& c : curves) {
      // The sites' variance at a middle level within 10 %, the slope within 20 %.
      CHECK(c.a + c.b * 0.3 == Approx(a + b * 0.3).epsilon(0.10));
      CHECK(c.b == Approx(b).epsilon(0.20));
    }
  }
  CHECK_THROWS_AS(fit_raw_noise(ramp_frame(CfaPattern::Rggb, a, b, 48, 48)), Error);
}

TEST_CASE("raw_noise_model: the developed image's noise as the estimator would measure it there", "[noise][raw]") {
  const double a = 2e-5, b = 1.5e-3, exposure = 1.5;
  for (Demosaic d : {Demosaic::Bilinear, Demosaic::EdgeAware, Demosaic::Rcd}) {
    const RawFrame f = ramp_frame(CfaPattern::Rggb, a, b);
    FinishOptions fo;
    fo.demosaic = d;
    const NoiseModel model = raw_noise_model(f, fo, exposure);
    REQUIRE(model.channels() == 3);
    cv::Mat developed;
    develop_linear(f, fo).convertTo(developed, CV_32F, exposure);
    const NoiseModel measured = estimate_noise_linear(developed);
    for (int c = 0; c < 3; ++c) {
      // At the level a mid-range site of this channel develops to.
      const float level = float(0.3 * exposure * f.white_balance[c]);
      CHECK(model.fine(0, c, level) == Approx(measured.fine(0, c, level)).epsilon(0.25));
      CHECK(model.fine(1, c, level) == Approx(measured.fine(1, c, level)).epsilon(0.25));
      // A pixel's variance: at most a site's (the demosaic averages sites), not far below it.
      const double site = exposure * exposure * f.white_balance[c] * f.white_balance[c] * (a + b * 0.3);
      CHECK(model.pixel(c, level) <= 1.05 * site);
      CHECK(model.pixel(c, level) >= 0.25 * site);
    }
  }
  // A mono frame: no demosaic, its sites' noise itself.
  const RawFrame m = ramp_frame(CfaPattern::None, a, b);
  const NoiseModel mono = raw_noise_model(m, FinishOptions{}, 2.0);
  REQUIRE(mono.channels() == 1);
  CHECK(mono.pixel(0, 0.6f) == Approx(4.0 * (a + b * 0.3)).epsilon(0.12));
  CHECK_THROWS_AS(raw_noise_model(m, FinishOptions{}, 0.0), Error);
}
