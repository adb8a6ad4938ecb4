// MergeOptions::validate and the pieces both merges use (merge_common.hpp).
#include "merge_common.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <opencv2/imgproc.hpp>
#include <tbb/combinable.h>

#include "dualcam/engine/error.hpp"
#include "dualcam/engine/parallel.hpp"
#include "dualcam/fusion/merge.hpp"

namespace dualcam::fusion {

void MergeOptions::validate() const {
  check_range("MergeOptions::transfer_radius", transfer_radius, 1, 64);
  check_range("MergeOptions::transfer_eps", transfer_eps, 1e-9, 1);
  check_range("MergeOptions::response_eps", response_eps, 1e-6, 1);
  check_range("MergeOptions::feather_px", feather_px, 0, 64);
  check_range("MergeOptions::fill_radius", fill_radius, 1, 512);
  check_range("MergeOptions::detail_radius", detail_radius, 0, 64);
  check_range("MergeOptions::chroma_radius", chroma_radius, 1, 64);
  check_range("MergeOptions::fill_edge", fill_edge, 1e-3, 10);
  check_range("MergeOptions::fill_neutral", fill_neutral, 0, 10);
  check_range("MergeOptions::chroma_consistency", chroma_consistency, 0, 100);
  check_range("MergeOptions::chroma_eps", chroma_eps, 1e-9, 1);
  check_range("MergeOptions::detail_noise_scale", detail_noise_scale, 0, 100);
  check_range("MergeOptions::guide_denoise_radius", guide_denoise_radius, 1, 64);
  check_range("MergeOptions::guide_denoise_scale", guide_denoise_scale, 0, 1000);
  check_range("MergeOptions::mono_denoise_scale", mono_denoise_scale, 0, 1000);
  check_range("MergeOptions::raw_mono_denoise_scale", raw_mono_denoise_scale, 0, 1000);
  check_range("MergeOptions::raw_guide_denoise_radius", raw_guide_denoise_radius, 1, 64);
  check_range("MergeOptions::raw_guide_denoise_scale", raw_guide_denoise_scale, 0, 1000);
  check_range("MergeOptions::raw_transfer_radius", raw_transfer_radius, 1, 64);
  check_range("MergeOptions::chroma_denoise_radius", chroma_denoise_radius, 0, 64);
  check_range("MergeOptions::raw_chroma_denoise_radius", raw_chroma_denoise_radius, 0, 64);
  check_range("MergeOptions::chroma_denoise_scale", chroma_denoise_scale, 0.0, 1e6);
  check_range("MergeOptions::detail_denoise_radius", detail_denoise_radius, 0, 16);
  check_range("MergeOptions::raw_detail_denoise_radius", raw_detail_denoise_radius, 0, 16);
  check_range("MergeOptions::raw_detail_noise_scale", raw_detail_noise_scale, 0, 100);
  check_range("MergeOptions::detail_denoise_scale", detail_denoise_scale, 1e-3, 1e3);
  check_range("MergeOptions::color_chroma_radius", color_chroma_radius, 1, 256);
  check_range("MergeOptions::chroma_edge", chroma_edge, 1e-3, 10);
  check_range("MergeOptions::chroma_noise_scale", chroma_noise_scale, 0, 100);
  check_range("MergeOptions::alignment_px", alignment_px, 0, 100);
}

MergeOptions MergeOptions::for_raw_frames(bool mono_raw, bool color_raw) const {
  MergeOptions o = *this;
  if (mono_raw) {
    o.mono_denoise_scale = raw_mono_denoise_scale;
    o.guide_denoise_radius = raw_guide_denoise_radius;
    o.guide_denoise_scale = raw_guide_denoise_scale;
  }
  if (color_raw) {
    o.transfer_radius = raw_transfer_radius;
    o.chroma_denoise_radius = raw_chroma_denoise_radius;
    o.detail_denoise_radius = raw_detail_denoise_radius;
    o.detail_noise_scale = raw_detail_noise_scale;
  }
  return o;
}

namespace detail {

void check_merge_inputs(const char* function, const cv::Mat& three, const char* three_name, const cv::Mat& one,
                        const char* one_name, const cv::Mat& valid) {
  if (three.type() != CV_32FC3 || one.type() != CV_32FC1 || valid.type() != CV_8UC1 || one.empty() ||
      three.size() != one.size() || valid.size() != one.size())
    throw_invalid(std::string(function) + ": expects " + three_name + " CV_32FC3, " + one_name +
                  " CV_32FC1 and valid CV_8UC1, all of one non-empty size");
}

float kth_nonneg(const std::vector<float>& v, std::size_t k) {
  auto key = [](float f) {
    std::uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return (u & 0x80000000u) ? 0u : u;  // -0 sorts as 0
  };
  const std::size_t n = v.size();
  constexpr std::size_t kChunk = std::size_t(1) << 16;
  const int chunks = int((n + kChunk - 1) / kChunk);
  tbb::combinable<std::vector<std::uint32_t>> local([] { return std::vector<std::uint32_t>(65536, 0); });
  parallel_rows(chunks, 1, [&](int c0, int c1) {
    std::vector<std::uint32_t>& h = local.local();
    for (std::size_t i = c0 * kChunk, e = std::min(n, c1 * kChunk); i < e; ++i) ++h[key(v[i]) >> 16];
  });
  std::vector<std::uint64_t> hist(65536, 0);
  local.combine_each([&](const std::vector<std::uint32_t>& h) {
    for (std::size_t i = 0; i < hist.size(); ++i) hist[i] += h[i];
  });
  std::uint32_t bin = 0;
  std::uint64_t below = 0;
  while (below + hist[bin] <= k) below += hist[bin++];
  std::vector<float> in_bin;
  in_bin.reserve(static_cast<std::size_t>(hist[bin]));
  for (float f : v)
    if ((key(f) >> 16) == bin) in_bin.push_back(f);
  auto mid = in_bin.begin() + static_cast<std::ptrdiff_t>(k - below);
  std::nth_element(in_bin.begin(), mid, in_bin.end());
  return *mid;
}

// The erosion clears, around each run of zeros of the mask, the run widened by the element's row.
cv::Mat feathered(const cv::Mat& mask, int feather) {
  const int H = mask.rows, W = mask.cols, f = feather;
  cv::Mat w(mask.size(), CV_32F);
  if (f <= 0) {
    parallel_rows(H, 64, [&](int r0, int r1) {
      for (int r = r0; r < r1; ++r) {
        const std::uint8_t* m = mask.ptr<std::uint8_t>(r);
        float* o = w.ptr<float>(r);
        for (int x = 0; x < W; ++x) o[x] = float(m[x]) * (1.0f / 255.0f);
      }
    });
    return w;
  }
  // Half-width of the element's run of ones on each of its rows (-1: none).
  const int k = 2 * f + 1;
  const cv::Mat element = cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(k, k));
  std::vector<int> half(static_cast<std::size_t>(k), -1);
  for (int i = 0; i < k; ++i) {
    const int ones = cv::countNonZero(element.row(i));
    if (ones > 0) half[i] = (ones - 1) / 2;
  }
  // The box mean of n eroded pixels, as cv::blur computes it (double sum times 1 / k^2).
  std::vector<float> mean_of(static_cast<std::size_t>(k) * k + 1);
  for (int n = 0; n <= k * k; ++n) mean_of[n] = float(n * (1.0 / (double(k) * k)));
  parallel_rows(H, 32, [&](int r0, int r1) {
    // Eroded rows needed by the box over [r0, r1): [e0, e1]; the mask rows they read: [m0, m1].
    int e0 = H, e1 = -1;
    for (int j = r0 - f; j < r1 + f; ++j) {
      const int jj = cv::borderInterpolate(j, H, cv::BORDER_REFLECT_101);
      e0 = std::min(e0, jj), e1 = std::max(e1, jj);
    }
    const int m0 = std::max(0, e0 - f), m1 = std::min(H - 1, e1 + f);
    // Runs of zeros [begin, end) of each mask row.
    std::vector<std::vector<std::pair<int, int>>> runs(static_cast<std::size_t>(m1 - m0 + 1));
    for (int y = m0; y <= m1; ++y) {
      const std::uint8_t* m = mask.ptr<std::uint8_t>(y);
      auto& rr = runs[y - m0];
      for (int x = 0; x < W;) {
        const void* zero = std::memchr(m + x, 0, static_cast<std::size_t>(W - x));
        if (!zero) break;
        const int b = int(static_cast<const std::uint8_t*>(zero) - m);
        x = b;
        while (x < W && !m[x]) ++x;
        rr.emplace_back(b, x);
      }
    }
    // Columns where the weight can be below 1: zero runs widened by the element and the box
    // (reflection at the borders stays inside that). Elsewhere the weight is the mask's own.
    const int hw_max = *std::max_element(half.begin(), half.end());
    std::vector<std::pair<int, int>> spans;
    for (const auto& rr : runs)
      for (const auto& run : rr) spans.emplace_back(std::max(0, run.first - hw_max - f), std::min(W, run.second + hw_max + f));
    std::sort(spans.begin(), spans.end());
    std::vector<std::pair<int, int>> merged;
    for (const auto& sp : spans) {
      if (!merged.empty() && sp.first <= merged.back().second)
        merged.back().second = std::max(merged.back().second, sp.second);
      else
        merged.push_back(sp);
    }
    for (int y = r0; y < r1; ++y) {
      const std::uint8_t* m = mask.ptr<std::uint8_t>(y);
      float* o = w.ptr<float>(y);
      for (int x = 0; x < W; ++x) o[x] = float(m[x]) * (1.0f / 255.0f);
    }
    if (merged.empty()) return;
    // Horizontal box sums (reflect 101) of each eroded row, within the spans.
    std::vector<int> hsum(static_cast<std::size_t>(e1 - e0 + 1) * W);
    std::vector<std::uint8_t> eroded(static_cast<std::size_t>(W + 2 * f + 1), 0);
    for (int y = e0; y <= e1; ++y) {
      std::uint8_t* er = eroded.data() + f;
      std::fill(er, er + W, std::uint8_t(1));
      for (int i = 0; i < k; ++i) {
        const int yy = y + i - f;
        if (half[i] < 0 || yy < 0 || yy >= H) continue;
        for (const auto& run : runs[yy - m0]) {
          const int a = std::max(0, run.first - half[i]), b = std::min(W, run.second + half[i]);
          std::fill(er + a, er + b, std::uint8_t(0));
        }
      }
      for (int i = 1; i <= f; ++i) {
        er[-i] = er[cv::borderInterpolate(-i, W, cv::BORDER_REFLECT_101)];
        er[W - 1 + i] = er[cv::borderInterpolate(W - 1 + i, W, cv::BORDER_REFLECT_101)];
      }
      int* hs = hsum.data() + static_cast<std::size_t>(y - e0) * W;
      for (const auto& sp : merged) {
        int s = 0;
        for (int i = -f; i <= f; ++i) s += er[sp.first + i];
        for (int x = sp.first; x < sp.second; ++x) {
          hs[x] = s;
          s += er[x + 1 + f] - er[x - f];
        }
      }
    }
    std::vector<const int*> rows(static_cast<std::size_t>(k));
    for (int y = r0; y < r1; ++y) {
      for (int i = 0; i < k; ++i) {
        const int yy = cv::borderInterpolate(y + i - f, H, cv::BORDER_REFLECT_101);
        rows[i] = hsum.data() + static_cast<std::size_t>(yy - e0) * W;
      }
      const std::uint8_t* m = mask.ptr<std::uint8_t>(y);
      float* o = w.ptr<float>(y);
      for (const auto& sp : merged)
        for (int x = sp.first; x < sp.second; ++x) {
          int s = 0;
          for (int i = 0; i < k; ++i) s += rows[i][x];
          o[x] = m[x] ? mean_of[s] * (float(m[x]) * (1.0f / 255.0f)) : 0.0f;
        }
    }
  });
  return w;
}

cv::Mat apply_rows(const GuidedRows& rows, const cv::Mat& src) {
  cv::Mat out(src.size(), CV_32F);
  parallel_rows(src.rows, 16, [&](int r0, int r1) {
    std::vector<float> scratch;
    for (int r = r0; r < r1; ++r) rows.row(r, src.ptr<float>(r), out.ptr<float>(r), scratch);
  });
  return out;
}

GuidedRows self_denoiser(const cv::Mat& image, const NoiseModel& model, int radius, double scale) {
  const cv::Size half((image.cols + 1) / 2, (image.rows + 1) / 2);
  cv::Mat m2, e2(half, CV_32F);
  cv::resize(image, m2, half, 0, 0, cv::INTER_AREA);
  const float k = float(scale);
  parallel_rows(half.height, 16, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      const float* m = m2.ptr<float>(r);
      float* e = e2.ptr<float>(r);
      for (int x = 0; x < half.width; ++x) e[x] = k * model.fine(1, 0, m[x]);
    }
  });
  return GuidedRows(m2, m2, image.size(), std::max(1, radius / 2), 1e-12, 0, &e2);
}

}  // namespace detail
}  // namespace dualcam::fusion
