#include "dualcam/engine/color.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
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
// value an estimate of the code, moved to the code whose thresholds bracket it. Exact because the
// code is monotone in v: checked over every float in [0, 1] for 255 and 65535 (the build has no
// FMA contraction), and tests/engine/test_color_metrics.cpp compares both around every threshold.
// The estimate interpolates the curve (times Max) linearly between cells spaced as the floats
// are, 2^CellBits per octave from 2^-kOctaves up to 1 (within a cell v is linear in the bits
// below the cell's; the interpolation is off by far less than half a code), rounded: the true code
// is that or a neighbour, so two comparisons that do not depend on each other finish it without a
// branch. A walk from a table of cells of equal width in v mispredicted a branch or two per value
// and walked up to 13 codes of 16 bits in the dark (the 16-bit encode was a third of developing a
// 12 MP raw pair). Encoding with powf and lround was 7 % of a 12 MP fuse's CPU time.
template <int Max, int CellBits>
class EncodeTable {
  static constexpr int kOctaves = 16;
  static constexpr std::uint32_t kOne = 0x3f800000u;                              // 1.0f
  static constexpr std::uint32_t kLow = kOne - (std::uint32_t(kOctaves) << 23);  // 2^-kOctaves
  static constexpr int kShift = 23 - CellBits;
  static constexpr int kCells = kOctaves << CellBits;

 public:
  EncodeTable() : t_(static_cast<std::size_t>(Max) + 2), curve_(static_cast<std::size_t>(kCells) + 1) {
    const auto code = [](std::uint32_t bits) {
      float v;
      std::memcpy(&v, &bits, sizeof v);
      return std::lround(linear_to_srgb(v) * float(Max));
    };
    std::uint32_t prev = 0;  // t_[k - 1]'s bits
    for (int k = 1; k <= Max; ++k) {
      std::uint32_t hi = prev;
      if (code(prev) < k) {
        // Gallop up from the previous threshold to bracket this one, then halve.
        std::uint32_t lo = prev, step = 1;
        hi = std::min(kOne, prev + 1);
        while (hi < kOne && code(hi) < k) lo = hi, hi = std::uint32_t(std::min<std::uint64_t>(kOne, std::uint64_t(hi) + (step *= 2)));
        while (hi - lo > 1) {
          const std::uint32_t mid = lo + (hi - lo) / 2;
          (code(mid) < k ? lo : hi) = mid;
        }
      }
      std::memcpy(&t_[k], &hi, sizeof(float));
      prev = hi;
    }
    t_[0] = 0.0f;
    t_[Max + 1] = std::numeric_limits<float>::infinity();  // no code above Max
    // The curve at each cell's lower end, in codes.
    for (int i = 0; i <= kCells; ++i) {
      float lower;
      const std::uint32_t bits = kLow + (std::uint32_t(i) << kShift);
      std::memcpy(&lower, &bits, sizeof lower);
      curve_[i] = float(double(linear_to_srgb(lower)) * Max);
    }
  }
  // v in (0, 1).
  int operator()(float v) const {
    std::uint32_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    if (bits < kLow) return walk(v, 0);
    const std::uint32_t i = (bits - kLow) >> kShift;
    const float frac = float(bits & ((1u << kShift) - 1)) * (1.0f / float(1u << kShift));
    int c = int(curve_[i] + frac * (curve_[i + 1] - curve_[i]) + 0.5f);
    c -= v < t_[c];
    c += v >= t_[c + 1];
    return c;
  }

 private:
  int walk(float v, int c) const {
    while (c > 0 && v < t_[c]) --c;
    while (c < Max && v >= t_[c + 1]) ++c;
    return c;
  }
  std::vector<float> t_;
  std::vector<float> curve_;
};

template <typename T, int Max, int CellBits>
void encode_values(const float* linear, T* out, int n) {
  static const EncodeTable<Max, CellBits> table;
  for (int i = 0; i < n; ++i) {
    const float v = linear[i];
    // Not finite: 0, as lround(linear_to_srgb(0)) (NaN and infinities alike).
    out[i] = static_cast<T>(!(v > 0) || !std::isfinite(v) ? 0 : v >= 1.0f ? Max : table(v));
  }
}

template <typename T>
cv::Mat encode(const char* function, const cv::Mat& linear, int type) {
  if (linear.depth() != CV_32F) throw_invalid(std::string(function) + ": expected a CV_32F linear image");
  cv::Mat out(linear.size(), CV_MAKETYPE(type, linear.channels()));
  const int n = linear.cols * linear.channels();
  parallel_rows(linear.rows, 16, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) to_srgb_values(linear.ptr<float>(r), out.ptr<T>(r), n);
  });
  return out;
}
}  // namespace

void to_srgb_values(const float* linear, std::uint8_t* out, int n) { encode_values<std::uint8_t, 255, 6>(linear, out, n); }
void to_srgb_values(const float* linear, std::uint16_t* out, int n) {
  encode_values<std::uint16_t, 65535, 10>(linear, out, n);
}

cv::Mat to_srgb8(const cv::Mat& linear) { return encode<std::uint8_t>("to_srgb8", linear, CV_8U); }
cv::Mat to_srgb16(const cv::Mat& linear) { return encode<std::uint16_t>("to_srgb16", linear, CV_16U); }

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
