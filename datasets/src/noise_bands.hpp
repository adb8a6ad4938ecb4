#pragma once
// Noise drawn on fixed bands of rows, each band with its own random stream seeded from (seed,
// band): the statistics of one serial stream, the same bytes for any thread count (the bands do
// not depend on it), and parallel. Private to datasets (the simulator and the realistic camera).
#include <algorithm>
#include <cstdint>

#include <opencv2/core.hpp>

#include "dualcam/engine/parallel.hpp"

namespace dualcam::datasets::detail {

constexpr int kNoiseBandRows = 32;

// splitmix64 of (seed, band): independent streams for neighbouring bands and seeds.
inline std::uint64_t band_seed(std::uint64_t seed, int band) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * std::uint64_t(band + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// out (of `out_type`, light's size) with each band of rows written by fn(band of light, band
// index) -> a cv::Mat of the band's size and out_type.
template <typename Fn>
cv::Mat by_bands(const cv::Mat& light, int out_type, Fn&& fn) {
  cv::Mat out(light.size(), out_type);
  const int bands = (light.rows + kNoiseBandRows - 1) / kNoiseBandRows;
  parallel_rows(bands, 1, [&](int b0, int b1) {
    for (int b = b0; b < b1; ++b) {
      const cv::Range rows(b * kNoiseBandRows, std::min(light.rows, (b + 1) * kNoiseBandRows));
      fn(light.rowRange(rows), b).copyTo(out.rowRange(rows));
    }
  });
  return out;
}

}  // namespace dualcam::datasets::detail
