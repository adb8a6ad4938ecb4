#include "dualcam/fusion/refine.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "dualcam/engine/color.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/parallel.hpp"
#include "weighted_median.hpp"

namespace dualcam::fusion {

void fill_holes_background(cv::Mat& d, float fallback) {
  if (d.type() != CV_32F) throw_invalid("fill_holes_background: expected CV_32F");
  parallel_rows(d.rows, 16, [&](int r0, int r1) {
    std::vector<float> left(d.cols), right(d.cols);
    for (int r = r0; r < r1; ++r) {
      float* p = d.ptr<float>(r);
      float last = NAN;
      for (int c = 0; c < d.cols; ++c) {
        if (std::isfinite(p[c])) last = p[c];
        left[c] = last;
      }
      last = NAN;
      for (int c = d.cols - 1; c >= 0; --c) {
        if (std::isfinite(p[c])) last = p[c];
        right[c] = last;
      }
      for (int c = 0; c < d.cols; ++c) {
        if (std::isfinite(p[c])) continue;
        const float a = left[c], b = right[c];
        if (std::isfinite(a) && std::isfinite(b)) p[c] = std::min(a, b);
        else if (std::isfinite(a)) p[c] = a;
        else if (std::isfinite(b)) p[c] = b;
        else p[c] = fallback;
      }
    }
  });
}

void median_5x5(cv::Mat& d) {
  if (d.type() != CV_32F) throw_invalid("median_5x5: expected CV_32F");
  cv::Mat nan_mask = ~(d == d);  // (cv::compare gives NaN != NaN as false)
  cv::Mat tmp = d.clone();
  tmp.setTo(0, nan_mask);
  cv::medianBlur(tmp, tmp, 5);
  tmp.setTo(std::numeric_limits<float>::quiet_NaN(), nan_mask);
  d = tmp;
}

}  // namespace dualcam::fusion

namespace dualcam::fusion {

void fill_holes_directional(cv::Mat& d, const cv::Mat& occlusion, int max_search) {
  if (d.type() != CV_32F) throw_invalid("fill_holes_directional: expected CV_32F");
  if (!occlusion.empty() && (occlusion.type() != CV_8U || occlusion.size() != d.size()))
    throw_invalid("fill_holes_directional: the occlusion mask must be CV_8U of the disparity's size");
  const cv::Mat src = d.clone();  // read from the unfilled map only: the result is order-free
  static const int dirs[8][2] = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}, {1, 1}, {-1, -1}, {1, -1}, {-1, 1}};
  parallel_rows(d.rows, 16, [&](int r0, int r1) {
    float found[8];
    for (int y = r0; y < r1; ++y) {
      float* out = d.ptr<float>(y);
      const float* in = src.ptr<float>(y);
      for (int x = 0; x < d.cols; ++x) {
        if (std::isfinite(in[x])) continue;
        int n = 0;
        for (const auto& dir : dirs) {
          int xx = x, yy = y;
          for (int k = 0; k < max_search; ++k) {
            xx += dir[0];
            yy += dir[1];
            if (xx < 0 || yy < 0 || xx >= d.cols || yy >= d.rows) break;
            const float v = src.at<float>(yy, xx);
            if (std::isfinite(v)) {
              found[n++] = v;
              break;
            }
          }
        }
        if (n == 0) continue;
        for (int i = 1; i < n; ++i)  // insertion sort of at most 8 values
          for (int j = i; j > 0 && found[j] < found[j - 1]; --j) std::swap(found[j], found[j - 1]);
        const bool occluded = !occlusion.empty() && occlusion.at<std::uint8_t>(y, x) != 0;
        out[x] = occluded ? found[std::min(1, n - 1)] : found[n / 2];
      }
    }
  });
}

void weighted_median(cv::Mat& d, const cv::Mat& guide, int radius, double sigma) {
  if (d.type() != CV_32F || guide.type() != CV_8UC1 || guide.size() != d.size())
    throw_invalid("weighted_median: expects a CV_32F disparity and a CV_8UC1 guide of its size");
  cv::Mat nan_mask = ~(d == d);  // (cv::compare gives NaN != NaN as false)
  cv::Mat src = d.clone();
  src.setTo(0, nan_mask);
  cv::Mat out = detail::weighted_median_filter(guide, src, radius, sigma);  // ximgproc's, rows in parallel
  out.setTo(std::numeric_limits<float>::quiet_NaN(), nan_mask);
  d = out;
}

void RefineOptions::validate() const {
  check_range("RefineOptions::median_radius", median_radius, 0, 30);
  check_range("RefineOptions::edge_snap_radius", edge_snap_radius, 0, 100);
  check_range("RefineOptions::median_sigma", median_sigma, 0.1, 1000.0);
  upsample.validate();
}

void UpsampleOptions::validate() const {
  check_range("UpsampleOptions::sigma_spatial", sigma_spatial, 0.1, 10.0);
  check_range("UpsampleOptions::sigma_range", sigma_range, 0.5, 255.0);
  check_range("UpsampleOptions::radius", radius, 1, 5);
}

cv::Mat upsample_disparity(const cv::Mat& low, const cv::Mat& guide_low, const cv::Mat& guide,
                           const UpsampleOptions& o) {
  o.validate();
  if (low.type() != CV_32F || guide_low.type() != CV_8UC1 || guide.type() != CV_8UC1 || low.size() != guide_low.size())
    throw_invalid("upsample_disparity: expects a CV_32F map with a CV_8UC1 guide of its size and a CV_8UC1 full guide");
  const double sx = double(low.cols) / guide.cols, sy = double(low.rows) / guide.rows;
  const float ratio = float(double(guide.cols) / low.cols);
  cv::Mat out(guide.size(), CV_32F);
  // Lookup tables: the weights are products of these.
  std::vector<float> range_w(256);
  for (int i = 0; i < 256; ++i) range_w[i] = float(std::exp(-0.5 * i * i / (o.sigma_range * o.sigma_range)));
  const double ss2 = 2 * o.sigma_spatial * o.sigma_spatial;
  // The spatial weight is separable: per column (and per row) the first neighbour and its 2r
  // weights are computed once.
  const int taps = 2 * o.radius;
  auto axis = [&](int n, double scale, std::vector<int>& first, std::vector<float>& w) {
    first.resize(n);
    w.resize(static_cast<std::size_t>(n) * taps);
    for (int k = 0; k < n; ++k) {
      const double c = (k + 0.5) * scale - 0.5;
      first[k] = int(std::floor(c)) - o.radius + 1;
      for (int t = 0; t < taps; ++t) {
        const double dd = first[k] + t - c;
        w[static_cast<std::size_t>(k) * taps + t] = float(std::exp(-dd * dd / ss2));
      }
    }
  };
  std::vector<int> first_x, first_y;
  std::vector<float> wx, wy;
  axis(guide.cols, sx, first_x, wx);
  axis(guide.rows, sy, first_y, wy);
  // The low-resolution map padded by `pad` columns on each side: values with unknown ones as 0,
  // and a factor that is 1 where known, 0 where unknown or outside. The loop below then needs no
  // branch per tap; a skipped tap adds exactly 0, so the sums are those of skipping it.
  const int pad = o.radius + 1;
  const int lw = low.cols + 2 * pad;
  std::vector<float> lv(static_cast<std::size_t>(low.rows) * lw, 0.0f), lk(lv.size(), 0.0f);
  std::vector<std::uint8_t> lg(lv.size(), 0);
  for (int j = 0; j < low.rows; ++j) {
    const float* lr = low.ptr<float>(j);
    const std::uint8_t* gl = guide_low.ptr<std::uint8_t>(j);
    const std::size_t row = static_cast<std::size_t>(j) * lw + pad;
    for (int i = 0; i < low.cols; ++i) {
      const bool known = std::isfinite(lr[i]);
      lv[row + i] = known ? lr[i] : 0.0f;
      lk[row + i] = known ? 1.0f : 0.0f;
      lg[row + i] = gl[i];
    }
  }
  // `n_taps` is a compile-time constant for the default radius (2), so the tap loops unroll. The
  // output pixels of a run with the same first low-resolution column (about `ratio` of them) share
  // their taps' values, known flags and guide values: those are read once per run into `tv`,
  // `tk`, `tg`; per pixel only its spatial and range weights differ. The sums are the same, in the
  // same order, as reading every tap per pixel.
  auto rows_body = [&](auto n_taps, int r0, int r1) {
    constexpr int kMax = 2 * 5;  // UpsampleOptions::radius <= 5
    float tv[kMax][kMax], tk[kMax][kMax];
    int tg[kMax][kMax];
    bool row_in[kMax];
    for (int y = r0; y < r1; ++y) {
      const std::uint8_t* g = guide.ptr<std::uint8_t>(y);
      float* dst = out.ptr<float>(y);
      const float* wyy = wy.data() + static_cast<std::size_t>(y) * taps;
      for (int x = 0; x < guide.cols;) {
        const int fx = first_x[x];
        int end = x + 1;
        while (end < guide.cols && first_x[end] == fx) ++end;
        for (int tj = 0; tj < n_taps; ++tj) {
          const int j = first_y[y] + tj;
          row_in[tj] = j >= 0 && j < low.rows;
          if (!row_in[tj]) continue;
          const std::size_t base = static_cast<std::size_t>(j) * lw + pad + fx;
          for (int ti = 0; ti < n_taps; ++ti) {
            tv[tj][ti] = lv[base + ti];
            tk[tj][ti] = lk[base + ti];
            tg[tj][ti] = lg[base + ti];
          }
        }
        for (; x < end; ++x) {
          float wsum = 0, dsum = 0;
          const float* wxx = wx.data() + static_cast<std::size_t>(x) * taps;
          const int gx = g[x];
          for (int tj = 0; tj < n_taps; ++tj) {
            if (!row_in[tj]) continue;
            const float wyj = wyy[tj];
            for (int ti = 0; ti < n_taps; ++ti) {
              const float w = wyj * wxx[ti] * range_w[std::abs(gx - tg[tj][ti])] * tk[tj][ti];
              wsum += w;
              dsum += w * tv[tj][ti];
            }
          }
          dst[x] = wsum > 1e-12f ? dsum / wsum * ratio : std::numeric_limits<float>::quiet_NaN();
        }
      }
    }
  };
  parallel_rows(guide.rows, 16, [&](int r0, int r1) {
    if (taps == 4)
      rows_body(std::integral_constant<int, 4>{}, r0, r1);
    else
      rows_body(taps, r0, r1);
  });
  return out;
}

RefinedDisparity refine_disparity(const MatchResult& m, const cv::Mat& guide_low, const cv::Mat& guide,
                                  MatcherKind matcher, const RefineOptions& o) {
  o.validate();
  if (m.disparity.type() != CV_32F || guide_low.type() != CV_8UC1 || guide.type() != CV_8UC1 ||
      guide_low.size() != m.disparity.size())
    throw_invalid("refine_disparity: expects a CV_32F disparity with a CV_8UC1 guide of its size and a CV_8UC1 full guide");
  RefinedDisparity out;
  cv::Mat d = m.disparity.clone();  // the fills work in place; the match is the caller's
  if (o.fill_holes) {
    if (matcher == MatcherKind::Sgbm) {  // the peer's post-processing
      fill_holes_background(d);
      median_5x5(d);
    } else {
      fill_holes_directional(d, m.occlusion);
      fill_holes_background(d);  // what the directions did not reach
      if (o.median_radius > 0)
        weighted_median(d, guide_low, o.median_radius, o.median_sigma);
      else
        median_5x5(d);
    }
  }
  if (guide.size() != guide_low.size()) {
    out.disparity = upsample_disparity(d, guide_low, guide, o.upsample);
    cv::resize(m.confidence, out.confidence, guide.size(), 0, 0, cv::INTER_NEAREST);
    cv::resize(m.occlusion, out.occlusion, guide.size(), 0, 0, cv::INTER_NEAREST);
  } else {
    out.disparity = d;
    out.confidence = m.confidence;
    out.occlusion = m.occlusion;
  }
  return out;
}

cv::Mat refine_view_disparity(const cv::Mat& disparity, const cv::Mat& image, int radius) {
  if (disparity.empty() || disparity.type() != CV_32FC1) throw_invalid("refine_view_disparity: the disparity must be a 1-channel float map");
  if (image.type() != CV_32FC3 || image.size() != disparity.size())
    throw_invalid("refine_view_disparity: the image must be 3-channel float of the disparity's size");
  check_range("refine_view_disparity: radius_px", radius, 0, 100);
  std::vector<float> known;
  for (int y = 0; y < disparity.rows; ++y)
    for (int x = 0; x < disparity.cols; ++x)
      if (std::isfinite(disparity.at<float>(y, x))) known.push_back(disparity.at<float>(y, x));
  if (known.empty()) throw_invalid("the disparity has no known value");
  std::nth_element(known.begin(), known.begin() + known.size() / 2, known.end());
  cv::Mat filled = disparity.clone();
  fill_holes_background(filled, known[known.size() / 2]);
  if (radius == 0) return filled;
  // A joint weighted median: each pixel takes the weighted median of the disparities on a
  // 7x7 grid (stride ceil(radius / 3)) around it, weighted by colour similarity in the 8-bit
  // sRGB image (Gaussian, sigma 12 levels). Sparse taps, because at 12 MP the dense weighted
  // median of the working scale would cost seconds; written here rather than taken from
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

}  // namespace dualcam::fusion
