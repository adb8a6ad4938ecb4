#include "bokeh_kernel.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "dualcam/engine/error.hpp"

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

void blur_rect(const cv::Mat& in, const Kernel& kernel, const cv::Rect& out_rect, float* out,
               std::vector<float>& scratch) {
  // render_bokeh builds `in` as CV_32FC4 itself: no caller's input reaches this with another type.
  if (in.type() != CV_32FC4)
    throw Error(ErrorCategory::Numerical,
                "blur_rect (internal): the layer must be CV_32FC4, got " + cv::typeToString(in.type()));
  const int h = in.rows, w = in.cols;
  const int rx = kernel.reach_x;
  // Input window: the output columns grown by the horizontal reach, one row per source row.
  const int x_in = out_rect.x - rx;
  const int wi = out_rect.width + 2 * rx;   // input pixels per window row
  const int y_in = out_rect.y + kernel.dy_min;
  const int hi = out_rect.height + kernel.dy_max - kernel.dy_min;
  const std::size_t row_l = std::size_t(wi) * 4, row_p = std::size_t(wi + 1) * 4;
  scratch.resize(std::size_t(hi) * (row_l + row_p));
  float* L = scratch.data();                        // the window, zero outside `in`
  float* P = scratch.data() + std::size_t(hi) * row_l;  // its row prefix sums
  const int xa = std::max(0, x_in), xb = std::min(w, x_in + wi);
  // Window rows wholly inside `in` are read in place; the others are copied, zero outside.
  thread_local std::vector<const float*> rows;
  rows.resize(hi);
  for (int j = 0; j < hi; ++j) {
    const int y = y_in + j;
    if (y >= 0 && y < h && x_in >= 0 && x_in + wi <= w) {
      rows[j] = in.ptr<float>(y) + std::size_t(x_in) * 4;
    } else {
      float* l = L + j * row_l;
      if (y < 0 || y >= h || xb <= xa) {
        std::fill(l, l + row_l, 0.0f);
      } else {
        std::fill(l, l + (xa - x_in) * 4, 0.0f);
        const float* s = in.ptr<float>(y) + std::size_t(xa) * 4;
        std::copy(s, s + std::size_t(xb - xa) * 4, l + (xa - x_in) * 4);
        std::fill(l + (xb - x_in) * 4, l + row_l, 0.0f);
      }
      rows[j] = l;
    }
    const float* l = rows[j];
    float* p = P + j * row_p;
    float run[4] = {0, 0, 0, 0};
    for (int i = 0; i <= wi; ++i) {
      for (int c = 0; c < 4; ++c) p[i * 4 + c] = run[c];
      if (i < wi)
        for (int c = 0; c < 4; ++c) run[c] += l[i * 4 + c];
    }
  }
  const float inv_total = float(1.0 / kernel.total);
  const int n4 = out_rect.width * 4;
  for (int oy = 0; oy < out_rect.height; ++oy) {
    float* a = out + std::size_t(oy) * n4;
    std::fill(a, a + n4, 0.0f);
    for (const KernelRow& row : kernel.rows) {
      const int j = oy + row.dy - kernel.dy_min;  // window row of the source
      const float* p = P + j * row_p;
      const float* l = rows[j];
      const float v = row.v;
      // Output column x (window column x + rx): columns [x+a, x+b] sum to p[x+rx+b+1] - p[x+rx+a];
      // the partly covered end columns are read from the window itself. One pass per row.
      const bool core = row.core_b >= row.core_a;
      const float* __restrict ph = p + (rx + (core ? row.core_b + 1 : 0)) * 4;
      const float* __restrict pl = p + (rx + (core ? row.core_a : 0)) * 4;
      const float* __restrict el = l + (rx + row.left) * 4;
      const float* __restrict er = l + (rx + row.right) * 4;
      const float wl = v * row.w_left;
      const float wr = row.right != row.left ? v * row.w_right : 0.0f;
      float* __restrict ak = a;
      for (int k = 0; k < n4; ++k) ak[k] += v * (ph[k] - pl[k]) + wl * el[k] + wr * er[k];
    }
    for (int k = 0; k < n4; ++k) a[k] *= inv_total;
  }
}

}  // namespace dualcam::fusion::detail
