#include "bokeh_kernel.hpp"

#include <algorithm>
#include <cmath>

#include <tbb/enumerable_thread_specific.h>

#include "dualcam/engine/parallel.hpp"

namespace dualcam::fusion::detail {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Horizontal chord [xl, xr] of the shape at height y; false when the line misses it.
bool chord(double radius, const Aperture& ap, const std::vector<cv::Point2d>& poly, double y, double& xl,
           double& xr) {
  if (ap.blades == 0) {
    if (std::abs(y) > radius) return false;
    const double h = std::sqrt(std::max(0.0, radius * radius - y * y));
    xl = -h;
    xr = h;
    return true;
  }
  bool hit = false;
  xl = 1e300;
  xr = -1e300;
  const std::size_t n = poly.size();
  for (std::size_t k = 0; k < n; ++k) {
    const cv::Point2d a = poly[k], b = poly[(k + 1) % n];
    const double lo = std::min(a.y, b.y), hi = std::max(a.y, b.y);
    if (y < lo || y > hi) continue;
    double x;
    if (hi - lo < 1e-12) {
      xl = std::min({xl, a.x, b.x});
      xr = std::max({xr, a.x, b.x});
      hit = true;
      continue;
    }
    x = a.x + (b.x - a.x) * (y - a.y) / (b.y - a.y);
    xl = std::min(xl, x);
    xr = std::max(xr, x);
    hit = true;
  }
  return hit && xr >= xl;
}

}  // namespace

Kernel make_kernel(double radius, const Aperture& ap) {
  std::vector<cv::Point2d> poly;
  double y_min = -radius, y_max = radius;
  if (ap.blades >= 3) {
    y_min = 1e300;
    y_max = -1e300;
    for (int k = 0; k < ap.blades; ++k) {
      // Image y points down: a vertex "up" is at (0, -radius) for rotation 0.
      const double th = (ap.rotation_deg * kPi / 180.0) + 2 * kPi * k / ap.blades;
      poly.emplace_back(radius * std::sin(th), -radius * std::cos(th));
      y_min = std::min(y_min, poly.back().y);
      y_max = std::max(y_max, poly.back().y);
    }
  }
  Kernel k;
  const int r0 = int(std::floor(y_min + 0.5)), r1 = int(std::floor(y_max + 0.5));
  k.dy_min = r0;
  k.dy_max = r1;
  for (int dy = r0; dy <= r1; ++dy) {
    const double lo = std::max(dy - 0.5, y_min), hi = std::min(dy + 0.5, y_max);
    if (hi <= lo) continue;
    double xl, xr;
    if (!chord(radius, ap, poly, 0.5 * (lo + hi), xl, xr)) continue;
    KernelRow row;
    row.dy = dy;
    row.v = float(hi - lo);
    const int cl = int(std::floor(xl + 0.5)), cr = int(std::floor(xr + 0.5));
    if (cl == cr) {
      row.left = row.right = cl;
      row.w_left = float(xr - xl);
      row.w_right = 0;
    } else {
      row.left = cl;
      row.w_left = float(cl + 0.5 - xl);
      row.right = cr;
      row.w_right = float(xr - (cr - 0.5));
      row.core_a = cl + 1;
      row.core_b = cr - 1;
    }
    double sum = row.w_left + row.w_right + std::max(0, row.core_b - row.core_a + 1);
    if (sum <= 0) continue;
    k.total += row.v * sum;
    k.reach_x = std::max({k.reach_x, std::abs(row.left), std::abs(row.right)});
    k.rows.push_back(row);
  }
  if (k.rows.empty()) {  // a radius far below a pixel: the identity
    KernelRow row;
    row.w_left = 1;
    k.rows.push_back(row);
    k.total = 1;
    k.dy_min = k.dy_max = 0;
  }
  return k;
}

void blur_spans(const cv::Mat& in, const Kernel& kernel, cv::Mat& out) {
  CV_Assert(in.type() == CV_32FC4);
  const int h = in.rows, w = in.cols;
  out.create(in.size(), CV_32FC4);
  const int pad = kernel.reach_x + 1;
  const int pw = w + 2 * pad + 1;  // prefix entries per row (per channel group)
  const float inv_total = float(1.0 / kernel.total);
  const int grain = 16;
  // Thread-local scratch: prefix rows (double: a float prefix loses ~1e-4 over a 4000-px row)
  // and one accumulator row.
  tbb::enumerable_thread_specific<std::vector<double>> prefix_tls;
  tbb::enumerable_thread_specific<std::vector<float>> acc_tls;
  parallel_rows(h, grain, [&](int y0, int y1) {
    const int s0 = std::max(0, y0 + kernel.dy_min), s1 = std::min(h, y1 + kernel.dy_max);
    std::vector<double>& P = prefix_tls.local();
    std::vector<float>& acc = acc_tls.local();
    if (s1 > s0) P.resize(std::size_t(s1 - s0) * pw * 4);
    acc.resize(std::size_t(w) * 4);
    for (int y = s0; y < s1; ++y) {
      double* p = P.data() + std::size_t(y - s0) * pw * 4;
      const float* src = in.ptr<float>(y);
      double run[4] = {0, 0, 0, 0};
      for (int j = 0; j < pw; ++j) {
        for (int c = 0; c < 4; ++c) p[j * 4 + c] = run[c];
        const int x = j - pad;
        if (x >= 0 && x < w)
          for (int c = 0; c < 4; ++c) run[c] += src[x * 4 + c];
      }
    }
    const int n4 = w * 4;
    for (int y = y0; y < y1; ++y) {
      std::fill(acc.begin(), acc.end(), 0.0f);
      float* a = acc.data();
      for (const KernelRow& row : kernel.rows) {
        const int sy = y + row.dy;
        if (sy < 0 || sy >= h) continue;
        const double* p = P.data() + std::size_t(sy - s0) * pw * 4;
        const float v = row.v;
        // P[j] holds the sum of source columns < j - pad, so columns [x+a, x+b] sum to
        // P[x+b+pad+1] - P[x+a+pad].
        if (row.core_b >= row.core_a) {
          const double* hi = p + (row.core_b + pad + 1) * 4;
          const double* lo = p + (row.core_a + pad) * 4;
          for (int k = 0; k < n4; ++k) a[k] += v * float(hi[k] - lo[k]);
        }
        if (row.w_left > 0) {
          const double* hi = p + (row.left + pad + 1) * 4;
          const double* lo = p + (row.left + pad) * 4;
          const float wl = v * row.w_left;
          for (int k = 0; k < n4; ++k) a[k] += wl * float(hi[k] - lo[k]);
        }
        if (row.w_right > 0 && row.right != row.left) {
          const double* hi = p + (row.right + pad + 1) * 4;
          const double* lo = p + (row.right + pad) * 4;
          const float wr = v * row.w_right;
          for (int k = 0; k < n4; ++k) a[k] += wr * float(hi[k] - lo[k]);
        }
      }
      float* o = out.ptr<float>(y);
      for (int k = 0; k < n4; ++k) o[k] = a[k] * inv_total;
    }
  });
}

}  // namespace dualcam::fusion::detail
