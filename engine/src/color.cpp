#include "dualcam/engine/color.hpp"

#include <array>
#include <cmath>
#include <string>

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
template <typename T>
cv::Mat encode(const char* function, const cv::Mat& linear, int type, float maxval) {
  if (linear.depth() != CV_32F) throw_invalid(std::string(function) + ": expected a CV_32F linear image");
  cv::Mat out(linear.size(), CV_MAKETYPE(type, linear.channels()));
  const int n = linear.cols * linear.channels();
  parallel_rows(linear.rows, 16, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      const float* s = linear.ptr<float>(r);
      T* d = out.ptr<T>(r);
      for (int i = 0; i < n; ++i) {
        float v = std::isfinite(s[i]) ? s[i] : 0.0f;
        d[i] = static_cast<T>(std::lround(linear_to_srgb(v) * maxval));
      }
    }
  });
  return out;
}
}  // namespace

cv::Mat to_srgb8(const cv::Mat& linear) { return encode<std::uint8_t>("to_srgb8", linear, CV_8U, 255.0f); }
cv::Mat to_srgb16(const cv::Mat& linear) { return encode<std::uint16_t>("to_srgb16", linear, CV_16U, 65535.0f); }

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
