#include "dualcam/fusion/bokeh.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <vector>

#include <opencv2/imgproc.hpp>

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

struct LayerMaps {
  std::vector<double> levels;  // signed radii, ascending (far -> near)
  cv::Mat lower;               // CV_16S: index j of the level just below the pixel's radius
  cv::Mat t;                   // CV_32F: weight of level j + 1 (1 - t goes to level j)
  std::vector<cv::Rect> bbox;  // pixels of each level (empty rect = none)
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
  const int grain = 32;
  const int blocks = (radius.rows + grain - 1) / grain;
  // Per row-block bounding boxes (min/max are order-independent, so merging is deterministic).
  std::vector<std::vector<cv::Vec4i>> boxes(blocks, std::vector<cv::Vec4i>(n, cv::Vec4i(INT32_MAX, INT32_MAX, -1, -1)));
  parallel_rows(radius.rows, grain, [&](int r0, int r1) {
    std::vector<cv::Vec4i>& box = boxes[r0 / grain];
    auto grow = [&](int level, int x, int y) {
      cv::Vec4i& b = box[level];
      b[0] = std::min(b[0], x);
      b[1] = std::min(b[1], y);
      b[2] = std::max(b[2], x);
      b[3] = std::max(b[3], y);
    };
    for (int y = r0; y < r1; ++y) {
      const float* r = radius.ptr<float>(y);
      short* lw = m.lower.ptr<short>(y);
      float* tt = m.t.ptr<float>(y);
      for (int x = 0; x < radius.cols; ++x) {
        int j = int(std::upper_bound(m.levels.begin(), m.levels.end(), double(r[x])) - m.levels.begin()) - 1;
        j = std::max(0, std::min(n - 1, j));
        float t = 0;
        if (j >= n - 1) {
          j = n - 1;
        } else {
          t = float((r[x] - m.levels[j]) / (m.levels[j + 1] - m.levels[j]));
          t = std::min(1.0f, std::max(0.0f, t));
        }
        lw[x] = short(j);
        tt[x] = t;
        if (t < 1) grow(j, x, y);
        if (t > 0) grow(j + 1, x, y);
      }
    }
  });
  m.bbox.assign(n, cv::Rect());
  for (int level = 0; level < n; ++level) {
    cv::Vec4i b(INT32_MAX, INT32_MAX, -1, -1);
    for (const auto& bl : boxes) {
      b[0] = std::min(b[0], bl[level][0]);
      b[1] = std::min(b[1], bl[level][1]);
      b[2] = std::max(b[2], bl[level][2]);
      b[3] = std::max(b[3], bl[level][3]);
    }
    if (b[2] >= 0) m.bbox[level] = cv::Rect(b[0], b[1], b[2] - b[0] + 1, b[3] - b[1] + 1);
  }
  return m;
}

inline float layer_weight(short lower, float t, int level) {
  if (lower == level) return 1.0f - t;
  if (lower == level - 1) return t;
  return 0.0f;
}

// Layer `level` as premultiplied (b, g, r, coverage) over `region`, box-averaged by `scale`
// (zero outside the image).
cv::Mat gather_layer(const cv::Mat& src, const LayerMaps& m, int level, const cv::Rect& region, int scale) {
  const int lw = (region.width + scale - 1) / scale, lh = (region.height + scale - 1) / scale;
  cv::Mat out(lh, lw, CV_32FC4);
  const float inv = 1.0f / float(scale * scale);
  parallel_rows(lh, 8, [&](int v0, int v1) {
    for (int v = v0; v < v1; ++v) {
      cv::Vec4f* o = out.ptr<cv::Vec4f>(v);
      for (int u = 0; u < lw; ++u) o[u] = cv::Vec4f(0, 0, 0, 0);
      for (int yy = 0; yy < scale; ++yy) {
        const int y = region.y + v * scale + yy;
        if (y >= src.rows) break;
        const cv::Vec3f* s = src.ptr<cv::Vec3f>(y);
        const short* lo = m.lower.ptr<short>(y);
        const float* tt = m.t.ptr<float>(y);
        for (int u = 0; u < lw; ++u) {
          cv::Vec4f acc = o[u];
          for (int xx = 0; xx < scale; ++xx) {
            const int x = region.x + u * scale + xx;
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
      if (scale > 1)
        for (int u = 0; u < lw; ++u) o[u] *= inv;
    }
  });
  return out;
}

// What lies behind the nearest surface around each pixel: the image restricted to pixels that are
// farther (by more than 1 px of blur radius) than the nearest surface within `reach` px, spread
// into the rest by pull-push (pyramid fill). Used for the light a blurred foreground lets through
// its own silhouette, which the reference view never saw.
cv::Mat hidden_background(const cv::Mat& src, const cv::Mat& radius, int reach) {
  // Nearest surface (largest signed radius) within reach: max-pool by 4, dilate, expand.
  const int q = 4;
  cv::Mat pooled((radius.rows + q - 1) / q, (radius.cols + q - 1) / q, CV_32F);
  parallel_rows(pooled.rows, 16, [&](int r0, int r1) {
    for (int v = r0; v < r1; ++v)
      for (int u = 0; u < pooled.cols; ++u) {
        float m = -1e30f;
        for (int y = v * q; y < std::min(radius.rows, v * q + q); ++y)
          for (int x = u * q; x < std::min(radius.cols, u * q + q); ++x) m = std::max(m, radius.at<float>(y, x));
        pooled.at<float>(v, u) = m;
      }
  });
  const int rr = reach / q + 1;
  cv::dilate(pooled, pooled, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(2 * rr + 1, 2 * rr + 1)));
  // Level 0: premultiplied colour of the farther pixels, and their mask.
  cv::Mat p0(src.size(), CV_32FC4);
  parallel_rows(src.rows, 32, [&](int r0, int r1) {
    for (int y = r0; y < r1; ++y) {
      const cv::Vec3f* s = src.ptr<cv::Vec3f>(y);
      const float* r = radius.ptr<float>(y);
      const float* near = pooled.ptr<float>(y / q);
      cv::Vec4f* o = p0.ptr<cv::Vec4f>(y);
      for (int x = 0; x < src.cols; ++x) {
        const bool behind = r[x] < near[x / q] - 1.0f;
        o[x] = behind ? cv::Vec4f(s[x][0], s[x][1], s[x][2], 1.0f) : cv::Vec4f(0, 0, 0, 0);
      }
    }
  });
  std::vector<cv::Mat> pyr{p0};
  while (pyr.back().cols > 4 && pyr.back().rows > 4) {
    cv::Mat down;
    cv::resize(pyr.back(), down, cv::Size((pyr.back().cols + 1) / 2, (pyr.back().rows + 1) / 2), 0, 0, cv::INTER_AREA);
    pyr.push_back(down);
  }
  // Push: each level keeps its own colour where it has weight and takes the coarser level's
  // elsewhere.
  cv::Mat fill = pyr.back();
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
  cv::Mat out(src.size(), CV_32FC3);
  cv::Mat ch[4];
  cv::split(fill, ch);
  cv::merge(ch, 3, out);
  return out;
}

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
  throw_invalid("--aperture must be circle, hexagon or blades:N with 3 <= N <= 32, got '" + text + "'");
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
  CV_Assert(disparity.type() == CV_32F);
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
                  "); pick another point or give --focus-disparity");
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

cv::Mat fill_unknown_disparity(const cv::Mat& disparity, double fallback) {
  CV_Assert(disparity.type() == CV_32F);
  cv::Mat out = disparity.clone();
  parallel_rows(out.rows, 16, [&](int r0, int r1) {
    std::vector<float> left(out.cols), right(out.cols);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    for (int y = r0; y < r1; ++y) {
      float* d = out.ptr<float>(y);
      float last = nan;
      for (int x = 0; x < out.cols; ++x) left[x] = last = std::isfinite(d[x]) ? d[x] : last;
      last = nan;
      for (int x = out.cols - 1; x >= 0; --x) right[x] = last = std::isfinite(d[x]) ? d[x] : last;
      for (int x = 0; x < out.cols; ++x) {
        if (std::isfinite(d[x])) continue;
        const bool l = std::isfinite(left[x]), r = std::isfinite(right[x]);
        d[x] = l && r ? std::min(left[x], right[x]) : l ? left[x] : r ? right[x] : float(fallback);
      }
    }
  });
  return out;
}

cv::Mat refine_disparity_for_bokeh(const cv::Mat& disparity, const cv::Mat& image, int radius) {
  if (disparity.empty() || disparity.type() != CV_32FC1) throw_invalid("the disparity must be a 1-channel float map");
  if (image.type() != CV_32FC3 || image.size() != disparity.size())
    throw_invalid("refine_disparity_for_bokeh: the image must be 3-channel float of the disparity's size");
  check_range("refine radius (px)", radius, 0, 100);
  std::vector<float> known;
  for (int y = 0; y < disparity.rows; ++y)
    for (int x = 0; x < disparity.cols; ++x)
      if (std::isfinite(disparity.at<float>(y, x))) known.push_back(disparity.at<float>(y, x));
  if (known.empty()) throw_invalid("the disparity has no known value");
  std::nth_element(known.begin(), known.begin() + known.size() / 2, known.end());
  cv::Mat filled = fill_unknown_disparity(disparity, known[known.size() / 2]);
  if (radius == 0) return filled;
  // A joint weighted median: each pixel takes the weighted median of the disparities on a
  // 7x7 grid (stride ceil(radius / 3)) around it, weighted by colour similarity in the 8-bit
  // sRGB image (Gaussian, sigma 12 levels). Written here rather than taken from
  // cv::ximgproc::weightedMedianFilter, whose output differs from run to run (measured).
  const cv::Mat guide = to_srgb8(image);
  const int stride = std::max(1, (radius + 2) / 3);
  const int reach = 3 * stride;
  float lut[3 * 256 * 256 / 64 + 1];
  const int lut_n = int(sizeof lut / sizeof lut[0]);
  for (int k = 0; k < lut_n; ++k) lut[k] = std::exp(-float(k * 64) / (2.0f * 12.0f * 12.0f));
  cv::Mat out(filled.size(), CV_32F);
  parallel_rows(filled.rows, 8, [&](int r0, int r1) {
    std::vector<std::pair<float, float>> taps;
    taps.reserve(49);
    for (int y = r0; y < r1; ++y) {
      const cv::Vec3b* gp = guide.ptr<cv::Vec3b>(y);
      float* o = out.ptr<float>(y);
      for (int x = 0; x < filled.cols; ++x) {
        taps.clear();
        float total = 0;
        for (int dy = -reach; dy <= reach; dy += stride) {
          const int yy = y + dy;
          if (yy < 0 || yy >= filled.rows) continue;
          const cv::Vec3b* gq = guide.ptr<cv::Vec3b>(yy);
          const float* dq = filled.ptr<float>(yy);
          for (int dx = -reach; dx <= reach; dx += stride) {
            const int xx = x + dx;
            if (xx < 0 || xx >= filled.cols) continue;
            int dist = 0;
            for (int c = 0; c < 3; ++c) {
              const int e = int(gp[x][c]) - int(gq[xx][c]);
              dist += e * e;
            }
            const float w = lut[std::min(lut_n - 1, dist / 64)];
            taps.emplace_back(dq[xx], w);
            total += w;
          }
        }
        std::sort(taps.begin(), taps.end());
        float acc = 0;
        float med = taps.back().first;
        for (const auto& t : taps) {
          acc += t.second;
          if (acc >= 0.5f * total) {
            med = t.first;
            break;
          }
        }
        o[x] = med;
      }
    }
  });
  return out;
}

cv::Mat signed_blur_radius(const cv::Mat& disparity, const BokehOptions& o) {
  o.validate();
  if (disparity.empty() || disparity.type() != CV_32FC1) throw_invalid("the disparity must be a 1-channel float map");
  cv::Mat d = fill_unknown_disparity(disparity, o.focus_disparity_px);
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
  cv::Mat radius;
  cv::copyMakeBorder(radius_in, radius, pad, pad, pad, pad, cv::BORDER_REFLECT_101);
  cv::Mat padded;
  cv::copyMakeBorder(image, padded, pad, pad, pad, pad, cv::BORDER_REFLECT_101);
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
  cv::Mat acc(size, CV_32FC4, cv::Scalar::all(0));  // premultiplied colour + weight
  cv::Mat cover(size, CV_32F, cv::Scalar(0));       // summed coverage of the layers done
  cv::Mat prev(size, CV_32F, cv::Scalar(0));        // coverage of the layer done last
  cv::Rect prev_rect;
  BokehStats st;
  const cv::Rect full(0, 0, size.width, size.height);
  // Front (nearest, largest signed radius) to back.
  for (int level = n - 1; level >= 0; --level) {
    const cv::Rect box = maps.bbox[level];
    if (box.empty()) {
      prev(prev_rect).setTo(0);
      prev_rect = cv::Rect();
      continue;
    }
    ++st.layers;
    const double r = std::abs(maps.levels[level]);
    const int scale = r > o.full_res_radius_px ? int(std::ceil(r / o.full_res_radius_px)) : 1;
    if (scale > 1) ++st.reduced_layers;
    const int grow = int(std::ceil(r)) + 2 * scale + 2;
    const cv::Rect region = cv::Rect(box.x - grow, box.y - grow, box.width + 2 * grow, box.height + 2 * grow) & full;

    cv::Mat low = gather_layer(src, maps, level, region, scale);
    cv::Mat blurred;
    if (r > 1e-6) {
      detail::blur_spans(low, detail::make_kernel(r / scale, o.aperture), blurred);
    } else {
      blurred = low;
    }
    // Composite (upsampling bilinearly from the reduced grid when scale > 1).
    cv::Mat layer_cover(region.size(), CV_32F);
    const int lw = blurred.cols, lh = blurred.rows;
    parallel_rows(region.height, 16, [&](int r0, int r1) {
      std::vector<cv::Vec4f> row(region.width);
      for (int yy = r0; yy < r1; ++yy) {
        if (scale == 1) {
          const cv::Vec4f* b = blurred.ptr<cv::Vec4f>(yy);
          std::copy(b, b + region.width, row.begin());
        } else {
          const float fy = std::min(float(lh - 1), std::max(0.0f, (yy + 0.5f) / scale - 0.5f));
          const int y0 = std::min(int(fy), lh - 1), y1 = std::min(y0 + 1, lh - 1);
          const float wy = fy - float(y0);
          const cv::Vec4f* b0 = blurred.ptr<cv::Vec4f>(y0);
          const cv::Vec4f* b1 = blurred.ptr<cv::Vec4f>(y1);
          for (int xx = 0; xx < region.width; ++xx) {
            const float fx = std::min(float(lw - 1), std::max(0.0f, (xx + 0.5f) / scale - 0.5f));
            const int x0 = std::min(int(fx), lw - 1), x1 = std::min(x0 + 1, lw - 1);
            const float wx = fx - float(x0);
            row[xx] = (b0[x0] * (1 - wx) + b0[x1] * wx) * (1 - wy) + (b1[x0] * (1 - wx) + b1[x1] * wx) * wy;
          }
        }
        const int y = region.y + yy;
        cv::Vec4f* a = acc.ptr<cv::Vec4f>(y) + region.x;
        float* cv_ = cover.ptr<float>(y) + region.x;
        const float* pv = prev.ptr<float>(y) + region.x;
        float* lc = layer_cover.ptr<float>(yy);
        for (int xx = 0; xx < region.width; ++xx) {
          // Hidden by the coverage of the layers nearer than the neighbouring one: a surface
          // whose radius falls between two levels lies in both, and must not hide itself.
          const float vis = std::max(0.0f, 1.0f - (cv_[xx] - pv[xx]));
          a[xx] += row[xx] * vis;
          cv_[xx] += row[xx][3];
          lc[xx] = row[xx][3];
        }
      }
    });
    prev(prev_rect).setTo(0);
    layer_cover.copyTo(prev(region));
    prev_rect = region;
  }

  // Where the layers cover less than the whole aperture (inside the silhouette of a blurred
  // foreground, whose background the reference view never saw), the rest of the light comes from
  // an estimate of the hidden background.
  const cv::Mat hidden = hidden_background(src, radius, int(std::ceil(max_abs)) + 1);
  cv::Mat out(size, CV_32FC3);
  parallel_rows(size.height, 32, [&](int r0, int r1) {
    for (int y = r0; y < r1; ++y) {
      const cv::Vec4f* a = acc.ptr<cv::Vec4f>(y);
      const cv::Vec3f* s = src.ptr<cv::Vec3f>(y);
      const cv::Vec3f* hb = hidden.ptr<cv::Vec3f>(y);
      cv::Vec3f* p = out.ptr<cv::Vec3f>(y);
      for (int x = 0; x < size.width; ++x) {
        const float missing = std::max(0.0f, 1.0f - a[x][3]);
        const float w = a[x][3] + missing;
        cv::Vec3f c = cv::Vec3f(a[x][0], a[x][1], a[x][2]) + hb[x] * missing;
        p[x] = w > 1e-6f ? c * (1.0f / w) : s[x];
      }
    }
  });
  st.max_radius_px = max_abs;
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (stats) *stats = st;
  return out(cv::Rect(pad, pad, image.cols, image.rows)).clone();
}

cv::Mat naive_gaussian_bokeh(const cv::Mat& image, const cv::Mat& disparity, const BokehOptions& o) {
  o.validate();
  if (image.empty() || image.type() != CV_32FC3) throw_invalid("the bokeh input image must be 3-channel float (linear BGR)");
  if (disparity.size() != image.size()) throw_invalid("the disparity and the image differ in size");
  const cv::Mat radius = cv::abs(signed_blur_radius(disparity, o));
  // Radii about sqrt(2) apart, as one would pick by hand.
  const std::vector<double> levels{0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512};
  double hi;
  cv::minMaxLoc(radius, nullptr, &hi);
  std::size_t count = 1;
  while (count < levels.size() && levels[count - 1] < hi) ++count;
  std::vector<cv::Mat> blurred(count);
  for (std::size_t k = 0; k < count; ++k) {
    if (levels[k] == 0) {
      blurred[k] = image;
    } else {
      const double sigma = levels[k] / 2;
      cv::GaussianBlur(image, blurred[k], cv::Size(), sigma, sigma, cv::BORDER_REFLECT);
    }
  }
  cv::Mat out(image.size(), CV_32FC3);
  parallel_rows(image.rows, 32, [&](int r0, int r1) {
    for (int y = r0; y < r1; ++y) {
      const float* r = radius.ptr<float>(y);
      cv::Vec3f* p = out.ptr<cv::Vec3f>(y);
      std::vector<const cv::Vec3f*> rows(count);
      for (std::size_t k = 0; k < count; ++k) rows[k] = blurred[k].ptr<cv::Vec3f>(y);
      for (int x = 0; x < image.cols; ++x) {
        if (count == 1) {
          p[x] = rows[0][x];
          continue;
        }
        std::size_t k = 0;
        while (k + 2 < count && levels[k + 1] < r[x]) ++k;
        const float t = std::min(1.0f, std::max(0.0f, float((r[x] - levels[k]) / (levels[k + 1] - levels[k]))));
        p[x] = rows[k][x] * (1 - t) + rows[k + 1][x] * t;
      }
    }
  });
  return out;
}

}  // namespace dualcam::fusion
