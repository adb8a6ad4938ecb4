#include "dualcam/fusion/merge.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <opencv2/imgproc.hpp>
#include <opencv2/ximgproc/edge_filter.hpp>

#include "dualcam/engine/color.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/parallel.hpp"
#include "dualcam/fusion/guided.hpp"
#include "resample.hpp"

namespace dualcam::fusion {
namespace {

// Least-squares fit mono = gain * luma + offset over the pixels in `mask`, then refit on the
// pixels whose residual is within 2.5 robust sigmas (misaligned pixels must not bend the fit).
// Every second row and column is used; the samples are gathered once (rows in parallel, kept in
// row order, so the sums do not depend on the thread count).
void fit_linear(const cv::Mat& mono, const cv::Mat& luma, const cv::Mat& mask, double& gain, double& offset) {
  gain = 1;
  offset = 0;
  const int rows = (mono.rows + 1) / 2;
  std::vector<std::vector<cv::Vec2f>> per_row(rows);
  parallel_rows(rows, 16, [&](int r0, int r1) {
    for (int i = r0; i < r1; ++i) {
      const int r = 2 * i;
      const float* m = mono.ptr<float>(r);
      const float* y = luma.ptr<float>(r);
      const std::uint8_t* k = mask.ptr<std::uint8_t>(r);
      for (int c = 0; c < mono.cols; c += 2)
        if (k[c]) per_row[i].emplace_back(y[c], m[c]);
    }
  });
  std::vector<cv::Vec2f> samples;  // (luma, mono)
  std::size_t total = 0;
  for (const auto& v : per_row) total += v.size();
  samples.reserve(total);
  for (auto& v : per_row) {
    samples.insert(samples.end(), v.begin(), v.end());
    v = {};
  }
  double cutoff = std::numeric_limits<double>::infinity();
  std::vector<float> residuals;
  residuals.reserve(samples.size());
  for (int pass = 0; pass < 3; ++pass) {
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    long long n = 0;
    for (const cv::Vec2f& s : samples) {
      const float y = s[0], m = s[1];
      if (std::abs(m - (gain * y + offset)) > cutoff) continue;
      sx += y;
      sy += m;
      sxx += double(y) * y;
      sxy += double(y) * m;
      ++n;
    }
    const double den = n * sxx - sx * sx;
    if (n < 16 || std::abs(den) < 1e-12) return;
    const double g = (n * sxy - sx * sy) / den;
    const double o = (sy - g * sx) / n;
    if (!(g > 1e-3) || !std::isfinite(o)) return;
    gain = g;
    offset = o;
    residuals.clear();
    for (const cv::Vec2f& s : samples) residuals.push_back(std::abs(s[1] - float(gain * s[0] + offset)));
    if (residuals.empty()) return;
    auto mid = residuals.begin() + residuals.size() / 2;
    std::nth_element(residuals.begin(), mid, residuals.end());
    cutoff = std::max(1e-4, 2.5 * 1.4826 * double(*mid));
  }
}

// Binary mask -> soft weight that is 0 outside the mask and rises to 1 within `feather` px.
cv::Mat feathered(const cv::Mat& mask, int feather) {
  cv::Mat w;
  mask.convertTo(w, CV_32F, 1.0 / 255.0);
  if (feather <= 0) return w;
  cv::Mat eroded;
  cv::erode(mask, eroded, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * feather + 1, 2 * feather + 1)));
  cv::Mat soft;
  eroded.convertTo(soft, CV_32F, 1.0 / 255.0);
  cv::blur(soft, soft, cv::Size(2 * feather + 1, 2 * feather + 1));
  return soft.mul(w);
}

// Chroma = colour minus its luminance, per channel (CV_32FC3 minus CV_32FC1).
cv::Mat chroma_of(const cv::Mat& bgr, const cv::Mat& luma) {
  cv::Mat out(bgr.size(), CV_32FC3);
  parallel_rows(bgr.rows, 16, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      const float* c = bgr.ptr<float>(r);
      const float* y = luma.ptr<float>(r);
      float* o = out.ptr<float>(r);
      for (int x = 0; x < bgr.cols; ++x)
        for (int k = 0; k < 3; ++k) o[3 * x + k] = c[3 * x + k] - y[x];
    }
  });
  return out;
}

void check_inputs(const cv::Mat& three, const cv::Mat& one, const cv::Mat& valid) {
  if (three.type() != CV_32FC3 || one.type() != CV_32FC1 || valid.type() != CV_8UC1 || three.size() != one.size() ||
      valid.size() != one.size())
    throw_invalid("merge: expects CV_32FC3 + CV_32FC1 + CV_8U mask of one size");
}

}  // namespace

void MergeOptions::validate() const {
  check_range("MergeOptions::transfer_radius", transfer_radius, 1, 64);
  check_range("MergeOptions::transfer_eps", transfer_eps, 1e-9, 1);
  check_range("MergeOptions::mono_clip", mono_clip, 0.1, 1.0);
  check_range("MergeOptions::feather_px", feather_px, 0, 64);
  check_range("MergeOptions::fill_radius", fill_radius, 1, 512);
  check_range("MergeOptions::detail_radius", detail_radius, 0, 64);
  check_range("MergeOptions::chroma_radius", chroma_radius, 1, 64);
  check_range("MergeOptions::fill_edge", fill_edge, 1e-3, 10);
  check_range("MergeOptions::chroma_eps", chroma_eps, 1e-9, 1);
  check_range("MergeOptions::detail_noise_scale", detail_noise_scale, 0, 100);

}

// Local linear colour transfer (He et al., guided filter, 2010): in every small window each
// colour channel is modelled as a * mono + b, fitted to the colour image and evaluated on the
// mono. The mono's detail and low noise come through; the colour's local tone and hue stay.
// Local, not global: the mono's spectral response differs from any luma formula and the
// difference depends on the surface colour (measured on the sample: a global fit loses 1.2 dB
// to the colour input, the local model gains 1.9 dB at light 0.1).
cv::Mat local_transfer(const cv::Mat& guide, const cv::Mat& color, const MergeOptions& o) {
  return guided_filter(guide, color, o.transfer_radius, o.transfer_eps, 1);
}

// Edge-aware normalised convolution of `values` (weighted by `weight`) guided by `guide`
// (domain transform, Gastal & Oliveira 2011), at 1/`subsample` resolution: what flows into
// holes is smooth, and the reach (tens of pixels) would cost seconds at 12 MP full resolution.
// Returned at that reduced resolution: the caller samples it (bilinearly, as cv::resize) only
// where it is needed.
cv::Mat fill_holes_edge_aware(const cv::Mat& guide, const cv::Mat& values, const cv::Mat& weight, double reach_px,
                              double edge, int subsample) {
  const int C = values.channels(), W = values.cols;
  if (C > 3) throw_invalid("fill_holes_edge_aware: at most 3 channels");
  // values * weight and weight side by side: one filter call for numerator and denominator.
  const cv::Size small((guide.cols + subsample - 1) / subsample, (guide.rows + subsample - 1) / subsample);
  const bool blocks = subsample > 1 && guide.cols % subsample == 0 && guide.rows % subsample == 0;
  cv::Mat vw(blocks ? small : values.size(), CV_32FC(C + 1));
  if (blocks) {
    // Exact blocks: their means (what INTER_AREA gives) without a full-size product image.
    const float inv = 1.0f / float(subsample * subsample);
    parallel_rows(small.height, 8, [&](int r0, int r1) {
      std::vector<float> acc(static_cast<std::size_t>(small.width) * (C + 1));
      for (int R = r0; R < r1; ++R) {
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (int r = R * subsample; r < (R + 1) * subsample; ++r) {
          const float* v = values.ptr<float>(r);
          const float* w = weight.ptr<float>(r);
          for (int x = 0; x < W; ++x) {
            float* a = acc.data() + static_cast<std::size_t>(x / subsample) * (C + 1);
            for (int c = 0; c < C; ++c) a[c] += v[x * C + c] * w[x];
            a[C] += w[x];
          }
        }
        float* o = vw.ptr<float>(R);
        for (std::size_t i = 0; i < acc.size(); ++i) o[i] = acc[i] * inv;
      }
    });
  } else {
    parallel_rows(values.rows, 16, [&](int r0, int r1) {
      for (int r = r0; r < r1; ++r) {
        const float* v = values.ptr<float>(r);
        const float* w = weight.ptr<float>(r);
        float* o = vw.ptr<float>(r);
        for (int x = 0; x < W; ++x) {
          for (int c = 0; c < C; ++c) o[x * (C + 1) + c] = v[x * C + c] * w[x];
          o[x * (C + 1) + C] = w[x];
        }
      }
    });
    if (subsample > 1) cv::resize(vw, vw, small, 0, 0, cv::INTER_AREA);
  }
  cv::Mat g = guide;
  if (subsample > 1) cv::resize(guide, g, small, 0, 0, cv::INTER_AREA);
  cv::Mat nd;
  cv::ximgproc::dtFilter(g, vw, nd, reach_px / subsample, edge, cv::ximgproc::DTF_NC, 3);
  cv::Mat filled(nd.size(), CV_32FC(C));
  for (int r = 0; r < nd.rows; ++r) {
    const float* s = nd.ptr<float>(r);
    float* o = filled.ptr<float>(r);
    for (int x = 0; x < nd.cols; ++x) {
      const float den = std::max(s[x * (C + 1) + C], 1e-6f);
      for (int c = 0; c < C; ++c) o[x * C + c] = s[x * (C + 1) + c] / den;
    }
  }
  return filled;
}

// What the local model cannot explain (colour detail with no trace in the mono, or noise) is
// the residual colour - transferred. Its local energy is compared with the colour camera's noise
// level, estimated from the residual itself (most windows hold only noise): a local Wiener
// shrinkage keeps the residual where it stands out of the noise and drops it where it does not.
// In good light the noise is low and the colour's own detail is kept; in dim light the residual
// is mostly noise and goes.
// `transferred` is updated in place and returned; the result is clipped at 0.
cv::Mat restore_detail(const cv::Mat& color, cv::Mat transferred, const MergeOptions& o) {
  if (o.detail_radius <= 0) {
    cv::max(transferred, 0.0, transferred);
    return transferred;
  }
  const int W = color.cols;
  cv::Mat energy(color.size(), CV_32F);  // mean over channels of the squared residual
  parallel_rows(color.rows, 16, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      const float* c = color.ptr<float>(r);
      const float* t = transferred.ptr<float>(r);
      float* e = energy.ptr<float>(r);
      for (int x = 0; x < W; ++x) {
        const float d0 = c[3 * x] - t[3 * x], d1 = c[3 * x + 1] - t[3 * x + 1], d2 = c[3 * x + 2] - t[3 * x + 2];
        e[x] = (d0 * d0 + d1 * d1 + d2 * d2) * (1.0f / 3.0f);
      }
    }
  });
  cv::blur(energy, energy, cv::Size(2 * o.detail_radius + 1, 2 * o.detail_radius + 1));
  std::vector<float> samples;
  samples.reserve(static_cast<std::size_t>((energy.rows + 2) / 3) * ((energy.cols + 2) / 3));
  for (int r = 0; r < energy.rows; r += 3) {
    const float* e = energy.ptr<float>(r);
    for (int c = 0; c < energy.cols; c += 3) samples.push_back(e[c]);
  }
  auto mid = samples.begin() + samples.size() / 2;
  std::nth_element(samples.begin(), mid, samples.end());
  const float noise = float(o.detail_noise_scale) * *mid;
  // keep = max(0, 1 - noise / energy); out = max(0, transferred + keep * residual).
  parallel_rows(color.rows, 16, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      const float* c = color.ptr<float>(r);
      const float* e = energy.ptr<float>(r);
      float* t = transferred.ptr<float>(r);
      for (int x = 0; x < W; ++x) {
        const float keep = std::max(0.0f, 1.0f - noise / std::max(e[x], 1e-12f));
        for (int k = 3 * x; k < 3 * x + 3; ++k) t[k] = std::max(0.0f, t[k] + (c[k] - t[k]) * keep);
      }
    }
  });
  return transferred;
}

MergeResult merge_reference_color(const cv::Mat& color, const cv::Mat& mono_warped, const cv::Mat& valid,
                                  const MergeOptions& o) {
  o.validate();
  check_inputs(color, mono_warped, valid);
  MergeResult res;
  const cv::Mat luma = luminance(color);
  cv::Mat usable = valid & (mono_warped < o.mono_clip);
  fit_linear(mono_warped, luma, usable, res.fit_gain, res.fit_offset);
  // Where the mono is unknown or clipped, the guide is the colour's own luminance brought to the
  // mono's scale, so those pixels keep (lightly smoothed) colour-camera content.
  cv::Mat guide = luma * res.fit_gain + res.fit_offset;
  mono_warped.copyTo(guide, usable);
  res.weight = feathered(usable, o.feather_px);
  cv::Mat transferred = local_transfer(guide, color, o);
  res.image = restore_detail(color, transferred, o);  // clipped at 0
  return res;
}

MergeResult merge_reference_mono(const cv::Mat& mono, const cv::Mat& color_warped, const cv::Mat& valid,
                                 const MergeOptions& o) {
  o.validate();
  check_inputs(color_warped, mono, valid);
  MergeResult res;
  // Colourisation works in the sRGB-encoded domain, like YCbCr: the luminance is the mono's,
  // always (it is the reference view's own, correct everywhere, occlusions included); only the
  // chroma comes from the warped colour. A local colour transfer (as for reference = colour)
  // would also carry the warped colour's luminance, which is wrong wherever the warp is
  // (occlusions): measured on the dev set it loses ~2 dB against this split.
  const cv::Mat mono_e = encode_srgb(mono);
  const cv::Mat color_e = encode_srgb(color_warped);
  cv::Mat luma_e;
  cv::transform(color_e, luma_e, cv::Matx13f(0.114f, 0.587f, 0.299f));  // Rec. 601 luma (BGR)
  cv::Mat usable = valid & (mono < o.mono_clip);
  fit_linear(mono_e, luma_e, usable, res.fit_gain, res.fit_offset);
  res.weight = feathered(valid, o.feather_px);
  // Chroma of the warped colour; holes get chroma flowing in from the known neighbourhood by an
  // edge-aware normalised convolution guided by the mono (domain transform, Gastal & Oliveira
  // 2011): chroma spreads along the mono's surfaces, not across its edges. Then all of it is
  // smoothed guided by the mono, so chroma edges follow the mono's and chroma noise averages out.
  cv::Mat chroma = chroma_of(color_e, luma_e);
  const cv::Mat filled = fill_holes_edge_aware(mono_e, chroma, res.weight, o.fill_radius, o.fill_edge, 4);
  // chroma * w + filled * (1 - w), the filled chroma upsampled bilinearly where w < 1 only.
  std::vector<int> fx, fy;
  std::vector<float> tx, ty;
  detail::linear_axis(chroma.cols, filled.cols, fx, tx);
  detail::linear_axis(chroma.rows, filled.rows, fy, ty);
  parallel_rows(chroma.rows, 16, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      const float* w = res.weight.ptr<float>(r);
      const float* f0 = filled.ptr<float>(fy[r]);
      const float* f1 = filled.ptr<float>(std::min(fy[r] + 1, filled.rows - 1));
      float* c = chroma.ptr<float>(r);
      for (int x = 0; x < chroma.cols; ++x) {
        if (w[x] >= 1.0f) continue;
        const int i0 = 3 * fx[x], i1 = 3 * std::min(fx[x] + 1, filled.cols - 1);
        for (int k = 0; k < 3; ++k) {
          const float top = f0[i0 + k] + tx[x] * (f0[i1 + k] - f0[i0 + k]);
          const float bottom = f1[i0 + k] + tx[x] * (f1[i1 + k] - f1[i0 + k]);
          const float f = top + ty[r] * (bottom - top);
          c[3 * x + k] = c[3 * x + k] * w[x] + f * (1.0f - w[x]);
        }
      }
    }
  });
  cv::Mat smooth = guided_filter(mono_e, chroma, o.chroma_radius, o.chroma_eps, 2);
  // One global mapping of the mono onto the colour's luma. Tried and dropped, measured on the
  // dev set: per-window weighted fits lost 0.5-2 dB (wherever the warp is wrong they learn the
  // wrong surface's relation); adding the chroma as regressors (the mono/luma mismatch is a
  // function of surface colour) gained nothing.
  // y = (mono_e - offset) / gain.
  // The mono sees more light and clips first: where it is clipped its luminance is a floor, and
  // the warped colour's (where known and brighter) is the better estimate.
  cv::Mat clipped = mono >= o.mono_clip;
  cv::dilate(clipped, clipped, cv::Mat());
  const float gain = float(res.fit_gain), offset = float(res.fit_offset);
  // smooth + y, at least 0, in place.
  parallel_rows(smooth.rows, 16, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      const float* m = mono_e.ptr<float>(r);
      const float* l = luma_e.ptr<float>(r);
      const std::uint8_t* k = clipped.ptr<std::uint8_t>(r);
      const std::uint8_t* v = valid.ptr<std::uint8_t>(r);
      float* out = smooth.ptr<float>(r);
      for (int x = 0; x < smooth.cols; ++x) {
        float y = (m[x] - offset) / gain;
        if (k[x] && v[x] && l[x] > y) y = l[x];
        for (int c = 3 * x; c < 3 * x + 3; ++c) out[c] = std::max(0.0f, out[c] + y);
      }
    }
  });
  res.image = decode_srgb(smooth);
  return res;
}

}  // namespace dualcam::fusion
