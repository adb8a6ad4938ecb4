#include "dualcam/fusion/guided.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "dualcam/engine/error.hpp"
#include "dualcam/engine/parallel.hpp"
#include "guided_rows.hpp"
#include "resample.hpp"

namespace dualcam::fusion {
namespace {

// Index of BORDER_REFLECT (cba|abcdef|fed), as cv::boxFilter's border in the guided filter.
inline int reflect(int i, int n) {
  if (n == 1) return 0;
  while (i < 0 || i >= n) i = i < 0 ? -i - 1 : 2 * n - i - 1;
  return i;
}

// Rows per band. Each band is computed on its own, from the image only, so the result does not
// depend on how bands are spread over threads.
constexpr int kBandRows = 64;

// A row padded by r on each side with BORDER_REFLECT: pad[r + x] = f(x) for x in [0, W).
template <typename F>
inline void fill_padded(float* pad, int W, int r, const int* xs, F&& f) {
  float* mid = pad + r;
  for (int x = 0; x < W; ++x) mid[x] = f(x);
  for (int i = 0; i < r; ++i) {
    pad[i] = mid[xs[i]];
    pad[r + W + i] = mid[xs[r + W + i]];
  }
}

// Horizontal box sums of (2r+1) over one padded row: out[x] = pad[x] + pad[x+1] + ... +
// pad[x+2r], always summed in this order.
inline void hbox(const float* pad, int W, int r, float* out) {
  std::copy(pad, pad + W, out);
  for (int k = 1; k <= 2 * r; ++k) {
    const float* p = pad + k;
    for (int x = 0; x < W; ++x) out[x] += p[x];
  }
}

// scale * (sum of `n` rows, in order).
inline void vsum(const float* const* rows, int n, int W, float scale, float* out) {
  std::copy(rows[0], rows[0] + W, out);
  for (int k = 1; k < n; ++k) {
    const float* p = rows[k];
    for (int x = 0; x < W; ++x) out[x] += p[x];
  }
  for (int x = 0; x < W; ++x) out[x] *= scale;
}

// The guided filter's smoothed coefficients mean(a), mean(b) of every channel of `p` (C = 1 or 3
// channels) with the one-channel guide `g`, both CV_32F of one size, window (2r+1)^2 with
// BORDER_REFLECT (as cv::ximgproc::guidedFilter). Streams over rows with two rings of 2r+1 row
// buffers (box sums of I, I^2, p_c, I p_c; then of a_c, b_c), so no full-size temporary is made
// and the working set stays in cache. `emit(y, mean_a, mean_b)` receives each output row,
// planar: mean_a[c * W + x].
// `eps_map` (CV_32F of the guide's size, may be null) adds to eps at each window's centre: a
// noisy guide's own noise variance there (its variance in a flat window is its noise, which must
// not read as structure to transfer).
template <typename Emit>
void guided_coefficients(const cv::Mat& g, const cv::Mat& p, int r, float eps, const cv::Mat* eps_map, Emit&& emit) {
  const int W = g.cols, H = g.rows, C = p.channels();
  const int Q = 2 + 2 * C;  // I, I*I, p_c, I*p_c
  const int R = 2 * r + 1;  // ring slots: row y lives in slot y % R
  const bool whole = H <= R;  // tiny image: every row is needed at once
  const float inv_area = 1.0f / float(R * R);
  const std::size_t row1 = static_cast<std::size_t>(Q) * W, row2 = static_cast<std::size_t>(2 * C) * W;
  const int bands = (H + kBandRows - 1) / kBandRows;
  parallel_rows(bands, 1, [&](int b0, int b1) {
    std::vector<int> xs(static_cast<std::size_t>(W + 2 * r));
    for (int i = 0; i < W + 2 * r; ++i) xs[i] = reflect(i - r, W);
    const std::size_t slots = whole ? static_cast<std::size_t>(H) : static_cast<std::size_t>(R);
    std::vector<float> pad(static_cast<std::size_t>(W + 2 * r)), planar(static_cast<std::size_t>(C) * W);
    std::vector<float> hs(row1 * slots), ab(row2 * slots), mean(row1), coef(row2), out(row2);
    std::vector<const float*> rows(R);
    auto slot = [&](int y) { return whole ? static_cast<std::size_t>(y) : static_cast<std::size_t>(y % R); };
    // Stage 1 of image row y: horizontal box sums of the products.
    auto stage1 = [&](int y) {
      const float* gi = g.ptr<float>(y);
      const float* pi = p.ptr<float>(y);
      float* h = hs.data() + row1 * slot(y);
      for (int x = 0; x < W; ++x)
        for (int c = 0; c < C; ++c) planar[static_cast<std::size_t>(c) * W + x] = pi[x * C + c];
      fill_padded(pad.data(), W, r, xs.data(), [&](int x) { return gi[x]; });
      hbox(pad.data(), W, r, h);
      fill_padded(pad.data(), W, r, xs.data(), [&](int x) { return gi[x] * gi[x]; });
      hbox(pad.data(), W, r, h + W);
      for (int c = 0; c < C; ++c) {
        const float* pc = planar.data() + static_cast<std::size_t>(c) * W;
        fill_padded(pad.data(), W, r, xs.data(), [&](int x) { return pc[x]; });
        hbox(pad.data(), W, r, h + static_cast<std::size_t>(2 + c) * W);
        fill_padded(pad.data(), W, r, xs.data(), [&](int x) { return gi[x] * pc[x]; });
        hbox(pad.data(), W, r, h + static_cast<std::size_t>(2 + C + c) * W);
      }
    };
    // Stage 2 of row y: the means, a = cov(I, p) / (var(I) + eps), b = mean(p) - a mean(I), and
    // the horizontal box sums of a and b.
    auto stage2 = [&](int y) {
      for (int q = 0; q < Q; ++q) {
        for (int k = -r; k <= r; ++k) rows[k + r] = hs.data() + row1 * slot(reflect(y + k, H)) + q * W;
        vsum(rows.data(), R, W, inv_area, mean.data() + static_cast<std::size_t>(q) * W);
      }
      const float* mi = mean.data();
      const float* mii = mi + W;
      const float* em = eps_map ? eps_map->ptr<float>(y) : nullptr;
      for (int c = 0; c < C; ++c) {
        const float* mp = mean.data() + static_cast<std::size_t>(2 + c) * W;
        const float* mip = mean.data() + static_cast<std::size_t>(2 + C + c) * W;
        float* a = coef.data() + static_cast<std::size_t>(c) * W;
        float* b = coef.data() + static_cast<std::size_t>(C + c) * W;
        for (int x = 0; x < W; ++x) {
          const float var = mii[x] - mi[x] * mi[x];
          const float cov = mip[x] - mi[x] * mp[x];
          a[x] = cov / (var + (em ? eps + em[x] : eps));
          b[x] = mp[x] - a[x] * mi[x];
        }
      }
      float* dst = ab.data() + row2 * slot(y);
      for (int q = 0; q < 2 * C; ++q) {
        const float* src = coef.data() + static_cast<std::size_t>(q) * W;
        fill_padded(pad.data(), W, r, xs.data(), [&](int x) { return src[x]; });
        hbox(pad.data(), W, r, dst + static_cast<std::size_t>(q) * W);
      }
    };
    for (int band = b0; band < b1; ++band) {
      const int y0 = band * kBandRows, y1 = std::min(H, y0 + kBandRows);
      // Rows [next1, ...) of stage 1 and [next2, ...) of stage 2 are still to be computed; a row
      // y of stage 2 (3) reads rows of stage 1 (2) within [y - r, y + r] only.
      int next1 = whole ? 0 : std::max(0, y0 - 2 * r);
      int next2 = whole ? 0 : std::max(0, y0 - r);
      for (int y = y0; y < y1; ++y) {
        const int need2 = whole ? H - 1 : std::min(H - 1, y + r);
        for (; next2 <= need2; ++next2) {
          const int need1 = whole ? H - 1 : std::min(H - 1, next2 + r);
          for (; next1 <= need1; ++next1) stage1(next1);
          stage2(next2);
        }
        for (int q = 0; q < 2 * C; ++q) {
          for (int k = -r; k <= r; ++k) rows[k + r] = ab.data() + row2 * slot(reflect(y + k, H)) + q * W;
          vsum(rows.data(), R, W, inv_area, out.data() + static_cast<std::size_t>(q) * W);
        }
        emit(y, out.data(), out.data() + static_cast<std::size_t>(C) * W);
      }
    }
  });
}

}  // namespace

namespace detail {

GuidedRows::GuidedRows(const cv::Mat& g, const cv::Mat& p, cv::Size full, int r, double eps, int block,
                       const cv::Mat* eps_map)
    : C_(p.channels()), full_width_(full.width) {
  const int C = C_, w = g.cols;
  if (eps_map && (eps_map->type() != CV_32FC1 || eps_map->size() != g.size()))
    throw_invalid("GuidedRows: the eps map must be CV_32FC1 of the reduced guide's size");
  coef_.create(g.size(), CV_32FC(2 * C));
  guided_coefficients(g, p, r, float(eps), eps_map, [&](int y, const float* ma, const float* mb) {
    float* o = coef_.ptr<float>(y);
    for (int c = 0; c < C; ++c)
      for (int x = 0; x < w; ++x) {
        o[x * 2 * C + c] = ma[c * w + x];
        o[x * 2 * C + C + c] = mb[c * w + x];
      }
  });
  const double step = block > 0 ? 1.0 / block : 0.0;
  linear_axis(full.width, g.cols, x0_, tx_, step);
  linear_axis(full.height, g.rows, y0_, ty_, step);
}

GuidedRows GuidedRows::with_coefficients(const cv::Mat& coef) const {
  if (coef.type() != coef_.type()) throw_invalid("GuidedRows::with_coefficients: the coefficients' layout differs");
  GuidedRows g(*this);
  g.coef_ = coef;
  linear_axis(full_width_, coef.cols, g.x0_, g.tx_);
  linear_axis(int(y0_.size()), coef.rows, g.y0_, g.ty_);
  return g;
}

GuidedRows GuidedRows::resampled(cv::Size size) const {
  GuidedRows g(*this);
  g.full_width_ = size.width;
  linear_axis(size.width, coef_.cols, g.x0_, g.tx_);
  linear_axis(size.height, coef_.rows, g.y0_, g.ty_);
  return g;
}

void GuidedRows::row(int y, const float* gi, float* o, std::vector<float>& row) const {
  // Vertical interpolation of the coefficient rows, then horizontal per pixel.
  const int C = C_, K = 2 * C, sw = coef_.cols;
  row.resize(static_cast<std::size_t>(sw) * K);
  const float* c0 = coef_.ptr<float>(y0_[y]);
  const float* c1 = coef_.ptr<float>(std::min(y0_[y] + 1, coef_.rows - 1));
  const float wy = ty_[y];
  for (int i = 0; i < sw * K; ++i) row[i] = c0[i] + wy * (c1[i] - c0[i]);
  if (C == 3 && full_width_ == 2 * sw && sw >= 2) {
    // Twice the reduced width (the common case): pixels 2i - 1 and 2i lie between coefficients
    // i - 1 and i, at 1/4 and 3/4; the first and the last pixel take the end ones. The same
    // arithmetic as below, one difference per pair.
    const float* r = row.data();
    auto end_pixel = [&](int x, const float* a) {
      for (int c = 0; c < 3; ++c) o[x * 3 + c] = a[c] * gi[x] + a[3 + c];
    };
    end_pixel(0, r);
    for (int i = 1; i < sw; ++i) {
      const float* a = r + static_cast<std::size_t>(i - 1) * 6;
      const float* b = a + 6;
      float d[6];
      for (int k = 0; k < 6; ++k) d[k] = b[k] - a[k];
      const float g0 = gi[2 * i - 1], g1 = gi[2 * i];
      float* o0 = o + static_cast<std::size_t>(2 * i - 1) * 3;
      for (int c = 0; c < 3; ++c) {
        o0[c] = (a[c] + 0.25f * d[c]) * g0 + (a[3 + c] + 0.25f * d[3 + c]);
        o0[3 + c] = (a[c] + 0.75f * d[c]) * g1 + (a[3 + c] + 0.75f * d[3 + c]);
      }
    }
    end_pixel(full_width_ - 1, r + static_cast<std::size_t>(sw - 1) * 6);
    return;
  }
  for (int x = 0; x < full_width_; ++x) {
    const float* a = row.data() + static_cast<std::size_t>(x0_[x]) * K;
    const float* b = row.data() + static_cast<std::size_t>(std::min(x0_[x] + 1, sw - 1)) * K;
    const float wx = tx_[x];
    for (int c = 0; c < C; ++c) {
      const float ca = a[c] + wx * (b[c] - a[c]);
      const float cb = a[C + c] + wx * (b[C + c] - a[C + c]);
      o[x * C + c] = ca * gi[x] + cb;
    }
  }
}

}  // namespace detail

cv::Mat guided_filter(const cv::Mat& guide, const cv::Mat& src, int radius, double eps, int subsample) {
  if (guide.type() != CV_32FC1 || (src.type() != CV_32FC1 && src.type() != CV_32FC3) || guide.size() != src.size())
    throw_invalid("guided_filter: expects a CV_32FC1 guide and a CV_32FC1/3 source of the same size");
  if (radius < 1 || subsample < 1) throw_invalid("guided_filter: radius and subsample must be >= 1");
  const int s = std::min(subsample, std::max(1, radius));
  const int C = src.channels(), W = guide.cols;
  cv::Mat out(guide.size(), src.type());
  if (s == 1) {
    guided_coefficients(guide, src, radius, float(eps), nullptr, [&](int y, const float* ma, const float* mb) {
      const float* gi = guide.ptr<float>(y);
      float* o = out.ptr<float>(y);
      for (int c = 0; c < C; ++c)
        for (int x = 0; x < W; ++x) o[x * C + c] = ma[c * W + x] * gi[x] + mb[c * W + x];
    });
    return out;
  }
  // Fast guided filter: the coefficients at 1/s resolution, bilinearly upsampled and applied to
  // the full-resolution guide in one pass.
  const cv::Size small((guide.cols + s - 1) / s, (guide.rows + s - 1) / s);
  cv::Mat g, p;
  cv::resize(guide, g, small, 0, 0, cv::INTER_AREA);
  cv::resize(src, p, small, 0, 0, cv::INTER_AREA);
  const detail::GuidedRows rows(g, p, guide.size(), std::max(1, radius / s), eps);
  parallel_rows(guide.rows, 16, [&](int r0, int r1) {
    std::vector<float> scratch;
    for (int y = r0; y < r1; ++y) rows.row(y, guide.ptr<float>(y), out.ptr<float>(y), scratch);
  });
  return out;
}

}  // namespace dualcam::fusion
