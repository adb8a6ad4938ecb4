#include "dualcam/fusion/merge.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <opencv2/imgproc.hpp>
#include <opencv2/ximgproc/edge_filter.hpp>

#include "dualcam/engine/color.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/fusion/guided.hpp"

namespace dualcam::fusion {
namespace {

// Least-squares fit mono = gain * luma + offset over the pixels in `mask`, then refit on the
// pixels whose residual is within 2.5 robust sigmas (misaligned pixels must not bend the fit).
void fit_linear(const cv::Mat& mono, const cv::Mat& luma, const cv::Mat& mask, double& gain, double& offset) {
  gain = 1;
  offset = 0;
  double cutoff = std::numeric_limits<double>::infinity();
  for (int pass = 0; pass < 3; ++pass) {
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    long long n = 0;
    std::vector<float> residuals;
    for (int r = 0; r < mono.rows; r += 2) {
      const float* m = mono.ptr<float>(r);
      const float* y = luma.ptr<float>(r);
      const std::uint8_t* k = mask.ptr<std::uint8_t>(r);
      for (int c = 0; c < mono.cols; c += 2) {
        if (!k[c] || std::abs(m[c] - (gain * y[c] + offset)) > cutoff) continue;
        sx += y[c];
        sy += m[c];
        sxx += double(y[c]) * y[c];
        sxy += double(y[c]) * m[c];
        ++n;
      }
    }
    const double den = n * sxx - sx * sx;
    if (n < 16 || std::abs(den) < 1e-12) return;
    const double g = (n * sxy - sx * sy) / den;
    const double o = (sy - g * sx) / n;
    if (!(g > 1e-3) || !std::isfinite(o)) return;
    gain = g;
    offset = o;
    for (int r = 0; r < mono.rows; r += 2) {
      const float* m = mono.ptr<float>(r);
      const float* y = luma.ptr<float>(r);
      const std::uint8_t* k = mask.ptr<std::uint8_t>(r);
      for (int c = 0; c < mono.cols; c += 2)
        if (k[c]) residuals.push_back(std::abs(m[c] - float(gain * y[c] + offset)));
    }
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

// Chroma = colour minus its luminance, per channel (linear light).
cv::Mat chroma_of(const cv::Mat& bgr, const cv::Mat& luma) {
  cv::Mat y3;
  cv::merge(std::vector<cv::Mat>{luma, luma, luma}, y3);
  return bgr - y3;
}

cv::Mat add_luma(const cv::Mat& chroma, const cv::Mat& luma) {
  cv::Mat y3, out;
  cv::merge(std::vector<cv::Mat>{luma, luma, luma}, y3);
  out = chroma + y3;
  cv::max(out, 0.0, out);
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
cv::Mat fill_holes_edge_aware(const cv::Mat& guide, const cv::Mat& values, const cv::Mat& weight, double reach_px,
                              double edge, int subsample) {
  cv::Mat g = guide, v, w = weight;
  cv::Mat w3;
  cv::merge(std::vector<cv::Mat>(values.channels(), weight), w3);
  v = values.mul(w3);
  const cv::Size small((guide.cols + subsample - 1) / subsample, (guide.rows + subsample - 1) / subsample);
  if (subsample > 1) {
    cv::resize(guide, g, small, 0, 0, cv::INTER_AREA);
    cv::resize(v, v, small, 0, 0, cv::INTER_AREA);
    cv::resize(weight, w, small, 0, 0, cv::INTER_AREA);
  }
  cv::Mat num, den;
  cv::ximgproc::dtFilter(g, v, num, reach_px / subsample, edge, cv::ximgproc::DTF_NC, 3);
  cv::ximgproc::dtFilter(g, w, den, reach_px / subsample, edge, cv::ximgproc::DTF_NC, 3);
  cv::Mat den3;
  cv::merge(std::vector<cv::Mat>(values.channels(), cv::max(den, 1e-6)), den3);
  cv::Mat filled = num / den3;
  if (subsample > 1) cv::resize(filled, filled, guide.size(), 0, 0, cv::INTER_LINEAR);
  return filled;
}

// What the local model cannot explain (colour detail with no trace in the mono, or noise) is
// the residual colour - transferred. Its local energy is compared with the colour camera's noise
// level, estimated from the residual itself (most windows hold only noise): a local Wiener
// shrinkage keeps the residual where it stands out of the noise and drops it where it does not.
// In good light the noise is low and the colour's own detail is kept; in dim light the residual
// is mostly noise and goes.
cv::Mat restore_detail(const cv::Mat& color, const cv::Mat& transferred, const MergeOptions& o) {
  if (o.detail_radius <= 0) return transferred;
  cv::Mat residual = color - transferred;
  cv::Mat sq = residual.mul(residual);
  cv::Mat energy;
  cv::transform(sq, energy, cv::Matx13f(1.f / 3, 1.f / 3, 1.f / 3));
  cv::blur(energy, energy, cv::Size(2 * o.detail_radius + 1, 2 * o.detail_radius + 1));
  std::vector<float> samples;
  for (int r = 0; r < energy.rows; r += 3) {
    const float* e = energy.ptr<float>(r);
    for (int c = 0; c < energy.cols; c += 3) samples.push_back(e[c]);
  }
  if (samples.empty()) return transferred;
  auto mid = samples.begin() + samples.size() / 2;
  std::nth_element(samples.begin(), mid, samples.end());
  const float noise = float(o.detail_noise_scale) * *mid;
  cv::Mat keep = 1.0 - noise / cv::max(energy, 1e-12);
  cv::max(keep, 0.0, keep);
  cv::Mat keep3;
  cv::merge(std::vector<cv::Mat>{keep, keep, keep}, keep3);
  return transferred + residual.mul(keep3);
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
  res.image = restore_detail(color, transferred, o);
  cv::max(res.image, 0.0, res.image);
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
  cv::Mat w3;
  cv::merge(std::vector<cv::Mat>{res.weight, res.weight, res.weight}, w3);
  // Chroma of the warped colour; holes get chroma flowing in from the known neighbourhood by an
  // edge-aware normalised convolution guided by the mono (domain transform, Gastal & Oliveira
  // 2011): chroma spreads along the mono's surfaces, not across its edges. Then all of it is
  // smoothed guided by the mono, so chroma edges follow the mono's and chroma noise averages out.
  cv::Mat chroma = chroma_of(color_e, luma_e);
  const cv::Mat filled = fill_holes_edge_aware(mono_e, chroma, res.weight, o.fill_radius, o.fill_edge, 4);
  chroma = chroma.mul(w3) + filled.mul(cv::Scalar::all(1.0) - w3);
  const cv::Mat smooth = guided_filter(mono_e, chroma, o.chroma_radius, o.chroma_eps, 2);
  // One global mapping of the mono onto the colour's luma. Tried and dropped, measured on the
  // dev set: per-window weighted fits lost 0.5-2 dB (wherever the warp is wrong they learn the
  // wrong surface's relation); adding the chroma as regressors (the mono/luma mismatch is a
  // function of surface colour) gained nothing.
  cv::Mat y = (mono_e - res.fit_offset) / res.fit_gain;
  // The mono sees more light and clips first: where it is clipped its luminance is a floor, and
  // the warped colour's (where known and brighter) is the better estimate.
  cv::Mat clipped = mono >= o.mono_clip;
  cv::dilate(clipped, clipped, cv::Mat());
  cv::Mat take = clipped & valid & (luma_e > y);
  luma_e.copyTo(y, take);
  res.image = decode_srgb(add_luma(smooth, y));
  return res;
}

}  // namespace dualcam::fusion
