#include "bokeh_layers.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <vector>

#include <opencv2/imgproc.hpp>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "dualcam/engine/parallel.hpp"

namespace dualcam::fusion::detail {
namespace {

// Radii of the depth layers on one side of the focus plane: 0, then steps of
// max(1, growth * r) (reduced_growth above full_res) up to the first level >= max_abs - 0.05 px
// (radii above the last level are given to it: a level a whole step beyond the largest radius,
// for a few hundredths of a pixel, would cost as much as any other).
std::vector<double> layer_magnitudes(double max_abs, double growth, double reduced_growth, double full_res) {
  std::vector<double> m{0.0};
  while (m.back() < max_abs - 0.05) {
    const double r = m.back();
    m.push_back(r + std::max(1.0, (r > full_res ? reduced_growth : growth) * r));
  }
  return m;
}

// A zero image, cleared in parallel (the first touch of a large buffer is most of its cost).
cv::Mat zeros(cv::Size size, int type) {
  cv::Mat m(size, type);
  parallel_rows(size.height, 64, [&](int r0, int r1) { m.rowRange(r0, r1).setTo(cv::Scalar::all(0)); });
  return m;
}

inline float layer_weight(short lower, float t, int level) {
  if (lower == level) return 1.0f - t;
  if (lower == level - 1) return t;
  return 0.0f;
}

// Tiles (kTile x kTile on a grid of tw x th tiles) within `reach` tiles of a marked one.
std::vector<std::uint8_t> dilate_tiles(const std::vector<std::uint8_t>& mark, int tw, int th, int reach) {
  std::vector<std::uint8_t> out(mark.size(), 0);
  for (int ty = 0; ty < th; ++ty)
    for (int tx = 0; tx < tw; ++tx) {
      if (!mark[std::size_t(ty) * tw + tx]) continue;
      for (int y = std::max(0, ty - reach); y <= std::min(th - 1, ty + reach); ++y)
        for (int x = std::max(0, tx - reach); x <= std::min(tw - 1, tx + reach); ++x) out[std::size_t(y) * tw + x] = 1;
    }
  return out;
}

}  // namespace

LayerMaps assign_layers(const cv::Mat& radius, const BokehOptions& o) {
  double lo, hi;
  cv::minMaxLoc(radius, &lo, &hi);
  const double max_abs = std::max(std::abs(lo), std::abs(hi));
  const std::vector<double> mags = layer_magnitudes(max_abs, o.layer_growth, o.reduced_layer_growth, o.full_res_radius_px);
  LayerMaps m;
  for (std::size_t k = mags.size(); k-- > 1;) m.levels.push_back(-mags[k]);
  for (double v : mags) m.levels.push_back(v);
  const int n = int(m.levels.size());
  m.lower.create(radius.size(), CV_16S);
  m.t.create(radius.size(), CV_32F);
  m.bw = (radius.cols + kBlock - 1) / kBlock;
  m.bh = (radius.rows + kBlock - 1) / kBlock;
  m.occupied.assign(n, std::vector<std::uint8_t>(std::size_t(m.bw) * m.bh, 0));
  // Level lookup: lut[k] = the last level <= levels[0] + k / kLut; levels are >= 1 px apart, so
  // the level of a radius is lut[k] or the next one.
  constexpr float kLut = 4.0f;
  const float base = float(m.levels[0]);
  std::vector<float> lv(m.levels.begin(), m.levels.end()), inv_step(n, 0.0f);
  for (int j = 0; j + 1 < n; ++j) inv_step[j] = float(1.0 / (m.levels[j + 1] - m.levels[j]));
  const int lut_n = int(std::ceil((m.levels[n - 1] - m.levels[0]) * kLut)) + 2;
  std::vector<int> lut(lut_n);
  for (int k = 0, j = 0; k < lut_n; ++k) {
    while (j + 1 < n && m.levels[j + 1] <= m.levels[0] + k / double(kLut)) ++j;
    lut[k] = j;
  }
  // One block row per task: each task writes only its own blocks' flags.
  parallel_rows(m.bh, 4, [&](int b0, int b1) {
    for (int y = b0 * kBlock; y < std::min(radius.rows, b1 * kBlock); ++y) {
      const float* r = radius.ptr<float>(y);
      short* lw = m.lower.ptr<short>(y);
      float* tt = m.t.ptr<float>(y);
      const std::size_t brow = std::size_t(y / kBlock) * m.bw;
      for (int x = 0; x < radius.cols; ++x) {
        const int k = std::min(lut_n - 1, std::max(0, int((r[x] - base) * kLut)));
        int j = lut[k];
        if (j + 1 < n && r[x] >= lv[j + 1]) ++j;
        float t = 0;
        if (j + 1 < n) t = std::min(1.0f, std::max(0.0f, (r[x] - lv[j]) * inv_step[j]));
        lw[x] = short(j);
        tt[x] = t;
        if (t < 1) m.occupied[j][brow + x / kBlock] = 1;
        if (t > 0) m.occupied[j + 1][brow + x / kBlock] = 1;
      }
    }
  });
  return m;
}

LayerRenderer::LayerRenderer(const cv::Mat& src, const LayerMaps& maps, const BokehOptions& o)
    : src_(src), maps_(maps), o_(o) {
  const int n = int(maps.levels.size());
  lv_.resize(n);
  for (int l = 0; l < n; ++l) {
    Level& L = lv_[l];
    L.r = std::abs(maps.levels[l]);
    L.scale = L.r > o.full_res_radius_px ? std::max(2, int(std::ceil(L.r / o.reduced_radius_px))) : 1;
    L.lw = (src.cols + L.scale - 1) / L.scale;
    L.lh = (src.rows + L.scale - 1) / L.scale;
    L.kernel = L.r > 1e-6 ? make_kernel(L.r / L.scale, o.aperture) : make_kernel(0.0, o.aperture);
    const int kr = std::max({L.kernel.reach_x, -L.kernel.dy_min, L.kernel.dy_max});
    // Reduced: a pixel's cell, the blur's reach on the grid, and the bilinear upsampling's cell.
    L.reach = L.scale == 1 ? kr : (kr + 2) * L.scale;
    const std::vector<std::uint8_t>& occ = maps.occupied[l];
    L.any = std::find(occ.begin(), occ.end(), 1) != occ.end();
  }
  prepare_reduced();
}

// The reduced levels: each pixel's share of its two levels box-averaged onto their grids in one
// pass over the image, then each grid blurred, per kTile x kTile tile, where its level reaches.
void LayerRenderer::prepare_reduced() {
  std::vector<int> red;
  int max_scale = 1;
  std::size_t max_cells = 0;
  for (int l = 0; l < int(lv_.size()); ++l)
    if (lv_[l].scale > 1 && lv_[l].any) {
      red.push_back(l);
      lv_[l].low = zeros(cv::Size(lv_[l].lw, lv_[l].lh), CV_32FC4);
      max_scale = std::max(max_scale, lv_[l].scale);
      max_cells = std::max(max_cells, std::size_t(lv_[l].lw) * lv_[l].lh);
    }
  if (red.empty()) return;
  // Column -> cell, per reduced level.
  std::vector<std::vector<int>> cell_x(lv_.size());
  for (int l : red) {
    cell_x[l].resize(src_.cols);
    for (int x = 0; x < src_.cols; ++x) cell_x[l][x] = x / lv_[l].scale;
  }
  // Bands of rows at least the largest scale high: a cell's rows lie in at most two neighbouring
  // bands, so the even bands and then the odd ones never write a cell at the same time, and the
  // order of the sums in a cell (rows, then columns, ascending) does not depend on the threads.
  const int band = std::max(32, (max_scale + kBlock - 1) / kBlock * kBlock);
  const int nb = (src_.rows + band - 1) / band;
  for (int parity = 0; parity < 2; ++parity) {
    parallel_rows((nb - parity + 1) / 2, 1, [&](int a, int b) {
      for (int i = a; i < b; ++i) {
        const int k = 2 * i + parity;
        for (int y = k * band; y < std::min(src_.rows, (k + 1) * band); ++y) {
          const cv::Vec3f* s = src_.ptr<cv::Vec3f>(y);
          const short* lo = maps_.lower.ptr<short>(y);
          const float* tt = maps_.t.ptr<float>(y);
          for (int x = 0; x < src_.cols; ++x) {
            const int j = lo[x];
            const float t = tt[x];
            auto add = [&](int l, float w) {
              float* c = lv_[l].low.ptr<float>(y / lv_[l].scale) + std::size_t(cell_x[l][x]) * 4;
              c[0] += w * s[x][0];
              c[1] += w * s[x][1];
              c[2] += w * s[x][2];
              c[3] += w;
            };
            if (t < 1 && lv_[j].scale > 1) add(j, 1.0f - t);
            if (t > 0 && lv_[j + 1].scale > 1) add(j + 1, t);
          }
        }
      }
    });
  }
  cv::Mat tmp_buf(1, int(max_cells), CV_32FC4);
  for (int l : red) {
    Level& L = lv_[l];
    const int s = L.scale;
    const float inv = 1.0f / float(s * s);
    parallel_rows(L.lh, 64, [&](int r0, int r1) {
      for (int v = r0; v < r1; ++v) {
        float* c = L.low.ptr<float>(v);
        for (int u = 0; u < L.lw * 4; ++u) c[u] *= inv;
      }
    });
    // Tiles of the grid holding the level: a block maps into exactly one tile, since a tile
    // spans kTile * scale full-resolution pixels, a multiple of kBlock.
    const int tw = (L.lw + kTile - 1) / kTile, th = (L.lh + kTile - 1) / kTile;
    std::vector<std::uint8_t> has(std::size_t(tw) * th, 0);
    const std::vector<std::uint8_t>& occ = maps_.occupied[l];
    const int per_tile = kTile * s / kBlock;
    for (int by = 0; by < maps_.bh; ++by)
      for (int bx = 0; bx < maps_.bw; ++bx)
        if (occ[std::size_t(by) * maps_.bw + bx]) has[std::size_t(by / per_tile) * tw + bx / per_tile] = 1;
    const int reach = std::max({L.kernel.reach_x, -L.kernel.dy_min, L.kernel.dy_max}) + 1;
    const std::vector<std::uint8_t> out_tiles = dilate_tiles(has, tw, th, (reach + kTile - 1) / kTile);
    std::vector<cv::Rect> rects;
    for (int i = 0; i < tw * th; ++i)
      if (out_tiles[i]) {
        const int tx = i % tw, ty = i / tw;
        rects.emplace_back(tx * kTile, ty * kTile, std::min(kTile, L.lw - tx * kTile), std::min(kTile, L.lh - ty * kTile));
      }
    // Blurred into tmp (the grid is read around each tile), then copied back. Outside the tiles
    // the grid is zero, as is its blur there.
    cv::Mat tmp(L.lh, L.lw, CV_32FC4, tmp_buf.data);
    parallel_rows(int(rects.size()), 1, [&](int a, int b) {
      std::vector<float>& scratch = work_.local().scratch;
      std::vector<float>& blurred = work_.local().blurred;
      for (int k = a; k < b; ++k) {
        const cv::Rect& r = rects[k];
        blurred.resize(std::size_t(r.area()) * 4);
        blur_rect(L.low, L.kernel, r, blurred.data(), scratch);
        for (int v = 0; v < r.height; ++v)
          std::copy(blurred.data() + std::size_t(v) * r.width * 4, blurred.data() + std::size_t(v + 1) * r.width * 4,
                    tmp.ptr<float>(r.y + v) + std::size_t(r.x) * 4);
      }
    });
    parallel_rows(int(rects.size()), 8, [&](int a, int b) {
      for (int k = a; k < b; ++k) tmp(rects[k]).copyTo(L.low(rects[k]));
    });
  }
}

cv::Rect LayerRenderer::reached(int l, const cv::Rect& rect) const {
  const int reach = lv_[l].reach;
  const int bx0 = std::max(0, (rect.x - reach) / kBlock), bx1 = std::min(maps_.bw - 1, (rect.x + rect.width - 1 + reach) / kBlock);
  const int by0 = std::max(0, (rect.y - reach) / kBlock), by1 = std::min(maps_.bh - 1, (rect.y + rect.height - 1 + reach) / kBlock);
  const std::vector<std::uint8_t>& occ = maps_.occupied[l];
  int x0 = INT32_MAX, x1 = INT32_MIN, y0 = INT32_MAX, y1 = INT32_MIN;
  for (int by = by0; by <= by1; ++by)
    for (int bx = bx0; bx <= bx1; ++bx)
      if (occ[std::size_t(by) * maps_.bw + bx]) {
        x0 = std::min(x0, bx);
        x1 = std::max(x1, bx);
        y0 = std::min(y0, by);
        y1 = std::max(y1, by);
      }
  if (x0 > x1) return cv::Rect();
  const cv::Rect grown(x0 * kBlock - reach, y0 * kBlock - reach, (x1 - x0 + 1) * kBlock + 2 * reach,
                       (y1 - y0 + 1) * kBlock + 2 * reach);
  return grown & rect;
}

void LayerRenderer::blur_full(int l, const cv::Rect& rect, float* val, std::vector<float>& window,
                              std::vector<float>& scratch) const {
  const Level& L = lv_[l];
  auto weights = [&](int y, int x0, int x1, float* o) {  // the layer's pixels [x0, x1) of row y, zero outside
    if (y < 0 || y >= src_.rows) {
      std::fill(o, o + std::size_t(x1 - x0) * 4, 0.0f);
      return;
    }
    const cv::Vec3f* s = src_.ptr<cv::Vec3f>(y);
    const short* lo = maps_.lower.ptr<short>(y);
    const float* tt = maps_.t.ptr<float>(y);
    for (int x = x0; x < x1; ++x, o += 4) {
      if (x < 0 || x >= src_.cols) {
        o[0] = o[1] = o[2] = o[3] = 0.0f;
        continue;
      }
      const float w = layer_weight(lo[x], tt[x], l);
      o[0] = w * s[x][0];
      o[1] = w * s[x][1];
      o[2] = w * s[x][2];
      o[3] = w;
    }
  };
  if (L.r <= 1e-6) {
    for (int v = 0; v < rect.height; ++v)
      weights(rect.y + v, rect.x, rect.x + rect.width, val + std::size_t(v) * rect.width * 4);
    return;
  }
  const Kernel& k = L.kernel;
  const cv::Rect wr(rect.x - k.reach_x, rect.y + k.dy_min, rect.width + 2 * k.reach_x,
                    rect.height + k.dy_max - k.dy_min);
  window.resize(std::size_t(wr.area()) * 4);
  for (int v = 0; v < wr.height; ++v) weights(wr.y + v, wr.x, wr.x + wr.width, window.data() + std::size_t(v) * wr.width * 4);
  const cv::Mat win(wr.height, wr.width, CV_32FC4, window.data());
  blur_rect(win, k, cv::Rect(k.reach_x, -k.dy_min, rect.width, rect.height), val, scratch);
}

namespace {

// The tile's accumulators, planar: premultiplied b, g, r and coverage at acc + k * n, k = 0..3.
// One pixel of a layer composited: hidden by the coverage of the layers nearer than the
// neighbouring one (a surface whose radius falls between two levels lies in both, and must not
// hide itself). b: the layer's blurred (b, g, r, coverage); pv: the neighbouring (nearer)
// level's coverage; pv_next receives this level's.
inline void composite_pixel(const float* b, float* acc, std::size_t n, float& cover, float pv, float& pv_next) {
  const float vis = std::max(0.0f, 1.0f - (cover - pv));
  for (int k = 0; k < 4; ++k) acc[k * n] += b[k] * vis;
  cover += b[3];
  pv_next = b[3];
}

// A row of a reduced layer, the vertical step of its bilinear upsampling done here (h0, h1: the
// two planar rows it lies between, weights w0, w1), composited into the planar accumulators a.
inline void composite_span(const float* __restrict h0, const float* __restrict h1, float w0, float w1, int rw,
                           float* const a[4], float* __restrict cover, const float* __restrict pv,
                           float* __restrict pv_next) {
  int c = 0;
#if defined(__SSE2__)
  const __m128 v0 = _mm_set1_ps(w0), v1 = _mm_set1_ps(w1), one = _mm_set1_ps(1.0f), zero = _mm_setzero_ps();
  for (; c + 4 <= rw; c += 4) {
    const __m128 cv = _mm_loadu_ps(cover + c);
    const __m128 vis = _mm_max_ps(zero, _mm_sub_ps(one, _mm_sub_ps(cv, _mm_loadu_ps(pv + c))));
    __m128 al = zero;
    for (int k = 0; k < 4; ++k) {
      const __m128 b = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(h0 + k * rw + c), v0), _mm_mul_ps(_mm_loadu_ps(h1 + k * rw + c), v1));
      _mm_storeu_ps(a[k] + c, _mm_add_ps(_mm_loadu_ps(a[k] + c), _mm_mul_ps(b, vis)));
      al = b;
    }
    _mm_storeu_ps(cover + c, _mm_add_ps(cv, al));
    _mm_storeu_ps(pv_next + c, al);
  }
#endif
  for (; c < rw; ++c) {
    const float vis = std::max(0.0f, 1.0f - (cover[c] - pv[c]));
    float al = 0.0f;
    for (int k = 0; k < 4; ++k) {
      const float b = h0[k * rw + c] * w0 + h1[k * rw + c] * w1;
      a[k][c] += b * vis;
      al = b;
    }
    cover[c] += al;
    pv_next[c] = al;
  }
}

}  // namespace

bool LayerRenderer::upsample_composite(int l, const cv::Rect& rect, Work& w) const {
  const Level& L = lv_[l];
  const float s = float(L.scale);
  const int lw = L.lw, lh = L.lh, rw = rect.width;
  const std::size_t n = std::size_t(rect.area());
  // Bilinear from the reduced grid (pixel centres at (u + 0.5) * scale - 0.5), separably: first
  // along the grid's rows that the tile needs, into planar rows of the tile's width; then, per
  // output row, between two of those, over contiguous pixels.
  w.xi.resize(rw);
  w.xw.resize(rw);
  for (int c = 0; c < rw; ++c) {
    const float fx = std::min(float(lw - 1), std::max(0.0f, (rect.x + c + 0.5f) / s - 0.5f));
    w.xi[c] = std::min(int(fx), lw - 1);
    w.xw[c] = fx - float(w.xi[c]);
  }
  auto row_of = [&](int v, int& y0, int& y1, float& wy) {
    const float fy = std::min(float(lh - 1), std::max(0.0f, (rect.y + v + 0.5f) / s - 0.5f));
    y0 = std::min(int(fy), lh - 1);
    y1 = std::min(y0 + 1, lh - 1);
    wy = fy - float(y0);
  };
  int ry_lo, ry_hi, unused;
  float unused_w;
  row_of(0, ry_lo, unused, unused_w);
  row_of(rect.height - 1, unused, ry_hi, unused_w);
  const int nrows = ry_hi - ry_lo + 1;
  const int u_lo = w.xi[0], u_hi = std::min(w.xi[rw - 1] + 1, lw - 1);
  w.hrow.resize(std::size_t(nrows) * 4 * rw);
  w.row_any.assign(nrows, 0);
  bool any = false;
  for (int j = 0; j < nrows; ++j) {
    const float* g = L.low.ptr<float>(ry_lo + j);
    bool row_any = false;
    for (int u = u_lo; u <= u_hi; ++u) row_any |= g[std::size_t(u) * 4 + 3] != 0.0f;
    if (!row_any) continue;
    w.row_any[j] = 1;
    any = true;
    float* h = w.hrow.data() + std::size_t(j) * 4 * rw;
    for (int c = 0; c < rw; ++c) {
      const int u0 = w.xi[c], u1 = std::min(u0 + 1, lw - 1);
      const float wx = w.xw[c], wx0 = 1 - wx;
      for (int k = 0; k < 4; ++k) h[k * rw + c] = g[std::size_t(u0) * 4 + k] * wx0 + g[std::size_t(u1) * 4 + k] * wx;
    }
  }
  if (!any) return false;
  w.zero_row.assign(std::size_t(4) * rw, 0.0f);
  for (int v = 0; v < rect.height; ++v) {
    int y0, y1;
    float wy;
    row_of(v, y0, y1, wy);
    float* __restrict pvn = w.pv_next.data() + std::size_t(v) * rw;
    if (!w.row_any[y0 - ry_lo] && !w.row_any[y1 - ry_lo]) {  // nothing of this layer reaches the row
      std::fill(pvn, pvn + rw, 0.0f);
      continue;
    }
    const float wy0 = 1 - wy;
    // A row of the grid without coverage is zero throughout (the blur of nothing).
    const float* __restrict h0 = w.row_any[y0 - ry_lo] ? w.hrow.data() + std::size_t(y0 - ry_lo) * 4 * rw : w.zero_row.data();
    const float* __restrict h1 = w.row_any[y1 - ry_lo] ? w.hrow.data() + std::size_t(y1 - ry_lo) * 4 * rw : w.zero_row.data();
    const std::size_t o = std::size_t(v) * rw;
    float* a[4] = {w.acc.data() + o, w.acc.data() + o + n, w.acc.data() + o + 2 * n, w.acc.data() + o + 3 * n};
    composite_span(h0, h1, wy0, wy, rw, a, w.cover.data() + o, w.pv.data() + o, pvn);
  }
  return true;
}

void LayerRenderer::composite_tile(int tile, const cv::Rect& rect, Work& w) const {
  const std::size_t n = std::size_t(rect.area());
  w.acc.assign(n * 4, 0.0f);
  w.cover.assign(n, 0.0f);
  w.val.resize(n * 4);
  w.pv.resize(n);
  w.pv_next.resize(n);
  bool pv_zero = true;  // the level done last does not reach the tile
  for (int l = int(lv_.size()) - 1; l >= 0; --l) {
    if (!near_[l][tile]) {
      pv_zero = true;
      continue;
    }
    if (pv_zero) std::fill(w.pv.begin(), w.pv.end(), 0.0f);
    if (lv_[l].scale == 1) {
      // Blurred only over the part of the tile within the kernel's reach of the level's blocks;
      // elsewhere in the tile the layer is zero.
      const cv::Rect sub = reached(l, rect);
      if (sub.empty()) {
        pv_zero = true;
        continue;
      }
      blur_full(l, sub, w.val.data(), w.window, w.scratch);
      for (int v = 0; v < rect.height; ++v) {
        const int y = rect.y + v;
        const std::size_t o = std::size_t(v) * rect.width;
        if (y < sub.y || y >= sub.y + sub.height) {
          std::fill(w.pv_next.begin() + o, w.pv_next.begin() + o + rect.width, 0.0f);
          continue;
        }
        const int c0 = sub.x - rect.x, c1 = c0 + sub.width;
        std::fill(w.pv_next.begin() + o, w.pv_next.begin() + o + c0, 0.0f);
        std::fill(w.pv_next.begin() + o + c1, w.pv_next.begin() + o + rect.width, 0.0f);
        const float* b = w.val.data() + std::size_t(y - sub.y) * sub.width * 4;
        for (int c = c0; c < c1; ++c)
          composite_pixel(b + std::size_t(c - c0) * 4, w.acc.data() + o + c, n, w.cover[o + c], w.pv[o + c],
                          w.pv_next[o + c]);
      }
    } else if (!upsample_composite(l, rect, w)) {
      pv_zero = true;
      continue;
    }
    w.pv.swap(w.pv_next);
    pv_zero = false;
  }
}

void LayerRenderer::render(const cv::Rect& roi, const HiddenBackground& hidden, cv::Mat& out, BokehStats& st) {
  roi_ = roi;
  otw_ = (roi.width + kOutTile - 1) / kOutTile;
  oth_ = (roi.height + kOutTile - 1) / kOutTile;
  for (const Level& L : lv_)
    if (L.any) {
      ++st.layers;
      if (L.scale > 1) ++st.reduced_layers;
    }
  // Output tiles each level reaches: its occupied blocks grown by its reach.
  near_.assign(lv_.size(), std::vector<std::uint8_t>());
  parallel_rows(int(lv_.size()), 1, [&](int a, int b) {
    for (int l = a; l < b; ++l) {
      near_[l].assign(std::size_t(otw_) * oth_, 0);
      if (!lv_[l].any) continue;
      const int reach = lv_[l].reach + 1;
      const std::vector<std::uint8_t>& occ = maps_.occupied[l];
      auto range = [&](int p0, int p1, int origin, int count, int& t0, int& t1) {
        // tiles of [p0, p1] (pixels, src's coordinates) on a grid starting at origin
        t0 = std::max(0, (p0 - origin) >= 0 ? (p0 - origin) / kOutTile : 0);
        t1 = p1 - origin < 0 ? -1 : std::min(count - 1, (p1 - origin) / kOutTile);
      };
      for (int by = 0; by < maps_.bh; ++by) {
        int ty0, ty1;
        range(by * kBlock - reach, by * kBlock + kBlock - 1 + reach, roi.y, oth_, ty0, ty1);
        if (ty1 < ty0) continue;
        for (int bx = 0; bx < maps_.bw; ++bx) {
          if (!occ[std::size_t(by) * maps_.bw + bx]) continue;
          int tx0, tx1;
          range(bx * kBlock - reach, bx * kBlock + kBlock - 1 + reach, roi.x, otw_, tx0, tx1);
          for (int ty = ty0; ty <= ty1; ++ty)
            for (int tx = tx0; tx <= tx1; ++tx) near_[l][std::size_t(ty) * otw_ + tx] = 1;
        }
      }
    }
  });
  out.create(roi.size(), CV_32FC3);
  parallel_rows(otw_ * oth_, 1, [&](int a, int b) {
    Work& w = work_.local();
    for (int i = a; i < b; ++i) {
      const int tx = i % otw_, ty = i / otw_;
      const cv::Rect rect(roi.x + tx * kOutTile, roi.y + ty * kOutTile, std::min(kOutTile, roi.width - tx * kOutTile),
                          std::min(kOutTile, roi.height - ty * kOutTile));
      composite_tile(i, rect, w);
      for (int v = 0; v < rect.height; ++v) {
        cv::Vec3f* p = out.ptr<cv::Vec3f>(rect.y - roi.y + v) + (rect.x - roi.x);
        const std::size_t n = std::size_t(rect.area());
        const float* ac = w.acc.data() + std::size_t(v) * rect.width;
        for (int c = 0; c < rect.width; ++c) {
          const float alpha = ac[c + 3 * n];
          const float missing = std::max(0.0f, 1.0f - alpha);
          const float weight = alpha + missing;  // >= 1
          cv::Vec3f col(ac[c], ac[c + n], ac[c + 2 * n]);
          if (missing > 0) col += hidden.at(rect.x + c, rect.y + v) * missing;
          p[c] = col * (1.0f / weight);
        }
      }
    }
  });
}

HiddenBackground::HiddenBackground(const cv::Mat& src, const cv::Mat& radius, int reach) : src_(src), radius_(radius) {
  // Nearest surface (largest signed radius) within reach: max-pool by q, dilate.
  pooled_.create((radius.rows + kQ - 1) / kQ, (radius.cols + kQ - 1) / kQ, CV_32F);
  parallel_rows(pooled_.rows, 16, [&](int r0, int r1) {
    for (int v = r0; v < r1; ++v) {
      float* pm = pooled_.ptr<float>(v);
      for (int u = 0; u < pooled_.cols; ++u) pm[u] = -1e30f;
      for (int y = v * kQ; y < std::min(radius.rows, v * kQ + kQ); ++y) {
        const float* rr = radius.ptr<float>(y);
        for (int x = 0; x < radius.cols; ++x) pm[x / kQ] = std::max(pm[x / kQ], rr[x]);
      }
    }
  });
  const int rr = reach / kQ + 1;
  cv::dilate(pooled_, pooled_, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(2 * rr + 1, 2 * rr + 1)));
  // Level 1: 2x2 means of the premultiplied colour of the farther pixels and of their mask.
  const cv::Size s1((src.cols + 1) / 2, (src.rows + 1) / 2);
  cv::Mat p1(s1, CV_32FC4);
  parallel_rows(s1.height, 16, [&](int r0, int r1) {
    for (int v = r0; v < r1; ++v)
      for (int u = 0; u < s1.width; ++u) {
        cv::Vec4f acc(0, 0, 0, 0);
        int count = 0;
        for (int y = 2 * v; y < std::min(src.rows, 2 * v + 2); ++y)
          for (int x = 2 * u; x < std::min(src.cols, 2 * u + 2); ++x) {
            ++count;
            if (behind(x, y)) {
              const cv::Vec3f& c = src.at<cv::Vec3f>(y, x);
              acc += cv::Vec4f(c[0], c[1], c[2], 1.0f);
            }
          }
        p1.at<cv::Vec4f>(v, u) = acc * (1.0f / float(count));
      }
  });
  std::vector<cv::Mat> pyr{p1};
  while (pyr.back().cols > 4 && pyr.back().rows > 4) {
    cv::Mat down;
    cv::resize(pyr.back(), down, cv::Size((pyr.back().cols + 1) / 2, (pyr.back().rows + 1) / 2), 0, 0,
               cv::INTER_AREA);
    pyr.push_back(down);
  }
  // Push: each level keeps its own colour where it has weight and takes the coarser level's
  // elsewhere.
  cv::Mat fill;
  for (int l = int(pyr.size()) - 1; l >= 0; --l) {
    cv::Mat up;
    if (l == int(pyr.size()) - 1) {
      up = cv::Mat(pyr[l].size(), CV_32FC4, cv::Scalar::all(0));
    } else {
      cv::resize(fill, up, pyr[l].size(), 0, 0, cv::INTER_LINEAR);
    }
    cv::Mat next(pyr[l].size(), CV_32FC4);
    const cv::Mat& cur = pyr[l];
    parallel_rows(cur.rows, 32, [&](int r0, int r1) {
      for (int y = r0; y < r1; ++y) {
        const cv::Vec4f* c = cur.ptr<cv::Vec4f>(y);
        const cv::Vec4f* u = up.ptr<cv::Vec4f>(y);
        cv::Vec4f* o = next.ptr<cv::Vec4f>(y);
        for (int x = 0; x < cur.cols; ++x) {
          const float w = std::min(1.0f, c[x][3]);
          // u is normalised (weight 1) wherever anything was found above.
          o[x] = c[x] + u[x] * (1.0f - w);
          if (o[x][3] > 1e-6f) o[x] *= 1.0f / o[x][3];
        }
      }
    });
    fill = next;
  }
  fill1_ = fill;
  sx_ = float(fill1_.cols) / float(src.cols);
  sy_ = float(fill1_.rows) / float(src.rows);
}

}  // namespace dualcam::fusion::detail
