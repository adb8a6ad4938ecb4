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

#include "bokeh_layers.hpp"
#include "dualcam/engine/color.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/parallel.hpp"

namespace dualcam::fusion {
namespace {

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
  check_range("BokehOptions::reduced_layer_growth", reduced_layer_growth, 0.01, 1);
  check_range("BokehOptions::full_res_radius_px", full_res_radius_px, 2, 512);
  check_range("BokehOptions::reduced_radius_px", reduced_radius_px, 2, full_res_radius_px);
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
  if (disparity.type() != CV_32FC1)
    throw_invalid("blur_per_disparity_for_max_blur: the disparity must be CV_32FC1, got " +
                  cv::typeToString(disparity.type()));
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

  const detail::LayerMaps maps = detail::assign_layers(radius, o);
  // Where the layers cover less than the whole aperture (inside the silhouette of a blurred
  // foreground, whose background the reference view never saw), the rest of the light comes from
  // an estimate of the hidden background.
  const detail::HiddenBackground hidden(src, radius, int(std::ceil(max_abs)) + 1);
  BokehStats st;
  cv::Mat out;
  detail::LayerRenderer layers(src, maps, o);
  layers.render(cv::Rect(pad, pad, image.cols, image.rows), hidden, out, st);
  st.max_radius_px = max_abs;
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (stats) *stats = st;
  return out;
}

}  // namespace dualcam::fusion
