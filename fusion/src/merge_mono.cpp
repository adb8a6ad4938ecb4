// The merge at the mono camera's view (merge.hpp): the mono's luminance (declipped), the warped
// colour's chroma, filled into holes and smoothed guided by the mono, then each pixel's colour
// scaled until the mono's fitted response to it equals what the mono read.
#include "dualcam/fusion/merge.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include <opencv2/imgproc.hpp>
#include <opencv2/ximgproc/edge_filter.hpp>

#include "dualcam/engine/error.hpp"
#include "dualcam/engine/parallel.hpp"
#include "dualcam/engine/srgb_tables.hpp"
#include "guided_rows.hpp"
#include "merge_common.hpp"
#include "merge_fits.hpp"
#include "resample.hpp"

namespace dualcam::fusion {
namespace {

using detail::MonoClip;

// What the mono would read without clipping (see merge_reference_mono): unclipped pixels, what
// it read; clipped ones, the clip level plus the lift of the warped colour's response above it
// (where the warp is valid), ramped in from 0 at the clip's edge to full at feather + 1 px inside.
// The distance inside is the 3x3 chamfer distance of cv::distanceTransform (DIST_L2, mask 3:
// steps of 0.955 and 1.3693 in 16-bit fixed point) to the nearest unclipped pixel; only
// distances below feather + 1 matter, so it is found locally: for each row within reach, the
// nearest unclipped pixel along it (the chamfer cost grows with the offset along the row).
cv::Mat declipped_mono(const cv::Mat& mono, const cv::Mat& color, const cv::Mat& valid, const MonoClip& clip,
                       const cv::Matx13f& response, int feather) {
  const int H = mono.rows, W = mono.cols;
  cv::Mat target(mono.size(), CV_32F);
  constexpr int kShift = 16;
  const int hv = cvRound(0.955f * (1 << kShift)), diag = cvRound(1.3693f * (1 << kShift));
  const float to_px = 1.0f / (1 << kShift);
  const int reach = int(std::ceil((feather + 1) / 0.955));  // farther rows or columns: >= feather + 1
  const float inv_ramp = float(1.0 / (feather + 1));
  const float level = clip.level;
  parallel_rows(H, 32, [&](int r0, int r1) {
    bool any = false;
    for (int y = r0; y < r1; ++y) {
      std::memcpy(target.ptr<float>(y), mono.ptr<float>(y), sizeof(float) * W);
      const std::uint8_t* k = clip.clipped.ptr<std::uint8_t>(y);
      any = any || std::find_if(k, k + W, [](std::uint8_t v) { return v != 0; }) != k + W;
    }
    if (!any) return;
    // near[(y - n0) * W + x]: distance along row y to the nearest unclipped pixel, capped at reach + 1.
    const int n0 = std::max(0, r0 - reach), n1 = std::min(H, r1 + reach);
    std::vector<std::uint8_t> near(static_cast<std::size_t>(n1 - n0) * W);
    const int cap = reach + 1;
    for (int y = n0; y < n1; ++y) {
      const std::uint8_t* k = clip.clipped.ptr<std::uint8_t>(y);
      std::uint8_t* d = near.data() + static_cast<std::size_t>(y - n0) * W;
      int run = cap;
      for (int x = 0; x < W; ++x) {
        run = k[x] ? std::min(cap, run + 1) : 0;
        d[x] = std::uint8_t(run);
      }
      run = cap;
      for (int x = W - 1; x >= 0; --x) {
        run = k[x] ? std::min(cap, run + 1) : 0;
        d[x] = std::uint8_t(std::min<int>(d[x], run));
      }
    }
    for (int y = r0; y < r1; ++y) {
      const std::uint8_t* k = clip.clipped.ptr<std::uint8_t>(y);
      const std::uint8_t* v = valid.ptr<std::uint8_t>(y);
      const float* c = color.ptr<float>(y);
      float* t = target.ptr<float>(y);
      for (int x = 0; x < W; ++x) {
        if (!k[x]) continue;
        int best = std::numeric_limits<int>::max();
        for (int dy = -reach; dy <= reach; ++dy) {
          const int yy = y + dy;
          if (yy < n0 || yy >= n1) continue;
          const int along = near[static_cast<std::size_t>(yy - n0) * W + x];
          if (along > reach) continue;
          const int across = std::abs(dy);
          const int lo = std::min(along, across), hi = std::max(along, across);
          best = std::min(best, hv * (hi - lo) + diag * lo);
        }
        const float ramp = best == std::numeric_limits<int>::max() ? 1.0f : std::min(float(best) * to_px * inv_ramp, 1.0f);
        float lift = 0;
        if (v[x]) lift = std::max(response(0) * c[3 * x] + response(1) * c[3 * x + 1] + response(2) * c[3 * x + 2] - level, 0.0f);
        t[x] = level + ramp * lift;
      }
    }
  });
  return target;
}

// Edge-aware normalised convolution (domain transform, Gastal & Oliveira 2011) on reduced images:
// `vw` holds C values x weight and the weight (CV_32FC(C+1), block means), `guide` (CV_32F) the
// guide at the same size; `reach_px` in reduced pixels. What flows into holes is smooth, and the
// reach (tens of pixels) would cost seconds at 12 MP full resolution. `neutral` is the weight of
// a value 0 (grey) everywhere: where the known weight reaching a pixel is small beside it, the
// value fades to 0 instead of carrying what the nearest known pixels hold. Returns the C values
// at the reduced size: the caller samples them (bilinearly, as cv::resize) only where needed.
cv::Mat fill_reduced(const cv::Mat& guide, const cv::Mat& vw, double reach_px, double edge, double neutral) {
  const int C = vw.channels() - 1;
  cv::Mat nd;
  cv::ximgproc::dtFilter(guide, vw, nd, reach_px, edge, cv::ximgproc::DTF_NC, 3);
  cv::Mat filled(nd.size(), CV_32FC(C));
  const float prior = float(neutral);  // grey's weight: the values are chroma, 0 = grey
  parallel_rows(nd.rows, 16, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      const float* s = nd.ptr<float>(r);
      float* o = filled.ptr<float>(r);
      for (int x = 0; x < nd.cols; ++x) {
        const float den = std::max(s[x * (C + 1) + C] + prior, 1e-6f);
        for (int c = 0; c < C; ++c) o[x * C + c] = s[x * (C + 1) + c] / den;
      }
    }
  });
  return filled;
}

// The chroma of the reference = mono merge at 1/2 resolution, and what comes with it. See
// merge_reference_mono.
struct HalfChroma {
  cv::Mat guide_e;                 // full resolution: the encoded (declipped) mono
  cv::Mat chroma_s, guide_s;       // 1/2: the chroma with its holes filled, and the guide
  int block = 0;                   // how they were reduced: 2 x 2 blocks (2) or cv::resize INTER_AREA (0)
  std::vector<cv::Vec2f> samples;  // (luma, guide) of the global fit: usable pixels, every 4th row and column
};

// Per 2x2 block: the sums of chroma x weight (B, G, R), weight and guide, and whether a weight
// of the block is below 1.
struct BlockSums {
  cv::Mat half;     // CV_32FC(5) at 1/2
  cv::Mat partial;  // CV_8U at 1/2: 1 where a weight of the block is below 1
};

// The one pass over the full-resolution rows of half_chroma_blocks: encodes the guide into
// out.guide_e, sums each 2x2 block (BlockSums) and gathers the global fit's samples into
// out.samples.
BlockSums block_sums(const cv::Mat& target, const cv::Mat& color, const cv::Mat& usable, const cv::Mat& weight,
                     HalfChroma& out) {
  const int W = target.cols, H = target.rows;
  const srgb_tables::CurveTable<65536>& enc = srgb_tables::encode_table();
  const int W2 = (W + 1) / 2, H2 = (H + 1) / 2;
  cv::Mat& guide_e = out.guide_e;
  guide_e.create(target.size(), CV_32F);
  BlockSums sums;
  cv::Mat& half = sums.half;
  cv::Mat& partial = sums.partial;
  half.create(H2, W2, CV_32FC(5));
  partial.create(H2, W2, CV_8U);
  const int per_row = (W + 3) / 4;
  std::vector<cv::Vec2f> slots(static_cast<std::size_t>(H2) * per_row);
  std::vector<int> count(static_cast<std::size_t>(H2) + 1, 0);
  parallel_rows(H2, 8, [&](int b0, int b1) {
    std::vector<float> e(static_cast<std::size_t>(3) * W), luma(static_cast<std::size_t>(W));
    for (int by = b0; by < b1; ++by) {
      float* acc = half.ptr<float>(by);
      std::uint8_t* part = partial.ptr<std::uint8_t>(by);
      std::fill(acc, acc + 5 * W2, 0.0f);
      std::fill(part, part + W2, std::uint8_t(0));
      for (int r = 2 * by; r < std::min(H, 2 * by + 2); ++r) {
        const float* wt = weight.ptr<float>(r);
        float* g = guide_e.ptr<float>(r);
        enc.apply(target.ptr<float>(r), g, W);
        enc.apply(color.ptr<float>(r), e.data(), 3 * W);
        for (int x = 0; x < W; ++x) {
          const float e0 = e[3 * x], e1 = e[3 * x + 1], e2 = e[3 * x + 2];
          const float l = 0.114f * e0 + 0.587f * e1 + 0.299f * e2;  // Rec. 601 luma (BGR)
          luma[x] = l;
          const float w = wt[x];
          float* a = acc + 5 * (x >> 1);
          a[0] += (e0 - l) * w;
          a[1] += (e1 - l) * w;
          a[2] += (e2 - l) * w;
          a[3] += w;
          a[4] += g[x];
          part[x >> 1] |= std::uint8_t(w < 1.0f);
        }
        if (r % 4 == 0) {  // the fit's samples, on every fourth row and column
          const std::uint8_t* u = usable.ptr<std::uint8_t>(r);
          cv::Vec2f* out = slots.data() + static_cast<std::size_t>(by) * per_row;
          int n = 0;
          for (int x = 0; x < W; x += 4)
            if (u[x]) out[n++] = cv::Vec2f(luma[x], g[x]);
          count[by + 1] = n;
        }
      }
    }
  });
  std::vector<cv::Vec2f> samples;
  samples.reserve(slots.size());
  for (int i = 0; i < H2; ++i) {
    const cv::Vec2f* sl = slots.data() + static_cast<std::size_t>(i) * per_row;
    samples.insert(samples.end(), sl, sl + count[i + 1]);
  }
  slots = {};
  out.samples = std::move(samples);
  return sums;
}

// The fill's input at 1/4: block means of chroma x weight, weight (vw_q, CV_32FC4) and guide
// (guide_q), from the 2x2 sums of an image of `full` size.
void quarter_means(const cv::Mat& half, cv::Size full, cv::Mat& vw_q, cv::Mat& guide_q) {
  const int W = full.width, H = full.height, W2 = half.cols, H2 = half.rows;
  const int W4 = (W + 3) / 4, H4 = (H + 3) / 4;
  vw_q.create(H4, W4, CV_32FC4);
  guide_q.create(H4, W4, CV_32F);
  parallel_rows(H4, 8, [&](int q0, int q1) {
    for (int qy = q0; qy < q1; ++qy) {
      const float* h0 = half.ptr<float>(2 * qy);
      const float* h1 = 2 * qy + 1 < H2 ? half.ptr<float>(2 * qy + 1) : nullptr;
      float* v = vw_q.ptr<float>(qy);
      float* g = guide_q.ptr<float>(qy);
      const int ny = std::min(4, H - 4 * qy);
      for (int qx = 0; qx < W4; ++qx) {
        float sum[5] = {0, 0, 0, 0, 0};
        for (int bx = 2 * qx; bx < std::min(W2, 2 * qx + 2); ++bx)
          for (int k = 0; k < 5; ++k) sum[k] += h0[5 * bx + k] + (h1 ? h1[5 * bx + k] : 0.0f);
        const float inv = 1.0f / float(ny * std::min(4, W - 4 * qx));
        for (int k = 0; k < 4; ++k) v[4 * qx + k] = sum[k] * inv;
        g[qx] = sum[4] * inv;
      }
    }
  });
}

// The chroma at 1/2: chroma * w + filled * (1 - w) per pixel, the filled chroma upsampled
// bilinearly (only in blocks where some w < 1), averaged over the block; and the guide there.
void blend_half(const BlockSums& sums, const cv::Mat& weight, const cv::Mat& filled, HalfChroma& out) {
  const int W = weight.cols, H = weight.rows, W2 = sums.half.cols, H2 = sums.half.rows;
  const cv::Mat& half = sums.half;
  const cv::Mat& partial = sums.partial;
  std::vector<int> fx, fy;
  std::vector<float> tx, ty;
  detail::linear_axis(W, filled.cols, fx, tx, 0.25);
  detail::linear_axis(H, filled.rows, fy, ty, 0.25);
  cv::Mat& chroma_s = out.chroma_s;
  cv::Mat& guide_s = out.guide_s;
  chroma_s.create(H2, W2, CV_32FC3);
  guide_s.create(H2, W2, CV_32F);
  parallel_rows(H2, 16, [&](int b0, int b1) {
    for (int by = b0; by < b1; ++by) {
      const float* acc = half.ptr<float>(by);
      const std::uint8_t* part = partial.ptr<std::uint8_t>(by);
      float* cs = chroma_s.ptr<float>(by);
      float* gs = guide_s.ptr<float>(by);
      const int ny = std::min(2, H - 2 * by);
      for (int bx = 0; bx < W2; ++bx) {
        const float* a = acc + 5 * bx;
        float c0 = a[0], c1 = a[1], c2 = a[2];
        if (part[bx]) {
          for (int r = 2 * by; r < 2 * by + ny; ++r) {
            const float* w = weight.ptr<float>(r);
            const float* f0 = filled.ptr<float>(fy[r]);
            const float* f1 = filled.ptr<float>(std::min(fy[r] + 1, filled.rows - 1));
            for (int x = 2 * bx; x < std::min(W, 2 * bx + 2); ++x) {
              if (w[x] >= 1.0f) continue;
              const int i0 = 3 * fx[x], i1 = 3 * std::min(fx[x] + 1, filled.cols - 1);
              float fv[3];
              for (int k = 0; k < 3; ++k) {
                const float top = f0[i0 + k] + tx[x] * (f0[i1 + k] - f0[i0 + k]);
                const float bottom = f1[i0 + k] + tx[x] * (f1[i1 + k] - f1[i0 + k]);
                fv[k] = (top + ty[r] * (bottom - top)) * (1.0f - w[x]);
              }
              c0 += fv[0], c1 += fv[1], c2 += fv[2];
            }
          }
        }
        const float inv = 1.0f / float(ny * std::min(2, W - 2 * bx));
        cs[3 * bx] = c0 * inv;
        cs[3 * bx + 1] = c1 * inv;
        cs[3 * bx + 2] = c2 * inv;
        gs[bx] = a[4] * inv;
      }
    }
  });
}

// Sizes divisible by 4: one pass makes the encoded guide and, per 2x2 block, the sums of
// chroma x weight, weight and guide, so the full-resolution chroma is never stored; the fill
// works on their 4x4 sums, and the blend of the filled chroma is summed per block.
HalfChroma half_chroma_blocks(const cv::Mat& target, const cv::Mat& color, const cv::Mat& usable,
                              const cv::Mat& weight, double fill_radius, double fill_edge, double fill_neutral) {
  HalfChroma out;
  out.block = 2;
  BlockSums sums = block_sums(target, color, usable, weight, out);
  cv::Mat vw_q, guide_q;
  quarter_means(sums.half, target.size(), vw_q, guide_q);
  const cv::Mat filled = fill_reduced(guide_q, vw_q, fill_radius / 4.0, fill_edge, fill_neutral);
  blend_half(sums, weight, filled, out);
  return out;
}

// Any size: the same with full-resolution chroma and cv::resize INTER_AREA reductions.
HalfChroma half_chroma_area(const cv::Mat& target, const cv::Mat& color, const cv::Mat& usable, const cv::Mat& weight,
                            double fill_radius, double fill_edge, double fill_neutral) {
  HalfChroma out;
  const int W = target.cols, H = target.rows;
  const srgb_tables::CurveTable<65536>& enc = srgb_tables::encode_table();
  out.guide_e.create(target.size(), CV_32F);
  cv::Mat chroma(target.size(), CV_32FC3), luma(target.size(), CV_32F);
  parallel_rows(H, 16, [&](int r0, int r1) {
    std::vector<float> e(static_cast<std::size_t>(3) * W);
    for (int r = r0; r < r1; ++r) {
      float* ch = chroma.ptr<float>(r);
      float* l = luma.ptr<float>(r);
      enc.apply(target.ptr<float>(r), out.guide_e.ptr<float>(r), W);
      enc.apply(color.ptr<float>(r), e.data(), 3 * W);
      for (int x = 0; x < W; ++x) {
        const float e0 = e[3 * x], e1 = e[3 * x + 1], e2 = e[3 * x + 2];
        l[x] = 0.114f * e0 + 0.587f * e1 + 0.299f * e2;  // Rec. 601 luma (BGR)
        ch[3 * x] = e0 - l[x];
        ch[3 * x + 1] = e1 - l[x];
        ch[3 * x + 2] = e2 - l[x];
      }
    }
  });
  out.samples = detail::gather_fit_samples(out.guide_e, luma, usable);
  // The fill at 1/4: values x weight and weight, reduced by area.
  const cv::Size quarter((W + 3) / 4, (H + 3) / 4);
  cv::Mat vw(target.size(), CV_32FC4);
  parallel_rows(H, 16, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      const float* v = chroma.ptr<float>(r);
      const float* w = weight.ptr<float>(r);
      float* o = vw.ptr<float>(r);
      for (int x = 0; x < W; ++x) {
        for (int c = 0; c < 3; ++c) o[4 * x + c] = v[3 * x + c] * w[x];
        o[4 * x + 3] = w[x];
      }
    }
  });
  cv::Mat vw_q, guide_q;
  cv::resize(vw, vw_q, quarter, 0, 0, cv::INTER_AREA);
  cv::resize(out.guide_e, guide_q, quarter, 0, 0, cv::INTER_AREA);
  vw = cv::Mat();
  const cv::Mat filled = fill_reduced(guide_q, vw_q, fill_radius / 4.0, fill_edge, fill_neutral);
  // chroma * w + filled * (1 - w), the filled chroma upsampled bilinearly where w < 1 only.
  std::vector<int> fx, fy;
  std::vector<float> tx, ty;
  detail::linear_axis(W, filled.cols, fx, tx);
  detail::linear_axis(H, filled.rows, fy, ty);
  parallel_rows(H, 16, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      const float* w = weight.ptr<float>(r);
      const float* f0 = filled.ptr<float>(fy[r]);
      const float* f1 = filled.ptr<float>(std::min(fy[r] + 1, filled.rows - 1));
      float* c = chroma.ptr<float>(r);
      for (int x = 0; x < W; ++x) {
        if (w[x] >= 1.0f) continue;
        const int i0 = 3 * fx[x], i1 = 3 * std::min(fx[x] + 1, filled.cols - 1);
        for (int k = 0; k < 3; ++k) {
          const float top = f0[i0 + k] + tx[x] * (f0[i1 + k] - f0[i0 + k]);
          const float bottom = f1[i0 + k] + tx[x] * (f1[i1 + k] - f1[i0 + k]);
          const float fv = top + ty[r] * (bottom - top);
          c[3 * x + k] = c[3 * x + k] * w[x] + fv * (1.0f - w[x]);
        }
      }
    }
  });
  const cv::Size half((W + 1) / 2, (H + 1) / 2);
  cv::resize(out.guide_e, out.guide_s, half, 0, 0, cv::INTER_AREA);
  cv::resize(chroma, out.chroma_s, half, 0, 0, cv::INTER_AREA);
  return out;
}

// The colour of the reference = mono merge, row by row: each pixel's encoded luminance is the
// guide mapped by y = g * y_scale + y_shift, its chroma the smoothed chroma (`smooth`, applied
// inside this pass: one pass over memory). Then the colour (that luminance + the chroma) is
// scaled in linear light until the mono's response to it equals `target`: the colour keeps its
// hue and saturation and the mono's spectral mismatch, which depends on the surface colour, is
// undone. Two rounds: the chroma is held in the encoded domain, so the first scaling moves it
// slightly. Measured on the 27 dev scenes (P1): +0.7 dB with the default mono, +1.3 dB with the
// mono weights 0.20,0.40,0.40 and gain 1.3. `eps` regularises the ratio in dark pixels.
cv::Mat colourise(const cv::Mat& guide_e, const cv::Mat& target, const detail::GuidedRows& smooth, float y_scale,
                  float y_shift, const cv::Matx13f& response, float eps) {
  const int H = target.rows, W = target.cols;
  const srgb_tables::CurveTable<65536>& enc = srgb_tables::encode_table();
  const srgb_tables::CurveTable<4096>& dec = srgb_tables::decode_table();
  const float rb = response(0), rg = response(1), rr = response(2);
  cv::Mat image(target.size(), CV_32FC3);
  parallel_rows(H, 8, [&](int r0, int r1) {
    const int n = 3 * W;
    std::vector<float> ch(static_cast<std::size_t>(n)), e(static_cast<std::size_t>(n)), scratch;
    for (int r = r0; r < r1; ++r) {
      const float* g = guide_e.ptr<float>(r);
      const float* t = target.ptr<float>(r);
      float* v = image.ptr<float>(r);
      smooth.row(r, g, ch.data(), scratch);
      // Each step is a loop of its own over the row: the table look-ups of many pixels overlap.
      for (int x = 0; x < W; ++x) {
        const float y = g[x] * y_scale + y_shift;
        for (int k = 0; k < 3; ++k) e[3 * x + k] = ch[3 * x + k] + y;
      }
      for (int round = 0; round < 2; ++round) {
        if (round > 0) {
          enc.apply(v, e.data(), n);
          for (int x = 0; x < W; ++x) {
            const float luma = 0.114f * e[3 * x] + 0.587f * e[3 * x + 1] + 0.299f * e[3 * x + 2];
            for (int k = 0; k < 3; ++k) e[3 * x + k] = ch[3 * x + k] + luma;
          }
        }
        dec.apply(e.data(), v, n);  // the table clamps encoded values to [0,1]
        for (int x = 0; x < W; ++x) {
          float* p = v + 3 * x;
          const float predicted = std::max(0.0f, rb * p[0] + rg * p[1] + rr * p[2]);
          const float k = (t[x] + eps) / (predicted + eps);
          p[0] *= k, p[1] *= k, p[2] *= k;
        }
      }
    }
  });
  return image;
}

// Where the warped colour is the surface the mono saw: `valid` pixels whose 5x5 mean of the
// mono's fitted response to the warped colour is within `threshold` x (the 5x5 mean of `target`
// + 0.02) of it (linear light). An occluded pixel warped with the background's disparity fetches
// the occluding surface, which seldom has the same brightness in the mono (figures:
// MergeOptions::chroma_consistency). Chroma only from pixels the matcher found (confidence > 0)
// or not occluded in its left-right check was tried and lost 1.9-4.9 dB: the matcher leaves
// 20-40 % of the dev scenes' pixels unknown, and a fill at 1/4 resolution cannot replace what
// their warped colour gets right.
cv::Mat consistent_colour(const cv::Mat& valid, const cv::Mat& target, const cv::Mat& color, const cv::Matx13f& response,
                          float threshold) {
  const int H = target.rows, W = target.cols;
  constexpr int kBox = 5, kHalo = kBox / 2;
  cv::Mat predicted(target.size(), CV_32F);
  parallel_rows(H, 32, [&](int r0, int r1) {
    for (int y = r0; y < r1; ++y) {
      const float* c = color.ptr<float>(y);
      float* p = predicted.ptr<float>(y);
      for (int x = 0; x < W; ++x) p[x] = response(0) * c[3 * x] + response(1) * c[3 * x + 1] + response(2) * c[3 * x + 2];
    }
  });
  cv::Mat out(target.size(), CV_8U);
  // Bands with a halo: cv::blur of a band of the whole image reads the rows around it, so the
  // result is the whole image's.
  parallel_rows(H, 32, [&](int r0, int r1) {
    const int h0 = std::max(0, r0 - kHalo), h1 = std::min(H, r1 + kHalo);
    cv::Mat bp, bt;
    cv::blur(predicted.rowRange(h0, h1), bp, cv::Size(kBox, kBox));
    cv::blur(target.rowRange(h0, h1), bt, cv::Size(kBox, kBox));
    for (int y = r0; y < r1; ++y) {
      const float* p = bp.ptr<float>(y - h0);
      const float* t = bt.ptr<float>(y - h0);
      const std::uint8_t* v = valid.ptr<std::uint8_t>(y);
      std::uint8_t* o = out.ptr<std::uint8_t>(y);
      for (int x = 0; x < W; ++x) o[x] = (v[x] && std::abs(p[x] - t[x]) <= threshold * (t[x] + 0.02f)) ? 255 : 0;
    }
  });
  return out;
}

}  // namespace

MergeResult merge_reference_mono(const cv::Mat& mono_read, const cv::Mat& color_warped, const cv::Mat& valid,
                                 const MergeOptions& o, const MergeNoise* noise) {
  o.validate();
  detail::check_merge_inputs("merge_reference_mono", color_warped, "color_warped", mono_read, "mono", valid);
  MergeResult res;
  const int H = mono_read.rows, W = mono_read.cols;
  // The mono sees more light and clips first. Its clip level comes from the data (as read); pixels
  // near clipped ones are left out of every fit.
  const MonoClip clip = detail::find_mono_clip(mono_read);
  // The output's luminance is the mono's, so its noise is the output's: a real mono is a high-ISO
  // camera (pair 0013's flat-area noise at the mono view was 1.10 levels against 0.26 at the
  // colour view). It is denoised first by a self-guided filter whose eps is mono_denoise_scale x
  // its measured noise variance; the simulator's nearly clean mono is barely touched.
  cv::Mat mono = mono_read;
  if (o.mono_denoise_scale > 0) {
    const NoiseModel measured = noise ? NoiseModel{} : estimate_noise_linear(mono_read);
    const NoiseModel& model = noise ? noise->mono : measured;
    if (model.channels() != 1) throw_invalid("merge_reference_mono: the mono's noise model must have 1 channel");
    mono = detail::apply_rows(detail::self_denoiser(mono_read, model, o.guide_denoise_radius, o.mono_denoise_scale),
                              mono_read);
    cv::max(mono, 0.0, mono);
  }
  res.mono_clip_level = clip.level;
  res.mono_clipped_share = clip.share;
  const cv::Mat usable = detail::usable_mask(valid, clip, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(5, 5)));
  // The mono's spectral response (which sets the exposure ratio too), on 4x4 block means of the
  // usable pixels (merge_fits.hpp).
  const cv::Vec3d a = detail::fit_mono_response(mono, color_warped, usable);
  res.mono_response = a;
  const cv::Matx13f response{float(a[0]), float(a[1]), float(a[2])};
  // What the mono would read without clipping: unclipped pixels, what it read. Clipped: at least
  // the clip level, and the warped colour's own response where that is known and brighter, so the
  // luminance there is the colour camera's. The lift above the clip level grows from 0 at the
  // clip's edge to full within feather_px inside it, so the edge has no seam. Unclipped pixels
  // keep the mono: blending the colour's response into the bright pixels around the clip (a
  // smooth weight over 2-4 px, or over mono levels from 90 % of the clip up) lost 0.1-0.5 dB
  // on 9 dev scenes (P1), the colour camera being noisier and the warp less exact than the mono.
  const cv::Mat target =
      clip.clipped.empty() ? mono : declipped_mono(mono, color_warped, valid, clip, response, o.feather_px);
  // Colourisation works in the sRGB-encoded domain, like YCbCr: the luminance is the (declipped)
  // mono's, always (it is the reference view's own, correct everywhere, occlusions included); only
  // the chroma comes from the warped colour. A local colour transfer (as for reference = colour)
  // would also carry the warped colour's luminance, which is wrong wherever the warp is
  // (occlusions): measured on the dev set it loses ~2 dB against this split. The declipped mono
  // is also the guide below: inside a clipped area it has the colour camera's edges, where the
  // mono has none and chroma would bleed across them.
  // Chroma of the warped colour (encoded colour minus its Rec. 601 luma); holes get chroma
  // flowing in from the known neighbourhood by an edge-aware normalised convolution guided by the
  // mono (domain transform, Gastal & Oliveira 2011, at 1/4 resolution): chroma spreads along the
  // mono's surfaces, not across its edges. Then all of it is smoothed guided by the mono (the
  // fast guided filter, coefficients at 1/2 resolution), so chroma edges follow the mono's and
  // chroma noise averages out. The weight is 1 away from the warp's holes, 0 in them, feathered
  // between.
  // Chroma only from pixels whose warped colour is the mono's surface (consistent_colour): where
  // it is not (occlusions the refine stage filled with the background's disparity, wrong matches)
  // the fill brings chroma from the same surface instead.
  const cv::Mat chroma_valid =
      o.chroma_consistency > 0 ? consistent_colour(valid, target, color_warped, response, float(o.chroma_consistency))
                               : valid;
  res.weight = detail::feathered(chroma_valid, o.feather_px);
  HalfChroma hc = W % 4 == 0 && H % 4 == 0
                      ? half_chroma_blocks(target, color_warped, usable, res.weight, o.fill_radius, o.fill_edge,
                                           o.fill_neutral)
                      : half_chroma_area(target, color_warped, usable, res.weight, o.fill_radius, o.fill_edge,
                                         o.fill_neutral);
  detail::fit_linear_samples(hc.samples, res.fit_gain, res.fit_offset);
  hc.samples = {};
  const detail::GuidedRows smooth(hc.guide_s, hc.chroma_s, mono.size(), std::max(1, o.chroma_radius / 2),
                                  o.chroma_eps, hc.block);
  // First estimate: one global mapping of the mono onto the colour's luma. (Per-window weighted
  // fits lost 0.5-2 dB on the dev set: wherever the warp is wrong they learn the wrong surface's
  // relation.)
  const float y_scale = float(1.0 / res.fit_gain), y_shift = float(-res.fit_offset / res.fit_gain);
  // Then each pixel's colour is scaled until the mono's response to it equals the target.
  res.image = colourise(hc.guide_e, target, smooth, y_scale, y_shift, response, float(o.response_eps));
  return res;
}

}  // namespace dualcam::fusion
