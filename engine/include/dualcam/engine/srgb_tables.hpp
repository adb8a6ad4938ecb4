#pragma once
// The sRGB curves as tables, for loops that convert one pixel at a time inside a fused pass
// (fusion's merge and warp) without full-size temporaries: the 8- and 16-bit decoding tables are
// the ones to_linear uses, so both give bit-identical values; the float curve tables stand in for
// linear_to_srgb / srgb_to_linear in the merge's sRGB-encoded (perceptual) domain.
#include <array>
#include <cstdint>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "dualcam/engine/color.hpp"

namespace dualcam::srgb_tables {

// Table of f over [0,1] with linear interpolation; inputs are clipped to [0,1].
// apply() evaluates four values at a time (SSE2) with the same operations in the same order, so
// its results equal operator()'s bit for bit: clipping to [0,1] first sends what operator()
// returns early (at or below 0, NaN, at or above 1) to the table's ends with a zero fraction;
// the table carries one extra copy of its last value for x = 1.
template <int N>
struct CurveTable {
  std::array<float, N + 2> v;
  explicit CurveTable(float (*f)(float)) {
    for (int i = 0; i <= N; ++i) v[i] = f(float(i) / N);
    v[N + 1] = v[N];
  }
  float operator()(float x) const {
    if (!(x > 0)) return v[0];
    if (x >= 1) return v[N];
    const float t = x * N;
    const int i = int(t);
    return v[i] + (t - float(i)) * (v[i + 1] - v[i]);
  }
  void apply(const float* in, float* out, int n) const {
    int k = 0;
#if defined(__SSE2__)
    const __m128 zero = _mm_setzero_ps(), one = _mm_set1_ps(1.0f), scale = _mm_set1_ps(float(N));
    alignas(16) std::int32_t idx[4];
    for (; k + 4 <= n; k += 4) {
      const __m128 x = _mm_min_ps(_mm_max_ps(_mm_loadu_ps(in + k), zero), one);  // NaN -> 0
      const __m128 t = _mm_mul_ps(x, scale);
      const __m128i i = _mm_cvttps_epi32(t);
      _mm_store_si128(reinterpret_cast<__m128i*>(idx), i);
      const __m128 a = _mm_setr_ps(v[idx[0]], v[idx[1]], v[idx[2]], v[idx[3]]);
      const __m128 b = _mm_setr_ps(v[idx[0] + 1], v[idx[1] + 1], v[idx[2] + 1], v[idx[3] + 1]);
      const __m128 frac = _mm_sub_ps(t, _mm_cvtepi32_ps(i));
      _mm_storeu_ps(out + k, _mm_add_ps(a, _mm_mul_ps(frac, _mm_sub_ps(b, a))));
    }
#endif
    for (; k < n; ++k) out[k] = (*this)(in[k]);
  }
};

// linear -> sRGB-encoded: linear_to_srgb within 1e-6 (measured 5.3e-7 over 10^7 points).
inline const CurveTable<65536>& encode_table() {
  // The curve is steep near 0: a denser table there keeps the error small.
  static const CurveTable<65536> table(&linear_to_srgb);
  return table;
}

// sRGB-encoded -> linear: srgb_to_linear within 1e-6 (measured 3.0e-7 over 10^7 points).
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

}  // namespace dualcam::srgb_tables
