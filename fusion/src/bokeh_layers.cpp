#include "bokeh_layers.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "dualcam/engine/parallel.hpp"

namespace dualcam::fusion::detail {
namespace {

// Radii of the depth layers on one side of the focus plane: 0, then steps of
// max(1, growth * r) up to the first level >= max_abs.
std::vector<double> layer_magnitudes(double max_abs, double growth) {
  std::vector<double> m{0.0};
  while (m.back() < max_abs - 1e-9) m.push_back(m.back() + std::max(1.0, growth * m.back()));
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

// Pixel (u, v) of layer `level` on the grid reduced by `scale`: the premultiplied
// (b, g, r, coverage) box average of the full-resolution pixels [u*scale, u*scale+scale) x
// [v*scale, ...) (zero outside the image), written for the pixels of `tile` (reduced grid) into
// `low` (CV_32FC4, the reduced grid's size).
void gather_tile(const cv::Mat& src, const LayerMaps& m, int level, int scale, const cv::Rect& tile, cv::Mat& low) {
  if (scale == 1) {
    for (int y = tile.y; y < tile.y + tile.height; ++y) {
      cv::Vec4f* o = low.ptr<cv::Vec4f>(y);
      const cv::Vec3f* s = src.ptr<cv::Vec3f>(y);
      const short* lo = m.lower.ptr<short>(y);
      const float* tt = m.t.ptr<float>(y);
      for (int x = tile.x; x < tile.x + tile.width; ++x) {
        const float wgt = layer_weight(lo[x], tt[x], level);
        o[x] = cv::Vec4f(wgt * s[x][0], wgt * s[x][1], wgt * s[x][2], wgt);
      }
    }
    return;
  }
  const float inv = 1.0f / float(scale * scale);
  for (int v = tile.y; v < tile.y + tile.height; ++v) {
    cv::Vec4f* o = low.ptr<cv::Vec4f>(v);
    for (int u = tile.x; u < tile.x + tile.width; ++u) o[u] = cv::Vec4f(0, 0, 0, 0);
    for (int yy = 0; yy < scale; ++yy) {
      const int y = v * scale + yy;
      if (y >= src.rows) break;
      const cv::Vec3f* s = src.ptr<cv::Vec3f>(y);
      const short* lo = m.lower.ptr<short>(y);
      const float* tt = m.t.ptr<float>(y);
      const std::uint8_t* occ = m.occupied[level].data() + std::size_t(y / kBlock) * m.bw;
      for (int u = tile.x; u < tile.x + tile.width; ++u) {
        // The pixels [u * scale, u * scale + scale) lie in at most two blocks (scale <= kBlock
        // for radii up to 64 px) or are checked one by one.
        const int xa = u * scale, xb = std::min(src.cols, xa + scale) - 1;
        if (scale <= kBlock && !occ[xa / kBlock] && !occ[xb / kBlock]) continue;
        cv::Vec4f acc = o[u];
        for (int xx = 0; xx < scale; ++xx) {
          const int x = u * scale + xx;
          if (x >= src.cols) break;
          const float wgt = layer_weight(lo[x], tt[x], level);
          if (wgt == 0) continue;
          acc[0] += wgt * s[x][0];
          acc[1] += wgt * s[x][1];
          acc[2] += wgt * s[x][2];
          acc[3] += wgt;
        }
        o[u] = acc;
      }
    }
    for (int u = tile.x; u < tile.x + tile.width; ++u) o[u] *= inv;
  }
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

LayerMaps assign_layers(const cv::Mat& radius, double growth) {
  double lo, hi;
  cv::minMaxLoc(radius, &lo, &hi);
  const double max_abs = std::max(std::abs(lo), std::abs(hi));
  const std::vector<double> mags = layer_magnitudes(max_abs, growth);
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

// A layer's grid (reduced by `scale` for large radii, so that the kernel stays within
// full_res_radius_px) and its tiles of kTile x kTile.
struct LayerCompositor::Grid {
  double r = 0;  // |radius| of the level, px at full resolution
  int scale = 1;
  int lw = 0, lh = 0;  // the reduced grid's size
  int tw = 0, th = 0;  // tiles per row, tile rows
  std::vector<std::uint8_t> has;  // per tile: the layer has weight there
  std::vector<int> in_list, out_list;
  cv::Mat low;  // the layer on the reduced grid (a view of low_buf_)

  cv::Rect tile_rect(int i) const {
    const int tx = i % tw, ty = i / tw;
    return cv::Rect(tx * kTile, ty * kTile, std::min(kTile, lw - tx * kTile), std::min(kTile, lh - ty * kTile));
  }
};

LayerCompositor::LayerCompositor(const cv::Mat& src, const LayerMaps& maps, const BokehOptions& o)
    : src_(src), maps_(maps), o_(o) {
  acc_ = zeros(src.size(), CV_32FC4);
  cover_ = zeros(src.size(), CV_32F);
  cov_buf_[0] = zeros(src.size(), CV_32F);
  cov_buf_[1] = zeros(src.size(), CV_32F);
  low_buf_.create(src.size(), CV_32FC4);
}

void LayerCompositor::composite(int level, BokehStats& st) {
  const cv::Size size = src_.size();
  cv::Mat& prev = cov_buf_[(level + 1) & 1];
  cv::Mat& cur = cov_buf_[level & 1];
  std::vector<cv::Rect>& prev_rects = cov_rects_[(level + 1) & 1];
  std::vector<cv::Rect>& cur_rects = cov_rects_[level & 1];
  auto clear_prev = [&] {
    parallel_rows(int(prev_rects.size()), 8, [&](int a, int b) {
      for (int i = a; i < b; ++i) prev(prev_rects[i]).setTo(0);
    });
    prev_rects.clear();
  };
  cur_rects.clear();
  Grid g;
  g.r = std::abs(maps_.levels[level]);
  g.scale = g.r > o_.full_res_radius_px ? int(std::ceil(g.r / o_.full_res_radius_px)) : 1;
  g.lw = (size.width + g.scale - 1) / g.scale;
  g.lh = (size.height + g.scale - 1) / g.scale;
  g.tw = (g.lw + kTile - 1) / kTile;
  g.th = (g.lh + kTile - 1) / kTile;
  // Tiles of the reduced grid holding the layer: a block maps into exactly one tile, since
  // a tile spans kTile * scale full-resolution pixels, a multiple of kBlock.
  g.has.assign(std::size_t(g.tw) * g.th, 0);
  const std::vector<std::uint8_t>& occ = maps_.occupied[level];
  const int per_tile = kTile * g.scale / kBlock;
  for (int by = 0; by < maps_.bh; ++by)
    for (int bx = 0; bx < maps_.bw; ++bx)
      if (occ[std::size_t(by) * maps_.bw + bx]) g.has[std::size_t(by / per_tile) * g.tw + bx / per_tile] = 1;
  if (std::find(g.has.begin(), g.has.end(), 1) == g.has.end()) {
    clear_prev();
    return;
  }
  ++st.layers;
  if (g.scale > 1) ++st.reduced_layers;
  const Kernel kernel = g.r > 1e-6 ? make_kernel(g.r / g.scale, o_.aperture) : make_kernel(0.0, o_.aperture);
  // Output tiles: those within the kernel's reach (+ 1 px for the bilinear upsampling) of the
  // layer; input tiles: those within the reach of an output tile (zero where the layer is not).
  const int reach = std::max({kernel.reach_x, -kernel.dy_min, kernel.dy_max}) + 1;
  const int reach_tiles = (reach + kTile - 1) / kTile;
  const std::vector<std::uint8_t> out_tiles = dilate_tiles(g.has, g.tw, g.th, reach_tiles);
  const std::vector<std::uint8_t> in_tiles = dilate_tiles(out_tiles, g.tw, g.th, reach_tiles);
  for (int i = 0; i < g.tw * g.th; ++i) {
    if (in_tiles[i]) g.in_list.push_back(i);
    if (out_tiles[i]) g.out_list.push_back(i);
  }
  g.low = cv::Mat(g.lh, g.lw, CV_32FC4, low_buf_.data);  // reuses the full-size buffer
  parallel_rows(int(g.in_list.size()), 4, [&](int a, int b) {
    for (int k = a; k < b; ++k) {
      const int i = g.in_list[k];
      const cv::Rect tile = g.tile_rect(i);
      if (g.has[i]) {
        gather_tile(src_, maps_, level, g.scale, tile, g.low);
      } else {
        g.low(tile).setTo(cv::Scalar::all(0));
      }
    }
  });
  for (int i : g.out_list) {
    const cv::Rect t = g.tile_rect(i);
    cur_rects.emplace_back(cv::Rect(t.x * g.scale, t.y * g.scale, t.width * g.scale, t.height * g.scale) &
                           cv::Rect(0, 0, size.width, size.height));
  }
  blur_and_composite(g, kernel, prev, cur, cur_rects);
  clear_prev();
}

// Blurs each output tile (with a 1-px margin on the reduced grid, for the bilinear upsampling)
// and composites its full-resolution pixels.
void LayerCompositor::blur_and_composite(const Grid& g, const Kernel& kernel, const cv::Mat& prev, cv::Mat& cur,
                                         const std::vector<cv::Rect>& cur_rects) {
  const int scale = g.scale, lw = g.lw, lh = g.lh;
  const cv::Mat& low = g.low;
  parallel_rows(int(g.out_list.size()), 1, [&](int a, int b) {
    std::vector<float>& scratch = scratch_tls_.local();
    std::vector<float>& blurred = out_tls_.local();
    std::vector<cv::Vec4f> row, vrow;
    std::vector<int> xi;
    std::vector<float> xw;
    std::vector<std::uint8_t> row_hit;
    for (int k = a; k < b; ++k) {
      const cv::Rect tile = g.tile_rect(g.out_list[k]);
      const int m = scale > 1 ? 1 : 0;
      const cv::Rect orect = cv::Rect(tile.x - m, tile.y - m, tile.width + 2 * m, tile.height + 2 * m) &
                             cv::Rect(0, 0, lw, lh);
      blurred.resize(std::size_t(orect.area()) * 4);
      if (g.r > 1e-6) {
        blur_rect(low, kernel, orect, blurred.data(), scratch);
      } else {
        for (int v = 0; v < orect.height; ++v) {
          const float* s = low.ptr<float>(orect.y + v) + std::size_t(orect.x) * 4;
          std::copy(s, s + std::size_t(orect.width) * 4, blurred.data() + std::size_t(v) * orect.width * 4);
        }
      }
      const cv::Vec4f* bl = reinterpret_cast<const cv::Vec4f*>(blurred.data());
      // Rows of the blurred tile that the layer reaches at all (coverage > 0 somewhere).
      row_hit.assign(orect.height, 0);
      for (int v = 0; v < orect.height; ++v)
        for (int u = 0; u < orect.width; ++u)
          if (bl[std::size_t(v) * orect.width + u][3] != 0.0f) {
            row_hit[v] = 1;
            break;
          }
      const cv::Rect full_rect = cur_rects[k];
      row.resize(full_rect.width);
      if (scale > 1) {
        // Bilinear from the reduced grid (pixel centres at (u + 0.5) * scale - 0.5), separably:
        // the horizontal taps are the same for every row of the tile.
        xi.resize(full_rect.width);
        xw.resize(full_rect.width);
        vrow.resize(orect.width);
        for (int c = 0; c < full_rect.width; ++c) {
          const float fx = std::min(float(lw - 1), std::max(0.0f, (full_rect.x + c + 0.5f) / scale - 0.5f));
          const int x0 = std::min(int(fx), lw - 1);
          xi[c] = x0 - orect.x;
          xw[c] = fx - float(x0);
        }
      }
      for (int yy = full_rect.y; yy < full_rect.y + full_rect.height; ++yy) {
        if (scale == 1) {
          if (!row_hit[yy - orect.y]) continue;
          const cv::Vec4f* b0 = bl + std::size_t(yy - orect.y) * orect.width + (full_rect.x - orect.x);
          std::copy(b0, b0 + full_rect.width, row.begin());
        } else {
          const float fy = std::min(float(lh - 1), std::max(0.0f, (yy + 0.5f) / scale - 0.5f));
          const int y0 = std::min(int(fy), lh - 1), y1 = std::min(y0 + 1, lh - 1);
          const float wy = fy - float(y0);
          if (!row_hit[y0 - orect.y] && !row_hit[y1 - orect.y]) continue;
          const cv::Vec4f* b0 = bl + std::size_t(y0 - orect.y) * orect.width;
          const cv::Vec4f* b1 = bl + std::size_t(y1 - orect.y) * orect.width;
          for (int u = 0; u < orect.width; ++u) vrow[u] = b0[u] * (1 - wy) + b1[u] * wy;
          for (int c = 0; c < full_rect.width; ++c) {
            // x0 + 1 stays inside orect except at the image's last column, where wx = 0.
            const int u0 = xi[c], u1 = std::min(u0 + 1, orect.width - 1);
            row[c] = vrow[u0] * (1 - xw[c]) + vrow[u1] * xw[c];
          }
        }
        cv::Vec4f* a4 = acc_.ptr<cv::Vec4f>(yy) + full_rect.x;
        float* cv_ = cover_.ptr<float>(yy) + full_rect.x;
        const float* pv = prev.ptr<float>(yy) + full_rect.x;
        float* lc = cur.ptr<float>(yy) + full_rect.x;
        for (int c = 0; c < full_rect.width; ++c) {
          if (row[c][3] == 0.0f) continue;  // nothing of this layer reaches the pixel
          // Hidden by the coverage of the layers nearer than the neighbouring one: a surface
          // whose radius falls between two levels lies in both, and must not hide itself.
          const float vis = std::max(0.0f, 1.0f - (cv_[c] - pv[c]));
          a4[c] += row[c] * vis;
          cv_[c] += row[c][3];
          lc[c] = row[c][3];
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
