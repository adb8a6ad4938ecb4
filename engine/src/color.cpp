#include "dualcam/engine/color.hpp"

#include <array>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "dualcam/engine/error.hpp"
#include "dualcam/engine/parallel.hpp"

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
    static const std::array<float, 256> lut = [] {
      std::array<float, 256> t{};
      for (int i = 0; i < 256; ++i) t[i] = srgb_to_linear(i / 255.0f);
      return t;
    }();
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
    static const std::vector<float> lut = [] {
      std::vector<float> t(65536);
      for (int i = 0; i < 65536; ++i) t[i] = srgb_to_linear(i / 65535.0f);
      return t;
    }();
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
cv::Mat encode(const cv::Mat& linear, int type, float maxval) {
  if (linear.depth() != CV_32F) throw_invalid("expected a CV_32F linear image");
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

cv::Mat to_srgb8(const cv::Mat& linear) { return encode<std::uint8_t>(linear, CV_8U, 255.0f); }
cv::Mat to_srgb16(const cv::Mat& linear) { return encode<std::uint16_t>(linear, CV_16U, 65535.0f); }

cv::Mat float_to_u8(const cv::Mat& unit) {
  cv::Mat out;
  unit.convertTo(out, CV_8U, 255.0);
  return out;
}

namespace {
// Table of f over [0,1] with linear interpolation; inputs are clipped to [0,1].
template <int N>
struct CurveTable {
  std::array<float, N + 1> v;
  explicit CurveTable(float (*f)(float)) {
    for (int i = 0; i <= N; ++i) v[i] = f(float(i) / N);
  }
  float operator()(float x) const {
    if (!(x > 0)) return v[0];
    if (x >= 1) return v[N];
    const float t = x * N;
    const int i = int(t);
    return v[i] + (t - float(i)) * (v[i + 1] - v[i]);
  }
};

template <typename Table>
cv::Mat apply_table(const cv::Mat& in, const Table& table) {
  if (in.depth() != CV_32F) throw_invalid("expected a CV_32F image");
  cv::Mat out(in.size(), in.type());
  const int n = in.cols * in.channels();
  parallel_rows(in.rows, 16, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      const float* s = in.ptr<float>(r);
      float* d = out.ptr<float>(r);
      for (int i = 0; i < n; ++i) d[i] = table(s[i]);
    }
  });
  return out;
}
}  // namespace

cv::Mat encode_srgb(const cv::Mat& linear) {
  // The curve is steep near 0: a denser table there keeps the error small.
  static const CurveTable<65536> table(&linear_to_srgb);
  return apply_table(linear, table);
}

cv::Mat decode_srgb(const cv::Mat& encoded) {
  static const CurveTable<4096> table(&srgb_to_linear);
  return apply_table(encoded, table);
}

cv::Mat luminance(const cv::Mat& linear_bgr) {
  if (linear_bgr.type() != CV_32FC3) throw_invalid("luminance: expected CV_32FC3");
  cv::Mat y;
  cv::transform(linear_bgr, y, cv::Matx13f(0.0722f, 0.7152f, 0.2126f));
  return y;
}

}  // namespace dualcam
