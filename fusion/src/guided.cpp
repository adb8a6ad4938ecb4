#include "dualcam/fusion/guided.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
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

// Box means over (2r+1)^2 of one plane's valid part: `in` rows x cols (row-major) gives
// (rows - 2r) x (cols - 2r), summed in a fixed order. `tmp` belongs to the caller.
void box_valid(const float* in, int rows, int cols, int r, float* out, std::vector<float>& tmp) {
  const int ow = cols - 2 * r, oh = rows - 2 * r, R = 2 * r + 1;
  const float inv_area = 1.0f / float(R * R);
  tmp.resize(static_cast<std::size_t>(rows) * ow);
  for (int y = 0; y < rows; ++y) hbox(in + static_cast<std::size_t>(y) * cols, ow, r, tmp.data() + static_cast<std::size_t>(y) * ow);
  std::vector<const float*> rs(static_cast<std::size_t>(R));
  for (int y = 0; y < oh; ++y) {
    for (int k = 0; k < R; ++k) rs[k] = tmp.data() + static_cast<std::size_t>(y + k) * ow;
    vsum(rs.data(), R, ow, inv_area, out + static_cast<std::size_t>(y) * ow);
  }
}

// `src` (CV_32F, any channels) padded by m on every side with BORDER_REFLECT, at any size
// (cv::copyMakeBorder refuses a margin wider than the image).
cv::Mat pad_reflect(const cv::Mat& src, int m) {
  cv::Mat out(src.rows + 2 * m, src.cols + 2 * m, src.type());
  const int C = src.channels();
  std::vector<int> xs(static_cast<std::size_t>(out.cols));
  for (int x = 0; x < out.cols; ++x) xs[x] = reflect(x - m, src.cols);
  for (int y = 0; y < out.rows; ++y) {
    const float* s = src.ptr<float>(reflect(y - m, src.rows));
    float* o = out.ptr<float>(y);
    for (int x = 0; x < out.cols; ++x)
      for (int c = 0; c < C; ++c) o[x * C + c] = s[xs[x] * C + c];
  }
  return out;
}

// Reduced rows per band of the colour-guided filter (each band from the image alone, as above).
constexpr int kColorBandRows = 32;

// Columns per tile of a band: the product planes of a tile (with its margins) stay within a core's
// L2 cache (36 x 264 x 21 floats, 0.8 MB, at radius 1 with 3 source channels), where whole rows of a
// 12 MP image's reduction (2000 columns, 6 MB) streamed from memory at each of the passes below.
constexpr int kColorTileCols = 256;

// Per-thread buffers of one band.
struct ColorBand {
  std::vector<float> prod, mean, ab, abm, tmp;
};

// Rows [ya, yb) of the colour-guided filter's smoothed coefficients, planar: out[k * n + y * w + x]
// (n = (yb - ya) * w; k = 3c + j for a[c][j], 3C + c for b[c]; C the source's channels), from the
// reduced guide and source padded by 2r (`gp`, `pp`; w the unpadded width), window (2r+1)^2, tile
// by tile of columns: 9 + 4C planes of products (I_j, I_j I_k, p_c, I_j p_c), their box means, the
// per-window solve, and the box means of the coefficients. A value does not depend on the band or
// tile it is computed in.
void color_guided_band(const cv::Mat& gp, const cv::Mat& pp, int w, int r, float eps, int ya, int yb, ColorBand& sb,
                       float* out) {
  const int m = 2 * r, C = pp.channels(), P = 9 + 4 * C, K = 4 * C;
  const int bh = yb - ya + 2 * m;  // padded rows [ya, yb + 2m)
  const int oh = yb - ya;
  const std::size_t n2 = static_cast<std::size_t>(oh) * w;
  for (int xa = 0; xa < w; xa += kColorTileCols) {
    const int tw = std::min(kColorTileCols, w - xa);
    const int pw = tw + 2 * m;  // padded columns [xa, xa + tw + 2m)
    const std::size_t n0 = static_cast<std::size_t>(bh) * pw;
    sb.prod.resize(P * n0);
    for (int yy = 0; yy < bh; ++yy) {
      const float* gi = gp.ptr<float>(ya + yy) + 3 * xa;
      const float* pi = pp.ptr<float>(ya + yy) + C * xa;
      float* q = sb.prod.data() + static_cast<std::size_t>(yy) * pw;
      for (int x = 0; x < pw; ++x) {
        const float i0 = gi[3 * x], i1 = gi[3 * x + 1], i2 = gi[3 * x + 2];
        q[x] = i0, q[n0 + x] = i1, q[2 * n0 + x] = i2;
        q[3 * n0 + x] = i0 * i0, q[4 * n0 + x] = i0 * i1, q[5 * n0 + x] = i0 * i2;
        q[6 * n0 + x] = i1 * i1, q[7 * n0 + x] = i1 * i2, q[8 * n0 + x] = i2 * i2;
        for (int c = 0; c < C; ++c) {
          const float pc = pi[C * x + c];
          float* qc = q + (9 + C + 3 * c) * n0 + x;
          q[(9 + c) * n0 + x] = pc;
          qc[0] = i0 * pc, qc[n0] = i1 * pc, qc[2 * n0] = i2 * pc;
        }
      }
    }
    const int mh = bh - 2 * r, mw = pw - 2 * r;  // windows centred on padded [r, bh - r)
    const std::size_t n1 = static_cast<std::size_t>(mh) * mw;
    sb.mean.resize(P * n1);
    for (int k = 0; k < P; ++k) box_valid(sb.prod.data() + k * n0, bh, pw, r, sb.mean.data() + k * n1, sb.tmp);
    sb.ab.resize(K * n1);
    const float* q = sb.mean.data();
    float* o = sb.ab.data();
    for (std::size_t i = 0; i < n1; ++i) {
      const float m0 = q[i], m1 = q[n1 + i], m2 = q[2 * n1 + i];
      // Sigma + eps U (symmetric) and its inverse by cofactors.
      const float s00 = q[3 * n1 + i] - m0 * m0 + eps, s01 = q[4 * n1 + i] - m0 * m1, s02 = q[5 * n1 + i] - m0 * m2;
      const float s11 = q[6 * n1 + i] - m1 * m1 + eps, s12 = q[7 * n1 + i] - m1 * m2;
      const float s22 = q[8 * n1 + i] - m2 * m2 + eps;
      const float c00 = s11 * s22 - s12 * s12, c01 = s02 * s12 - s01 * s22, c02 = s01 * s12 - s02 * s11;
      const float c11 = s00 * s22 - s02 * s02, c12 = s01 * s02 - s00 * s12, c22 = s00 * s11 - s01 * s01;
      const float inv_det = 1.0f / (s00 * c00 + s01 * c01 + s02 * c02);
      for (int c = 0; c < C; ++c) {
        const float mp = q[(9 + c) * n1 + i];
        const float* qc = q + (9 + C + 3 * c) * n1 + i;
        const float v0 = qc[0] - m0 * mp, v1 = qc[n1] - m1 * mp, v2 = qc[2 * n1] - m2 * mp;
        const float a0 = (c00 * v0 + c01 * v1 + c02 * v2) * inv_det;
        const float a1 = (c01 * v0 + c11 * v1 + c12 * v2) * inv_det;
        const float a2 = (c02 * v0 + c12 * v1 + c22 * v2) * inv_det;
        o[(3 * c) * n1 + i] = a0, o[(3 * c + 1) * n1 + i] = a1, o[(3 * c + 2) * n1 + i] = a2;
        o[(3 * C + c) * n1 + i] = mp - a0 * m0 - a1 * m1 - a2 * m2;
      }
    }
    const std::size_t nt = static_cast<std::size_t>(oh) * tw;
    sb.abm.resize(K * nt);
    for (int k = 0; k < K; ++k) {
      box_valid(sb.ab.data() + k * n1, mh, mw, r, sb.abm.data() + k * nt, sb.tmp);
      for (int y = 0; y < oh; ++y)
        std::copy_n(sb.abm.data() + k * nt + static_cast<std::size_t>(y) * tw, tw,
                    out + k * n2 + static_cast<std::size_t>(y) * w + xa);
    }
  }
}

}  // namespace

namespace detail {

void color_guided_rows(const cv::Mat& g, const cv::Mat& p, cv::Size full, int r, double eps, int block,
                       const std::function<void(int, float* const*)>& guide_row,
                       const std::function<void(int, const float* const*)>& emit) {
  if (g.type() != CV_32FC3 || p.depth() != CV_32F || p.channels() > 3 || g.size() != p.size())
    throw_invalid("color_guided_rows: expects a CV_32FC3 guide and a CV_32F source of 1-3 channels, of one size");
  const int h = g.rows, w = g.cols, W = full.width, C = p.channels(), K = 4 * C;
  const cv::Mat gp = pad_reflect(g, 2 * r), pp = pad_reflect(p, 2 * r);
  std::vector<int> x0, y0;
  std::vector<float> tx, ty;
  const double step = block > 0 ? 1.0 / block : 0.0;
  linear_axis(W, w, x0, tx, step);
  linear_axis(full.height, h, y0, ty, step);
  std::vector<int> x1(x0.size());
  for (std::size_t i = 0; i < x0.size(); ++i) x1[i] = std::min(x0[i] + 1, w - 1);
  const int bands = (h + kColorBandRows - 1) / kColorBandRows;
  parallel_rows(bands, 1, [&](int b0, int b1) {
    ColorBand sb;
    std::vector<float> coef, hc[2] = {std::vector<float>(static_cast<std::size_t>(K) * W),
                                      std::vector<float>(static_cast<std::size_t>(K) * W)},
                             grow(static_cast<std::size_t>(3) * W), orow(static_cast<std::size_t>(C) * W);
    float* gpl[3] = {grow.data(), grow.data() + W, grow.data() + 2 * W};
    float* opl[3] = {orow.data(), orow.data() + (C > 1 ? W : 0), orow.data() + (C > 2 ? 2 * W : 0)};
    for (int band = b0; band < b1; ++band) {
      // The full rows whose upper coefficient row lies in this band, and the rows they read.
      const int ya = band * kColorBandRows, yb = std::min(h, ya + kColorBandRows), yc = std::min(h, yb + 1);
      const int fa = int(std::lower_bound(y0.begin(), y0.end(), ya) - y0.begin());
      const int fb = int(std::lower_bound(y0.begin(), y0.end(), yb) - y0.begin());
      if (fa == fb) continue;
      coef.resize(static_cast<std::size_t>(K) * (yc - ya) * w);
      color_guided_band(gp, pp, w, r, float(eps), ya, yc, sb, coef.data());
      const std::size_t n = static_cast<std::size_t>(yc - ya) * w;
      // Coefficient row cy upsampled to the full width, kept for the next full rows (consecutive
      // rows cy and cy + 1 in the two slots): each is made once, not once per full row.
      int cached[2] = {-1, -1};
      auto upsampled = [&](int cy) -> const float* {
        std::vector<float>& up = hc[cy % 2];
        if (cached[cy % 2] == cy) return up.data();
        cached[cy % 2] = cy;
        for (int k = 0; k < K; ++k) {
          const float* v = coef.data() + k * n + static_cast<std::size_t>(cy - ya) * w;
          float* o = up.data() + static_cast<std::size_t>(k) * W;
          for (int x = 0; x < W; ++x) o[x] = v[x0[x]] + tx[x] * (v[x1[x]] - v[x0[x]]);
        }
        return up.data();
      };
      for (int y = fa; y < fb; ++y) {
        const float* u0 = upsampled(y0[y]);
        const float* u1 = upsampled(std::min(y0[y] + 1, h - 1));
        const float wy = ty[y];
        guide_row(y, gpl);
        // The two rows' coefficients interpolated vertically as they are applied.
        for (int c = 0; c < C; ++c) {
          const float* p0 = u0 + static_cast<std::size_t>(3 * c) * W;
          const float* q0 = u1 + static_cast<std::size_t>(3 * c) * W;
          const float* pb = u0 + static_cast<std::size_t>(3 * C + c) * W;
          const float* qb = u1 + static_cast<std::size_t>(3 * C + c) * W;
          const float *g0 = gpl[0], *g1 = gpl[1], *g2 = gpl[2];
          float* o = opl[c];
          for (int x = 0; x < W; ++x) {
            const float a0 = p0[x] + wy * (q0[x] - p0[x]);
            const float a1 = p0[W + x] + wy * (q0[W + x] - p0[W + x]);
            const float a2 = p0[2 * W + x] + wy * (q0[2 * W + x] - p0[2 * W + x]);
            const float bc = pb[x] + wy * (qb[x] - pb[x]);
            o[x] = a0 * g0[x] + a1 * g1[x] + a2 * g2[x] + bc;
          }
        }
        emit(y, opl);
      }
    }
  });
}

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

cv::Mat guided_filter_color(const cv::Mat& guide, const cv::Mat& src, int radius, double eps, int subsample) {
  if (guide.type() != CV_32FC3 || src.type() != CV_32FC3 || guide.size() != src.size())
    throw_invalid("guided_filter_color: expects a CV_32FC3 guide and a CV_32FC3 source of the same size");
  if (radius < 1 || subsample < 1) throw_invalid("guided_filter_color: radius and subsample must be >= 1");
  const int s = std::min(subsample, std::max(1, radius));
  cv::Mat g = guide, p = src;
  if (s > 1) {
    const cv::Size small((guide.cols + s - 1) / s, (guide.rows + s - 1) / s);
    cv::resize(guide, g, small, 0, 0, cv::INTER_AREA);
    cv::resize(src, p, small, 0, 0, cv::INTER_AREA);
  }
  cv::Mat out(guide.size(), CV_32FC3);
  const int W = guide.cols;
  detail::color_guided_rows(
      g, p, guide.size(), std::max(1, radius / s), eps, 0,
      [&](int y, float* const* planes) {
        const float* gi = guide.ptr<float>(y);
        for (int x = 0; x < W; ++x)
          for (int j = 0; j < 3; ++j) planes[j][x] = gi[3 * x + j];
      },
      [&](int y, const float* const* planes) {
        float* o = out.ptr<float>(y);
        for (int x = 0; x < W; ++x)
          for (int c = 0; c < 3; ++c) o[3 * x + c] = planes[c][x];
      });
  return out;
}

}  // namespace dualcam::fusion
