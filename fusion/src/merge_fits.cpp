#include "merge_fits.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "dualcam/engine/parallel.hpp"
#include "merge_common.hpp"

namespace dualcam::fusion::detail {
namespace {

// Sums over `n` items in fixed chunks (the same chunks for any thread count), the chunks in
// parallel, their partial sums added in chunk order: deterministic. `add(i0, i1, acc)` adds
// items [i0, i1) to `acc`; Acc has operator+=.
template <typename Acc, typename Add>
Acc chunked_sum(std::size_t n, Add&& add) {
  constexpr std::size_t kChunk = std::size_t(1) << 15;
  const int chunks = int((n + kChunk - 1) / kChunk);
  std::vector<Acc> part(static_cast<std::size_t>(chunks));
  parallel_rows(chunks, 1, [&](int c0, int c1) {
    for (int c = c0; c < c1; ++c) add(c * kChunk, std::min(n, (c + 1) * kChunk), part[c]);
  });
  Acc total{};
  for (const Acc& p : part) total += p;
  return total;
}

struct LineSums {
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  long long n = 0;
  LineSums& operator+=(const LineSums& o) {
    sx += o.sx, sy += o.sy, sxx += o.sxx, sxy += o.sxy, n += o.n;
    return *this;
  }
};

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

// One sample of the response fit: the mono and the colour (B, G, R), linear light.
struct ResponseSample {
  float m, b, g, r;
};

// The mono and the colour averaged over f x f blocks, for the blocks that lie wholly in the
// image and in `mask`, in row order: averaging keeps a linear relation linear and takes the
// colour camera's noise out. Block rows in parallel into their own slots, then packed.
std::vector<ResponseSample> block_samples(const cv::Mat& mono, const cv::Mat& bgr, const cv::Mat& mask, int f) {
  const int bw = mono.cols / f, bh = mono.rows / f;
  std::vector<ResponseSample> slots(static_cast<std::size_t>(bw) * bh);
  std::vector<int> count(static_cast<std::size_t>(bh) + 1, 0);
  const float inv = 1.0f / float(f * f);
  parallel_rows(bh, 4, [&](int b0, int b1) {
    std::vector<float> sum(static_cast<std::size_t>(bw) * 4);
    std::vector<int> known(static_cast<std::size_t>(bw));
    for (int by = b0; by < b1; ++by) {
      std::fill(sum.begin(), sum.end(), 0.0f);
      std::fill(known.begin(), known.end(), 0);
      for (int r = by * f; r < (by + 1) * f; ++r) {
        const float* m = mono.ptr<float>(r);
        const float* c = bgr.ptr<float>(r);
        const std::uint8_t* k = mask.ptr<std::uint8_t>(r);
        for (int bx = 0; bx < bw; ++bx) {
          float* s = sum.data() + static_cast<std::size_t>(bx) * 4;
          for (int x = bx * f; x < (bx + 1) * f; ++x) {
            s[0] += m[x];
            s[1] += c[3 * x];
            s[2] += c[3 * x + 1];
            s[3] += c[3 * x + 2];
            known[bx] += k[x] != 0;
          }
        }
      }
      ResponseSample* out = slots.data() + static_cast<std::size_t>(by) * bw;
      int n = 0;
      for (int bx = 0; bx < bw; ++bx) {
        if (known[bx] != f * f) continue;
        const float* s = sum.data() + static_cast<std::size_t>(bx) * 4;
        out[n++] = ResponseSample{s[0] * inv, s[1] * inv, s[2] * inv, s[3] * inv};
      }
      count[by + 1] = n;
    }
  });
  std::vector<ResponseSample> samples;
  samples.reserve(slots.size());
  for (int by = 0; by < bh; ++by) {
    const ResponseSample* s = slots.data() + static_cast<std::size_t>(by) * bw;
    samples.insert(samples.end(), s, s + count[by + 1]);
  }
  return samples;
}

struct NormalSums {
  double xx[6] = {0, 0, 0, 0, 0, 0};  // bb, bg, br, gg, gr, rr
  double xm[3] = {0, 0, 0};
  long long n = 0;
  NormalSums& operator+=(const NormalSums& o) {
    for (int i = 0; i < 6; ++i) xx[i] += o.xx[i];
    for (int i = 0; i < 3; ++i) xm[i] += o.xm[i];
    n += o.n;
    return *this;
  }
};

// The mono's spectral response: mono = a . bgr in linear light (no offset), fitted by least
// squares over the samples, then refitted twice on the samples within 2.5 robust sigmas
// (misaligned pixels must not bend it). Its sum is the exposure ratio of the two cameras. The
// weights are kept non-negative, as a sensor's are: in scenes of one hue the three channels are
// nearly collinear and a free fit swings to large weights of opposite signs (Wood1 of the dev
// set: B -0.48, G 0.86).
// Falls back to Rec. 709 luminance weights when there is too little to fit. Sums and the median
// in parallel, deterministic for any thread count.
cv::Vec3d fit_response(const std::vector<ResponseSample>& samples) {
  const cv::Vec3d fallback(0.0722, 0.7152, 0.2126);
  cv::Vec3d a = fallback;
  double cutoff = std::numeric_limits<double>::infinity();
  std::vector<float> residuals(samples.size());
  for (int pass = 0; pass < 3; ++pass) {
    const cv::Vec3d a0 = a;
    const double cut = cutoff;
    const NormalSums s = chunked_sum<NormalSums>(samples.size(), [&](std::size_t i0, std::size_t i1, NormalSums& acc) {
      for (std::size_t i = i0; i < i1; ++i) {
        const ResponseSample& p = samples[i];
        const double b = p.b, g = p.g, r = p.r, m = p.m;
        if (std::abs(m - (a0[0] * b + a0[1] * g + a0[2] * r)) > cut) continue;
        acc.xx[0] += b * b, acc.xx[1] += b * g, acc.xx[2] += b * r;
        acc.xx[3] += g * g, acc.xx[4] += g * r, acc.xx[5] += r * r;
        acc.xm[0] += b * m, acc.xm[1] += g * m, acc.xm[2] += r * m;
        ++acc.n;
      }
    });
    const cv::Matx33d ata(s.xx[0], s.xx[1], s.xx[2], s.xx[1], s.xx[3], s.xx[4], s.xx[2], s.xx[4], s.xx[5]);
    const cv::Vec3d atb(s.xm[0], s.xm[1], s.xm[2]);
    cv::Vec3d sol;
    if (s.n < 16 || !nnls3(ata, atb, sol) || !(sol[0] + sol[1] + sol[2] > 1e-6)) return pass == 0 ? fallback : a;
    a = sol;
    parallel_rows(int((samples.size() + 4095) / 4096), 1, [&](int c0, int c1) {
      for (std::size_t i = c0 * std::size_t(4096), e = std::min(samples.size(), c1 * std::size_t(4096)); i < e; ++i) {
        const ResponseSample& p = samples[i];
        residuals[i] = float(std::abs(double(p.m) - (a[0] * p.b + a[1] * p.g + a[2] * p.r)));
      }
    });
    cutoff = std::max(1e-4, 2.5 * 1.4826 * double(kth_nonneg(residuals, residuals.size() / 2)));
  }
  return a;
}

}  // namespace

std::vector<cv::Vec2f> gather_fit_samples(const cv::Mat& mono, const cv::Mat& luma, const cv::Mat& mask) {
  const int rows = (mono.rows + 3) / 4;
  std::vector<int> count(static_cast<std::size_t>(rows) + 1, 0);
  parallel_rows(rows, 64, [&](int i0, int i1) {
    for (int i = i0; i < i1; ++i) {
      const std::uint8_t* k = mask.ptr<std::uint8_t>(4 * i);
      int n = 0;
      for (int c = 0; c < mono.cols; c += 4) n += k[c] != 0;
      count[i + 1] = n;
    }
  });
  for (int i = 0; i < rows; ++i) count[i + 1] += count[i];
  std::vector<cv::Vec2f> samples(static_cast<std::size_t>(count[rows]));
  parallel_rows(rows, 64, [&](int i0, int i1) {
    for (int i = i0; i < i1; ++i) {
      const int r = 4 * i;
      const float* m = mono.ptr<float>(r);
      const float* y = luma.ptr<float>(r);
      const std::uint8_t* k = mask.ptr<std::uint8_t>(r);
      cv::Vec2f* out = samples.data() + count[i];
      for (int c = 0; c < mono.cols; c += 4)
        if (k[c]) *out++ = cv::Vec2f(y[c], m[c]);
    }
  });
  return samples;
}

void fit_linear_samples(const std::vector<cv::Vec2f>& samples, double& gain, double& offset) {
  gain = 1;
  offset = 0;
  double cutoff = std::numeric_limits<double>::infinity();
  std::vector<float> residuals(samples.size());
  for (int pass = 0; pass < 3; ++pass) {
    const double g0 = gain, o0 = offset, cut = cutoff;
    const LineSums s = chunked_sum<LineSums>(samples.size(), [&](std::size_t i0, std::size_t i1, LineSums& acc) {
      for (std::size_t i = i0; i < i1; ++i) {
        const float y = samples[i][0], m = samples[i][1];
        if (std::abs(m - (g0 * y + o0)) > cut) continue;
        acc.sx += y;
        acc.sy += m;
        acc.sxx += double(y) * y;
        acc.sxy += double(y) * m;
        ++acc.n;
      }
    });
    const double den = s.n * s.sxx - s.sx * s.sx;
    if (s.n < 16 || std::abs(den) < 1e-12) return;
    const double g = (s.n * s.sxy - s.sx * s.sy) / den;
    const double o = (s.sy - g * s.sx) / s.n;
    if (!(g > 1e-3) || !std::isfinite(o)) return;
    gain = g;
    offset = o;
    if (samples.empty()) return;
    parallel_rows(int((samples.size() + 4095) / 4096), 1, [&](int c0, int c1) {
      for (std::size_t i = c0 * std::size_t(4096), e = std::min(samples.size(), c1 * std::size_t(4096)); i < e; ++i)
        residuals[i] = std::abs(samples[i][1] - float(gain * samples[i][0] + offset));
    });
    cutoff = std::max(1e-4, 2.5 * 1.4826 * double(kth_nonneg(residuals, residuals.size() / 2)));
  }
}

void fit_linear(const cv::Mat& mono, const cv::Mat& luma, const cv::Mat& mask, double& gain, double& offset) {
  fit_linear_samples(gather_fit_samples(mono, luma, mask), gain, offset);
}

MonoClip find_mono_clip(const cv::Mat& mono) {
  MonoClip c;
  const int H = mono.rows, W = mono.cols;
  constexpr int kBand = 32;
  const int bands = (H + kBand - 1) / kBand;
  std::vector<float> band_max(static_cast<std::size_t>(bands));
  parallel_rows(bands, 1, [&](int b0, int b1) {
    for (int b = b0; b < b1; ++b) {
      float hi = -std::numeric_limits<float>::infinity();
      for (int r = b * kBand; r < std::min(H, (b + 1) * kBand); ++r) {
        const float* m = mono.ptr<float>(r);
        for (int x = 0; x < W; ++x) hi = std::max(hi, m[x]);
      }
      band_max[b] = hi;
    }
  });
  const float hi = *std::max_element(band_max.begin(), band_max.end());
  c.level = hi;
  if (!(hi > 0)) return c;
  const float top_level = float(0.995 * hi), below_level = float(0.95 * hi);
  std::vector<long long> n_top(static_cast<std::size_t>(bands)), n_below(static_cast<std::size_t>(bands));
  parallel_rows(bands, 1, [&](int b0, int b1) {
    for (int b = b0; b < b1; ++b) {
      int top = 0, below = 0;
      for (int r = b * kBand; r < std::min(H, (b + 1) * kBand); ++r) {
        const float* m = mono.ptr<float>(r);
        for (int x = 0; x < W; ++x) {
          top += m[x] >= top_level;
          below += m[x] >= below_level;
        }
      }
      n_top[b] = top;
      n_below[b] = below - top;
    }
  });
  double top = 0, below = 0;
  for (int b = 0; b < bands; ++b) top += double(n_top[b]), below += double(n_below[b]);
  if (top / 0.005 <= 3.0 * below / 0.045) return c;
  c.clipped.create(mono.size(), CV_8U);
  parallel_rows(H, 32, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      const float* m = mono.ptr<float>(r);
      std::uint8_t* k = c.clipped.ptr<std::uint8_t>(r);
      for (int x = 0; x < W; ++x) k[x] = m[x] >= top_level ? 255 : 0;
    }
  });
  c.share = top / double(mono.total());
  return c;
}

cv::Mat usable_mask(const cv::Mat& valid, const MonoClip& clip, const cv::Mat& element) {
  if (clip.clipped.empty()) return valid;
  cv::Mat near_clip;
  cv::dilate(clip.clipped, near_clip, element);
  return valid & ~near_clip;
}

cv::Vec3d fit_mono_response(const cv::Mat& mono, const cv::Mat& bgr, const cv::Mat& usable) {
  const int H = mono.rows, W = mono.cols;
  const int f = std::min(H, W) >= 64 ? 4 : 1;
  if (W % f == 0 && H % f == 0) return fit_response(block_samples(mono, bgr, usable, f));
  // cv::resize INTER_AREA shares the partial blocks out
  const cv::Size reduced((W + f - 1) / f, (H + f - 1) / f);
  cv::Mat mono_s, color_s, share;
  cv::resize(mono, mono_s, reduced, 0, 0, cv::INTER_AREA);
  cv::resize(bgr, color_s, reduced, 0, 0, cv::INTER_AREA);
  usable.convertTo(share, CV_32F, 1.0 / 255.0);
  cv::resize(share, share, reduced, 0, 0, cv::INTER_AREA);
  return fit_response(block_samples(mono_s, color_s, share > 0.999, 1));
}

}  // namespace dualcam::fusion::detail
