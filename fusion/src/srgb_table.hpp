#pragma once
// Internal: the sRGB curves as engine/color.cpp evaluates them (same tables, same interpolation,
// so the values are bit-identical to to_linear / encode_srgb / decode_srgb), for loops that
// convert one pixel at a time inside a fused pass instead of making full-size temporaries.
#include <array>
#include <cstdint>
#include <vector>

#include "dualcam/engine/color.hpp"

namespace dualcam::fusion::detail {

// Table of f over [0,1] with linear interpolation; inputs are clipped to [0,1] (as engine's).
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

// linear -> sRGB-encoded, as encode_srgb.
inline const CurveTable<65536>& encode_table() {
  static const CurveTable<65536> table(&linear_to_srgb);
  return table;
}

// sRGB-encoded -> linear, as decode_srgb.
inline const CurveTable<4096>& decode_table() {
  static const CurveTable<4096> table(&srgb_to_linear);
  return table;
}

// 8- and 16-bit codes -> linear light, as to_linear.
inline const std::array<float, 256>& linear_lut8() {
  static const std::array<float, 256> lut = [] {
    std::array<float, 256> t{};
    for (int i = 0; i < 256; ++i) t[i] = srgb_to_linear(i / 255.0f);
    return t;
  }();
  return lut;
}

inline const std::vector<float>& linear_lut16() {
  static const std::vector<float> lut = [] {
    std::vector<float> t(65536);
    for (int i = 0; i < 65536; ++i) t[i] = srgb_to_linear(i / 65535.0f);
    return t;
  }();
  return lut;
}

}  // namespace dualcam::fusion::detail
