#include "dualcam/fusion/merge.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include <opencv2/imgproc.hpp>
#include <opencv2/ximgproc/edge_filter.hpp>
#include <tbb/combinable.h>

#include "dualcam/engine/color.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/parallel.hpp"
#include "dualcam/engine/srgb_tables.hpp"
#include "dualcam/fusion/guided.hpp"
#include "guided_rows.hpp"
#include "resample.hpp"

namespace dualcam::fusion {
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

// The value std::nth_element(v.begin(), v.begin() + k, v.end()) puts at k, for finite values
// >= 0 (residual magnitudes): a radix select on the float bit patterns, which sort as the values
// do when the sign is clear. The histogram of the top 16 bits is counted in parallel (integer
// counts: the same for any thread count); the values of the bin that holds the k-th are then
// selected exactly.
float kth_nonneg(const std::vector<float>& v, std::size_t k) {
  auto key = [](float f) {
    std::uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return (u & 0x80000000u) ? 0u : u;  // -0 sorts as 0
  };
  const std::size_t n = v.size();
  constexpr std::size_t kChunk = std::size_t(1) << 16;
  const int chunks = int((n + kChunk - 1) / kChunk);
  tbb::combinable<std::vector<std::uint32_t>> local([] { return std::vector<std::uint32_t>(65536, 0); });
  parallel_rows(chunks, 1, [&](int c0, int c1) {
    std::vector<std::uint32_t>& h = local.local();
    for (std::size_t i = c0 * kChunk, e = std::min(n, c1 * kChunk); i < e; ++i) ++h[key(v[i]) >> 16];
  });
  std::vector<std::uint64_t> hist(65536, 0);
  local.combine_each([&](const std::vector<std::uint32_t>& h) {
    for (std::size_t i = 0; i < hist.size(); ++i) hist[i] += h[i];
  });
  std::uint32_t bin = 0;
  std::uint64_t below = 0;
  while (below + hist[bin] <= k) below += hist[bin++];
  std::vector<float> in_bin;
  in_bin.reserve(static_cast<std::size_t>(hist[bin]));
  for (float f : v)
    if ((key(f) >> 16) == bin) in_bin.push_back(f);
  auto mid = in_bin.begin() + static_cast<std::ptrdiff_t>(k - below);
  std::nth_element(in_bin.begin(), mid, in_bin.end());
  return *mid;
}

// Samples (luma, mono) of the pixels in `mask` on every fourth row and column, in row order (rows
// in parallel into their own slots, then packed). For a global fit that is plenty: 750 000
// samples at 12 MP (every second row and column gave the same dev-set means).
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

struct LineSums {
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  long long n = 0;
  LineSums& operator+=(const LineSums& o) {
    sx += o.sx, sy += o.sy, sxx += o.sxx, sxy += o.sxy, n += o.n;
    return *this;
  }
};

// Least-squares fit mono = gain * luma + offset over `samples` (luma, mono), then refit on the
// samples whose residual is within 2.5 robust sigmas (misaligned pixels must not bend the fit).
// Sums and the median in parallel, deterministic for any thread count.
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

// Least-squares fit mono = gain * luma + offset over the pixels in `mask` (every fourth row and
// column), as fit_linear_samples.
void fit_linear(const cv::Mat& mono, const cv::Mat& luma, const cv::Mat& mask, double& gain, double& offset) {
  fit_linear_samples(gather_fit_samples(mono, luma, mask), gain, offset);
}

// The mono's clipping, estimated from the image itself. The candidate level is its largest value;
// it is a clip when the pixels within 0.5 % of it pile up: more of them per unit of level than
// 3x the density just below (the 5 % under it). 8-bit: the top code against the next eight. An
// image that is not clipped then marks nothing.
struct MonoClip {
  float level = 1;    // linear light
  double share = 0;   // share of clipped pixels (0: not clipped)
  cv::Mat clipped;    // CV_8U 255 on clipped pixels; empty when not clipped
};

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

// `valid` without the pixels within `element` of a clipped one.
cv::Mat usable_mask(const cv::Mat& valid, const MonoClip& clip, const cv::Mat& element) {
  if (clip.clipped.empty()) return valid;
  cv::Mat near_clip;
  cv::dilate(clip.clipped, near_clip, element);
  return valid & ~near_clip;
}

// Index of BORDER_REFLECT_101 (dcb|abcd|cba).
inline int reflect101(int i, int n) {
  if (n == 1) return 0;
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * n - i - 2;
  return i;
}

// Binary mask -> soft weight that is 0 outside the mask and rises to 1 within `feather` px: the
// mask eroded by an elliptic element of diameter 2 feather + 1 (outside the image counts as
// inside the mask), box-averaged over the same size (borders reflected, 101), times the mask:
// what cv::erode + cv::blur + a product give, in one parallel pass over bands of rows. The
// erosion clears, around each run of zeros of the mask, the run widened by the element's row.
cv::Mat feathered(const cv::Mat& mask, int feather) {
  const int H = mask.rows, W = mask.cols, f = feather;
  cv::Mat w(mask.size(), CV_32F);
  if (f <= 0) {
    parallel_rows(H, 64, [&](int r0, int r1) {
      for (int r = r0; r < r1; ++r) {
        const std::uint8_t* m = mask.ptr<std::uint8_t>(r);
        float* o = w.ptr<float>(r);
        for (int x = 0; x < W; ++x) o[x] = float(m[x]) * (1.0f / 255.0f);
      }
    });
    return w;
  }
  // Half-width of the element's run of ones on each of its rows (-1: none).
  const int k = 2 * f + 1;
  const cv::Mat element = cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(k, k));
  std::vector<int> half(static_cast<std::size_t>(k), -1);
  for (int i = 0; i < k; ++i) {
    const int ones = cv::countNonZero(element.row(i));
    if (ones > 0) half[i] = (ones - 1) / 2;
  }
  // The box mean of n eroded pixels, as cv::blur computes it (double sum times 1 / k^2).
  std::vector<float> mean_of(static_cast<std::size_t>(k) * k + 1);
  for (int n = 0; n <= k * k; ++n) mean_of[n] = float(n * (1.0 / (double(k) * k)));
  parallel_rows(H, 32, [&](int r0, int r1) {
    // Eroded rows needed by the box over [r0, r1): [e0, e1]; the mask rows they read: [m0, m1].
    int e0 = H, e1 = -1;
    for (int j = r0 - f; j < r1 + f; ++j) {
      const int jj = reflect101(j, H);
      e0 = std::min(e0, jj), e1 = std::max(e1, jj);
    }
    const int m0 = std::max(0, e0 - f), m1 = std::min(H - 1, e1 + f);
    // Runs of zeros [begin, end) of each mask row.
    std::vector<std::vector<std::pair<int, int>>> runs(static_cast<std::size_t>(m1 - m0 + 1));
    for (int y = m0; y <= m1; ++y) {
      const std::uint8_t* m = mask.ptr<std::uint8_t>(y);
      auto& rr = runs[y - m0];
      for (int x = 0; x < W;) {
        const void* zero = std::memchr(m + x, 0, static_cast<std::size_t>(W - x));
        if (!zero) break;
        const int b = int(static_cast<const std::uint8_t*>(zero) - m);
        x = b;
        while (x < W && !m[x]) ++x;
        rr.emplace_back(b, x);
      }
    }
    // Columns where the weight can be below 1: zero runs widened by the element and the box
    // (reflection at the borders stays inside that). Elsewhere the weight is the mask's own.
    const int hw_max = *std::max_element(half.begin(), half.end());
    std::vector<std::pair<int, int>> spans;
    for (const auto& rr : runs)
      for (const auto& run : rr) spans.emplace_back(std::max(0, run.first - hw_max - f), std::min(W, run.second + hw_max + f));
    std::sort(spans.begin(), spans.end());
    std::vector<std::pair<int, int>> merged;
    for (const auto& sp : spans) {
      if (!merged.empty() && sp.first <= merged.back().second)
        merged.back().second = std::max(merged.back().second, sp.second);
      else
        merged.push_back(sp);
    }
    for (int y = r0; y < r1; ++y) {
      const std::uint8_t* m = mask.ptr<std::uint8_t>(y);
      float* o = w.ptr<float>(y);
      for (int x = 0; x < W; ++x) o[x] = float(m[x]) * (1.0f / 255.0f);
    }
    if (merged.empty()) return;
    // Horizontal box sums (reflect 101) of each eroded row, within the spans.
    std::vector<int> hsum(static_cast<std::size_t>(e1 - e0 + 1) * W);
    std::vector<std::uint8_t> eroded(static_cast<std::size_t>(W + 2 * f + 1), 0);
    for (int y = e0; y <= e1; ++y) {
      std::uint8_t* er = eroded.data() + f;
      std::fill(er, er + W, std::uint8_t(1));
      for (int i = 0; i < k; ++i) {
        const int yy = y + i - f;
        if (half[i] < 0 || yy < 0 || yy >= H) continue;
        for (const auto& run : runs[yy - m0]) {
          const int a = std::max(0, run.first - half[i]), b = std::min(W, run.second + half[i]);
          std::fill(er + a, er + b, std::uint8_t(0));
        }
      }
      for (int i = 1; i <= f; ++i) {
        er[-i] = er[reflect101(-i, W)];
        er[W - 1 + i] = er[reflect101(W - 1 + i, W)];
      }
      int* hs = hsum.data() + static_cast<std::size_t>(y - e0) * W;
      for (const auto& sp : merged) {
        int s = 0;
        for (int i = -f; i <= f; ++i) s += er[sp.first + i];
        for (int x = sp.first; x < sp.second; ++x) {
          hs[x] = s;
          s += er[x + 1 + f] - er[x - f];
        }
      }
    }
    std::vector<const int*> rows(static_cast<std::size_t>(k));
    for (int y = r0; y < r1; ++y) {
      for (int i = 0; i < k; ++i) rows[i] = hsum.data() + static_cast<std::size_t>(reflect101(y + i - f, H) - e0) * W;
      const std::uint8_t* m = mask.ptr<std::uint8_t>(y);
      float* o = w.ptr<float>(y);
      for (const auto& sp : merged)
        for (int x = sp.first; x < sp.second; ++x) {
          int s = 0;
          for (int i = 0; i < k; ++i) s += rows[i][x];
          o[x] = m[x] ? mean_of[s] * (float(m[x]) * (1.0f / 255.0f)) : 0.0f;
        }
    }
  });
  return w;
}

// Mean over a (2 radius + 1)^2 box of a CV_32F image, borders reflected (101): what cv::blur
// gives (sums in double), rows in bands in parallel.
cv::Mat box_mean(const cv::Mat& src, int radius) {
  const int H = src.rows, W = src.cols, k = 2 * radius + 1;
  const double scale = 1.0 / (double(k) * k);
  cv::Mat out(src.size(), CV_32F);
  std::vector<int> xs(static_cast<std::size_t>(W + 2 * radius));
  for (int i = 0; i < W + 2 * radius; ++i) xs[i] = reflect101(i - radius, W);
  parallel_rows(H, 32, [&](int r0, int r1) {
    const int h0 = std::max(0, r0 - radius), h1 = std::min(H, r1 + radius);
    // Horizontal sums of the rows the band reads (reflected rows are among them).
    int lo = h0, hi = h1;
    for (int y = r0; y < r1; ++y)
      for (int i = -radius; i <= radius; ++i) {
        const int yy = reflect101(y + i, H);
        lo = std::min(lo, yy), hi = std::max(hi, yy + 1);
      }
    std::vector<double> hs(static_cast<std::size_t>(hi - lo) * W);
    for (int y = lo; y < hi; ++y) {
      const float* s = src.ptr<float>(y);
      double* h = hs.data() + static_cast<std::size_t>(y - lo) * W;
      for (int x = 0; x < W; ++x) {
        double sum = 0;
        for (int i = 0; i < k; ++i) sum += s[xs[x + i]];
        h[x] = sum;
      }
    }
    std::vector<double> col(static_cast<std::size_t>(W));
    for (int y = r0; y < r1; ++y) {
      std::fill(col.begin(), col.end(), 0.0);
      for (int i = -radius; i <= radius; ++i) {
        const double* h = hs.data() + static_cast<std::size_t>(reflect101(y + i, H) - lo) * W;
        for (int x = 0; x < W; ++x) col[x] += h[x];
      }
      float* o = out.ptr<float>(y);
      for (int x = 0; x < W; ++x) o[x] = float(col[x] * scale);
    }
  });
  return out;
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

void check_inputs(const cv::Mat& three, const cv::Mat& one, const cv::Mat& valid) {
  if (three.type() != CV_32FC3 || one.type() != CV_32FC1 || valid.type() != CV_8UC1 || three.size() != one.size() ||
      valid.size() != one.size())
    throw_invalid("merge: expects CV_32FC3 + CV_32FC1 + CV_8U mask of one size");
}

// Edge-aware normalised convolution (domain transform, Gastal & Oliveira 2011) on reduced images:
// `vw` holds C values x weight and the weight (CV_32FC(C+1), block means), `guide` (CV_32F) the
// guide at the same size; `reach_px` in reduced pixels. What flows into holes is smooth, and the
// reach (tens of pixels) would cost seconds at 12 MP full resolution. Returns the C filled values
// at the reduced size: the caller samples them (bilinearly, as cv::resize) only where needed.
cv::Mat fill_reduced(const cv::Mat& guide, const cv::Mat& vw, double reach_px, double edge) {
  const int C = vw.channels() - 1;
  cv::Mat nd;
  cv::ximgproc::dtFilter(guide, vw, nd, reach_px, edge, cv::ximgproc::DTF_NC, 3);
  cv::Mat filled(nd.size(), CV_32FC(C));
  parallel_rows(nd.rows, 16, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      const float* s = nd.ptr<float>(r);
      float* o = filled.ptr<float>(r);
      for (int x = 0; x < nd.cols; ++x) {
        const float den = std::max(s[x * (C + 1) + C], 1e-6f);
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

// Sizes divisible by 4: one pass makes the encoded guide and, per 2x2 block, the sums of
// chroma x weight, weight and guide, so the full-resolution chroma is never stored; the fill
// works on their 4x4 sums, and the blend of the filled chroma is summed per block.
HalfChroma half_chroma_blocks(const cv::Mat& target, const cv::Mat& color, const cv::Mat& usable,
                              const cv::Mat& weight, double fill_radius, double fill_edge) {
  HalfChroma out;
  out.block = 2;
  const int W = target.cols, H = target.rows;
  const srgb_tables::CurveTable<65536>& enc = srgb_tables::encode_table();
  const int W2 = (W + 1) / 2, H2 = (H + 1) / 2;
  cv::Mat& guide_e = out.guide_e;
  guide_e.create(target.size(), CV_32F);
  cv::Mat half(H2, W2, CV_32FC(5));        // per block: sums of chroma x weight (B, G, R), weight, guide
  cv::Mat partial(H2, W2, CV_8U);          // 1 where a weight of the block is below 1
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
  // The fill at 1/4: block means of chroma x weight, weight and guide.
  const int W4 = (W + 3) / 4, H4 = (H + 3) / 4;
  cv::Mat vw_q(H4, W4, CV_32FC4), guide_q(H4, W4, CV_32F);
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
  const cv::Mat filled = fill_reduced(guide_q, vw_q, fill_radius / 4.0, fill_edge);
  // The chroma at 1/2: chroma * w + filled * (1 - w) per pixel, the filled chroma upsampled
  // bilinearly (only in blocks where some w < 1), averaged over the block; and the guide there.
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
  return out;
}

// Any size: the same with full-resolution chroma and cv::resize INTER_AREA reductions.
HalfChroma half_chroma_area(const cv::Mat& target, const cv::Mat& color, const cv::Mat& usable, const cv::Mat& weight,
                            double fill_radius, double fill_edge) {
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
  out.samples = gather_fit_samples(out.guide_e, luma, usable);
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
  const cv::Mat filled = fill_reduced(guide_q, vw_q, fill_radius / 4.0, fill_edge);
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
// The model's coefficients are fitted at half resolution and applied to the full-resolution
// guide (the fast guided filter): the mono's detail is kept, the coefficients are smoother and
// cost a quarter. Measured on the 27 dev scenes (P2): 31.13 dB at light 0.05 and 33.72 dB at
// light 1.0, against 30.89 / 33.62 dB with the coefficients at full resolution.
cv::Mat local_transfer(const cv::Mat& guide, const cv::Mat& color, const MergeOptions& o) {
  return guided_filter(guide, color, o.transfer_radius, o.transfer_eps, 2);
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
  energy = box_mean(energy, o.detail_radius);
  std::vector<float> samples;
  const int sw = (energy.cols + 2) / 3;
  samples.resize(static_cast<std::size_t>((energy.rows + 2) / 3) * sw);
  parallel_rows((energy.rows + 2) / 3, 64, [&](int i0, int i1) {
    for (int i = i0; i < i1; ++i) {
      const float* e = energy.ptr<float>(3 * i);
      for (int c = 0; c < sw; ++c) samples[static_cast<std::size_t>(i) * sw + c] = e[3 * c];
    }
  });
  const float noise = float(o.detail_noise_scale) * kth_nonneg(samples, samples.size() / 2);
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
  const int W = color.cols;
  // Rec. 709 luminance (engine's luminance(), rows in parallel).
  cv::Mat luma(color.size(), CV_32F);
  parallel_rows(color.rows, 32, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      const float* c = color.ptr<float>(r);
      float* y = luma.ptr<float>(r);
      for (int x = 0; x < W; ++x) y[x] = 0.0722f * c[3 * x] + 0.7152f * c[3 * x + 1] + 0.2126f * c[3 * x + 2];
    }
  });
  const MonoClip clip = find_mono_clip(mono_warped);
  res.mono_clip_level = clip.level;
  res.mono_clipped_share = clip.share;
  const cv::Mat usable = usable_mask(valid, clip, cv::Mat());
  fit_linear(mono_warped, luma, usable, res.fit_gain, res.fit_offset);
  // Where the mono is unknown or clipped, the guide is the colour's own luminance brought to the
  // mono's scale, so those pixels keep (lightly smoothed) colour-camera content.
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
  const int H = mono.rows, W = mono.cols;
  // The mono sees more light and clips first. Its clip level comes from the data; pixels near
  // clipped ones are left out of every fit.
  const MonoClip clip = find_mono_clip(mono);
  res.mono_clip_level = clip.level;
  res.mono_clipped_share = clip.share;
  const cv::Mat usable = usable_mask(valid, clip, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(5, 5)));
  // The mono's spectral response (which sets the exposure ratio too), fitted globally in linear
  // light on both images averaged over 4x4 blocks: averaging keeps a linear relation linear and
  // takes the colour camera's noise out, and the reduced fit costs little at 12 MP. A block
  // counts only when all of it is usable.
  const int f = std::min(H, W) >= 64 ? 4 : 1;
  std::vector<ResponseSample> blocks;
  if (W % f == 0 && H % f == 0) {
    blocks = block_samples(mono, color_warped, usable, f);
  } else {  // cv::resize INTER_AREA shares the partial blocks out
    const cv::Size reduced((W + f - 1) / f, (H + f - 1) / f);
    cv::Mat mono_s, color_s, share;
    cv::resize(mono, mono_s, reduced, 0, 0, cv::INTER_AREA);
    cv::resize(color_warped, color_s, reduced, 0, 0, cv::INTER_AREA);
    usable.convertTo(share, CV_32F, 1.0 / 255.0);
    cv::resize(share, share, reduced, 0, 0, cv::INTER_AREA);
    blocks = block_samples(mono_s, color_s, share > 0.999, 1);
  }
  const cv::Vec3d a = fit_response(blocks);
  blocks = {};
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
  res.weight = feathered(valid, o.feather_px);
  HalfChroma hc = W % 4 == 0 && H % 4 == 0
                      ? half_chroma_blocks(target, color_warped, usable, res.weight, o.fill_radius, o.fill_edge)
                      : half_chroma_area(target, color_warped, usable, res.weight, o.fill_radius, o.fill_edge);
  const cv::Mat& guide_e = hc.guide_e;
  fit_linear_samples(hc.samples, res.fit_gain, res.fit_offset);
  hc.samples = {};
  const detail::GuidedRows smooth(hc.guide_s, hc.chroma_s, mono.size(), std::max(1, o.chroma_radius / 2),
                                  o.chroma_eps, hc.block);
  // First estimate: one global mapping of the mono onto the colour's luma. (Per-window weighted
  // fits lost 0.5-2 dB on the dev set: wherever the warp is wrong they learn the wrong surface's
  // relation.)
  const float y_scale = float(1.0 / res.fit_gain), y_shift = float(-res.fit_offset / res.fit_gain);
  // Then each pixel's colour (that luminance + the smoothed chroma) is scaled in linear light
  // until the mono's response to it equals the target: the colour keeps its hue and saturation
  // and the mono's spectral mismatch, which depends on the surface colour, is undone. Two rounds:
  // the chroma is held in the encoded domain, so the first scaling moves it slightly. Measured on
  // the 27 dev scenes (P1): +0.7 dB with the default mono, +1.3 dB with the mono weights
  // 0.20,0.40,0.40 and gain 1.3.
  // Row by row, with the smoothing, in one pass over memory.
  const srgb_tables::CurveTable<65536>& enc = srgb_tables::encode_table();
  const srgb_tables::CurveTable<4096>& dec = srgb_tables::decode_table();
  const float eps = float(o.response_eps);
  const float rb = response(0), rg = response(1), rr = response(2);
  res.image.create(mono.size(), CV_32FC3);
  parallel_rows(H, 8, [&](int r0, int r1) {
    const int n = 3 * W;
    std::vector<float> ch(static_cast<std::size_t>(n)), e(static_cast<std::size_t>(n)), scratch;
    for (int r = r0; r < r1; ++r) {
      const float* g = guide_e.ptr<float>(r);
      const float* t = target.ptr<float>(r);
      float* v = res.image.ptr<float>(r);
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
  return res;
}

}  // namespace dualcam::fusion
