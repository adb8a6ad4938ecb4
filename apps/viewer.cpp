// The refocus viewer page of `dualcam bokeh --viewer page.html`: one self-contained HTML file (no
// server, no network, no external script) holding a focal stack rendered by the engine at preview
// size (N focus planes x M apertures, base64 JPEGs) and the preview's disparity (8-bit PNG): a
// click picks the plane nearest the clicked point's disparity, a slider the aperture. The page's
// self-test (URL hash #selftest=X1,Y1;X2,Y2 in preview pixels) clicks both points, measures the
// sharpness around them on the canvas and the time of each refocus, and writes the results and any
// script error into <pre id="selftest"> (tests/cli/test_cli_viewer.cpp reads it with headless
// Chromium's --dump-dom).
#include <algorithm>
#include <cmath>
#include <cstdio>

#include <opencv2/imgproc.hpp>

#include "common.hpp"
#include "dualcam/engine/color.hpp"
#include "dualcam/engine/depth_photo.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/file_util.hpp"
#include "dualcam/engine/png_encode.hpp"
#include "dualcam/engine/progress.hpp"

namespace dualcam::app {

void ViewerOptions::validate() const {
  check_range("viewer preview_long_side", preview_long_side, 64, 8192);
  check_range("viewer focus_planes", focus_planes, 2, 64);
  check_range("viewer apertures", apertures, 1, 16);
  check_range("viewer jpeg_quality", jpeg_quality, 10, 100);
}

namespace {

const char* kPageScript = R"JS(
"use strict";
const errors = [];
window.addEventListener("error", (e) => { errors.push(String(e.message || e)); });
const origError = console.error;
console.error = function (...a) { errors.push(a.map(String).join(" ")); origError.apply(console, a); };
const canvas = document.getElementById("view");
const ctx = canvas.getContext("2d", { willReadFrequently: true });
const slider = document.getElementById("aperture");
const status = document.getElementById("status");
let plane = D.focus, aperture = D.apertures.length - 1, lastMs = 0;
const imgs = D.images.map((row) => row.map((src) => { const i = new Image(); i.src = src; return i; }));
const depthImg = new Image();
depthImg.src = D.depth;
let depth = null;
function draw() {
  ctx.drawImage(imgs[plane][aperture], 0, 0);
  status.textContent = "focus disparity " + D.planes[plane].toFixed(2) + " px (preview), blur up to " +
      D.apertures[aperture].toFixed(1) + " px";
}
function disparityAt(x, y) {
  x = Math.max(0, Math.min(D.width - 1, Math.round(x)));
  y = Math.max(0, Math.min(D.height - 1, Math.round(y)));
  // the median of a 5x5 window, like the engine's focus window
  const v = [];
  for (let dy = -2; dy <= 2; ++dy) for (let dx = -2; dx <= 2; ++dx) {
    const xx = Math.max(0, Math.min(D.width - 1, x + dx)), yy = Math.max(0, Math.min(D.height - 1, y + dy));
    v.push(depth[4 * (yy * D.width + xx)]);
  }
  v.sort((a, b) => a - b);
  return D.lo + v[12] / 255 * (D.hi - D.lo);
}
function refocusAt(x, y) {
  const t0 = performance.now();
  const d = disparityAt(x, y);
  let best = 0;
  for (let i = 1; i < D.planes.length; ++i) if (Math.abs(D.planes[i] - d) < Math.abs(D.planes[best] - d)) best = i;
  plane = best;
  draw();
  ctx.getImageData(0, 0, 1, 1);  // waits for the canvas to hold the new image
  lastMs = performance.now() - t0;
  return lastMs;
}
canvas.addEventListener("click", (e) => {
  const r = canvas.getBoundingClientRect();
  refocusAt((e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height);
});
slider.addEventListener("input", () => { aperture = Number(slider.value); draw(); });
function sharpness(cx, cy) {
  const h = 16, x0 = Math.max(1, Math.round(cx) - h), y0 = Math.max(1, Math.round(cy) - h);
  const w = Math.min(D.width - 1, Math.round(cx) + h) - x0, hh = Math.min(D.height - 1, Math.round(cy) + h) - y0;
  const p = ctx.getImageData(x0 - 1, y0 - 1, w + 2, hh + 2).data, W = w + 2;
  const g = (x, y) => { const k = 4 * (y * W + x); return 0.299 * p[k] + 0.587 * p[k + 1] + 0.114 * p[k + 2]; };
  let s = 0;
  for (let y = 1; y <= hh; ++y) for (let x = 1; x <= w; ++x) {
    const l = 4 * g(x, y) - g(x - 1, y) - g(x + 1, y) - g(x, y - 1) - g(x, y + 1);
    s += l * l;
  }
  return s / (w * hh);
}
function selftest(spec) {
  const pts = spec.split(";").map((t) => t.split(",").map(Number));
  const out = { points: pts, sharpness: [], planes: [], ms: [], errors };
  for (const [x, y] of pts) {
    const r = canvas.getBoundingClientRect();
    canvas.dispatchEvent(new MouseEvent("click", { bubbles: true,
        clientX: r.left + (x + 0.5) * r.width / canvas.width, clientY: r.top + (y + 0.5) * r.height / canvas.height }));
    out.ms.push(lastMs);
    out.planes.push(plane);
    out.sharpness.push(pts.map(([px, py]) => sharpness(px, py)));
  }
  // the smallest aperture, focused on the last point: the first point's sharpness there
  slider.value = "0";
  slider.dispatchEvent(new Event("input"));
  out.small_aperture = pts.map(([px, py]) => sharpness(px, py));
  out.aperture = aperture;
  document.getElementById("selftest").textContent = JSON.stringify(out);
}
function start() {
  const c = document.createElement("canvas");
  c.width = D.width; c.height = D.height;
  const cc = c.getContext("2d", { willReadFrequently: true });
  cc.drawImage(depthImg, 0, 0);
  depth = cc.getImageData(0, 0, D.width, D.height).data;
  for (const row of imgs) for (const i of row) cc.drawImage(i, 0, 0);  // decoded now, not at the first click
  draw();
  const m = /#selftest=([0-9.,;]+)/.exec(location.hash);
  if (m) selftest(m[1]);
  else document.getElementById("selftest").textContent = JSON.stringify({ ready: true, errors });
}
if (document.readyState === "complete") start(); else window.addEventListener("load", start);
)JS";

std::string jpeg_data_url(const cv::Mat& linear, int quality) {
  const std::vector<std::uint8_t> j = encode_jpeg(to_srgb(linear, CV_8U), quality);
  return "data:image/jpeg;base64," + base64_encode(j.data(), j.size());
}

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

}  // namespace

ViewerStats write_viewer_page(const std::string& path, const cv::Mat& sharp_linear, const cv::Mat& disparity,
                              const fusion::BokehOptions& bokeh, const ViewerOptions& options) {
  options.validate();
  if (sharp_linear.empty() || sharp_linear.size() != disparity.size() || disparity.type() != CV_32FC1)
    throw_invalid("the viewer needs an image and its disparity of the same size");
  Stopwatch clock;
  ViewerStats st;
  const double s = std::min(1.0, double(options.preview_long_side) / std::max(sharp_linear.cols, sharp_linear.rows));
  const cv::Size ps(std::max(1, int(std::lround(sharp_linear.cols * s))), std::max(1, int(std::lround(sharp_linear.rows * s))));
  cv::Mat img, disp;
  cv::resize(sharp_linear, img, ps, 0, 0, cv::INTER_AREA);
  cv::Mat filled = disparity.clone();
  cv::patchNaNs(filled, bokeh.focus_disparity_px);
  cv::resize(filled, disp, ps, 0, 0, cv::INTER_AREA);
  disp *= s;  // disparities are pixels of their image (engine/disparity.hpp)
  // focus planes at quantiles of the preview's disparity
  std::vector<float> values(disp.begin<float>(), disp.end<float>());
  std::sort(values.begin(), values.end());
  const double lo = values.front(), hi = std::max(double(values.back()), lo + 1e-6);
  std::vector<double> planes;
  for (int i = 0; i < options.focus_planes; ++i) {
    const double q = 0.02 + 0.96 * i / (options.focus_planes - 1);
    const double v = values[std::min(values.size() - 1, std::size_t(q * (values.size() - 1)))];
    if (planes.empty() || v - planes.back() > 1e-3 * (hi - lo)) planes.push_back(v);
  }
  int focus = 0;
  for (std::size_t i = 0; i < planes.size(); ++i)
    if (std::abs(planes[i] - bokeh.focus_disparity_px * s) < std::abs(planes[focus] - bokeh.focus_disparity_px * s)) focus = int(i);
  std::vector<double> radii;
  std::string images = "[";
  for (std::size_t p = 0; p < planes.size(); ++p) {
    images += p ? ",[" : "[";
    for (int a = 0; a < options.apertures; ++a) {
      fusion::BokehOptions bo = bokeh;
      const double f = double(a + 1) / options.apertures;
      bo.focus_disparity_px = planes[p];
      bo.blur_per_disparity = bokeh.blur_per_disparity * f;
      bo.max_blur_px = std::max(0.5, bokeh.max_blur_px * s * f);
      bo.focus_tolerance_px = bokeh.focus_tolerance_px * s;
      if (p == 0) radii.push_back(bo.max_blur_px);
      const cv::Mat r = fusion::render_bokeh(img, disp, bo);
      images += (a ? ",\"" : "\"") + jpeg_data_url(r, options.jpeg_quality) + "\"";
    }
    images += "]";
  }
  images += "]";
  cv::Mat d8;
  disp.convertTo(d8, CV_8U, 255.0 / (hi - lo), -lo * 255.0 / (hi - lo));
  const std::vector<std::uint8_t> dpng = encode_png(d8);
  std::string planes_js = "[", radii_js = "[";
  for (std::size_t i = 0; i < planes.size(); ++i) planes_js += (i ? "," : "") + num(planes[i]);
  for (std::size_t i = 0; i < radii.size(); ++i) radii_js += (i ? "," : "") + num(radii[i]);
  planes_js += "]";
  radii_js += "]";

  std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>dualcam refocus</title>\n"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
      "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n"
      "<style>body{font-family:sans-serif;margin:12px;background:#1e1e1e;color:#ddd}"
      "canvas{cursor:crosshair;max-width:100%;display:block}pre{display:none}</style></head>\n<body>\n"
      "<canvas id=\"view\" width=\"" + std::to_string(ps.width) + "\" height=\"" + std::to_string(ps.height) +
      "\"></canvas>\n<p>Click to refocus. <label>Aperture <input id=\"aperture\" type=\"range\" min=\"0\" max=\"" +
      std::to_string(options.apertures - 1) + "\" step=\"1\" value=\"" + std::to_string(options.apertures - 1) +
      "\"></label> <span id=\"status\"></span></p>\n<pre id=\"selftest\"></pre>\n<script>\nconst D = {width: " +
      std::to_string(ps.width) + ", height: " + std::to_string(ps.height) + ", lo: " + num(lo) + ", hi: " + num(hi) +
      ", focus: " + std::to_string(focus) + ", planes: " + planes_js + ", apertures: " + radii_js +
      ",\ndepth: \"data:image/png;base64," + base64_encode(dpng.data(), dpng.size()) + "\",\nimages: " + images +
      "};\n" + kPageScript + "</script>\n</body></html>\n";
  write_file_atomic(path, html);
  st.preview = ps;
  st.planes = int(planes.size());
  st.apertures = options.apertures;
  st.bytes = html.size();
  st.seconds = clock.seconds();
  return st;
}

}  // namespace dualcam::app
