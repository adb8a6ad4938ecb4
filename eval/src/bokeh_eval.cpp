// The BOKEH protocol (docs/bokeh.md) and the bokeh benchmark.
#include "dualcam/eval/bokeh_eval.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "dualcam/datasets/defocus.hpp"
#include "dualcam/datasets/scene.hpp"
#include "dualcam/datasets/sensor.hpp"
#include "dualcam/engine/color.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/image_io.hpp"
#include "dualcam/engine/metrics.hpp"
#include "dualcam/engine/parallel.hpp"
#include "dualcam/engine/rectify_geometry.hpp"
#include "dualcam/eval/peers.hpp"
#include "dualcam/fusion/pipeline.hpp"

namespace dualcam::eval {
namespace {

constexpr double kBaselineMm = 12.0;

// An ideal module: identical pinhole cameras (no distortion), colour camera 12 mm to the right.
StereoRig ideal_rig(cv::Size size) {
  StereoRig rig;
  const double f = 0.875 * size.width;
  rig.mono.K = cv::Matx33d(f, 0, size.width / 2.0 - 0.5, 0, f, size.height / 2.0 - 0.5, 0, 0, 1);
  rig.mono.size = size;
  rig.color = rig.mono;
  rig.color.dist = cv::Mat::zeros(1, 5, CV_64F);
  rig.mono.dist = cv::Mat::zeros(1, 5, CV_64F);
  rig.T = cv::Vec3d(-kBaselineMm, 0, 0);
  return rig;
}

// Thin-lens truth: the simulator's distribution ray tracer (datasets/defocus.hpp), focused at
// focus_mm with aperture radius aperture_mm.
cv::Mat thin_lens_truth(const datasets::Scene& scene, const CameraModel& cam, double focus_mm, double aperture_mm,
                        int samples, std::uint32_t seed) {
  datasets::PlacedCamera pc;
  pc.model = cam;
  datasets::ThinLens lens;
  lens.focus_depth_mm = focus_mm;
  lens.aperture_radius_mm = aperture_mm;
  lens.samples = samples;
  lens.seed = seed;
  return datasets::render_defocus(scene, pc, lens);
}

// Pixels within `radius` px of a depth discontinuity (neighbouring disparities differing by > 1 px).
cv::Mat depth_edge_mask(const cv::Mat& disparity, int radius) {
  cv::Mat edges(disparity.size(), CV_8U, cv::Scalar(0));
  for (int y = 0; y < disparity.rows; ++y)
    for (int x = 0; x < disparity.cols; ++x) {
      const float d = disparity.at<float>(y, x);
      if ((x + 1 < disparity.cols && std::abs(disparity.at<float>(y, x + 1) - d) > 1.0f) ||
          (y + 1 < disparity.rows && std::abs(disparity.at<float>(y + 1, x) - d) > 1.0f))
        edges.at<uchar>(y, x) = 255;
    }
  cv::dilate(edges, edges, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * radius + 1, 2 * radius + 1)));
  return edges;
}

// In focus: true CoC radius <= 0.5 px, and out of reach of every nearer (front) pixel's disc.
cv::Mat in_focus_mask(const cv::Mat& signed_radius) {
  cv::Mat focus = cv::abs(signed_radius) <= 0.5f;
  cv::Mat front = signed_radius > 0.5f;
  double hi;
  cv::minMaxLoc(signed_radius, nullptr, &hi);
  if (hi > 0.5) {
    const int r = int(std::ceil(hi)) + 1;
    cv::Mat reach;
    cv::dilate(front, reach, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * r + 1, 2 * r + 1)));
    focus &= ~reach;
  }
  return focus;
}

// A focus point whose window of true disparity is flat (spread < 0.5 px), with a disparity
// close to `target`.
cv::Point pick_focus_point(const cv::Mat& disparity, double target) {
  cv::Point best(-1, -1);
  double best_err = 1e300;
  const int w = 7;
  for (int y = w; y < disparity.rows - w; y += 4)
    for (int x = w; x < disparity.cols - w; x += 4) {
      double lo, hi;
      cv::minMaxLoc(disparity(cv::Rect(x - w, y - w, 2 * w + 1, 2 * w + 1)), &lo, &hi);
      if (!(hi - lo < 0.5)) continue;
      const double err = std::abs(disparity.at<float>(y, x) - target);
      if (err < best_err) {
        best_err = err;
        best = cv::Point(x, y);
      }
    }
  if (best.x < 0) throw_invalid("bokeh eval: no flat focus region in the scene");
  return best;
}

double percentile(const cv::Mat& m, double q) {
  std::vector<float> v;
  for (int y = 0; y < m.rows; ++y)
    for (int x = 0; x < m.cols; ++x)
      if (std::isfinite(m.at<float>(y, x))) v.push_back(m.at<float>(y, x));
  std::nth_element(v.begin(), v.begin() + std::size_t(q * (v.size() - 1)), v.end());
  return v[std::size_t(q * (v.size() - 1))];
}

struct Figures {
  double ours = 0, peer = 0, ours_edges = 0, peer_edges = 0, ours_focus = 0;
  Json json() const {
    return {{"psnr_db", ours},           {"peer_psnr_db", peer},      {"gain_db", ours - peer},
            {"edges_psnr_db", ours_edges}, {"peer_edges_psnr_db", peer_edges},
            {"edges_gain_db", ours_edges - peer_edges}, {"in_focus_psnr_db", ours_focus}};
  }
};

Figures measure(const cv::Mat& input, const cv::Mat& disparity, const fusion::BokehOptions& bo, const cv::Mat& truth8,
                const cv::Mat& edges, const cv::Mat& focus) {
  const cv::Mat ours = to_srgb8(fusion::render_bokeh(input, disparity, bo));
  const cv::Mat peer = to_srgb8(naive_gaussian_bokeh(input, disparity, bo));
  const cv::Mat input8 = to_srgb8(input);
  Figures f;
  f.ours = psnr8(ours, truth8);
  f.peer = psnr8(peer, truth8);
  f.ours_edges = psnr8(ours, truth8, edges);
  f.peer_edges = psnr8(peer, truth8, edges);
  f.ours_focus = psnr8(ours, input8, focus);
  return f;
}

void add_mean(Json& mean, const Json& one, int count) {
  if (mean.is_null()) mean = Json::object();
  for (auto it = one.begin(); it != one.end(); ++it) {
    const double v = std::min(99.0, it.value().get<double>());  // +inf (identical) counts as 99 dB
    mean[it.key()] = mean.value(it.key(), 0.0) + v / count;
  }
}

}  // namespace

void BokehEvalOptions::validate() const {
  check_range("scenes", scenes, 1, 100);
  check_range("size.width", size.width, 64, 8000);
  check_range("size.height", size.height, 64, 8000);
  check_range("aperture_radius_mm", aperture_radius_mm, 0.01, 100);
  check_range("aperture_samples", aperture_samples, 1, 100000);
}

Json run_bokeh_eval(const BokehEvalOptions& o, std::FILE* log) {
  o.validate();
  const StereoRig rig = ideal_rig(o.size);
  const double f = rig.mono.K(0, 0);
  // Depths as the embedded sample's: disparities span about 8..45 px at 480 px width.
  const double f480 = 0.875 * 480;
  const double near_mm = f480 * kBaselineMm / 45.0, far_mm = f480 * kBaselineMm / 8.0;
  const double k_true = o.aperture_radius_mm / kBaselineMm;  // r_px = (A / B) |d - d_focus|
  Json report;
  report["protocol"] = "bokeh";
  report["size"] = {o.size.width, o.size.height};
  report["aperture_radius_mm"] = o.aperture_radius_mm;
  report["baseline_mm"] = kBaselineMm;
  report["aperture_samples"] = o.aperture_samples;
  report["aperture"] = fusion::to_string(o.aperture);
  report["truth"] = "datasets::render_defocus (thin-lens distribution ray tracing)";
  Json runs = Json::array();
  Json mean_gt, mean_engine;
  int count = 0;
  for (int seed = 1; seed <= o.scenes; ++seed) {
    const datasets::Scene scene = datasets::make_layered_scene(std::uint32_t(seed), near_mm, far_mm);
    datasets::RenderOptions ro;
    ro.supersample = 3;
    const datasets::RenderedView ref = datasets::render(scene, datasets::mono_camera(rig), ro);
    cv::Mat gt(o.size, CV_32F);
    for (int y = 0; y < gt.rows; ++y)
      for (int x = 0; x < gt.cols; ++x) {
        const float z = ref.depth.at<float>(y, x);
        gt.at<float>(y, x) = std::isfinite(z) ? float(f * kBaselineMm / z) : std::numeric_limits<float>::quiet_NaN();
      }
    cv::Mat engine_disp;
    if (o.engine_disparity) {
      const datasets::RenderedView other = datasets::render(scene, datasets::color_camera(rig), ro);
      fusion::FuseInput in;
      in.mono = datasets::simulate_mono(ref.linear_bgr, datasets::MonoSensor{}, 1000 + seed);
      in.color = datasets::simulate_color(other.linear_bgr, datasets::ColorSensor{}, 2000 + seed);
      in.rig = &rig;
      fusion::FuseOptions fo;
      fo.reference = fusion::Reference::Mono;
      // In the mono image's own pixels (engine/disparity.hpp), as the blur is. As `dualcam bokeh`
      // does for a pair: edge-aware refinement (ours and the peer alike).
      engine_disp = fusion::refine_view_disparity(fusion::compute_depth(in, fo).disparity, ref.linear_bgr,
                                                  o.refine_radius_px);
    }
    const cv::Mat edges = depth_edge_mask(gt, 8);
    if (!o.cache_dir.empty()) {  // the inputs too, to look at or to run `dualcam bokeh` on
      const std::string stem = o.cache_dir + "/bokeh_input_s" + std::to_string(seed);
      write_image(stem + ".png", to_srgb8(ref.linear_bgr));
      write_pfm(stem + "_gt.pfm", gt);
      if (!engine_disp.empty()) write_pfm(stem + "_engine.pfm", engine_disp);
    }
    for (const char* which : {"near", "far"}) {
      const double target = percentile(gt, which[0] == 'n' ? 0.9 : 0.1);
      const cv::Point pt = pick_focus_point(gt, target);
      const double d_focus = fusion::focus_disparity_at(gt, pt);
      const double focus_mm = f * kBaselineMm / d_focus;
      Stopwatch sw;
      cv::Mat truth8;
      std::string cached;
      if (!o.cache_dir.empty()) {
        char name[160];
        std::snprintf(name, sizeof name, "/bokeh_simtruth_s%d_%s_%dx%d_A%.3f_n%d.png", seed, which, o.size.width,
                      o.size.height, o.aperture_radius_mm, o.aperture_samples);
        cached = o.cache_dir + name;
        if (std::filesystem::exists(cached)) truth8 = read_image(cached);
      }
      if (truth8.empty()) {
        truth8 = to_srgb8(thin_lens_truth(scene, rig.mono, focus_mm, o.aperture_radius_mm, o.aperture_samples, std::uint32_t(seed)));
        if (!cached.empty()) write_image(cached, truth8);
      }
      const double truth_s = sw.seconds();
      fusion::BokehOptions bo;
      bo.focus_disparity_px = d_focus;
      bo.blur_per_disparity = k_true;
      bo.aperture = o.aperture;
      fusion::BokehOptions exact = bo;  // the true radius, without the focus tolerance
      exact.focus_tolerance_px = 0;
      const cv::Mat focus = in_focus_mask(fusion::signed_blur_radius(gt, exact));
      Json run;
      run["scene"] = seed;
      run["focus"] = which;
      run["focus_point"] = {pt.x, pt.y};
      run["focus_disparity_px"] = d_focus;
      run["in_focus_pixels"] = cv::countNonZero(focus);
      run["edge_pixels"] = cv::countNonZero(edges);
      run["truth_seconds"] = truth_s;
      const Figures fg = measure(ref.linear_bgr, gt, bo, truth8, edges, focus);
      run["ground_truth_disparity"] = fg.json();
      add_mean(mean_gt, fg.json(), o.scenes * 2);
      if (o.engine_disparity) {
        fusion::BokehOptions be = bo;
        be.focus_disparity_px = fusion::focus_disparity_at(engine_disp, pt);
        const Figures fe = measure(ref.linear_bgr, engine_disp, be, truth8, edges, focus);
        run["engine_disparity"] = fe.json();
        add_mean(mean_engine, fe.json(), o.scenes * 2);
        if (log)
          std::fprintf(log,
                       "scene %d focus %-4s d=%.2f  gt-disp: ours %.2f peer %.2f dB (edges %.2f / %.2f, in-focus %.2f)  "
                       "engine-disp: ours %.2f peer %.2f (edges %.2f / %.2f, in-focus %.2f)\n",
                       seed, which, d_focus, fg.ours, fg.peer, fg.ours_edges, fg.peer_edges, fg.ours_focus, fe.ours,
                       fe.peer, fe.ours_edges, fe.peer_edges, fe.ours_focus);
      } else if (log) {
        std::fprintf(log, "scene %d focus %-4s d=%.2f  gt-disp: ours %.2f peer %.2f dB (edges %.2f / %.2f, in-focus %.2f)\n",
                     seed, which, d_focus, fg.ours, fg.peer, fg.ours_edges, fg.peer_edges, fg.ours_focus);
      }
      runs.push_back(run);
      ++count;
    }
  }
  report["runs"] = runs;
  report["mean"]["ground_truth_disparity"] = mean_gt;
  if (o.engine_disparity) report["mean"]["engine_disparity"] = mean_engine;
  return report;
}

void BokehBenchOptions::validate() const {
  check_range("size.width", size.width, 64, 20000);
  check_range("size.height", size.height, 64, 20000);
  check_range("max_blur_px", max_blur_px, 1, 256);
  check_range("threads", threads, 0, 1024);
  check_range("repeats", repeats, 1, 100);
}

Json run_bokeh_bench(const BokehBenchOptions& o, std::FILE* log) {
  o.validate();
  ThreadScope scope(o.threads);
  const cv::Size small((o.size.width + 3) / 4, (o.size.height + 3) / 4);
  const StereoRig rig = ideal_rig(small);
  const double f = rig.mono.K(0, 0);
  const double f480 = 0.875 * 480;
  const datasets::Scene scene =
      datasets::make_layered_scene(5, f480 * kBaselineMm / 45.0, f480 * kBaselineMm / 8.0);
  cv::Mat image, disparity;
  scope.run([&] {
    const datasets::RenderedView v = datasets::render(scene, datasets::mono_camera(rig), {});
    cv::Mat d(small, CV_32F);
    for (int y = 0; y < d.rows; ++y)
      for (int x = 0; x < d.cols; ++x) d.at<float>(y, x) = float(f * kBaselineMm / v.depth.at<float>(y, x) * 4.0);
    cv::resize(v.linear_bgr, image, o.size, 0, 0, cv::INTER_LINEAR);
    cv::resize(d, disparity, o.size, 0, 0, cv::INTER_NEAREST);
  });
  fusion::BokehOptions bo;
  bo.focus_disparity_px = percentile(disparity, 0.5);
  bo.blur_per_disparity = fusion::blur_per_disparity_for_max_blur(disparity, bo.focus_disparity_px, o.max_blur_px);
  // Wall time, and the process CPU time (on a shared machine the wall time of 2 threads can
  // be far above CPU time / 2 when other jobs compete for the cores).
  double best = 1e300, best_peer = 1e300, cpu = 1e300, cpu_peer = 1e300;
  fusion::BokehStats st;
  for (int k = 0; k < o.repeats; ++k) {
    Stopwatch sw;
    std::clock_t c0 = std::clock();
    scope.run([&] { fusion::render_bokeh(image, disparity, bo, &st); });
    best = std::min(best, sw.seconds());
    cpu = std::min(cpu, double(std::clock() - c0) / CLOCKS_PER_SEC);
    sw.reset();
    c0 = std::clock();
    scope.run([&] { naive_gaussian_bokeh(image, disparity, bo); });
    best_peer = std::min(best_peer, sw.seconds());
    cpu_peer = std::min(cpu_peer, double(std::clock() - c0) / CLOCKS_PER_SEC);
  }
  if (log)
    std::fprintf(log, "bokeh bench %dx%d, max blur %.0f px, %d threads: dualcam %.3f s wall, %.3f s CPU (%d layers, %d "
                      "reduced); naive Gaussian peer %.3f s wall, %.3f s CPU; wall ratio %.3f\n",
                 o.size.width, o.size.height, o.max_blur_px, scope.threads(), best, cpu, st.layers, st.reduced_layers,
                 best_peer, cpu_peer, best / best_peer);
  return {{"width", o.size.width},
          {"height", o.size.height},
          {"max_blur_px", o.max_blur_px},
          {"threads", scope.threads()},
          {"seconds", best},
          {"cpu_seconds", cpu},
          {"peer_seconds", best_peer},
          {"peer_cpu_seconds", cpu_peer},
          {"ratio_to_peer", best / best_peer},
          {"layers", st.layers},
          {"reduced_layers", st.reduced_layers}};
}

}  // namespace dualcam::eval
