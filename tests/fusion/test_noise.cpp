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

TEST_CASE("estimate_noise and estimate_band_noise give the same model at 1 and 2 threads", "[fusion][noise]") {
  const cv::Mat linear = add_noise(patches(cv::Size(512, 384), 3, 64, -0.05, 1.1, 41), 42);
  const cv::Mat img16 = to_srgb16(linear), img8 = to_srgb8(linear);
  fusion::NoiseOptions strided;
  strided.max_blocks = 600;  // blocks on a stride (at least 2048 for the fine statistic)
  for (const cv::Mat* img : {&img16, &img8})
    for (const fusion::NoiseOptions& o : {fusion::NoiseOptions{}, strided}) {
      const fusion::NoiseModel a = ThreadScope(1).run([&] { return fusion::estimate_noise(*img, o); });
      const fusion::NoiseModel b = ThreadScope(2).run([&] { return fusion::estimate_noise(*img, o); });
      REQUIRE(!a.empty());
      CHECK(a.to_json().dump() == b.to_json().dump());
      bool same = true;
      for (int i = 0; i <= fusion::NoiseModel::kTable; ++i) {
        const float l = float(i) * i / float(fusion::NoiseModel::kTable * fusion::NoiseModel::kTable);
        for (int c = 0; c < 3; ++c) {
          for (int s = 0; s < a.scales(); ++s) same = same && a.fine(s, c, l) == b.fine(s, c, l);
          same = same && a.pixel(c, l) == b.pixel(c, l);
        }
      }
      CHECK(same);
    }
  cv::Mat band(linear.size(), CV_32FC3);
  cv::RNG(43).fill(band, cv::RNG::NORMAL, 0.0, 0.01);
  const fusion::BandNoise a = ThreadScope(1).run([&] { return fusion::estimate_band_noise(band, linear); });
  const fusion::BandNoise b = ThreadScope(2).run([&] { return fusion::estimate_band_noise(band, linear); });
  bool same = true;
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i <= fusion::NoiseModel::kTable; ++i) {
      const float l = float(i) * i / float(fusion::NoiseModel::kTable * fusion::NoiseModel::kTable);
      same = same && a.variance(c, l) == b.variance(c, l);
    }
  CHECK(same);
}

TEST_CASE("estimate_noise refuses images and options it cannot measure", "[fusion][noise][bad]") {
  const cv::Mat ok(128, 128, CV_8UC1, cv::Scalar(100));
  expect_invalid([] { fusion::estimate_noise(cv::Mat(128, 128, CV_32SC1, cv::Scalar(1))); }, "estimate_noise");
  expect_invalid([] { fusion::estimate_noise(cv::Mat(128, 128, CV_8UC2, cv::Scalar(1))); }, "estimate_noise");
  expect_invalid([] { fusion::estimate_noise(cv::Mat(128, 128, CV_16UC4, cv::Scalar(1))); }, "estimate_noise");
  expect_invalid([] { fusion::estimate_noise(cv::Mat(128, 128, CV_32FC1, cv::Scalar(0.5))); }, "estimate_noise");
  expect_invalid([] { fusion::estimate_noise(cv::Mat(31, 400, CV_8UC3, cv::Scalar(1))); }, "smaller than 4 blocks");
  expect_invalid([] { fusion::estimate_noise(cv::Mat(400, 31, CV_16UC1, cv::Scalar(1))); }, "smaller than 4 blocks");
  // A small image is measured with blocks that fit.
  CHECK(fusion::estimate_noise(cv::Mat(96, 128, CV_8UC3, cv::Scalar(100))).channels() == 3);
  expect_invalid([] { fusion::estimate_noise(cv::Mat()); }, "estimate_noise");
  expect_invalid([] { fusion::estimate_noise_linear(cv::Mat(128, 128, CV_8UC1, cv::Scalar(1))); }, "estimate_noise_linear");
  expect_invalid([] { fusion::estimate_noise_linear(cv::Mat(128, 128, CV_32FC2, cv::Scalar(0.5))); }, "estimate_noise_linear");
  expect_invalid([] { fusion::estimate_noise_linear(cv::Mat(30, 100, CV_32FC1, cv::Scalar(0.5))); }, "smaller than 4 blocks");
  CHECK_NOTHROW(fusion::estimate_noise(ok));

  struct Field {
    const char* name;
    void (*set)(fusion::NoiseOptions&, int);
    int bad_lo, bad_hi;  // just outside the documented range (bad_hi 0: no upper bound to test)
  };
  const Field fields[] = {
      {"NoiseOptions::block", [](fusion::NoiseOptions& o, int v) { o.block = v; }, 3, 33},
      {"NoiseOptions::pixel_block", [](fusion::NoiseOptions& o, int v) { o.pixel_block = v; }, 7, 65},
      {"NoiseOptions::level_sets", [](fusion::NoiseOptions& o, int v) { o.level_sets = v; }, 1, 65},
      {"NoiseOptions::scales", [](fusion::NoiseOptions& o, int v) { o.scales = v; }, 0, 6},
      {"NoiseOptions::max_blocks", [](fusion::NoiseOptions& o, int v) { o.max_blocks = v; }, -1, 0},
  };
  CHECK_NOTHROW(fusion::NoiseOptions{}.validate());
  for (const Field& f : fields) {
    CAPTURE(f.name);
    for (const int v : {f.bad_lo, f.bad_hi}) {
      if (v == 0) continue;
      fusion::NoiseOptions o;
      f.set(o, v);
      expect_invalid([&] { o.validate(); }, f.name);
      // The estimators check their options before measuring.
      expect_invalid([&] { fusion::estimate_noise(ok, o); }, f.name);
      expect_invalid([&] { fusion::estimate_band_noise(cv::Mat(64, 64, CV_32F, cv::Scalar(0)), cv::Mat(64, 64, CV_32F, cv::Scalar(0.5)), o); },
                     f.name);
    }
  }
  // The band estimator: a band, a level image (and what to subtract) of one type and size.
  const cv::Mat b1(64, 64, CV_32FC1, cv::Scalar(0)), l1(64, 64, CV_32FC1, cv::Scalar(0.5));
  expect_invalid([&] { fusion::estimate_band_noise(b1, cv::Mat(64, 64, CV_32FC3, cv::Scalar::all(0.5))); }, "estimate_band_noise");
  expect_invalid([&] { fusion::estimate_band_noise(b1, l1(cv::Rect(0, 0, 63, 64))); }, "estimate_band_noise");
  expect_invalid([&] { fusion::estimate_band_noise(cv::Mat(64, 64, CV_8UC1, cv::Scalar(0)), cv::Mat(64, 64, CV_8UC1, cv::Scalar(1))); },
                 "estimate_band_noise");
  expect_invalid([&] { fusion::estimate_band_noise(cv::Mat(64, 64, CV_32FC2), cv::Mat(64, 64, CV_32FC2)); }, "estimate_band_noise");
  expect_invalid([&] { fusion::estimate_band_noise(b1, l1, {}, cv::Mat(64, 64, CV_32FC3)); }, "estimate_band_noise");
  expect_invalid([&] { fusion::estimate_band_noise(b1, l1, {}, b1(cv::Rect(0, 0, 64, 63))); }, "estimate_band_noise");
  // from_curves: a floor of kTable + 1 entries, one curve per channel at every scale.
  const fusion::NoiseCurve curve;
  expect_invalid([&] { fusion::NoiseModel::from_curves({{curve}}, {curve}, std::vector<float>(10, 0.0f)); }, "from_curves");
  expect_invalid([&] { fusion::NoiseModel::from_curves({{curve}}, {curve, curve}, {}); }, "from_curves");
}

TEST_CASE("estimate_band_noise measures a band's known white noise by level", "[fusion][noise]") {
  const cv::Size size(512, 512);
  const cv::Mat level3 = ramp(size, 3, 0.02, 0.95), level1 = ramp(size, 1, 0.02, 0.95);
  // White noise of variance v_c * (1 + 3 level) in channel c, and a few strongly textured blocks
  // (2 % of them) the robust mean must leave out.
  const double v[] = {1e-4, 4e-5, 2.5e-4};
  auto expected = [&](int c, double l) { return v[c] * (1 + 3 * l); };
  auto make_band = [&](const cv::Mat& level, unsigned seed) {
    cv::RNG rng(seed);
    const int C = level.channels();
    cv::Mat band(size, level.type());
    for (int y = 0; y < size.height; ++y)
      for (int x = 0; x < size.width; ++x)
        for (int c = 0; c < C; ++c)
          band.ptr<float>(y)[x * C + c] = float(rng.gaussian(std::sqrt(expected(c, level.ptr<float>(y)[x * C + c]))));
    for (int k = 0; k < 80; ++k) {
      const int bx = rng.uniform(0, size.width / 8), by = rng.uniform(0, size.height / 8);
      cv::Mat block = band(cv::Rect(bx * 8, by * 8, 8, 8));
      for (int y = 0; y < 8; ++y)
        for (int x = 0; x < 8 * C; ++x) block.ptr<float>(y)[x] += ((x / C + y) % 2 ? 0.1f : -0.1f);
    }
    return band;
  };
  for (const cv::Mat* level : {&level1, &level3}) {
    const int C = level->channels();
    CAPTURE(C);
    const cv::Mat band = make_band(*level, 51);
    const fusion::BandNoise direct = fusion::estimate_band_noise(band, *level);
    // The band as a difference: (band + level) - level.
    const cv::Mat sum = band + *level;
    const fusion::BandNoise diff = fusion::estimate_band_noise(sum, *level, {}, *level);
    REQUIRE(direct.channels() == C);
    REQUIRE(diff.channels() == C);
    for (const fusion::BandNoise* b : {&direct, &diff}) {
      for (int c = 0; c < C; ++c) {
        CAPTURE(c);
        const fusion::NoiseCurve& curve = b->curve(c);
        CHECK(curve.sets.size() == 16u);
        const double set_err = worst_set_error(curve, [&](double l) { return expected(c, l); });
        double table_err = 0;
        for (double l = 0.05; l <= 0.9; l += 0.05)
          table_err = std::max(table_err, std::abs(b->variance(c, float(l)) / expected(c, l) - 1));
        note("band C%d c%d %s: worst set %.4f table %.4f a %+.3f b %+.3f\n", C, c, b == &direct ? "direct" : "diff", set_err,
             table_err, curve.a / v[c] - 1, curve.b / (3 * v[c]) - 1);
        // Measured: worst set 1.6-3.1 %, table 1.4-2.9 %, b within 1.0 % (the textured blocks, at
        // 25-100x the noise, taken in would raise their sets' mean square 1.5-3 fold).
        CHECK(set_err < 0.07);
        CHECK(table_err < 0.07);
        CHECK(std::abs(curve.b / (3 * v[c]) - 1) < 0.05);
      }
    }
  }
}

TEST_CASE("NoiseModel::from_curves interpolates stated noise curves and floors them", "[fusion][noise]") {
  using fusion::NoiseCurve;
  using fusion::NoiseModel;
  auto curve = [](double a, double b, std::vector<double> levels) {
    NoiseCurve c;
    c.a = a, c.b = b;
    for (double l : levels) c.sets.push_back({l, a + b * l, 100});
    return c;
  };
  // Level in the middle of the table entry nearest to l, so the checks do not depend on rounding.
  auto at = [](double l) {
    const double t = double(NoiseModel::index(float(l))) / NoiseModel::kTable;
    return t * t;
  };
  const NoiseCurve fine0 = curve(5e-5, 5e-4, {0.1, 0.5});     // 1e-4 at 0.1, 3e-4 at 0.5
  const NoiseCurve negative = curve(-1e-4, 1e-3, {0.2, 0.6});  // a < 0: the fit is 0 at 0.1
  const NoiseCurve pixel0 = curve(0, 4e-4, {0.1, 0.5});        // below fine0 at 0.1
  std::vector<float> floor(NoiseModel::kTable + 1, 1e-6f);
  const NoiseModel m = NoiseModel::from_curves({{fine0, negative}}, {pixel0, pixel0}, floor, 2.0, {3, 250});
  REQUIRE(m.channels() == 2);
  REQUIRE(m.scales() == 1);
  CHECK(!m.empty());
  CHECK(m.code_spacing() == 2.0);
  CHECK(m.clipped_codes() == std::array<int, 2>{3, 250});
  // Between the sets: linear in the level; beyond them: the end value times the fit's ratio.
  for (const double l : {0.02, 0.1, 0.3, 0.5, 0.8, 1.0}) {
    CAPTURE(l);
    const double L = at(l), f = 5e-5 + 5e-4 * L;
    CHECK(m.fine(0, 0, float(l)) == Approx(f).epsilon(1e-5));
    // Scales beyond those measured: a quarter per step (as white noise).
    CHECK(m.fine(1, 0, float(l)) == Approx(f / 4).epsilon(1e-5));
    CHECK(m.fine(3, 0, float(l)) == Approx(f / 64).epsilon(1e-5));
    // The pixel variance is never below the fine one.
    CHECK(m.pixel(0, float(l)) == Approx(std::max(f, 4e-4 * L)).epsilon(1e-5));
    CHECK(m.floor(float(l)) == 1e-6f);
  }
  // a < 0: down the fit to the floor, and the floor below where the fit crosses 0.
  CHECK(m.fine(0, 1, 0.15f) == Approx(-1e-4 + 1e-3 * at(0.15)).epsilon(1e-5));
  for (const double l : {0.0, 0.02, 0.05, 0.09}) CHECK(m.fine(0, 1, float(l)) == 1e-6f);
  CHECK(m.fine(0, 1, 0.4f) == Approx(-1e-4 + 1e-3 * at(0.4)).epsilon(1e-5));
  // The table's layout over sqrt(level).
  CHECK(NoiseModel::index(0.0f) == 0);
  CHECK(NoiseModel::index(-1.0f) == 0);
  CHECK(NoiseModel::index(0.25f) == NoiseModel::kTable / 2);
  CHECK(NoiseModel::index(1.0f) == NoiseModel::kTable);
  CHECK(NoiseModel::index(7.0f) == NoiseModel::kTable);
  // The empty model says nothing: all 0.
  const NoiseModel none;
  CHECK(none.empty());
  CHECK(none.fine(0, 0, 0.5f) == 0.0f);
  CHECK(none.pixel(0, 0.5f) == 0.0f);
  CHECK(none.floor(0.5f) == 0.0f);
  // A scale without sets: the scale above as white noise, and no floor given: none.
  const NoiseModel gap = NoiseModel::from_curves({{fine0}, {NoiseCurve{}}}, {pixel0}, {});
  CHECK(gap.fine(1, 0, 0.3f) == Approx(gap.fine(0, 0, 0.3f) / 4).epsilon(1e-6));
  CHECK(gap.floor(0.3f) == 0.0f);
  const Json j = m.to_json();
  CHECK(j["channels"] == 2);
  CHECK(j["pixel"][0]["sets"].size() == 2u);
  CHECK(double(j["pixel"][0]["sets"][1][1]) == Approx(std::sqrt(4e-4 * 0.5)));
}
