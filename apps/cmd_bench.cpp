// dualcam bench: times each stage of the engine next to the peer pipeline (what a user builds
// from OpenCV) on a simulated pair, in the same process, and prints the ratio and peak memory.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>

#include "common.hpp"
#include "dualcam/datasets/simulate.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/file_util.hpp"
#include "dualcam/engine/parallel.hpp"
#include "dualcam/engine/progress.hpp"
#include "dualcam/fusion/bokeh.hpp"
#include "dualcam/fusion/peers.hpp"
#include "dualcam/fusion/pipeline.hpp"

namespace dualcam::app {
namespace {

struct BenchOptions {
  std::string size = "4000x3000";
  int max_disparity = 256;
  int threads = 0;
  int repeat = 3;
  std::string json_path;
  bool json_stdout = false;
};

cv::Size parse_size(const std::string& text) {
  int w = 0, h = 0;
  char x = 0, extra = 0;
  std::istringstream in(text);
  if (!(in >> w >> x >> h) || x != 'x' || (in >> extra) || w < 64 || h < 64 || w > 20000 || h > 20000)
    throw_invalid("--size must be WIDTHxHEIGHT between 64x64 and 20000x20000, got '" + text + "'");
  return {w, h};
}

// Resets the process's peak resident memory (Linux: write 5 to /proc/self/clear_refs), so the
// peak after a stage is that stage's. Returns false where the kernel does not allow it.
bool reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  if (!f) return false;
  f << "5";
  f.flush();
  return bool(f);
}

struct Timing {
  double median_s = 0;
  double min_s = 0;
  long long peak_rss = 0;  // bytes, process peak during the timed runs
};

// One warm-up run, then `repeat` timed runs; the median is reported.
Timing time_stage(int repeat, const std::function<void()>& run) {
  run();
  std::vector<double> t;
  const bool per_stage_peak = reset_peak_rss();
  for (int i = 0; i < repeat; ++i) {
    Stopwatch sw;
    run();
    t.push_back(sw.seconds());
  }
  std::sort(t.begin(), t.end());
  Timing r;
  r.median_s = t[t.size() / 2];
  r.min_s = t.front();
  r.peak_rss = per_stage_peak ? peak_rss_bytes() : -1;
  return r;
}

std::string mib(long long bytes) {
  if (bytes < 0) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f MiB", double(bytes) / (1024.0 * 1024.0));
  return buf;
}

}  // namespace

Command register_bench(CLI::App& root) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* app = root.add_subcommand(
      "bench", "time depth and fuse on a simulated pair against the OpenCV peer pipeline, in one process");
  app->add_option("--size", o->size, "pair size WIDTHxHEIGHT (both cameras)");
  app->add_option("--max-disparity", o->max_disparity, "disparity range searched by both engine and peer, px")
      ->check(CLI::Range(16, 1024));
  app->add_option("--threads", o->threads, "worker threads (0 = all cores)")->check(CLI::Range(0, 1024));
  app->add_option("--repeat", o->repeat, "timed runs per stage after one warm-up (median reported)")
      ->check(CLI::Range(1, 50));
  auto* json_opt = app->add_option("--json-out", o->json_path, "write the figures as JSON to this file");
  app->add_flag("--json", o->json_stdout, "print the figures as JSON on stdout instead of a table")
      ->excludes(json_opt);
  app->footer(example("dualcam bench --size 4000x3000 --max-disparity 256 --threads 2"));
  Action action = [o]() {
    const cv::Size size = parse_size(o->size);
    if (!o->json_path.empty()) check_output_path(o->json_path);
    ThreadScope threads(o->threads);
    Progress progress("bench", 8);
    // An ideal rectified rig: both the engine and the peer take the pair as it is.
    datasets::SimulateOptions so;
    so.mono.size = so.color.size = size;
    so.supersample = 1;
    so.seed = 3;
    const double f = 0.875 * size.width;
    // Nearest surface at about 90 % of the disparity range searched.
    so.color_position_mm = cv::Vec3d(12.0, 0, 0);
    so.near_mm = f * 12.0 / (0.9 * o->max_disparity);
    so.far_mm = f * 12.0 / (0.2 * o->max_disparity);
    progress.advance(0, "simulating the pair");
    datasets::Simulation sim = threads.run([&] { return datasets::simulate(so); });
    progress.advance(1, "engine depth");

    fusion::FuseOptions fo;
    fo.rectified = true;
    fo.match.max_disparity = o->max_disparity;
    const fusion::FuseInput input{sim.mono, sim.color, nullptr};
    fusion::PeerColorizeOptions peer;
    peer.depth.match.max_disparity = o->max_disparity;
    peer.depth.use_scene_ndisp = false;

    struct Row {
      std::string stage, engine_what, peer_what;
      Timing engine, peer;
    };
    std::vector<Row> rows;
    auto run = [&](const std::function<void()>& f) { return time_stage(o->repeat, [&] { threads.run(f); }); };

    fusion::FuseOptions depth_o = fo;
    depth_o.reference = fusion::Reference::Mono;
    Row depth{"depth", "dualcam depth (mono view)", "StereoSGBM 3-way + hole fill + median, full resolution", {}, {}};
    depth.engine = run([&] { fusion::compute_depth(input, depth_o); });
    progress.advance(1, "peer depth");
    depth.peer = run([&] { fusion::peer_depth(sim.mono, sim.color, peer.depth); });
    rows.push_back(depth);
    progress.advance(1, "engine fuse");

    fusion::FuseOptions mono_o = fo;
    mono_o.reference = fusion::Reference::Mono;
    Row p1{"fuse, reference mono", "dualcam fuse --reference mono", "SGBM depth + warp + YCrCb global-linear merge", {}, {}};
    p1.engine = run([&] { fusion::fuse(input, mono_o); });
    progress.advance(1, "peer fuse");
    p1.peer = run([&] { fusion::peer_colorize(sim.mono, sim.color, peer); });
    rows.push_back(p1);
    progress.advance(1, "engine fuse (colour)");

    fusion::FuseOptions color_o = fo;
    Row p2{"fuse, reference colour", "dualcam fuse --reference color", "the same peer pipeline (mono view)", {}, p1.peer};
    p2.engine = run([&] { fusion::fuse(input, color_o); });
    rows.push_back(p2);
    progress.advance(1, "engine bokeh");

    // Bokeh of the colour view: the true disparity there, focus at its median, the largest blur
    // radius 48 px (issue 7's setting).
    const cv::Mat bokeh_image = sim.clean_color_at_color;
    cv::Mat bokeh_disparity = fusion::fill_unknown_disparity(sim.disparity_color, 0.0);
    fusion::BokehOptions bo;
    bo.focus_disparity_px = fusion::focus_disparity_at(bokeh_disparity, {size.width / 2, size.height / 2});
    bo.blur_per_disparity = fusion::blur_per_disparity_for_max_blur(bokeh_disparity, bo.focus_disparity_px, 48.0);
    bo.max_blur_px = 48.0;
    Row bokeh{"bokeh (max radius 48)", "dualcam bokeh (layered, aperture-shaped)", "per-pixel Gaussian whose sigma follows the radius", {}, {}};
    bokeh.engine = run([&] { fusion::render_bokeh(bokeh_image, bokeh_disparity, bo); });
    progress.advance(1, "peer bokeh");
    bokeh.peer = run([&] { fusion::naive_gaussian_bokeh(bokeh_image, bokeh_disparity, bo); });
    rows.push_back(bokeh);
    progress.advance(1, "done");
    progress.finish();

    Json j{{"command", "bench"},
           {"size", {size.width, size.height}},
           {"max_disparity", o->max_disparity},
           {"threads", threads.threads()},
           {"repeat", o->repeat},
           {"versions", version_info()},
           {"stages", Json::array()}};
    for (const Row& r : rows)
      j["stages"].push_back({{"stage", r.stage},
                             {"engine", r.engine_what},
                             {"peer", r.peer_what},
                             {"engine_s", r.engine.median_s},
                             {"peer_s", r.peer.median_s},
                             {"ratio", r.engine.median_s / r.peer.median_s},
                             {"engine_peak_rss_bytes", r.engine.peak_rss},
                             {"peer_peak_rss_bytes", r.peer.peak_rss}});
    j["process_peak_rss_bytes"] = peak_rss_bytes();
    if (o->json_stdout) {
      std::printf("%s\n", j.dump(2).c_str());
    } else {
      std::printf("dualcam bench: %dx%d, %d disparities, %d thread(s), median of %d runs after a warm-up\n\n",
                  size.width, size.height, o->max_disparity, threads.threads(), o->repeat);
      std::printf("%-24s %10s %10s %8s %12s %12s\n", "stage", "engine s", "peer s", "ratio", "engine peak", "peer peak");
      for (const Row& r : rows)
        std::printf("%-24s %10.3f %10.3f %8.2f %12s %12s\n", r.stage.c_str(), r.engine.median_s, r.peer.median_s,
                    r.engine.median_s / r.peer.median_s, mib(r.engine.peak_rss).c_str(), mib(r.peer.peak_rss).c_str());
      std::printf("\npeer: depth = %s; fuse = %s; bokeh = %s.\n", depth.peer_what.c_str(), p1.peer_what.c_str(),
                  bokeh.peer_what.c_str());
    }
    if (!o->json_path.empty()) write_file_atomic(o->json_path, j.dump(2) + "\n");
    return 0;
  };
  return {app, action};
}

}  // namespace dualcam::app
