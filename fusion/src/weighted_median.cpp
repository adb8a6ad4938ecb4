#include "weighted_median.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include <tbb/parallel_sort.h>

#include "dualcam/engine/error.hpp"
#include "dualcam/engine/parallel.hpp"

namespace dualcam::fusion::detail {
namespace {

constexpr int kLevels = 256;

// The quantisation: values sorted; a level starts at a value and takes every value within
// `bound` above it; the bound is the smallest (found by bisection in float, from 2 range / 256
// down) that needs at most 256 levels. Level k's value is the median of its values. Writes each
// pixel's level into `index` and returns the levels' values.
std::vector<float> quantise(const cv::Mat& src, cv::Mat& index) {
  const std::size_t n = src.total();
  std::vector<float> sorted(n);
  // -0 is stored as +0 (x + 0 in round-to-nearest): the two compare equal, so the parallel sort
  // could leave them in either order and a level's value would take either sign depending on
  // the thread count. With that, equal values are the same bits and the sorted array is unique.
  for (int r = 0; r < src.rows; ++r) {
    const float* s = src.ptr<float>(r);
    float* o = sorted.data() + static_cast<std::ptrdiff_t>(r) * src.cols;
    for (int x = 0; x < src.cols; ++x) o[x] = s[x] + 0.0f;
  }
  tbb::parallel_sort(sorted.begin(), sorted.end());
  // Starts of the levels for a bound: the next level starts at the first value above
  // start + bound (found by binary search: at most 256 searches instead of a pass over all values).
  auto starts_for = [&](float bound, std::vector<std::size_t>* starts) {
    std::size_t i = 0;
    int levels = 0;
    while (i < n) {
      if (starts) starts->push_back(i);
      if (++levels > kLevels) return false;
      const float base = sorted[i];
      i = static_cast<std::size_t>(std::upper_bound(sorted.begin() + static_cast<std::ptrdiff_t>(i), sorted.end(),
                                                    base + bound) -
                                   sorted.begin());
    }
    return true;
  };
  const float range = float(double(sorted.back()) - double(sorted.front()));
  float lo = 0, hi = range * 2.0f / kLevels;
  while (hi > lo) {
    const float mid = (hi + lo) * 0.5f;
    if (mid == hi || mid == lo) break;
    if (starts_for(mid, nullptr))
      hi = mid;
    else
      lo = mid;
  }
  std::vector<std::size_t> starts;
  starts_for(hi, &starts);
  std::vector<float> level_value(starts.size()), level_start(starts.size());
  for (std::size_t k = 0; k < starts.size(); ++k) {
    const std::size_t end = k + 1 < starts.size() ? starts[k + 1] : n;
    level_value[k] = sorted[(starts[k] + end - 1) / 2];
    level_start[k] = sorted[starts[k]];
  }
  index.create(src.size(), CV_8U);
  parallel_rows(src.rows, 32, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      const float* s = src.ptr<float>(r);
      std::uint8_t* q = index.ptr<std::uint8_t>(r);
      for (int x = 0; x < src.cols; ++x)
        q[x] = std::uint8_t(std::upper_bound(level_start.begin(), level_start.end(), s[x]) - level_start.begin() - 1);
    }
  });
  return level_value;
}

}  // namespace

cv::Mat weighted_median_filter(const cv::Mat& guide, const cv::Mat& src, int radius, double sigma) {
  if (src.type() != CV_32F || guide.type() != CV_8UC1 || guide.size() != src.size() || src.empty())
    throw_invalid("weighted_median_filter: expects a CV_32F image and a CV_8UC1 guide of its size");
  if (radius < 1 || !(sigma > 0)) throw_invalid("weighted_median_filter: radius >= 1 and sigma > 0");
  cv::Mat index;
  const std::vector<float> level_value = quantise(src, index);
  // Weight of a guide difference d (as OpenCV computes it, in float): weight[255 + d].
  std::vector<float> weight(511);
  const float s = float(sigma), divider = 1.0f / (2 * s * s);
  for (int d = -255; d <= 255; ++d) {
    const float diff = std::fabs(float(d));
    weight[255 + d] = std::exp(-(diff * diff) * divider);
  }
  const int H = src.rows, W = src.cols;
  cv::Mat out(src.size(), CV_32F);
  // Four histograms, for neighbours in columns 4i, 4i+1, ...: a level that repeats along a row
  // (disparities are smooth) then adds to four running sums, not one.
  constexpr int kLanes = 4;
  parallel_rows(H, 4, [&](int r0, int r1) {
    std::vector<float> hist(static_cast<std::size_t>(kLanes) * kLevels, 0.0f);
    float* h[kLanes];
    for (int k = 0; k < kLanes; ++k) h[k] = hist.data() + static_cast<std::size_t>(k) * kLevels;
    for (int y = r0; y < r1; ++y) {
      const int y0 = std::max(0, y - radius), y1 = std::min(H - 1, y + radius);
      const std::uint8_t* gc = guide.ptr<std::uint8_t>(y);
      float* o = out.ptr<float>(y);
      for (int x = 0; x < W; ++x) {
        const int x0 = std::max(0, x - radius), x1 = std::min(W - 1, x + radius);
        const float* w = weight.data() + 255 - gc[x];  // w[g] = weight of guide value g
        int lo = kLevels, hi = -1;
        for (int yy = y0; yy <= y1; ++yy) {
          const std::uint8_t* q = index.ptr<std::uint8_t>(yy);
          const std::uint8_t* g = guide.ptr<std::uint8_t>(yy);
          int xx = x0;
          for (; xx + kLanes - 1 <= x1; xx += kLanes)
            for (int k = 0; k < kLanes; ++k) {
              const int level = q[xx + k];
              h[k][level] += w[g[xx + k]];
              lo = std::min(lo, level), hi = std::max(hi, level);
            }
          for (int k = 0; xx <= x1; ++xx, ++k) {
            const int level = q[xx];
            h[k][level] += w[g[xx]];
            lo = std::min(lo, level), hi = std::max(hi, level);
          }
        }
        // The level's weights, then the smallest level whose cumulative weight reaches half the
        // total.
        float total = 0;
        for (int m = lo; m <= hi; ++m) {
          h[0][m] = (h[0][m] + h[1][m]) + (h[2][m] + h[3][m]);
          total += h[0][m];
        }
        float below = 0;
        int m = lo;
        for (; m < hi; ++m) {
          below += h[0][m];
          if (2 * below >= total) break;
        }
        o[x] = level_value[m];
        for (int k = 0; k < kLanes; ++k) std::fill(h[k] + lo, h[k] + hi + 1, 0.0f);
      }
    }
  });
  return out;
}

}  // namespace dualcam::fusion::detail
