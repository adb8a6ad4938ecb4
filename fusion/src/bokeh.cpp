#include "dualcam/fusion/bokeh.hpp"
#include "dualcam/fusion/refine.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include <opencv2/imgproc.hpp>
#include <tbb/enumerable_thread_specific.h>

#include "bokeh_kernel.hpp"
#include "dualcam/engine/color.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/parallel.hpp"

namespace dualcam::fusion {
namespace {

// Radii of the depth layers on one side of the focus plane: 0, then steps of
// max(1, growth * r) up to the first level >= max_abs.
std::vector<double> layer_magnitudes(double max_abs, double growth) {
  std::vector<double> m{0.0};
  while (m.back() < max_abs - 1e-9) m.push_back(m.back() + std::max(1.0, growth * m.back()));
  return m;
}

float smoothstep01(float t) {
  t = std::min(1.0f, std::max(0.0f, t));
  return t * t * (3 - 2 * t);
}

// `in` extended by `pad` pixels on every side, mirrored (BORDER_REFLECT_101); parallel over rows.
cv::Mat pad_reflect(const cv::Mat& in, int pad) {
  cv::Mat out(in.rows + 2 * pad, in.cols + 2 * pad, in.type());
  const std::size_t es = in.elemSize();
  std::vector<int> xs(out.cols);
  for (int x = 0; x < out.cols; ++x) xs[x] = cv::borderInterpolate(x - pad, in.cols, cv::BORDER_REFLECT_101);
  parallel_rows(out.rows, 32, [&](int r0, int r1) {
    for (int y = r0; y < r1; ++y) {
      const uchar* s = in.ptr(cv::borderInterpolate(y - pad, in.rows, cv::BORDER_REFLECT_101));
      uchar* o = out.ptr(y);
      std::memcpy(o + pad * es, s, in.cols * es);
      for (int x = 0; x < pad; ++x) std::memcpy(o + x * es, s + xs[x] * es, es);
      for (int x = pad + in.cols; x < out.cols; ++x) std::memcpy(o + x * es, s + xs[x] * es, es);
    }
  });
  return out;
}

// A zero image, cleared in parallel (the first touch of a large buffer is most of its cost).
cv::Mat zeros(cv::Size size, int type) {
  cv::Mat m(size, type);
  parallel_rows(size.height, 64, [&](int r0, int r1) { m.rowRange(r0, r1).setTo(cv::Scalar::all(0)); });
  return m;
}

// Layer occupancy is kept per block of kBlock x kBlock pixels; layers are blurred and
// composited per tile of kTile x kTile pixels of their own (possibly reduced) grid, so a layer
// costs in proportion to the area it touches, not to its bounding box.
constexpr int kBlock = 8;
constexpr int kTile = 32;  // a multiple of kBlock

struct LayerMaps {
  std::vector<double> levels;  // signed radii, ascending (far -> near)
  cv::Mat lower;               // CV_16S: index j of the level just below the pixel's radius
  cv::Mat t;                   // CV_32F: weight of level j + 1 (1 - t goes to level j)
  int bw = 0, bh = 0;          // blocks per row, block rows
  std::vector<std::vector<std::uint8_t>> occupied;  // per level, per block: 1 = has weight there
};

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

// What lies behind the nearest surface around each pixel: the image restricted to pixels that are
// farther (by more than 1 px of blur radius) than the nearest surface within `reach` px, spread
// into the rest by pull-push (pyramid fill). Used for the light a blurred foreground lets through
// its own silhouette, which the reference view never saw. At full resolution the fill is the
// pixel itself where it is such a farther pixel, else the coarser levels' fill upsampled
// bilinearly; HiddenBackground::at() evaluates that for one pixel, since only the pixels that
// the layers leave partly uncovered need it.
class HiddenBackground {
 public:
  HiddenBackground(const cv::Mat& src, const cv::Mat& radius, int reach) : src_(src), radius_(radius) {
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

  bool behind(int x, int y) const {
    return radius_.at<float>(y, x) < pooled_.at<float>(y / kQ, x / kQ) - 1.0f;
  }

  // The hidden background at full-resolution pixel (x, y) (colour, zero where nothing was found).
  cv::Vec3f at(int x, int y) const {
    if (behind(x, y)) return src_.at<cv::Vec3f>(y, x);
    const float fx = std::min(float(fill1_.cols - 1), std::max(0.0f, (x + 0.5f) * sx_ - 0.5f));
    const float fy = std::min(float(fill1_.rows - 1), std::max(0.0f, (y + 0.5f) * sy_ - 0.5f));
    const int x0 = int(fx), y0 = int(fy);
    const int x1 = std::min(x0 + 1, fill1_.cols - 1), y1 = std::min(y0 + 1, fill1_.rows - 1);
    const float wx = fx - float(x0), wy = fy - float(y0);
    const cv::Vec4f* r0 = fill1_.ptr<cv::Vec4f>(y0);
    const cv::Vec4f* r1 = fill1_.ptr<cv::Vec4f>(y1);
    const cv::Vec4f v = (r0[x0] * (1 - wx) + r0[x1] * wx) * (1 - wy) + (r1[x0] * (1 - wx) + r1[x1] * wx) * wy;
    return cv::Vec3f(v[0], v[1], v[2]);
  }

 private:
  static constexpr int kQ = 4;
  const cv::Mat& src_;
  const cv::Mat& radius_;
  cv::Mat pooled_;  // nearest surface within reach, per kQ x kQ block
  cv::Mat fill1_;   // the fill at half resolution (normalised colour, weight)
  float sx_ = 0.5f, sy_ = 0.5f;
};

}  // namespace

Aperture parse_aperture(const std::string& text) {
  Aperture a;
  if (text == "circle") return a;
  if (text == "hexagon") {
    a.blades = 6;
    return a;
  }
  if (text.rfind("blades:", 0) == 0) {
    const std::string n = text.substr(7);
    char* end = nullptr;
    const long v = n.empty() ? 0 : std::strtol(n.c_str(), &end, 10);
    if (!n.empty() && end && *end == '\0' && v >= 3 && v <= 32) {
      a.blades = int(v);
      return a;
    }
  }
  throw_invalid("the aperture must be circle, hexagon or blades:N with 3 <= N <= 32, got '" + text + "'");
}

std::string to_string(const Aperture& a) {
  if (a.blades == 0) return "circle";
  if (a.blades == 6) return "hexagon";
  return "blades:" + std::to_string(a.blades);
}

void BokehOptions::validate() const {
  check_range("BokehOptions::focus_disparity_px", focus_disparity_px, -1e6, 1e6);
  check_range("BokehOptions::blur_per_disparity", blur_per_disparity, 0, 1e4);
  check_range("BokehOptions::max_blur_px", max_blur_px, 0, 512);
  check_range("BokehOptions::focus_tolerance_px", focus_tolerance_px, 0, 64);
  if (aperture.blades != 0) check_range("BokehOptions::aperture.blades", aperture.blades, 3, 32);
  check_range("BokehOptions::aperture.rotation_deg", aperture.rotation_deg, -360, 360);
  check_range("BokehOptions::highlight_gain", highlight_gain, 1, 1000);
  check_range("BokehOptions::highlight_threshold", highlight_threshold, 1e-3, 0.999);
  check_range("BokehOptions::layer_growth", layer_growth, 0.01, 1);
  check_range("BokehOptions::full_res_radius_px", full_res_radius_px, 2, 512);
}

double focus_disparity_at(const cv::Mat& disparity, cv::Point p, int window_radius) {
  if (disparity.type() != CV_32FC1)
    throw_invalid("focus_disparity_at: the disparity must be CV_32FC1, got " + cv::typeToString(disparity.type()));
  if (p.x < 0 || p.y < 0 || p.x >= disparity.cols || p.y >= disparity.rows)
    throw_invalid("the focus point (" + std::to_string(p.x) + "," + std::to_string(p.y) + ") lies outside the " +
                  std::to_string(disparity.cols) + "x" + std::to_string(disparity.rows) + " image");
  std::vector<float> v;
  for (int y = std::max(0, p.y - window_radius); y <= std::min(disparity.rows - 1, p.y + window_radius); ++y)
    for (int x = std::max(0, p.x - window_radius); x <= std::min(disparity.cols - 1, p.x + window_radius); ++x) {
      const float d = disparity.at<float>(y, x);
      if (std::isfinite(d)) v.push_back(d);
    }
  if (v.empty())
    throw_invalid("no known disparity around the focus point (" + std::to_string(p.x) + "," + std::to_string(p.y) +
                  "); pick another point or give the focus disparity");
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

double blur_per_disparity_for_max_blur(const cv::Mat& disparity, double focus, double max_blur_px, double tolerance) {
  double far = std::numeric_limits<double>::infinity(), near = -far;
  for (int y = 0; y < disparity.rows; ++y) {
    const float* d = disparity.ptr<float>(y);
    for (int x = 0; x < disparity.cols; ++x)
      if (std::isfinite(d[x])) {
        far = std::min(far, double(d[x]));
        near = std::max(near, double(d[x]));
      }
  }
  if (!std::isfinite(far)) throw_invalid("the disparity has no known value");
  const double span = std::max(std::abs(near - focus), std::abs(far - focus));
  return span > 1e-9 ? (max_blur_px + tolerance) / span : 0.0;
}

double blur_per_disparity_from_f_number(double f_number, double focal_px, double pixel_pitch_um, double baseline_mm) {
  check_range("f-number", f_number, 0.5, 64);
  check_range("focal length (px)", focal_px, 1, 1e6);
  check_range("pixel pitch (um)", pixel_pitch_um, 0.1, 100);
  check_range("baseline (mm)", baseline_mm, 1e-3, 1e6);
  const double focal_mm = focal_px * pixel_pitch_um * 1e-3;
  const double aperture_radius_mm = focal_mm / (2 * f_number);
  return aperture_radius_mm / baseline_mm;
}

cv::Mat signed_blur_radius(const cv::Mat& disparity, const BokehOptions& o) {
  o.validate();
  if (disparity.empty() || disparity.type() != CV_32FC1) throw_invalid("the disparity must be a 1-channel float map");
  cv::Mat d = disparity.clone();
  fill_holes_background(d, float(o.focus_disparity_px));
  cv::Mat r(d.size(), CV_32F);
  const float k = float(o.blur_per_disparity), f = float(o.focus_disparity_px), lim = float(o.max_blur_px);
  const float tol = float(o.focus_tolerance_px);
  parallel_rows(d.rows, 32, [&](int r0, int r1) {
    for (int y = r0; y < r1; ++y) {
      const float* dd = d.ptr<float>(y);
      float* rr = r.ptr<float>(y);
      for (int x = 0; x < d.cols; ++x) {
        const float v = k * (dd[x] - f);
        const float m = std::max(0.0f, std::abs(v) - tol);
        rr[x] = std::min(lim, v < 0 ? -m : m);
      }
    }
  });
  return r;
}

cv::Mat render_bokeh(const cv::Mat& image, const cv::Mat& disparity, const BokehOptions& o, BokehStats* stats) {
  const auto t0 = std::chrono::steady_clock::now();
  o.validate();
  if (image.empty() || image.type() != CV_32FC3) throw_invalid("the bokeh input image must be 3-channel float (linear BGR)");
  if (disparity.size() != image.size())
    throw_invalid("the disparity is " + std::to_string(disparity.cols) + "x" + std::to_string(disparity.rows) +
                  " but the image is " + std::to_string(image.cols) + "x" + std::to_string(image.rows));
  const cv::Mat radius_in = signed_blur_radius(disparity, o);
  double lo, hi;
  cv::minMaxLoc(radius_in, &lo, &hi);
  const double max_abs = std::max(std::abs(lo), std::abs(hi));
  // The image is extended by mirroring by the largest radius, so that a blur near the border
  // averages plausible content instead of losing weight to the outside.
  const int pad = int(std::ceil(max_abs)) + 2;
  const cv::Mat radius = pad_reflect(radius_in, pad);
  cv::Mat padded = pad_reflect(image, pad);
  const cv::Size size = padded.size();

  // Highlights boosted before the blur, in linear light.
  cv::Mat src = padded;
  if (o.highlight_gain > 1) {
    const float g = float(o.highlight_gain - 1), th = float(o.highlight_threshold);
    parallel_rows(size.height, 32, [&](int r0, int r1) {
      for (int y = r0; y < r1; ++y) {
        cv::Vec3f* p = src.ptr<cv::Vec3f>(y);
        for (int x = 0; x < size.width; ++x) {
          const float m = std::max({p[x][0], p[x][1], p[x][2]});
          p[x] *= 1.0f + g * smoothstep01((m - th) / (1 - th));
        }
      }
    });
  }

  const LayerMaps maps = assign_layers(radius, o.layer_growth);
  const int n = int(maps.levels.size());
  cv::Mat acc = zeros(size, CV_32FC4);   // premultiplied colour + weight
  cv::Mat cover = zeros(size, CV_32F);   // summed coverage of the layers done
  // Blurred coverage of the layer done last (read) and of the current one (written); each is
  // zero outside the tiles listed beside it.
  cv::Mat cov_buf[2] = {zeros(size, CV_32F), zeros(size, CV_32F)};
  std::vector<cv::Rect> cov_rects[2];
  cv::Mat low_buf(size, CV_32FC4);  // the layer on its (reduced) grid; only the tiles in use are written
  tbb::enumerable_thread_specific<std::vector<float>> scratch_tls, out_tls;
  BokehStats st;
  // Front (nearest, largest signed radius) to back.
  for (int level = n - 1; level >= 0; --level) {
    cv::Mat& prev = cov_buf[(level + 1) & 1];
    cv::Mat& cur = cov_buf[level & 1];
    std::vector<cv::Rect>& prev_rects = cov_rects[(level + 1) & 1];
    std::vector<cv::Rect>& cur_rects = cov_rects[level & 1];
    cur_rects.clear();
    const double r = std::abs(maps.levels[level]);
    const int scale = r > o.full_res_radius_px ? int(std::ceil(r / o.full_res_radius_px)) : 1;
    const int lw = (size.width + scale - 1) / scale, lh = (size.height + scale - 1) / scale;
    const int tw = (lw + kTile - 1) / kTile, th = (lh + kTile - 1) / kTile;
    // Tiles of the reduced grid holding the layer: a block maps into exactly one tile, since
    // a tile spans kTile * scale full-resolution pixels, a multiple of kBlock.
    std::vector<std::uint8_t> has(std::size_t(tw) * th, 0);
    const std::vector<std::uint8_t>& occ = maps.occupied[level];
    const int per_tile = kTile * scale / kBlock;
    for (int by = 0; by < maps.bh; ++by)
      for (int bx = 0; bx < maps.bw; ++bx)
        if (occ[std::size_t(by) * maps.bw + bx]) has[std::size_t(by / per_tile) * tw + bx / per_tile] = 1;
    if (std::find(has.begin(), has.end(), 1) == has.end()) {
      parallel_rows(int(prev_rects.size()), 8, [&](int a, int b) {
        for (int i = a; i < b; ++i) prev(prev_rects[i]).setTo(0);
      });
      prev_rects.clear();
      continue;
    }
    ++st.layers;
    if (scale > 1) ++st.reduced_layers;
    const detail::Kernel kernel =
        r > 1e-6 ? detail::make_kernel(r / scale, o.aperture) : detail::make_kernel(0.0, o.aperture);
    // Output tiles: those within the kernel's reach (+ 1 px for the bilinear upsampling) of the
    // layer; input tiles: those within the reach of an output tile (zero where the layer is not).
    const int reach = std::max({kernel.reach_x, -kernel.dy_min, kernel.dy_max}) + 1;
    const int reach_tiles = (reach + kTile - 1) / kTile;
    const std::vector<std::uint8_t> out_tiles = dilate_tiles(has, tw, th, reach_tiles);
    const std::vector<std::uint8_t> in_tiles = dilate_tiles(out_tiles, tw, th, reach_tiles);
    std::vector<int> in_list, out_list;
    for (int i = 0; i < tw * th; ++i) {
      if (in_tiles[i]) in_list.push_back(i);
      if (out_tiles[i]) out_list.push_back(i);
    }
    cv::Mat low(lh, lw, CV_32FC4, low_buf.data);  // reuses the full-size buffer
    auto tile_rect = [&](int i) {
      const int tx = i % tw, ty = i / tw;
      return cv::Rect(tx * kTile, ty * kTile, std::min(kTile, lw - tx * kTile), std::min(kTile, lh - ty * kTile));
    };
    parallel_rows(int(in_list.size()), 4, [&](int a, int b) {
      for (int k = a; k < b; ++k) {
        const int i = in_list[k];
        const cv::Rect tile = tile_rect(i);
        if (has[i]) {
          gather_tile(src, maps, level, scale, tile, low);
        } else {
          low(tile).setTo(cv::Scalar::all(0));
        }
      }
    });
    // Blur each output tile (with a 1-px margin on the reduced grid, for the bilinear
    // upsampling) and composite its full-resolution pixels.
    for (int i : out_list) {
      const cv::Rect t = tile_rect(i);
      cur_rects.emplace_back(cv::Rect(t.x * scale, t.y * scale, t.width * scale, t.height * scale) &
                             cv::Rect(0, 0, size.width, size.height));
    }
    parallel_rows(int(out_list.size()), 1, [&](int a, int b) {
      std::vector<float>& scratch = scratch_tls.local();
      std::vector<float>& blurred = out_tls.local();
      std::vector<cv::Vec4f> row, vrow;
      std::vector<int> xi;
      std::vector<float> xw;
      std::vector<std::uint8_t> row_hit;
      for (int k = a; k < b; ++k) {
        const cv::Rect tile = tile_rect(out_list[k]);
        const int m = scale > 1 ? 1 : 0;
        const cv::Rect orect = cv::Rect(tile.x - m, tile.y - m, tile.width + 2 * m, tile.height + 2 * m) &
                               cv::Rect(0, 0, lw, lh);
        blurred.resize(std::size_t(orect.area()) * 4);
        if (r > 1e-6) {
          detail::blur_rect(low, kernel, orect, blurred.data(), scratch);
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
          cv::Vec4f* a4 = acc.ptr<cv::Vec4f>(yy) + full_rect.x;
          float* cv_ = cover.ptr<float>(yy) + full_rect.x;
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
    parallel_rows(int(prev_rects.size()), 8, [&](int a, int b) {
      for (int i = a; i < b; ++i) prev(prev_rects[i]).setTo(0);
    });
    prev_rects.clear();
  }

  // Where the layers cover less than the whole aperture (inside the silhouette of a blurred
  // foreground, whose background the reference view never saw), the rest of the light comes from
  // an estimate of the hidden background.
  const HiddenBackground hidden(src, radius, int(std::ceil(max_abs)) + 1);
  cv::Mat out(image.size(), CV_32FC3);
  parallel_rows(image.rows, 32, [&](int r0, int r1) {
    for (int y = r0; y < r1; ++y) {
      const cv::Vec4f* a = acc.ptr<cv::Vec4f>(y + pad) + pad;
      cv::Vec3f* p = out.ptr<cv::Vec3f>(y);
      for (int x = 0; x < image.cols; ++x) {
        const float missing = std::max(0.0f, 1.0f - a[x][3]);
        const float w = a[x][3] + missing;  // >= 1
        cv::Vec3f c(a[x][0], a[x][1], a[x][2]);
        if (missing > 0) c += hidden.at(x + pad, y + pad) * missing;
        p[x] = c * (1.0f / w);
      }
    }
  });
  st.max_radius_px = max_abs;
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (stats) *stats = st;
  return out;
}

}  // namespace dualcam::fusion
