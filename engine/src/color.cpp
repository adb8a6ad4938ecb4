#include "dualcam/engine/color.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "dualcam/engine/error.hpp"
#include "dualcam/engine/parallel.hpp"
#include "dualcam/engine/srgb_tables.hpp"

namespace dualcam {

float srgb_to_linear(float v) {
  return v <= 0.04045f ? v / 12.92f : std::pow((v + 0.055f) / 1.055f, 2.4f);
}

float linear_to_srgb(float v) {
  v = std::min(1.0f, std::max(0.0f, v));
  return v <= 0.0031308f ? 12.92f * v : 1.055f * std::pow(v, 1.0f / 2.4f) - 0.055f;
}

cv::Mat to_linear(const cv::Mat& encoded) {
  if (encoded.depth() == CV_8U) {
    const std::array<float, 256>& lut = srgb_tables::linear_lut8();
    cv::Mat out(encoded.size(), CV_32FC(encoded.channels()));
    const int n = encoded.cols * encoded.channels();
    parallel_rows(encoded.rows, 16, [&](int r0, int r1) {
      for (int r = r0; r < r1; ++r) {
        const std::uint8_t* s = encoded.ptr<std::uint8_t>(r);
        float* d = out.ptr<float>(r);
        for (int i = 0; i < n; ++i) d[i] = lut[s[i]];
      }
    });
    return out;
  }
  if (encoded.depth() == CV_16U) {
    const std::vector<float>& lut = srgb_tables::linear_lut16();
    cv::Mat out(encoded.size(), CV_32FC(encoded.channels()));
    const int n = encoded.cols * encoded.channels();
    parallel_rows(encoded.rows, 16, [&](int r0, int r1) {
      for (int r = r0; r < r1; ++r) {
        const std::uint16_t* s = encoded.ptr<std::uint16_t>(r);
        float* d = out.ptr<float>(r);
        for (int i = 0; i < n; ++i) d[i] = lut[s[i]];
      }
    });
    return out;
  }
  throw_invalid("to_linear: expected an 8- or 16-bit image");
}

namespace {

// lround(linear_to_srgb(v) * Max), the code of a linear value, without a power per value: the
// thresholds where the code steps up (t_[k]: the smallest float in [0, 1] whose code is k), found
// once by searching the floats' bit patterns (positive floats order as their bits do), and per
// value a start from a table of cells, moved to the code whose thresholds bracket it. Exact
// because the code is monotone in v: checked over every float in [0, 1] for 255 and 65535 (the
// build has no FMA contraction), and tests/engine/test_color_metrics.cpp compares both around
// every threshold. Encoding was 7 % of a 12 MP fuse's CPU time (powf and lround per sample); the
// tables are built on first use (0.2 ms for 8 bits, 16 ms for 16).
template <int Max, int Cells>
class EncodeTable {
 public:
  EncodeTable() : t_(static_cast<std::size_t>(Max) + 1), start_(static_cast<std::size_t>(Cells) + 1) {
    const auto code = [](std::uint32_t bits) {
      float v;
      std::memcpy(&v, &bits, sizeof v);
      return std::lround(linear_to_srgb(v) * float(Max));
    };
    const std::uint32_t one = 0x3f800000u;  // 1.0f
    std::uint32_t prev = 0;                  // t_[k - 1]'s bits
    for (int k = 1; k <= Max; ++k) {
      std::uint32_t hi = prev;
      if (code(prev) < k) {
        // Gallop up from the previous threshold to bracket this one, then halve.
        std::uint32_t lo = prev, step = 1;
        hi = std::min(one, prev + 1);
        while (hi < one && code(hi) < k) lo = hi, hi = std::uint32_t(std::min<std::uint64_t>(one, std::uint64_t(hi) + (step *= 2)));
        while (hi - lo > 1) {
          const std::uint32_t mid = lo + (hi - lo) / 2;
          (code(mid) < k ? lo : hi) = mid;
        }
      }
      std::memcpy(&t_[k], &hi, sizeof(float));
      prev = hi;
    }
    // Each cell's start: the code at its lower end, walked up from the previous cell's.
    for (int i = 0; i <= Cells; ++i) start_[i] = static_cast<std::uint16_t>(lookup(float(i) / Cells, i > 0 ? start_[i - 1] : 0));
  }
  // v in (0, 1).
  int operator()(float v) const { return lookup(v, start_[static_cast<int>(v * Cells)]); }

 private:
  int lookup(float v, int c) const {
    while (c > 0 && v < t_[c]) --c;
    while (c < Max && v >= t_[c + 1]) ++c;
    return c;
  }
  std::vector<float> t_;
  std::vector<std::uint16_t> start_;
};

template <typename T, int Max, int Cells>
cv::Mat encode(const char* function, const cv::Mat& linear, int type) {
  if (linear.depth() != CV_32F) throw_invalid(std::string(function) + ": expected a CV_32F linear image");
  static const EncodeTable<Max, Cells> table;
  cv::Mat out(linear.size(), CV_MAKETYPE(type, linear.channels()));
  const int n = linear.cols * linear.channels();
  parallel_rows(linear.rows, 16, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      const float* s = linear.ptr<float>(r);
      T* d = out.ptr<T>(r);
      for (int i = 0; i < n; ++i) {
        const float v = s[i];
        // Not finite: 0, as lround(linear_to_srgb(0)) (NaN and infinities alike).
        d[i] = static_cast<T>(!(v > 0) || !std::isfinite(v) ? 0 : v >= 1.0f ? Max : table(v));
      }
    }
  });
  return out;
}
}  // namespace

cv::Mat to_srgb8(const cv::Mat& linear) { return encode<std::uint8_t, 255, 4096>("to_srgb8", linear, CV_8U); }
cv::Mat to_srgb16(const cv::Mat& linear) { return encode<std::uint16_t, 65535, 65536>("to_srgb16", linear, CV_16U); }

cv::Mat to_srgb(const cv::Mat& linear, int depth) {
  if (depth == CV_16U) return to_srgb16(linear);
  if (depth == CV_8U) return to_srgb8(linear);
  throw_invalid("to_srgb: the depth must be CV_8U or CV_16U");
}

cv::Mat to_linear_bgr(const cv::Mat& encoded) {
  cv::Mat lin = to_linear(encoded);
  if (lin.channels() == 1) cv::cvtColor(lin, lin, cv::COLOR_GRAY2BGR);
  return lin;
}

cv::Mat luminance(const cv::Mat& linear_bgr) {
  if (linear_bgr.type() != CV_32FC3) throw_invalid("luminance: expected CV_32FC3");
  cv::Mat y;
  cv::transform(linear_bgr, y, cv::Matx13f(0.0722f, 0.7152f, 0.2126f));
  return y;
}

}  // namespace dualcam
