// The noise model (fusion/noise.hpp) on synthetic images whose noise is known: Poissonian-Gaussian
// noise (variance a + b * level) on smooth images, with clipped and quantised areas, a dark frame
// stretched by a gain, a band of known noise, stated curves; the same model for any thread count;
// bad input. DUALCAM_NOISE_MEASURE=1 in the environment prints the errors the tolerances are
// set from.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "dualcam/engine/color.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/parallel.hpp"
#include "dualcam/fusion/noise.hpp"

using namespace dualcam;

namespace {

void note(const char* format, ...) {
  static const bool on = std::getenv("DUALCAM_NOISE_MEASURE") != nullptr;
  if (!on) return;
  va_list args;
  va_start(args, format);
  std::vprintf(format, args);
  va_end(args);
}

constexpr double kA = 1e-5, kB = 4e-4;  // the true noise: variance = kA + kB * level (linear light)

// The true variance of one sample at `scale` (a mean of 4^scale independent pixels).
double truth(double level, int scale = 0) { return (kA + kB * std::max(0.0, level)) / double(1 << (2 * scale)); }

// A ramp of linear levels along x, from lo to hi (the same in every channel): both statistics
// remove a plane, so each block holds only noise.
cv::Mat ramp(cv::Size size, int channels, double lo, double hi) {
  cv::Mat m(size, CV_32FC(channels));
  for (int y = 0; y < size.height; ++y) {
    float* p = m.ptr<float>(y);
    for (int x = 0; x < size.width; ++x)
      for (int c = 0; c < channels; ++c) p[x * channels + c] = float(lo + (hi - lo) * x / double(size.width - 1));
  }
  return m;
}

// Constant patches of `side` px (a multiple of every block side, so no block straddles an edge),
// each channel's level drawn uniformly in [lo, hi].
cv::Mat patches(cv::Size size, int channels, int side, double lo, double hi, unsigned seed) {
  cv::RNG rng(seed);
  cv::Mat m(size, CV_32FC(channels));
  for (int y0 = 0; y0 < size.height; y0 += side)
    for (int x0 = 0; x0 < size.width; x0 += side) {
      cv::Scalar level;
      for (int c = 0; c < channels; ++c) level[c] = rng.uniform(lo, hi);
      m(cv::Rect(x0, y0, std::min(side, size.width - x0), std::min(side, size.height - y0))).setTo(level);
    }
  return m;
}

// Adds Gaussian noise of variance kA + kB * level to every sample.
cv::Mat add_noise(const cv::Mat& clean, unsigned seed) {
  cv::RNG rng(seed);
  cv::Mat out = clean.clone();
  const int n = out.cols * out.channels();
  for (int y = 0; y < out.rows; ++y) {
    float* p = out.ptr<float>(y);
    for (int i = 0; i < n; ++i) p[i] += float(rng.gaussian(std::sqrt(truth(p[i]))));
  }
  return out;
}

// The largest relative error of a curve's level sets against `expected(level)`.
template <typename F>
double worst_set_error(const fusion::NoiseCurve& curve, F&& expected) {
  double worst = 0;
  for (const fusion::NoiseLevelSet& s : curve.sets) {
    const double e = expected(s.level);
    worst = std::max(worst, std::abs(s.variance - e) / e);
  }
  return worst;
}

// The linear size of one 8-bit code around code c (central difference, as the model takes it).
double code_step8(int c) {
  const int a = std::max(0, c - 1), b = std::min(255, c + 1);
  return (srgb_to_linear(b / 255.0f) - srgb_to_linear(a / 255.0f)) / double(b - a);
}
int code8(double level) { return int(std::lround(linear_to_srgb(float(level)) * 255.0)); }
// The variance 8-bit rounding adds to noise well above one code: step^2 / 12.
double rounding8(double level) {
  const double s = code_step8(code8(level));
  return s * s / 12.0;
}

template <typename F>
void expect_invalid(F&& call, const char* fragment) {
  try {
    call();
    FAIL("expected an error naming " << fragment);
  } catch (const Error& e) {
    CHECK(e.category() == ErrorCategory::InvalidInput);
    CHECK_THAT(e.what(), Catch::Contains(fragment));
  }
}

}  // namespace

TEST_CASE("estimate_noise measures Poissonian-Gaussian noise on smooth 16-bit images", "[fusion][noise]") {
  const cv::Size size(512, 512);
  struct Case {
    const char* name;
    cv::Mat linear;
  };
  const Case cases[] = {
      {"ramp, 1 channel", add_noise(ramp(size, 1, 0.03, 0.8), 11)},
      {"patches, 3 channels", add_noise(patches(size, 3, 64, 0.03, 0.8, 12), 13)},
  };
  for (const Case& k : cases) {
    SECTION(k.name) {
      const fusion::NoiseModel m = fusion::estimate_noise_linear(k.linear);
      REQUIRE(m.channels() == k.linear.channels());
      REQUIRE(m.scales() == 3);
      // Nothing is clipped (16-bit noisy ramps were reported clipped at their extreme codes
      // before noise.cpp's clip_codes counted only used codes and asked for 16 samples).
      CHECK(m.clipped_codes() == std::array<int, 2>{-1, -1});
      for (int c = 0; c < m.channels(); ++c) {
        CAPTURE(c);
        // Measured (seeds 11-13, 512x512): the worst level set's relative error 4.6-6.3 % at scale
        // 0 (16 sets of 256 blocks), 10-14 % at scales 1 and 2 (64 and 32 blocks a set), 1.0-2.1 %
        // for the pixel variance; b within 2.1-4.2 % at every scale, 0.6 % for the pixel; a (small
        // next to b * level) within 12-21 % at scale 0, 2-5 % for the pixel; the tables within 3.6-5.7
        // % over levels 0.05..0.75.
        const double set_tol[] = {0.12, 0.25, 0.25};
        for (int s = 0; s < m.scales(); ++s) {
          CAPTURE(s);
          const fusion::NoiseCurve& f = m.fine_curve(s, c);
          const double set_err = worst_set_error(f, [&](double l) { return truth(l, s); });
          const double a_err = f.a * (1 << 2 * s) / kA - 1, b_err = f.b * (1 << 2 * s) / kB - 1;
          note("%s c%d fine s%d: %zu sets, worst %.4f, a %+.3f b %+.3f rms %.4f\n", k.name, c, s, f.sets.size(),
               set_err, a_err, b_err, f.fit_rms_rel);
          CHECK(f.sets.size() == (s < 2 ? 16u : 8u));
          CHECK(set_err < set_tol[s]);
          CHECK(std::abs(b_err) < 0.08);
          if (s == 0) CHECK(std::abs(a_err) < 0.4);
        }
        const fusion::NoiseCurve& p = m.pixel_curve(c);
        const double set_err = worst_set_error(p, [&](double l) { return truth(l); });
        note("%s c%d pixel: %zu sets, worst %.4f, a %+.3f b %+.3f rms %.4f\n", k.name, c, p.sets.size(), set_err,
             p.a / kA - 1, p.b / kB - 1, p.fit_rms_rel);
        CHECK(p.sets.size() == 8u);
        CHECK(set_err < 0.04);
        CHECK(std::abs(p.a / kA - 1) < 0.1);
        CHECK(std::abs(p.b / kB - 1) < 0.015);
        double worst_table = 0;
        for (double l = 0.05; l <= 0.75; l += 0.05) {
          worst_table = std::max(worst_table, std::abs(m.fine(0, c, float(l)) - truth(l)) / truth(l));
          worst_table = std::max(worst_table, std::abs(m.pixel(c, float(l)) - truth(l)) / truth(l));
        }
        note("%s c%d tables: worst %.4f\n", k.name, c, worst_table);
        CHECK(worst_table < 0.1);
      }
    }
  }
}

TEST_CASE("estimate_noise leaves clipped blocks out of the noise of 8-bit images", "[fusion][noise]") {
  const cv::Size size(512, 512);
  // Left half: a ramp up to (or from) the clip, right half: saturated (half the blocks: taken in,
  // they would make half the level sets of variance ~0 at level 1 or 0).
  struct Case {
    const char* name;
    double lo, hi, flat;  // the ramp and the level of the saturated half
    std::array<int, 2> clip;
  };
  const Case cases[] = {{"highlights at 255", 0.03, 0.97, 1.3, {-1, 255}}, {"shadows at 0", 0.0, 0.8, -0.1, {0, -1}}};
  for (const Case& k : cases) {
    SECTION(k.name) {
      cv::Mat linear(size, CV_32FC1, cv::Scalar(k.flat));
      ramp(cv::Size(size.width / 2, size.height), 1, k.lo, k.hi).copyTo(linear(cv::Rect(0, 0, size.width / 2, size.height)));
      const cv::Mat img = to_srgb8(add_noise(linear, 21));
      const fusion::NoiseModel m = fusion::estimate_noise(img);
      CHECK(m.clipped_codes() == k.clip);
      CHECK(m.code_spacing() == Approx(1.0));
      // Measured: the worst level set within 4.9-6.1 % at scale 0, 7-11 % at scales 1-2, 1.5-2.3 %
      // for the pixel variance (the truth plus 8-bit rounding's step^2 / 12); b within 2.4 % at
      // scale 0, 4.3 % at scale 1, 8.8 % at scale 2 (4 sets), 1.7 % for the pixel. The sets
      // nearest the clip (mostly clipped, 0.9 of 0.97 and 0.06 of 0) are left out, not biased.
      const double set_tol[] = {0.12, 0.2, 0.2}, b_tol[] = {0.05, 0.08, 0.15};
      for (int s = 0; s < m.scales(); ++s) {
        CAPTURE(s);
        const fusion::NoiseCurve& f = m.fine_curve(s, 0);
        int blocks = 0;
        for (const auto& set : f.sets) blocks += set.blocks;
        const double e = worst_set_error(f, [&](double l) { return truth(l, s) + rounding8(l) / (1 << 2 * s); });
        note("%s fine s%d: %zu sets of %d blocks, levels %.3f..%.3f, worst %.4f, b %+.4f\n", k.name, s, f.sets.size(),
             blocks, f.sets.front().level, f.sets.back().level, e, f.b / (kB / (1 << 2 * s)) - 1);
        const int all = (size.width >> (3 + s)) * (size.height >> (3 + s));
        CHECK(blocks <= all / 2);  // none of the saturated half
        CHECK(f.sets.size() >= (s < 2 ? 7u : 4u));
        CHECK(e < set_tol[s]);
        CHECK(std::abs(f.b / (kB / (1 << 2 * s)) - 1) < b_tol[s]);
      }
      const fusion::NoiseCurve& p = m.pixel_curve(0);
      const double e = worst_set_error(p, [&](double l) { return truth(l) + rounding8(l); });
      note("%s pixel: %zu sets, worst %.4f, b %+.4f\n", k.name, p.sets.size(), e, p.b / kB - 1);
      CHECK(p.sets.size() >= 3u);
      CHECK(e < 0.05);
      CHECK(std::abs(p.b / kB - 1) < 0.04);
    }
  }
}

TEST_CASE("estimate_noise floors quantised 8-bit noise at step^2 / 12 and finds a gain's code spacing",
          "[fusion][noise]") {
  const cv::Size size(512, 256);
  // A dark frame in codes: a ramp of mean codes from 4 to 50 with noise of `sigma` codes, the
  // codes then multiplied by a digital gain k (k = 1: none, every code used).
  auto dark_frame = [&](double sigma, int k, unsigned seed) {
    cv::RNG rng(seed);
    cv::Mat img(size, CV_8UC1);
    for (int y = 0; y < size.height; ++y)
      for (int x = 0; x < size.width; ++x) {
        const double mean = 4.0 + 46.0 * x / double(size.width - 1);
        img.at<std::uint8_t>(y, x) = cv::saturate_cast<std::uint8_t>(k * std::lround(mean + rng.gaussian(sigma)));
      }
    return img;
  };
  for (const int k : {1, 4}) {
    for (const double sigma : {0.05, 1.0}) {
      CAPTURE(k, sigma);
      const fusion::NoiseModel m = fusion::estimate_noise(dark_frame(sigma, k, 31));
      // Before the fix in noise.cpp: spacing 1.31 (k = 1) and 3.4 (k = 4), and the stretched
      // frame's extreme codes reported clipped.
      note("k %d sigma %.2f: spacing %.3f clipped %d %d\n", k, sigma, m.code_spacing(), m.clipped_codes()[0],
           m.clipped_codes()[1]);
      CHECK(m.code_spacing() == Approx(double(k)).epsilon(0.05));
      CHECK(m.clipped_codes() == std::array<int, 2>{-1, -1});
      // The floor against (k x one code's linear size)^2 / 12 at every code used: measured within
      // 1.1 % (before: 2.6x too high at code 50, the end of the range used).
      double worst_floor = 0;
      for (int c = 4 * k; c <= 50 * k; c += k) {
        const float l = srgb_to_linear(c / 255.0f);
        const double step = code_step8(c) * k;
        worst_floor = std::max(worst_floor, std::abs(m.floor(l) / (step * step / 12) - 1));
      }
      note("  floor: worst %.4f\n", worst_floor);
      CHECK(worst_floor < 0.03);
      // Never 0, never below the floor, at any level, scale or statistic.
      for (int i = 0; i <= fusion::NoiseModel::kTable; ++i) {
        const float l = float(i) * i / float(fusion::NoiseModel::kTable * fusion::NoiseModel::kTable);
        REQUIRE(m.floor(l) > 0);
        for (int s = 0; s < 4; ++s) REQUIRE(m.fine(s, 0, l) >= m.floor(l) / float(1 << (2 * s)));
        REQUIRE(m.pixel(0, l) >= m.floor(l));
      }
      for (int s = 0; s < m.scales(); ++s) {
        CAPTURE(s);
        const fusion::NoiseCurve& f = m.fine_curve(s, 0);
        REQUIRE(!f.sets.empty());
        double worst = 0;
        for (const fusion::NoiseLevelSet& set : f.sets) {
          const double fl = m.floor(float(set.level)) / double(1 << (2 * s));
          if (sigma < 0.1) {
            // Noise far below one code: each block a staircase the fine statistic removes, so the
            // measurement is 0 and the variance the floor.
            CHECK(set.variance == Approx(fl).epsilon(1e-5));
          } else if (s == 0) {
            // Noise of sigma codes before the gain, rounded: (sigma^2 + 1/12) (k step)^2, the
            // step linearised at the set's level (measured within 7.6-7.9 %; at scales 1-2, whose
            // 16-32 px blocks span several codes of the curved sRGB step, 25-44 %: not checked).
            const double step = code_step8(code8(set.level)) * k;
            const double e = (sigma * sigma + 1.0 / 12) * step * step / double(1 << (2 * s));
            worst = std::max(worst, std::abs(set.variance / e - 1));
          }
        }
        note("  fine s%d: %zu sets, worst %.4f against (sigma^2 + 1/12) (k step)^2\n", s, f.sets.size(), worst);
        CHECK(worst < 0.15);
        // Below the first set the curve follows the affine fit down to the floor, without a jump
        // back up where the fit turns negative (it jumped to the first set's value there).
        const double first = f.sets.front().level;
        for (int i = 0; i + 1 <= fusion::NoiseModel::kTable; ++i) {
          const float l0 = float(i) * i / float(fusion::NoiseModel::kTable * fusion::NoiseModel::kTable);
          const float l1 = float(i + 1) * (i + 1) / float(fusion::NoiseModel::kTable * fusion::NoiseModel::kTable);
          if (l1 > first) break;
          CAPTURE(l0);
          CHECK(m.fine(s, 0, l0) <= std::max(m.fine(s, 0, l1), m.floor(l0) / float(1 << (2 * s))) * 1.000001f);
        }
      }
    }
  }
}
