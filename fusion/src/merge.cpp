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

// The mono's clipping, estimated from the image itself. The candidate level is its largest value;
// it is a clip when the pixels within 0.5 % of it pile up: more of them per unit of level than
// 3x the density just below (the 5 % under it). 8-bit: the top code against the next eight. An
// image that is not clipped then marks nothing.
struct MonoClip {
  float level = 1;    // linear light
  double share = 0;   // share of clipped pixels (0: not clipped)
  cv::Mat clipped;    // CV_8U 255 on clipped pixels
};

MonoClip find_mono_clip(const cv::Mat& mono) {
  MonoClip c;
  double hi = 0;
  cv::minMaxLoc(mono, nullptr, &hi);
  c.level = float(hi);
  c.clipped = cv::Mat::zeros(mono.size(), CV_8U);
  if (!(hi > 0)) return c;
  const cv::Mat top = mono >= 0.995 * hi;
  const double n_top = cv::countNonZero(top);
  const double n_below = cv::countNonZero((mono >= 0.95 * hi) & ~top);
  if (n_top / 0.005 <= 3.0 * n_below / 0.045) return c;
  c.clipped = top;
  c.share = n_top / double(mono.total());
  return c;
}

// Non-negative least squares for three unknowns: minimise a'Aa - 2 b'a over a >= 0 by trying
// every set of free weights (7 of them) and keeping the best feasible solution.
bool nnls3(const cv::Matx33d& A, const cv::Vec3d& b, cv::Vec3d& best) {
  double best_cost = std::numeric_limits<double>::infinity();
  for (int set = 1; set < 8; ++set) {
    int idx[3], n = 0;
    for (int k = 0; k < 3; ++k)
      if (set & (1 << k)) idx[n++] = k;
    cv::Mat As(n, n, CV_64F), bs(n, 1, CV_64F), xs;
    for (int i = 0; i < n; ++i) {
      bs.at<double>(i) = b[idx[i]];
      for (int j = 0; j < n; ++j) As.at<double>(i, j) = A(idx[i], idx[j]);
    }
    if (!cv::solve(As, bs, xs, cv::DECOMP_CHOLESKY)) continue;
    cv::Vec3d a(0, 0, 0);
    bool feasible = true;
    for (int i = 0; i < n; ++i) {
      a[idx[i]] = xs.at<double>(i);
      feasible = feasible && a[idx[i]] >= 0;
    }
    if (!feasible) continue;
    const double cost = (A * a).dot(a) - 2 * b.dot(a);
    if (cost < best_cost) best_cost = cost, best = a;
  }
  return std::isfinite(best_cost);
}

// The mono's spectral response: mono = a . bgr in linear light (no offset), fitted by least
// squares over the pixels in `mask`, then refitted twice on the pixels within 2.5 robust sigmas
// (misaligned pixels must not bend it). Its sum is the exposure ratio of the two cameras. The
// weights are kept non-negative, as a sensor's are: in scenes of one hue the three channels are
// nearly collinear and a free fit swings to large weights of opposite signs (Wood1 of the dev
// set: B -0.48, G 0.86).
// Falls back to Rec. 709 luminance weights when there is too little to fit.
cv::Vec3d fit_response(const cv::Mat& mono, const cv::Mat& bgr, const cv::Mat& mask) {
  const cv::Vec3d fallback(0.0722, 0.7152, 0.2126);
  cv::Vec3d a = fallback;
  double cutoff = std::numeric_limits<double>::infinity();
  for (int pass = 0; pass < 3; ++pass) {
    cv::Matx33d ata = cv::Matx33d::zeros();
    cv::Vec3d atb(0, 0, 0);
    long long n = 0;
    for (int r = 0; r < mono.rows; ++r) {
      const float* m = mono.ptr<float>(r);
      const cv::Vec3f* c = bgr.ptr<cv::Vec3f>(r);
      const std::uint8_t* k = mask.ptr<std::uint8_t>(r);
      for (int x = 0; x < mono.cols; ++x) {
        if (!k[x]) continue;
        const cv::Vec3d v(c[x][0], c[x][1], c[x][2]);
        if (std::abs(m[x] - a.dot(v)) > cutoff) continue;
        ata += v * v.t();
        atb += v * double(m[x]);
        ++n;
      }
    }
    cv::Vec3d sol;
    if (n < 16 || !nnls3(ata, atb, sol) || !(sol[0] + sol[1] + sol[2] > 1e-6)) return pass == 0 ? fallback : a;
    a = sol;
    std::vector<float> residuals;
    for (int r = 0; r < mono.rows; ++r) {
      const float* m = mono.ptr<float>(r);
      const cv::Vec3f* c = bgr.ptr<cv::Vec3f>(r);
      const std::uint8_t* k = mask.ptr<std::uint8_t>(r);
      for (int x = 0; x < mono.cols; ++x)
        if (k[x]) residuals.push_back(float(std::abs(m[x] - a.dot(cv::Vec3d(c[x][0], c[x][1], c[x][2])))));
    }
    auto mid = residuals.begin() + residuals.size() / 2;
    std::nth_element(residuals.begin(), mid, residuals.end());
    cutoff = std::max(1e-4, 2.5 * 1.4826 * double(*mid));
  }
  return a;
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

void check_inputs(const cv::Mat& three, const cv::Mat& one, const cv::Mat& valid) {
  if (three.type() != CV_32FC3 || one.type() != CV_32FC1 || valid.type() != CV_8UC1 || three.size() != one.size() ||
      valid.size() != one.size())
    throw_invalid("merge: expects CV_32FC3 + CV_32FC1 + CV_8U mask of one size");
}

}  // namespace

void MergeOptions::validate() const {
  check_range("MergeOptions::transfer_radius", transfer_radius, 1, 64);
  check_range("MergeOptions::transfer_eps", transfer_eps, 1e-9, 1);
  check_range("MergeOptions::response_eps", response_eps, 1e-6, 1);
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
  const MonoClip clip = find_mono_clip(mono_warped);
  res.mono_clip_level = clip.level;
  res.mono_clipped_share = clip.share;
  cv::Mat near_clip;
  cv::dilate(clip.clipped, near_clip, cv::Mat());
  cv::Mat usable = valid & ~near_clip;
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
  // The mono sees more light and clips first. Its clip level comes from the data; pixels near
  // clipped ones are left out of every fit.
  const MonoClip clip = find_mono_clip(mono);
  res.mono_clip_level = clip.level;
  res.mono_clipped_share = clip.share;
  cv::Mat near_clip;
  cv::dilate(clip.clipped, near_clip, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(5, 5)));
  const cv::Mat usable = valid & ~near_clip;
  // The mono's spectral response (which sets the exposure ratio too), fitted globally in linear
  // light on both images reduced 4x by area averaging: averaging keeps a linear relation linear
  // and takes the colour camera's noise out, and the reduced fit costs little at 12 MP. A block
  // counts only when all of it is usable.
  const int f = std::min(mono.rows, mono.cols) >= 64 ? 4 : 1;
  const cv::Size reduced((mono.cols + f - 1) / f, (mono.rows + f - 1) / f);
  cv::Mat mono_s = mono, color_s = color_warped, fit_mask = usable;
  if (f > 1) {
    cv::resize(mono, mono_s, reduced, 0, 0, cv::INTER_AREA);
    cv::resize(color_warped, color_s, reduced, 0, 0, cv::INTER_AREA);
    cv::Mat share;
    usable.convertTo(share, CV_32F, 1.0 / 255.0);
    cv::resize(share, share, reduced, 0, 0, cv::INTER_AREA);
    fit_mask = share > 0.999;
  }
  const cv::Vec3d a = fit_response(mono_s, color_s, fit_mask);
  res.mono_response = a;
  const cv::Matx13f response{float(a[0]), float(a[1]), float(a[2])};
  // What the mono would read without clipping: unclipped pixels, what it read. Clipped: at least
  // the clip level, and the warped colour's own response where that is known and brighter, so the
  // luminance there is the colour camera's. The lift above the clip level grows from 0 at the
  // clip's edge to full within feather_px inside it, so the edge has no seam. Unclipped pixels
  // keep the mono: blending the colour's response into the bright pixels around the clip (a
  // smooth weight over 2-4 px, or over mono levels from 90 % of the clip up) lost 0.1-0.5 dB
  // on 9 dev scenes (P1), the colour camera being noisier and the warp less exact than the mono.
  cv::Mat target = mono.clone();
  if (clip.share > 0) {
    cv::Mat color_response;
    cv::transform(color_warped, color_response, response);
    cv::Mat lift = cv::max(color_response - clip.level, 0.0);
    lift.setTo(0, ~valid);
    cv::Mat inside;
    cv::distanceTransform(clip.clipped, inside, cv::DIST_L2, 3);
    cv::Mat ramp = cv::min(inside / double(o.feather_px + 1), 1.0);
    cv::Mat clipped_target = clip.level + ramp.mul(lift);
    clipped_target.copyTo(target, clip.clipped);
  }
  // Colourisation works in the sRGB-encoded domain, like YCbCr: the luminance is the (declipped)
  // mono's, always (it is the reference view's own, correct everywhere, occlusions included); only
  // the chroma comes from the warped colour. A local colour transfer (as for reference = colour)
  // would also carry the warped colour's luminance, which is wrong wherever the warp is
  // (occlusions): measured on the dev set it loses ~2 dB against this split. The declipped mono
  // is also the guide below: inside a clipped area it has the colour camera's edges, where the
  // mono has none and chroma would bleed across them.
  const cv::Mat guide_e = encode_srgb(target);
  const cv::Mat color_e = encode_srgb(color_warped);
  cv::Mat luma_e;
  cv::transform(color_e, luma_e, cv::Matx13f(0.114f, 0.587f, 0.299f));  // Rec. 601 luma (BGR)
  fit_linear(guide_e, luma_e, usable, res.fit_gain, res.fit_offset);
  res.weight = feathered(valid, o.feather_px);
  cv::Mat w3;
  cv::merge(std::vector<cv::Mat>{res.weight, res.weight, res.weight}, w3);
  // Chroma of the warped colour; holes get chroma flowing in from the known neighbourhood by an
  // edge-aware normalised convolution guided by the mono (domain transform, Gastal & Oliveira
  // 2011): chroma spreads along the mono's surfaces, not across its edges. Then all of it is
  // smoothed guided by the mono, so chroma edges follow the mono's and chroma noise averages out.
  cv::Mat chroma = chroma_of(color_e, luma_e);
  const cv::Mat filled = fill_holes_edge_aware(guide_e, chroma, res.weight, o.fill_radius, o.fill_edge, 4);
  chroma = chroma.mul(w3) + filled.mul(cv::Scalar::all(1.0) - w3);
  const cv::Mat smooth = guided_filter(guide_e, chroma, o.chroma_radius, o.chroma_eps, 2);
  // First estimate: one global mapping of the mono onto the colour's luma. (Per-window weighted
  // fits lost 0.5-2 dB on the dev set: wherever the warp is wrong they learn the wrong surface's
  // relation.)
  const cv::Mat y = (guide_e - res.fit_offset) / res.fit_gain;
  // Then each pixel's colour (that luminance + the smoothed chroma) is scaled in linear light
  // until the mono's response to it equals the target: the colour keeps its hue and saturation
  // and the mono's spectral mismatch, which depends on the surface colour, is undone. Two rounds:
  // the chroma is held in the encoded domain, so the first scaling moves it slightly. Measured on
  // the 27 dev scenes (P1): +0.7 dB with the default mono, +1.3 dB with the mono weights
  // 0.20,0.40,0.40 and gain 1.3.
  // Row by row (one pass over memory instead of a dozen full-image temporaries at 12 MP).
  const float eps = float(o.response_eps);
  res.image.create(mono.size(), CV_32FC3);
  parallel_rows(mono.rows, 8, [&](int r0, int r1) {
    cv::Mat encoded(1, mono.cols, CV_32FC3);
    for (int r = r0; r < r1; ++r) {
      const cv::Vec3f* ch = smooth.ptr<cv::Vec3f>(r);
      const float* yr = y.ptr<float>(r);
      const float* t = target.ptr<float>(r);
      cv::Vec3f* e = encoded.ptr<cv::Vec3f>(0);
      for (int c = 0; c < mono.cols; ++c) e[c] = ch[c] + cv::Vec3f::all(yr[c]);
      cv::Mat row = res.image.row(r);
      for (int round = 0; round < 2; ++round) {
        if (round > 0) {
          const cv::Mat again = encode_srgb(row);
          const cv::Vec3f* g = again.ptr<cv::Vec3f>(0);
          for (int c = 0; c < mono.cols; ++c)
            e[c] = ch[c] + cv::Vec3f::all(0.114f * g[c][0] + 0.587f * g[c][1] + 0.299f * g[c][2]);
        }
        decode_srgb(encoded).copyTo(row);  // the table clamps encoded values to [0,1]
        cv::Vec3f* v = row.ptr<cv::Vec3f>(0);
        for (int c = 0; c < mono.cols; ++c) {
          const float predicted = std::max(0.0f, response(0) * v[c][0] + response(1) * v[c][1] + response(2) * v[c][2]);
          v[c] *= (t[c] + eps) / (predicted + eps);
        }
      }
    }
  });
  return res;
}

}  // namespace dualcam::fusion
