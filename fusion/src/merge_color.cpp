// The merge at the colour camera's view (merge.hpp): the colour transferred onto the (denoised)
// mono's detail, the chroma smoothed over a larger reach where the colour camera's chroma noise
// calls for it, and the colour's own detail put back where it stands out of its noise. Every
// noise level here comes from the measured models (noise.hpp).
#include "dualcam/fusion/merge.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <opencv2/imgproc.hpp>
#include <opencv2/ximgproc/edge_filter.hpp>
#include <tbb/enumerable_thread_specific.h>

#include "dualcam/engine/color.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/parallel.hpp"
#include "dualcam/engine/srgb_tables.hpp"
#include "guided_rows.hpp"
#include "merge_common.hpp"
#include "merge_fits.hpp"
#include "resample.hpp"

namespace dualcam::fusion {
namespace {

using detail::feathered;

// Mean over a (2 radius + 1)^2 box of a CV_32F image, borders reflected (101), as cv::blur gives
// it, with running sums in double along each row and down each column (a box's sum from its
// neighbour's: 4 additions a pixel whatever the radius, where summing every box took 2k), rows
// in bands in parallel.
cv::Mat box_mean(const cv::Mat& src, int radius) {
  const int H = src.rows, W = src.cols, k = 2 * radius + 1;
  const double scale = 1.0 / (double(k) * k);
  cv::Mat out(src.size(), CV_32F);
  std::vector<int> xs(static_cast<std::size_t>(W + 2 * radius));
  for (int i = 0; i < W + 2 * radius; ++i) xs[i] = cv::borderInterpolate(i - radius, W, cv::BORDER_REFLECT_101);
  const auto row_of = [&](int y) { return cv::borderInterpolate(y, H, cv::BORDER_REFLECT_101); };
  parallel_rows(H, 32, [&](int r0, int r1) {
    // Horizontal sums of the rows the band reads (reflected rows are among them).
    int lo = std::max(0, r0 - radius), hi = std::min(H, r1 + radius);
    for (int y = r0 - radius; y < r1 + radius; ++y) lo = std::min(lo, row_of(y)), hi = std::max(hi, row_of(y) + 1);
    std::vector<double> hs(static_cast<std::size_t>(hi - lo) * W);
    for (int y = lo; y < hi; ++y) {
      const float* s = src.ptr<float>(y);
      double* h = hs.data() + static_cast<std::size_t>(y - lo) * W;
      double sum = 0;
      for (int i = 0; i < k; ++i) sum += s[xs[i]];
      h[0] = sum;
      for (int x = 1; x < W; ++x) {
        sum += double(s[xs[x + k - 1]]) - double(s[xs[x - 1]]);
        h[x] = sum;
      }
    }
    const auto hrow = [&](int y) { return hs.data() + static_cast<std::size_t>(row_of(y) - lo) * W; };
    std::vector<double> col(static_cast<std::size_t>(W), 0.0);
    for (int i = -radius; i <= radius; ++i) {
      const double* h = hrow(r0 + i);
      for (int x = 0; x < W; ++x) col[x] += h[x];
    }
    for (int y = r0; y < r1; ++y) {
      if (y > r0) {
        const double* add = hrow(y + radius);
        const double* sub = hrow(y - radius - 1);
        for (int x = 0; x < W; ++x) col[x] += add[x] - sub[x];
      }
      float* o = out.ptr<float>(y);
      for (int x = 0; x < W; ++x) o[x] = float(col[x] * scale);
    }
  });
  return out;
}

// Rec. 709 luminance weights of B, G, R (engine's luminance()).
constexpr float kLuma[3] = {0.0722f, 0.7152f, 0.2126f};

// Noise variance of Rec. 709 luminance from the channels' variances: sqrt-summed, as if the
// channels' noise were fully correlated (a demosaic correlates them; an upper bound otherwise).
inline float luma_variance(float vb, float vg, float vr) {
  const float s = kLuma[0] * std::sqrt(vb) + kLuma[1] * std::sqrt(vg) + kLuma[2] * std::sqrt(vr);
  return s * s;
}

// A function of the merge's noise tables (e.g. two of them combined), tabulated per channel over
// NoiseModel's levels, so that a per-pixel loop reads one entry per channel (one index, one square
// root) where it read several. `f(channel, level)` is evaluated at the level of every table entry
// (index() of it is the entry).
class LevelTable {
 public:
  template <class F>
  explicit LevelTable(F f) {
    for (int k = 0; k < 3; ++k) {
      t_[k].resize(NoiseModel::kTable + 1);
      for (int i = 0; i <= NoiseModel::kTable; ++i) {
        const float s = float(i) / NoiseModel::kTable;
        t_[k][i] = f(k, s * s);
      }
    }
  }
  float operator()(int channel, float level) const { return t_[channel][NoiseModel::index(level)]; }

 private:
  std::array<std::vector<float>, 3> t_;
};

// The guide's noise variance per pixel of a reduced guide (scale 1: half, 2: quarter resolution),
// times `scale`: the mono's where the guide is the mono (`usable_share` of the pixel), the colour
// luminance's, brought to the mono's scale (gain^2), where it is the colour's own.
cv::Mat guide_noise(const cv::Mat& guide, const cv::Mat& color, const cv::Mat& usable_share, const MergeNoise& n,
                    int level, double gain, double scale) {
  cv::Mat out(guide.size(), CV_32F);
  const float g2 = float(gain * gain), k = float(scale);
  // The tables' entries per pixel (the same entries NoiseModel::fine reads): the mono's variance,
  // and each colour channel's luma_variance term (weight x its sigma), summed in luma_variance's order.
  const LevelTable mono([&](int, float l) { return n.mono.fine(level, 0, l); });
  const LevelTable term([&](int c, float l) { return kLuma[c] * std::sqrt(n.color.fine(level, c, l)); });
  parallel_rows(guide.rows, 16, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      const float* g = guide.ptr<float>(r);
      const float* c = color.ptr<float>(r);
      const float* u = usable_share.ptr<float>(r);
      float* o = out.ptr<float>(r);
      for (int x = 0; x < guide.cols; ++x) {
        const float vm = mono(0, g[x]);
        const float sc = term(0, c[3 * x]) + term(1, c[3 * x + 1]) + term(2, c[3 * x + 2]);
        o[x] = k * (u[x] * vm + (1.0f - u[x]) * g2 * (sc * sc));
      }
    }
  });
  return out;
}

// The Rec. 709 luminance of a reduced copy (the mean level is all that is needed).
cv::Mat luma_mean_source(const cv::Mat& color) {
  cv::Mat small, y;
  cv::resize(color, small, cv::Size(std::max(1, color.cols / 8), std::max(1, color.rows / 8)), 0, 0, cv::INTER_AREA);
  cv::transform(small, y, cv::Matx13f(kLuma[0], kLuma[1], kLuma[2]));
  return y;
}

// The pieces of the transfer, fitted on reduced images, applied row by row at full resolution.
//
// The guide is denoised first: a real mono is a high-ISO camera (on pair 0013 its noise is
// larger than the colour camera's once mapped to the colour's scale), and its grain would come
// through as detail. A self-guided filter (guide = source), its coefficients at half resolution,
// eps = the denoising scale x the guide's measured noise variance there: windows whose variance
// is within that of noise are smoothed, edges kept.
//
// The colour transfer (He et al., guided filter, 2010, in its fast form, He & Sun 2015): in every
// window each colour channel is modelled as a * guide + b, fitted to the colour image and
// evaluated on the full-resolution guide. The mono's detail and SNR come through; the colour
// keeps local tone and hue. Local, not global: the mono's spectral response differs from any
// luma formula and the difference depends on the surface colour (measured on the sample: a global
// fit loses 1.2 dB to the colour input, the local model gains 1.9 dB at light 0.1). Its
// coefficients at half resolution: +0.24 dB at light 0.05 on the dev set against full resolution.
//
// A real colour camera's noise is low-frequency (demosaicked, denoised in the camera: on pair 0013
// a pixel's noise about its 16x16 block's plane is 10-20 times the high-pass's white-noise
// equivalent), so the transfer's small windows keep its blotches in b. A second set of
// coefficients, the first smoothed over color_chroma_radius by an edge-aware filter guided by
// the denoised guide (domain transform, Gastal & Oliveira 2011, at 1/8 resolution: it stops at
// the guide's edges, so a surface's tone does not bleed into the next; a guided filter of that
// reach lost 0.6 dB on 8 dev scenes where a window holds more than two surfaces), and per pixel
// the two are blended by a local Wiener shrinkage of their difference against its measured
// noise (estimate_band_noise): the small windows' coefficients where the difference is colour
// detail, the smoothed ones where it is the colour camera's noise. Blending coefficients, not
// images, keeps the full-resolution pass to one transfer.
struct Transfers {
  detail::GuidedRows denoise;   // one channel: the guide's denoised value
  detail::GuidedRows transfer;  // three channels, the blended coefficients, guided by the denoised guide
  double keep_mean = 0;         // mean share of the small windows' coefficients
};

// Means of f x f blocks of `values(pixel, out)`: C values made from each pixel of the CV_32F image
// `src` (the last blocks partial), without a full-size image of them.
template <int C, typename Values>
cv::Mat block_means_of(const cv::Mat& src, int f, Values&& values) {
  const int S = src.channels(), W = src.cols, H = src.rows;
  const cv::Size size((W + f - 1) / f, (H + f - 1) / f);
  cv::Mat out(size, CV_32FC(C));
  parallel_rows(size.height, 8, [&](int r0, int r1) {
    std::vector<float> sum(static_cast<std::size_t>(size.width) * C);
    std::array<float, C> v;
    for (int r = r0; r < r1; ++r) {
      std::fill(sum.begin(), sum.end(), 0.0f);
      const int y0 = r * f, y1 = std::min(H, y0 + f);
      for (int y = y0; y < y1; ++y) {
        const float* p = src.ptr<float>(y);
        // Block by block (no division per sample); each sum in the same order as before.
        for (int x0 = 0, i = 0; x0 < W; x0 += f, ++i) {
          float* s = sum.data() + static_cast<std::size_t>(i) * C;
          for (int x = x0; x < std::min(W, x0 + f); ++x) {
            values(p + x * S, v.data());
            for (int c = 0; c < C; ++c) s[c] += v[c];
          }
        }
      }
      float* o = out.ptr<float>(r);
      for (int i = 0; i < size.width; ++i) {
        const float inv = 1.0f / float((y1 - y0) * (std::min(W, (i + 1) * f) - i * f));
        for (int c = 0; c < C; ++c) o[i * C + c] = sum[static_cast<std::size_t>(i) * C + c] * inv;
      }
    }
  });
  return out;
}

// Means of f x f blocks of a CV_32FC6 image (the transfer's coefficients; the last blocks partial).
cv::Mat block_means(const cv::Mat& src, int f) {
  constexpr int C = 6;
  CV_Assert(src.channels() == C);
  return block_means_of<C>(src, f, [](const float* p, float* v) { std::copy(p, p + C, v); });
}

// Bilinear sampling (cv::resize INTER_LINEAR's positions) of a reduced image at the rows and
// columns of a larger one.
struct Upsampler {
  std::vector<int> x0, y0;
  std::vector<float> tx, ty;
  Upsampler(cv::Size small, cv::Size large) {
    detail::linear_axis(large.width, small.width, x0, tx);
    detail::linear_axis(large.height, small.height, y0, ty);
  }
  // Row y of `m` (C channels, float) at every column of the large image, into out[x * C + c].
  void row(const cv::Mat& m, int y, int C, float* out) const {
    const float* a = m.ptr<float>(y0[y]);
    const float* b = m.ptr<float>(std::min(y0[y] + 1, m.rows - 1));
    const float t = ty[y];
    for (std::size_t x = 0; x < x0.size(); ++x) {
      const int i = x0[x] * C, j = std::min(x0[x] + 1, m.cols - 1) * C;
      for (int c = 0; c < C; ++c) {
        const float top = a[i + c] + tx[x] * (a[j + c] - a[i + c]);
        const float bottom = b[i + c] + tx[x] * (b[j + c] - b[i + c]);
        out[x * C + c] = top + t * (bottom - top);
      }
    }
  }
};

// The small windows' coefficients (half resolution, CV_32FC6: a of B, G, R, then b) smoothed over
// the large reach at 1/8 resolution (block means of them), by the domain transform guided by the
// sRGB-encoded denoised guide. The guide's noise at 1/8 sets the edges' floor: differences
// within 4 sigma of it must not stop the filter.
cv::Mat smoothed_coefficients(const cv::Mat& coef, const cv::Mat& g8, const cv::Mat& c8, const cv::Mat& u8,
                              const MergeNoise& n, double gain, const MergeOptions& o) {
  const cv::Mat coef8 = block_means(coef, 4);
  const cv::Size eighth = coef8.size();
  const cv::Mat e8 = guide_noise(g8, c8, u8, n, 3, gain, 1.0);
  const srgb_tables::CurveTable<65536>& enc = srgb_tables::encode_table();
  cv::Mat encoded(eighth, CV_32F);
  const float inv_gain = float(1.0 / gain);
  double sigma = 0;  // the mean of the guide's noise sigma in encoded units
  for (int r = 0; r < eighth.height; ++r) {
    const float* g = g8.ptr<float>(r);
    const float* e = e8.ptr<float>(r);
    float* en = encoded.ptr<float>(r);
    for (int x = 0; x < eighth.width; ++x) {
      const float l = std::max(g[x] * inv_gain, 0.0f);
      en[x] = enc(l);
      const float slope = (enc(l + 1e-3f) - en[x]) * 1e3f;  // d(encoded) / d(linear)
      sigma += double(slope) * std::sqrt(e[x]) * inv_gain;
    }
  }
  sigma /= double(eighth.area());
  cv::Mat a(eighth, CV_32FC3), b(eighth, CV_32FC3);
  cv::Mat parts[] = {a, b};
  const int from_to[] = {0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5};
  cv::mixChannels(&coef8, 1, parts, 2, from_to, 6);
  const double reach = std::max(1.0, o.color_chroma_radius / 8.0), edge = std::max(o.chroma_edge, 4.0 * sigma);
  cv::Mat as, bs;
  cv::ximgproc::dtFilter(encoded, a, as, reach, edge, cv::ximgproc::DTF_NC, 3);
  cv::ximgproc::dtFilter(encoded, b, bs, reach, edge, cv::ximgproc::DTF_NC, 3);
  cv::Mat out(eighth, CV_32FC(6));
  const cv::Mat in[] = {as, bs};
  cv::mixChannels(in, 2, &out, 1, from_to, 6);
  return out;
}

// The blend of the two sets of coefficients (see Transfers), at half resolution: both evaluated
// on the half-resolution guide (the smoothed ones sampled bilinearly from 1/8), their
// difference's noise measured (estimate_band_noise), keep = max(0, 1 - chroma_noise_scale x
// noise / the difference's local energy), coefficients = smooth + keep x (small - smooth).
cv::Mat blend_coefficients(const cv::Mat& small, const cv::Mat& smooth8, const cv::Mat& g2, const NoiseModel& noise,
                           const MergeOptions& o, double& keep_mean) {
  const int W = g2.cols, H = g2.rows;
  const Upsampler up(smooth8.size(), g2.size());
  cv::Mat diff(g2.size(), CV_32FC3), level(g2.size(), CV_32FC3), energy(g2.size(), CV_32F);
  parallel_rows(H, 16, [&](int r0, int r1) {
    std::vector<float> cl(static_cast<std::size_t>(6) * W);
    for (int r = r0; r < r1; ++r) {
      const float* g = g2.ptr<float>(r);
      const float* cs = small.ptr<float>(r);
      up.row(smooth8, r, 6, cl.data());
      float* d = diff.ptr<float>(r);
      float* l = level.ptr<float>(r);
      float* e = energy.ptr<float>(r);
      for (int x = 0; x < W; ++x) {
        const float* ps = cs + 6 * x;
        const float* pl = cl.data() + 6 * x;
        float sum = 0;
        for (int k = 0; k < 3; ++k) {
          const float qs = ps[k] * g[x] + ps[3 + k], ql = pl[k] * g[x] + pl[3 + k];
          d[3 * x + k] = qs - ql;
          l[3 * x + k] = std::min(std::max(ql, 0.0f), 1.0f);
          sum += (qs - ql) * (qs - ql);
        }
        e[x] = sum * (1.0f / 3.0f);
      }
    }
  });
  const BandNoise band = estimate_band_noise(diff, level);
  diff = cv::Mat();
  energy = box_mean(energy, std::max(1, o.detail_radius));
  const float scale = float(o.chroma_noise_scale) * (1.0f / 3.0f);
  const LevelTable expected(
      [&](int k, float l) { return std::min(band.variance(k, l), 4.0f * noise.fine(0, k, l)); });
  cv::Mat coef(g2.size(), CV_32FC(6));
  std::vector<double> row_keep(static_cast<std::size_t>(H), 0.0);
  parallel_rows(H, 16, [&](int r0, int r1) {
    std::vector<float> cl(static_cast<std::size_t>(6) * W);
    for (int r = r0; r < r1; ++r) {
      up.row(smooth8, r, 6, cl.data());
      const float* l = level.ptr<float>(r);
      const float* e = energy.ptr<float>(r);
      const float* cs = small.ptr<float>(r);
      float* c = coef.ptr<float>(r);
      double sum = 0;
      for (int x = 0; x < W; ++x) {
        float nv = 0;
        for (int k = 0; k < 3; ++k) nv += expected(k, l[3 * x + k]);
        nv *= scale;
        const float keep = std::max(0.0f, 1.0f - nv / std::max(e[x], 1e-20f));
        const float* pl = cl.data() + 6 * x;
        for (int k = 0; k < 6; ++k) c[6 * x + k] = pl[k] + keep * (cs[6 * x + k] - pl[k]);
        sum += keep;
      }
      row_keep[r] = sum / W;
    }
  });
  keep_mean = 0;
  for (double v : row_keep) keep_mean += v;
  keep_mean /= double(H);
  return coef;
}

Transfers make_transfers(const cv::Mat& guide, const cv::Mat& color, const cv::Mat& usable, const MergeNoise& n,
                         double gain, double denoise_scale, const MergeOptions& o) {
  const cv::Size full = guide.size(), half((full.width + 1) / 2, (full.height + 1) / 2);
  cv::Mat g2, c2, u2, share;
  usable.convertTo(share, CV_32F, 1.0 / 255.0);
  cv::resize(guide, g2, half, 0, 0, cv::INTER_AREA);
  cv::resize(color, c2, half, 0, 0, cv::INTER_AREA);
  cv::resize(share, u2, half, 0, 0, cv::INTER_AREA);
  const cv::Mat e2 = guide_noise(g2, c2, u2, n, 1, gain, denoise_scale);
  detail::GuidedRows denoise(g2, g2, full, std::max(1, o.guide_denoise_radius / 2), 1e-12, 0, &e2);
  const cv::Mat gd2 = detail::apply_rows(denoise.resampled(half), g2);
  const detail::GuidedRows small(gd2, c2, full, std::max(1, o.transfer_radius / 2), o.transfer_eps, 0);
  cv::Mat g4, g8, c8, u8;
  const cv::Size quarter((half.width + 1) / 2, (half.height + 1) / 2), eighth((half.width + 3) / 4, (half.height + 3) / 4);
  cv::resize(gd2, g4, quarter, 0, 0, cv::INTER_AREA);
  cv::resize(g4, g8, eighth, 0, 0, cv::INTER_AREA);
  cv::resize(c2, c8, eighth, 0, 0, cv::INTER_AREA);
  cv::resize(u2, u8, eighth, 0, 0, cv::INTER_AREA);
  const cv::Mat smooth = smoothed_coefficients(small.coefficients(), g8, c8, u8, n, gain, o);
  double keep_mean = 0;
  const cv::Mat coef = blend_coefficients(small.coefficients(), smooth, gd2, n.color, o, keep_mean);
  return Transfers{std::move(denoise), small.with_coefficients(coef), keep_mean};
}

// One pass over the rows: the guide denoised and the colour transferred onto it into `out`, and
// the mean over channels of the squared residual colour - out into `energy`.
void transfer(const cv::Mat& guide, const cv::Mat& color, const Transfers& t, cv::Mat& out, cv::Mat& energy) {
  const int W = color.cols, H = color.rows;
  out.create(color.size(), CV_32FC3);
  energy.create(color.size(), CV_32F);
  parallel_rows(H, 16, [&](int r0, int r1) {
    std::vector<float> g(static_cast<std::size_t>(W)), scratch;
    for (int r = r0; r < r1; ++r) {
      const float* c = color.ptr<float>(r);
      float* o = out.ptr<float>(r);
      float* e = energy.ptr<float>(r);
      t.denoise.row(r, guide.ptr<float>(r), g.data(), scratch);
      t.transfer.row(r, g.data(), o, scratch);
      for (int x = 0; x < W; ++x) {
        const float d0 = c[3 * x] - o[3 * x], d1 = c[3 * x + 1] - o[3 * x + 1], d2 = c[3 * x + 2] - o[3 * x + 2];
        e[x] = (d0 * d0 + d1 * d1 + d2 * d2) * (1.0f / 3.0f);
      }
    }
  });
}

// |gradient|^2 of `img` (CV_32FC3, central differences, mean over channels) times `s2`.
cv::Mat gradient_energy(const cv::Mat& img, float s2) {
  const int W = img.cols, H = img.rows;
  cv::Mat g(img.size(), CV_32F);
  parallel_rows(H, 16, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      const float* a = img.ptr<float>(std::max(r - 1, 0));
      const float* b = img.ptr<float>(std::min(r + 1, H - 1));
      const float* m = img.ptr<float>(r);
      float* o = g.ptr<float>(r);
      for (int x = 0; x < W; ++x) {
        const int xl = 3 * std::max(x - 1, 0), xr = 3 * std::min(x + 1, W - 1);
        float sum = 0;
        for (int k = 0; k < 3; ++k) {
          const float gx = m[xr + k] - m[xl + k], gy = b[3 * x + k] - a[3 * x + k];
          sum += gx * gx + gy * gy;
        }
        o[x] = sum * (0.25f / 3.0f) * s2;
      }
    }
  });
  return g;
}

// The colour's own values that the detail restore puts back (and measures the residual's noise
// on), denoised edge-aware where the colour camera came as a raw frame
// (MergeOptions::detail_denoise_radius). The restore keeps the residual where it stands out of the
// noise, which is at edges and texture, and there it kept a raw frame's strong white noise whole.
// A joint bilateral filter, separable (along rows, then along columns), of the image's square root
// (where a raw frame's noise is nearly even across levels); its range weights from a [1 4 6 4 1]/16
// blur of that root (so that the noise itself does not decide which neighbours look alike), a
// biweight (1 - u^2)^2 of u = the channels' summed absolute difference / (3 sigma_r); spatial
// weights a Gaussian of sigma = radius. Rows are made by bands, borders reflected (101) on both
// axes, so that any band gives the same values as the whole image.
class DetailValues {
 public:
  static constexpr int kBand = 32;  // rows made at a time

  DetailValues(const cv::Mat& color, int radius, float sigma_r)
      : color_(color), radius_(radius), inv_(1.0f / (3.0f * sigma_r)) {
    for (int d = -radius; d <= radius; ++d) spatial_.push_back(std::exp(-0.5f * float(d * d) / float(radius * radius)));
    // The image column of each padded column (halo radius + 2 on either side).
    const int halo = radius + 2;
    for (int x = -halo; x < color.cols + halo; ++x) xs_.push_back(cv::borderInterpolate(x, color.cols, cv::BORDER_REFLECT_101));
  }

  // Rows [r0, r1) (at most kBand of them), linear BGR, into `out` (CV_32FC3, r1 - r0 rows). The
  // passes run on channel planes, so that every inner loop runs along a row.
  void rows(int r0, int r1, cv::Mat& out) const {
    Scratch& s = scratch_.local();
    const int W = color_.cols, n = r1 - r0, R = radius_, halo = R + 2, Wp = W + 2 * halo;
    const int nr = n + 2 * halo, ng = n + 2 * R, Wg = W + 2 * R;
    // The square root of rows [r0 - halo, r1 + halo), columns padded by halo, one plane a channel.
    s.root.create(3 * nr, Wp, CV_32F);
    for (int k = 0; k < nr; ++k) {
      const float* c = color_.ptr<float>(cv::borderInterpolate(r0 - halo + k, color_.rows, cv::BORDER_REFLECT_101));
      float* q[3] = {s.root.ptr<float>(k), s.root.ptr<float>(nr + k), s.root.ptr<float>(2 * nr + k)};
      for (int x = 0; x < Wp; ++x) {
        const float* p = c + 3 * xs_[std::size_t(x)];
        for (int ch = 0; ch < 3; ++ch) q[ch][x] = std::max(0.0f, p[ch]);
      }
    }
    cv::sqrt(s.root, s.root);
    // The range guide, rows [r0 - R, r1 + R), columns padded by R: [1 4 6 4 1]/16 down, then across.
    s.down.create(ng, Wp, CV_32F);
    s.guide.create(3 * ng, Wg, CV_32F);
    for (int ch = 0; ch < 3; ++ch) {
      for (int k = 0; k < ng; ++k) {
        const float* a = s.root.ptr<float>(ch * nr + k);
        const float *b = a + Wp, *c = b + Wp, *d = c + Wp, *e = d + Wp;
        float* o = s.down.ptr<float>(k);
        for (int x = 0; x < Wp; ++x) o[x] = (a[x] + e[x] + 4.0f * (b[x] + d[x]) + 6.0f * c[x]) * (1.0f / 16.0f);
      }
      for (int k = 0; k < ng; ++k) {
        const float* g = s.down.ptr<float>(k) + (halo - R - 2);
        float* o = s.guide.ptr<float>(ch * ng + k);
        for (int x = 0; x < Wg; ++x) o[x] = (g[x] + g[x + 4] + 4.0f * (g[x + 1] + g[x + 3]) + 6.0f * g[x + 2]) * (1.0f / 16.0f);
      }
    }
    // Along the rows, for rows [r0 - R, r1 + R).
    s.across.create(3 * ng, W, CV_32F);
    s.weight.resize(std::size_t(W));
    float* ws = s.weight.data();
    for (int k = 0; k < ng; ++k) {
      const float* g[3] = {s.guide.ptr<float>(k), s.guide.ptr<float>(ng + k), s.guide.ptr<float>(2 * ng + k)};
      const float* q[3] = {s.root.ptr<float>(k + 2) + (halo - R), s.root.ptr<float>(nr + k + 2) + (halo - R),
                           s.root.ptr<float>(2 * nr + k + 2) + (halo - R)};
      float* o[3] = {s.across.ptr<float>(k), s.across.ptr<float>(ng + k), s.across.ptr<float>(2 * ng + k)};
      std::fill(ws, ws + W, 0.0f);
      for (int ch = 0; ch < 3; ++ch) std::fill(o[ch], o[ch] + W, 0.0f);
      for (int d = 0; d <= 2 * R; ++d)
        accumulate(g[0] + R, g[1] + R, g[2] + R, g[0] + d, g[1] + d, g[2] + d, q[0] + d, q[1] + d, q[2] + d,
                   spatial_[d], W, o[0], o[1], o[2], ws);
      for (int ch = 0; ch < 3; ++ch)  // the centre's weight is its spatial weight: ws > 0
        for (int x = 0; x < W; ++x) o[ch][x] /= ws[x];
    }
    // Along the columns, then squared back to linear and interleaved.
    s.sum.create(3, W, CV_32F);
    out.create(n, W, CV_32FC3);
    for (int y = 0; y < n; ++y) {
      float* a[3] = {s.sum.ptr<float>(0), s.sum.ptr<float>(1), s.sum.ptr<float>(2)};
      std::fill(ws, ws + W, 0.0f);
      for (int ch = 0; ch < 3; ++ch) std::fill(a[ch], a[ch] + W, 0.0f);
      const float* g0[3] = {s.guide.ptr<float>(y + R) + R, s.guide.ptr<float>(ng + y + R) + R,
                            s.guide.ptr<float>(2 * ng + y + R) + R};
      for (int d = 0; d <= 2 * R; ++d)
        accumulate(g0[0], g0[1], g0[2], s.guide.ptr<float>(y + d) + R, s.guide.ptr<float>(ng + y + d) + R,
                   s.guide.ptr<float>(2 * ng + y + d) + R, s.across.ptr<float>(y + d), s.across.ptr<float>(ng + y + d),
                   s.across.ptr<float>(2 * ng + y + d), spatial_[d], W, a[0], a[1], a[2], ws);
      float* o = out.ptr<float>(y);
      for (int x = 0; x < W; ++x) {
        const float iw = 1.0f / ws[x];
        for (int ch = 0; ch < 3; ++ch) {
          const float v = a[ch][x] * iw;
          o[3 * x + ch] = v * v;
        }
      }
    }
  }

 private:
  struct Scratch {
    cv::Mat root, down, guide, across, sum;
    std::vector<float> weight;
  };
  // One neighbour of every pixel of a row: its weight (spatial x the biweight of the guides'
  // summed absolute difference) times its values into the sums, and into the weights.
  void accumulate(const float* __restrict c0, const float* __restrict c1, const float* __restrict c2,
                  const float* __restrict n0, const float* __restrict n1, const float* __restrict n2,
                  const float* __restrict v0, const float* __restrict v1, const float* __restrict v2, float spatial,
                  int W, float* __restrict s0, float* __restrict s1, float* __restrict s2, float* __restrict ws) const {
    const float inv = inv_;
    for (int x = 0; x < W; ++x) {
      const float u = (std::fabs(n0[x] - c0[x]) + std::fabs(n1[x] - c1[x]) + std::fabs(n2[x] - c2[x])) * inv;
      const float t = std::max(0.0f, 1.0f - u * u);
      const float w = spatial * t * t;
      s0[x] += w * v0[x];
      s1[x] += w * v1[x];
      s2[x] += w * v2[x];
      ws[x] += w;
    }
  }
  const cv::Mat& color_;
  int radius_;
  float inv_;
  std::vector<float> spatial_;
  std::vector<int> xs_;
  mutable tbb::enumerable_thread_specific<Scratch> scratch_;
};

// The whole image of DetailValues, bands in parallel.
cv::Mat denoised_detail_values(const cv::Mat& color, int radius, float sigma_r) {
  const DetailValues values(color, radius, sigma_r);
  cv::Mat out(color.size(), CV_32FC3);
  const int bands = (color.rows + DetailValues::kBand - 1) / DetailValues::kBand;
  parallel_rows(bands, 1, [&](int b0, int b1) {
    for (int b = b0; b < b1; ++b) {
      const int r0 = b * DetailValues::kBand, r1 = std::min(color.rows, r0 + DetailValues::kBand);
      cv::Mat band = out.rowRange(r0, r1);
      values.rows(r0, r1, band);
    }
  });
  return out;
}

// What the transfer cannot explain (colour detail with no trace in the mono, or noise) is the
// residual colour - transferred. Its local energy is compared with what noise and misalignment
// would leave there: the colour camera's noise variance at the pixel's level (the measured
// model, noise.hpp: a pixel's, its correlated part included, since the residual holds the noise
// of every frequency) times detail_noise_scale, plus alignment_px^2 x the local |gradient|^2 (an
// edge the warp put alignment_px off leaves that much). A local Wiener shrinkage keeps the
// residual where it stands out and drops it where it does not. In good light the noise is low
// and the colour's own detail is kept; in dim light the residual is mostly noise and goes.
// (Before the model, the noise level was the median residual energy over the image, which on
// real captures is near 0: flat, dark, quantised areas are much of the image, and the merge kept
// the colour camera's noise as it was: 3.17 levels of flat-area noise before, 3.16 after.)
// `transferred` is updated in place and returned; the result is clipped at 0.
cv::Mat restore_detail(const cv::Mat& color, cv::Mat transferred, cv::Mat energy, const NoiseModel& noise,
                       const MergeOptions& o) {
  if (o.detail_radius <= 0) {
    cv::max(transferred, 0.0, transferred);
    return transferred;
  }
  const int W = color.cols;
  energy = box_mean(energy, o.detail_radius);
  cv::Mat misaligned;
  if (o.alignment_px > 0)
    misaligned = box_mean(gradient_energy(transferred, float(o.alignment_px * o.alignment_px)), o.detail_radius);
  const float scale = float(o.detail_noise_scale) * (1.0f / 3.0f);
  // The residual's own noise, measured on it (level sets of its flat blocks): where the transfer
  // explains the scene (a mono's structure), little texture is left to pass for noise.
  const BandNoise band = estimate_band_noise(color, transferred, NoiseOptions{}, transferred);
  const LevelTable pixel_noise([&](int k, float l) { return std::min(noise.pixel(k, l), 2.0f * band.variance(k, l)); });
  // keep = max(0, 1 - expected / energy); out = max(0, transferred + keep * residual).
  parallel_rows(color.rows, 16, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      const float* c = color.ptr<float>(r);
      const float* e = energy.ptr<float>(r);
      const float* m = misaligned.empty() ? nullptr : misaligned.ptr<float>(r);
      float* t = transferred.ptr<float>(r);
      for (int x = 0; x < W; ++x) {
        const float* p = t + 3 * x;
        float expected = 0;
        for (int k = 0; k < 3; ++k) expected += pixel_noise(k, p[k]);
        expected *= scale;
        if (m) expected += m[x];
        const float keep = std::max(0.0f, 1.0f - expected / std::max(e[x], 1e-20f));
        for (int k = 3 * x; k < 3 * x + 3; ++k) t[k] = std::max(0.0f, t[k] + (c[k] - t[k]) * keep);
      }
    }
  });
  return transferred;
}

// The merged image's chroma noise, reduced as an ISP's chroma denoise does: blue's and red's
// ratios to the luminance (linear, plus kChromaOffset) smoothed by the colour-guided filter, guided
// by the square root of the image itself (where its noise is nearly even across levels), and
// multiplied back onto the luminance; green follows from the luminance, which stays as it was.
// The coefficients are fitted at half resolution (2x2 block means) and applied at full
// resolution, one pass in and one out. In place on linear BGR.
constexpr float kChromaOffset = 1e-3f;

void reduce_chroma_noise(cv::Mat& bgr, int radius, double eps) {
  constexpr int f = 2;
  const int W = bgr.cols;
  // Block means of the guide (3 values) and of the two ratios, in one pass over the image.
  const cv::Mat both = block_means_of<5>(bgr, f, [](const float* p, float* v) {
    const float inv = 1.0f / (kLuma[0] * p[0] + kLuma[1] * p[1] + kLuma[2] * p[2] + kChromaOffset);
    for (int k = 0; k < 3; ++k) v[k] = std::sqrt(std::max(0.0f, p[k]));
    v[3] = p[0] * inv;
    v[4] = p[2] * inv;
  });
  cv::Mat gs(both.size(), CV_32FC3), ps(both.size(), CV_32FC2);
  const int from_to[] = {0, 0, 1, 1, 2, 2, 3, 3, 4, 4};
  cv::Mat outs[] = {gs, ps};
  cv::mixChannels(&both, 1, outs, 2, from_to, 5);
  detail::color_guided_rows(
      gs, ps, bgr.size(), std::max(1, radius / f), eps, f,
      [&](int y, float* const* planes) {
        const float* c = bgr.ptr<float>(y);
        for (int x = 0; x < W; ++x)
          for (int k = 0; k < 3; ++k) planes[k][x] = std::sqrt(std::max(0.0f, c[3 * x + k]));
      },
      [&](int y, const float* const* ratio) {
        float* c = bgr.ptr<float>(y);
        for (int x = 0; x < W; ++x) {
          const float l = kLuma[0] * c[3 * x] + kLuma[1] * c[3 * x + 1] + kLuma[2] * c[3 * x + 2];
          const float b = std::max(0.0f, (l + kChromaOffset) * ratio[0][x]);
          const float r = std::max(0.0f, (l + kChromaOffset) * ratio[1][x]);
          c[3 * x] = b;
          c[3 * x + 1] = std::max(0.0f, (l - kLuma[0] * b - kLuma[2] * r) / kLuma[1]);
          c[3 * x + 2] = r;
        }
      });
}

}  // namespace

MergeResult merge_reference_color(const cv::Mat& color, const cv::Mat& mono_warped, const cv::Mat& valid,
                                  const MergeOptions& o, const MergeNoise* noise) {
  o.validate();
  detail::check_merge_inputs("merge_reference_color", color, "color", mono_warped, "mono_warped", valid);
  MergeResult res;
  const int W = color.cols;
  // Rec. 709 luminance (engine's luminance(), rows in parallel).
  cv::Mat luma(color.size(), CV_32F);
  parallel_rows(color.rows, 32, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      const float* c = color.ptr<float>(r);
      float* y = luma.ptr<float>(r);
      for (int x = 0; x < W; ++x) y[x] = kLuma[0] * c[3 * x] + kLuma[1] * c[3 * x + 1] + kLuma[2] * c[3 * x + 2];
    }
  });
  const detail::MonoClip clip = detail::find_mono_clip(mono_warped);
  res.mono_clip_level = clip.level;
  res.mono_clipped_share = clip.share;
  const cv::Mat usable = detail::usable_mask(valid, clip, cv::Mat());
  detail::fit_linear(mono_warped, luma, usable, res.fit_gain, res.fit_offset);
  // Where the mono is unknown or clipped, the guide is the colour's own luminance brought to the
  // mono's scale, so those pixels keep colour-camera content, denoised by the same filters.
  cv::Mat guide(color.size(), CV_32F);
  const float gain = float(res.fit_gain), offset = float(res.fit_offset);
  parallel_rows(color.rows, 32, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      const float* y = luma.ptr<float>(r);
      const float* m = mono_warped.ptr<float>(r);
      const std::uint8_t* u = usable.ptr<std::uint8_t>(r);
      float* g = guide.ptr<float>(r);
      for (int x = 0; x < W; ++x) g[x] = u[x] ? m[x] : y[x] * gain + offset;
    }
  });
  luma = cv::Mat();
  res.weight = feathered(usable, o.feather_px);
  const MergeNoise measured =
      noise ? MergeNoise{} : MergeNoise{estimate_noise_linear(color), estimate_noise_linear(mono_warped)};
  const MergeNoise& n = noise ? *noise : measured;
  if (n.color.channels() != 3 || n.mono.channels() != 1)
    throw_invalid("merge_reference_color: the noise models must have 3 (colour) and 1 (mono) channels");
  // How strongly the guide is denoised depends on how its noise compares with the colour
  // camera's, both at the image's mean level and on one scale: a mono much cleaner than the
  // colour (the simulator's: 1/40 of its variance) is barely touched, one as noisy (the real
  // high-ISO mono of pair 0013: twice it) gets the full guide_denoise_scale.
  const double y_mean = cv::mean(luma_mean_source(color))[0];
  const double g_mean = y_mean * res.fit_gain + res.fit_offset;
  const float vm = n.mono.fine(0, 0, float(g_mean));  // white: fine; pixel would count texture
  const float vc = float(res.fit_gain * res.fit_gain) *
                   luma_variance(n.color.pixel(0, float(y_mean)), n.color.pixel(1, float(y_mean)), n.color.pixel(2, float(y_mean)));
  res.guide_noise_ratio = vc > 0 ? double(vm) / vc : 1.0;
  const double denoise_scale = o.guide_denoise_scale * std::min(1.0, res.guide_noise_ratio);
  const Transfers t = make_transfers(guide, color, usable, n, res.fit_gain, denoise_scale, o);
  cv::Mat transferred, energy;
  transfer(guide, color, t, transferred, energy);
  // The colour camera's noise variance carried into the square root at the image's mean level
  // (var(sqrt x) ~ var(x) / 4x): the scale of both edge-aware steps below.
  const float l = float(y_mean);
  const double root_variance =
      (n.color.pixel(0, l) + n.color.pixel(1, l) + n.color.pixel(2, l)) / 3.0 / (4.0 * std::max(1e-4, y_mean));
  // The colour's own values the restore puts back and measures the residual's noise on: denoised
  // where detail_denoise_radius asks (the keep then follows the noise of what is put back).
  const cv::Mat restored_from =
      o.detail_denoise_radius > 0 && o.detail_radius > 0
          ? denoised_detail_values(color, o.detail_denoise_radius,
                                   float(std::max(1e-6, o.detail_denoise_scale * std::sqrt(root_variance))))
          : color;
  res.image = restore_detail(restored_from, std::move(transferred), std::move(energy), n.color, o);  // clipped at 0
  // The chroma filter's eps in that root: it smooths as much more as the frame is noisier.
  if (o.chroma_denoise_radius > 0) reduce_chroma_noise(res.image, o.chroma_denoise_radius, o.chroma_denoise_scale * root_variance);
  return res;
}

}  // namespace dualcam::fusion
