// dualcam bench: times each stage of the engine next to the peer pipeline (what a user builds
// from OpenCV) on a simulated pair, in the same process, and prints the ratio, peak memory, the
// depth stage on one thread as well, and the fused images' PSNR against the simulator's truth.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <sstream>

#include <sys/resource.h>
#include <unistd.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common.hpp"
#include "dualcam/datasets/simulate.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/color.hpp"
#include "dualcam/engine/file_util.hpp"
#include "dualcam/engine/image_io.hpp"
#include "dualcam/engine/rig.hpp"
#include "dualcam/engine/inputs.hpp"
#include "dualcam/engine/metrics.hpp"
#include "dualcam/engine/parallel.hpp"
#include "dualcam/engine/progress.hpp"
#include "dualcam/eval/peers.hpp"
#include "dualcam/fusion/bokeh.hpp"
#include "dualcam/fusion/pipeline.hpp"
#include "dualcam/fusion/rectify.hpp"

namespace dualcam::app {
namespace {

struct BenchOptions {
  std::string size = "4000x3000";
  int max_disparity = 256;
  int threads = 0;
  int repeat = 3;
  std::string stages = "depth,fuse-mono,fuse-color,fuse-rig,bokeh,bokeh-real,bokeh-worst";
  std::string bokeh_data;           // a Middlebury scene folder, or the folder of scene folders
  std::string bokeh_scene = "Art";  // the scene in it, when it is the folder of scenes
  bool no_single_thread = false;
  std::string json_path;
  bool json_stdout = false;
};

// fuse-raw is not in the default list: it simulates a pair of its own (the realistic sensor);
// nor is fuse-command: it writes the rig path's pair to files and times the whole command; nor
// fuse-scaling: the colour-reference fuse at 1, 2, 4, ... threads up to all cores; nor
// fuse-rig-mono: the rig row at the mono view.
const std::vector<std::string> kStages = {"depth",      "fuse-mono",   "fuse-color", "fuse-rig",     "bokeh",
                                          "bokeh-real", "bokeh-worst", "fuse-raw",   "fuse-command", "fuse-scaling",
                                          "fuse-rig-mono"};

std::vector<std::string> parse_stages(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (std::find(kStages.begin(), kStages.end(), item) == kStages.end())
      throw_invalid("--stages takes a comma-separated list of depth, fuse-mono, fuse-color, fuse-rig, bokeh, bokeh-real, "
                    "bokeh-worst, fuse-raw, fuse-command, fuse-scaling, fuse-rig-mono; "
                    "got '" + item + "'");
    if (std::find(out.begin(), out.end(), item) == out.end()) out.push_back(item);
  }
  if (out.empty()) throw_invalid("--stages must name at least one stage");
  return out;
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

// User + system CPU time of the whole process so far, s.
double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

struct Timing {
  double median_s = 0;
  double min_s = 0;
  double cpu_s = 0;        // median CPU time (all threads) of a run: less sensitive to a busy machine
  long long peak_rss = 0;  // bytes, process peak during the timed runs
};

// One warm-up run, then `repeat` timed runs; the median is reported.
Timing time_stage(int repeat, const std::function<void()>& run) {
  run();
  std::vector<double> t, cpu;
  const bool per_stage_peak = reset_peak_rss();
  for (int i = 0; i < repeat; ++i) {
    const double c0 = process_cpu_seconds();
    Stopwatch sw;
    run();
    t.push_back(sw.seconds());
    cpu.push_back(process_cpu_seconds() - c0);
  }
  std::sort(t.begin(), t.end());
  std::sort(cpu.begin(), cpu.end());
  Timing r;
  r.cpu_s = cpu[cpu.size() / 2];
  r.median_s = t[t.size() / 2];
  r.min_s = t.front();
  r.peak_rss = per_stage_peak ? peak_rss_bytes() : -1;
  return r;
}

// Per-stage seconds (the pipeline's stats "stages_s") of the last `repeat` runs: the median of
// each stage.
Json median_stages(const std::vector<Json>& runs, int repeat) {
  Json out = Json::object();
  if (runs.empty()) return out;
  const std::size_t first = runs.size() > std::size_t(repeat) ? runs.size() - repeat : 0;
  for (const auto& item : runs.back().items()) {
    std::vector<double> v;
    for (std::size_t i = first; i < runs.size(); ++i)
      if (runs[i].contains(item.key())) v.push_back(runs[i][item.key()].get<double>());
    std::sort(v.begin(), v.end());
    if (!v.empty()) out[item.key()] = v[v.size() / 2];
  }
  return out;
}

// The pair `dualcam bench` times: the scene at about 20 % (far) to 90 % (near) of the disparity
// range searched, through an ideal rectified rig or, for the rig row, through a distorted, rotated
// one (the lenses and the 1.7 degrees between the cameras of eval/rig_path.hpp's defaults).
datasets::SimulateOptions bench_scene(cv::Size size, int max_disparity, bool distorted_rig) {
  datasets::SimulateOptions so;
  so.mono.size = so.color.size = size;
  so.supersample = 1;
  so.seed = 3;
  const double f = 0.875 * size.width;
  so.color_position_mm = cv::Vec3d(12.0, 0, 0);
  so.near_mm = f * 12.0 / (0.9 * max_disparity);
  so.far_mm = f * 12.0 / (0.2 * max_disparity);
  if (distorted_rig) {
    so.mono.distortion = {-0.10, 0.03, 0.0006, -0.0004, 0.0};
    so.color.distortion = {0.06, -0.01, -0.0005, 0.0004, 0.0};
    so.rotation_deg = cv::Vec3d(-0.7, 1.1, -1.1);
  }
  return so;
}

std::string mib(long long bytes) {
  if (bytes < 0) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f MiB", double(bytes) / (1024.0 * 1024.0));
  return buf;
}

// One row of the table: a stage, timed for the engine and the peer in the same run.
struct Row {
  std::string stage, engine_what, peer_what;
  Timing engine, peer;
  int threads = 0;
  double engine_psnr = -1, peer_psnr = -1;  // fuse: dB against the simulator's clean truth
  double input_psnr = -1;                   // rig row: its own colour input's dB (another pair)
  Json engine_stages = Json::object();      // median seconds per pipeline stage
};

Json bench_json(const std::vector<Row>& rows, cv::Size size, const BenchOptions& o, int threads, double input_psnr) {
  Json j{{"command", "bench"},
         {"size", {size.width, size.height}},
         {"max_disparity", o.max_disparity},
         {"threads", threads},
         {"repeat", o.repeat},
         {"color_input_psnr_db", input_psnr},
         {"versions", version_info()},
         {"stages", Json::array()}};
  for (const Row& r : rows) {
    Json s{{"stage", r.stage},
           {"engine", r.engine_what},
           {"peer", r.peer_what},
           {"threads", r.threads},
           {"engine_s", r.engine.median_s},
           {"peer_s", r.peer.median_s},
           {"ratio", r.engine.median_s / r.peer.median_s},
           {"engine_cpu_s", r.engine.cpu_s},
           {"peer_cpu_s", r.peer.cpu_s},
           {"engine_peak_rss_bytes", r.engine.peak_rss},
           {"peer_peak_rss_bytes", r.peer.peak_rss}};
    if (!r.engine_stages.empty()) s["engine_stages_s"] = r.engine_stages;
    if (r.engine_psnr >= 0) s["engine_psnr_db"] = r.engine_psnr;
    if (r.peer_psnr >= 0) s["peer_psnr_db"] = r.peer_psnr;
    if (r.input_psnr >= 0) s["color_input_psnr_db"] = r.input_psnr;
    j["stages"].push_back(s);
  }
  j["process_peak_rss_bytes"] = peak_rss_bytes();
  return j;
}

void print_table(const std::vector<Row>& rows, cv::Size size, const BenchOptions& o, int threads, double input_psnr,
                 const std::string& depth_peer, const std::string& fuse_peer) {
  std::printf("dualcam bench: %dx%d, %d disparities, %d thread(s), median of %d runs after a warm-up\n\n", size.width,
              size.height, o.max_disparity, threads, o.repeat);
  std::printf("%-24s %10s %10s %8s %9s %9s %12s %12s %10s %10s\n", "stage", "engine s", "peer s", "ratio", "eng cpu",
              "peer cpu", "engine peak", "peer peak", "engine dB", "peer dB");
  auto db = [](double v) {
    char buf[32];
    if (v < 0) return std::string("");
    std::snprintf(buf, sizeof buf, "%.2f", v);
    return std::string(buf);
  };
  double rig_input_psnr = -1;
  for (const Row& r : rows) {
    std::printf("%-24s %10.3f %10.3f %8.2f %9.3f %9.3f %12s %12s %10s %10s\n", r.stage.c_str(), r.engine.median_s,
                r.peer.median_s, r.engine.median_s / r.peer.median_s, r.engine.cpu_s, r.peer.cpu_s,
                mib(r.engine.peak_rss).c_str(), mib(r.peer.peak_rss).c_str(), db(r.engine_psnr).c_str(),
                db(r.peer_psnr).c_str());
    if (r.input_psnr >= 0) rig_input_psnr = r.input_psnr;
  }
  std::printf("\nengine stages, median s:\n");
  for (const Row& r : rows) {
    if (r.engine_stages.empty()) continue;
    std::printf("  %-22s", r.stage.c_str());
    // In the pipeline's order, then any other.
    std::vector<std::string> keys = {"develop", "raw_noise_fit", "rectify", "match", "refine", "warp", "merge"};
    for (const auto& item : r.engine_stages.items())
      if (std::find(keys.begin(), keys.end(), item.key()) == keys.end()) keys.push_back(item.key());
    for (const std::string& k : keys)
      if (r.engine_stages.contains(k)) std::printf(" %s %.3f", k.c_str(), r.engine_stages[k].get<double>());
    std::printf("\n");
  }
  std::printf("\npeer: depth = %s; fuse = %s; fuse, rig path = the pair rectified by OpenCV, the fuse peer, and "
              "its output mapped back onto the mono view; bokeh = per-pixel Gaussian whose sigma follows the radius; fuse, "
              "raw frames = the finished-image path on the same samples.\n",
              depth_peer.c_str(), fuse_peer.c_str());
  std::printf("cpu: median CPU seconds of a run, all threads together.\n");
  std::printf("dB: PSNR of the fused image (8-bit sRGB) against the simulator's clean colour at its view; the "
              "colour camera's own image: %.2f dB",
              input_psnr);
  if (rig_input_psnr >= 0) std::printf(" (the rig path's pair, another simulation: %.2f dB)", rig_input_psnr);
  std::printf(".\n");
}

const char* const kDepthPeer = "StereoSGBM 3-way + hole fill + median, full resolution";
const char* const kFusePeer = "SGBM depth + warp + YCrCb global-linear merge";

// 8-bit PSNR of a fused image (linear CV_32FC3 or sRGB CV_8UC3) against the clean truth.
double psnr_vs(const cv::Mat& image, const cv::Mat& truth_linear) {
  return psnr8(image.depth() == CV_8U ? image : to_srgb8(image), to_srgb8(truth_linear));
}

// A Middlebury ground truth as a user's depth map at the bench size: the scene's left view
// (view1.png) and its disparity (disp1.png, 8-bit, disparity = value / 3, 0 = unknown), both
// upscaled to `size` (the image bilinearly, the disparity by nearest neighbour so that no depth is
// invented between surfaces; rescaled to the new width; unknown = NaN). `dir` is a scene folder or
// the folder of scene folders, then `scene` is taken from it. False (and why) when the files are
// not there.
bool middlebury_bokeh_input(const std::string& dir, const std::string& scene, cv::Size size, cv::Mat& image,
                            cv::Mat& disparity, std::string& why) {
  if (dir.empty()) {
    why = "no --bokeh-data folder given";
    return false;
  }
  std::string folder = dir;
  if (!std::filesystem::exists(folder + "/disp1.png")) folder = dir + "/" + scene;
  if (!std::filesystem::exists(folder + "/disp1.png") || !std::filesystem::exists(folder + "/view1.png")) {
    why = "no view1.png and disp1.png in " + dir + " or " + folder;
    return false;
  }
  const cv::Mat view = read_image(folder + "/view1.png");
  cv::Mat disp8 = read_image(folder + "/disp1.png");
  if (disp8.channels() == 3) cv::cvtColor(disp8, disp8, cv::COLOR_BGR2GRAY);
  if (disp8.depth() != CV_8U || view.size() != disp8.size() || view.channels() != 3) {
    why = folder + ": expected an 8-bit colour view1.png and an 8-bit disp1.png of its size";
    return false;
  }
  cv::Mat up8;
  cv::resize(view, up8, size, 0, 0, cv::INTER_LINEAR);
  image = to_linear_bgr(up8);
  cv::Mat d;
  disp8.convertTo(d, CV_32F, double(size.width) / view.cols / 3.0);
  cv::resize(d, disparity, size, 0, 0, cv::INTER_NEAREST);
  disparity.setTo(std::numeric_limits<float>::quiet_NaN(), disparity <= 0);
  return true;
}

// The worst case for a layered bokeh at the largest radius `max_blur`: in 8x8-pixel blocks,
// 80 % at 80-100 % of the largest radius (either side of the focus at disparity 100) and the rest
// anywhere in [-1, 1] of it, a hash of the block choosing; so every tile of the image sees nearly
// every level, most of them large.
cv::Mat worst_case_bokeh_disparity(cv::Size size) {
  cv::Mat d(size, CV_32F);
  for (int y = 0; y < size.height; ++y) {
    float* row = d.ptr<float>(y);
    for (int x = 0; x < size.width; ++x) {
      std::uint32_t h = std::uint32_t(x / 8) * 73856093u ^ std::uint32_t(y / 8) * 19349663u;
      h ^= h >> 13;
      h *= 0x5bd1e995u;
      h ^= h >> 15;
      const double a = (h & 0xffff) / 65536.0, b = ((h >> 16) & 0x7fff) / 32768.0;
      const double r = a < 0.8 ? (0.8 + 0.2 * b) * ((h >> 31) ? 1 : -1) : 2 * b - 1;
      row[x] = float(100 + 50 * r);
    }
  }
  return d;
}

// The p-quantile of the known (finite) values.
double quantile_known(const cv::Mat& m, double p) {
  std::vector<float> v;
  v.reserve(m.total());
  for (int y = 0; y < m.rows; ++y)
    for (int x = 0; x < m.cols; ++x)
      if (std::isfinite(m.at<float>(y, x))) v.push_back(m.at<float>(y, x));
  if (v.empty()) throw_invalid("the disparity has no known value");
  const std::size_t k = std::min(v.size() - 1, std::size_t(p * double(v.size())));
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return v[k];
}

// One bench run: the simulated pair, the engine's and the peer's options, and a method per stage
// that appends its rows.
struct BenchRun {
  const BenchOptions& o;
  ThreadScope& threads;
  cv::Size size;
  datasets::Simulation sim;
  fusion::FuseOptions fo;
  eval::PeerColorizeOptions peer;
  std::vector<Row> rows;
  Timing peer_fuse;
  double peer_fuse_psnr = -1;
  bool peer_fuse_timed = false;

  BenchRun(const BenchOptions& options, ThreadScope& scope, cv::Size sz) : o(options), threads(scope), size(sz) {
    // An ideal rectified rig: both the engine and the peer take the pair as it is.
    sim = threads.run([&] { return datasets::simulate(bench_scene(size, o.max_disparity, false)); });
    fo.rectified = true;
    fo.match.max_disparity = o.max_disparity;
    peer.depth.match.max_disparity = o.max_disparity;
    peer.depth.use_scene_ndisp = false;
  }

  fusion::FuseInput input() const { return {sim.mono, sim.color, nullptr}; }
  Timing run(const std::function<void()>& f) { return time_stage(o.repeat, [&] { threads.run(f); }); }

  void depth(Progress& progress) {
    fusion::FuseOptions depth_o = fo;
    depth_o.reference = fusion::Reference::Mono;
    Row depth{"depth", "dualcam depth (mono view)", kDepthPeer, {}, {}, threads.threads()};
    std::vector<Json> stage_runs;
    depth.engine = run([&] { stage_runs.push_back(fusion::compute_depth(input(), depth_o).stats.to_json()["stages_s"]); });
    depth.engine_stages = median_stages(stage_runs, o.repeat);
    progress.advance(1, "peer depth");
    depth.peer = run([&] { eval::peer_depth(sim.mono, sim.color, peer.depth); });
    rows.push_back(depth);
    if (threads.threads() != 1 && !o.no_single_thread) {
      ThreadScope one(1);
      Row single{"depth, 1 thread", "dualcam depth (mono view)", kDepthPeer, {}, {}, 1};
      auto run1 = [&](const std::function<void()>& f) { return time_stage(o.repeat, [&] { one.run(f); }); };
      single.engine = run1([&] { fusion::compute_depth(input(), depth_o); });
      single.peer = run1([&] { eval::peer_depth(sim.mono, sim.color, peer.depth); });
      rows.push_back(single);
    }
  }

  // The peer's fuse is the same for both reference rows: timed once.
  void time_peer_fuse() {
    if (peer_fuse_timed) return;
    cv::Mat out;
    peer_fuse = run([&] { out = eval::peer_colorize(sim.mono, sim.color, peer); });
    peer_fuse_psnr = psnr_vs(out, sim.clean_color_at_mono);
    peer_fuse_timed = true;
  }

  // An engine fuse row: timed runs, the median of each stage, the PSNR against the truth at the
  // reference view, next to the peer's fuse.
  void fuse(Row row, fusion::Reference reference, const cv::Mat& truth) {
    fusion::FuseOptions ro = fo;
    ro.reference = reference;
    cv::Mat out;
    std::vector<Json> stage_runs;
    row.engine = run([&] {
      fusion::FuseResult res = fusion::fuse(input(), ro);
      stage_runs.push_back(res.stats.to_json()["stages_s"]);
      out = res.image;
    });
    row.engine_stages = median_stages(stage_runs, o.repeat);
    row.engine_psnr = psnr_vs(out, truth);
    time_peer_fuse();
    row.peer = peer_fuse;
    row.peer_psnr = peer_fuse_psnr;
    rows.push_back(row);
  }

  // Thread scaling: the colour-reference fuse (engine and peer) with 1, 2, 4, ... threads and
  // all cores, each count its own ThreadScope (TBB arena and OpenCV's thread count), one row each.
  void fuse_scaling() {
    const int all = effective_threads(0);
    std::vector<int> counts;
    for (int n = 1; n < all; n *= 2) counts.push_back(n);
    counts.push_back(all);
    fusion::FuseOptions ro = fo;
    ro.reference = fusion::Reference::Color;
    for (int n : counts) {
      ThreadScope scope(n);
      Row row{"fuse colour, " + std::to_string(n) + " thread" + (n > 1 ? "s" : ""),
              "dualcam fuse --reference color --threads " + std::to_string(n),
              std::string(kFusePeer) + " (at the mono view) with " + std::to_string(n) + " thread(s)", {}, {}, n};
      cv::Mat out, peer_out;
      row.engine = time_stage(o.repeat, [&] { scope.run([&] { out = fusion::fuse(input(), ro).image; }); });
      row.peer = time_stage(o.repeat, [&] { scope.run([&] { peer_out = eval::peer_colorize(sim.mono, sim.color, peer); }); });
      row.engine_psnr = psnr_vs(out, sim.clean_color_at_color);
      row.peer_psnr = psnr_vs(peer_out, sim.clean_color_at_mono);
      rows.push_back(row);
    }
  }

  // The path `dualcam fuse --rig` takes: the rectifier built from the rig, the drift check, the
  // warp through the rig, the output at the colour camera's own (distorted) view; with
  // `mono_row`, the same at the mono camera's view (colourisation: the peer's view too).
  void fuse_rig(bool rig_row, bool command_row, bool mono_row) {
    const datasets::Simulation rs = threads.run([&] { return datasets::simulate(bench_scene(size, o.max_disparity, true)); });
    fusion::FuseOptions ro = fo;
    ro.rectified = false;
    ro.reference = fusion::Reference::Color;
    if (command_row) fuse_command(rs, ro);
    if (!rig_row && !mono_row) return;
    cv::Mat out, peer_out;
    // Each run builds the rig's maps, as one `dualcam fuse` does; the cached row keeps them, as a
    // batch through one module does (fusion::cached_rectifier).
    auto engine_row = [&](bool cached, const fusion::FuseOptions& options) {
      std::vector<Json> stage_runs;
      Timing t = run([&] {
        if (!cached) fusion::clear_rectifier_cache();
        fusion::FuseResult res = fusion::fuse({rs.mono, rs.color, &rs.rig}, options);
        stage_runs.push_back(res.stats.to_json()["stages_s"]);
        out = res.image;
      });
      return std::make_pair(t, median_stages(stage_runs, o.repeat));
    };
    const Timing peer_timing = run([&] { peer_out = eval::peer_colorize_rig(rs.mono, rs.color, rs.rig, peer); });
    const double peer_psnr = psnr_vs(peer_out, rs.clean_color_at_mono);
    // A row of the engine's rig path at `reference`'s view, beside the peer (at the mono view).
    const auto rig_row_at = [&](const char* stage, const char* what, fusion::Reference reference, const cv::Mat& truth) {
      fusion::FuseOptions options = ro;
      options.reference = reference;
      Row row{stage, what, std::string("OpenCV stereoRectify + ") + kFusePeer + " + back to the mono view", {}, {},
              threads.threads()};
      std::tie(row.engine, row.engine_stages) = engine_row(false, options);
      row.engine_psnr = psnr_vs(out, truth);
      row.peer = peer_timing;
      row.peer_psnr = peer_psnr;
      return row;
    };
    if (rig_row) {
      Row rig = rig_row_at("fuse, rig path", "dualcam fuse --rig (distorted, rotated; reference colour)",
                           fusion::Reference::Color, rs.clean_color_at_color);
      rig.input_psnr = psnr_vs(rs.color, rs.clean_color_at_color);
      rows.push_back(rig);
      Row cached = rig;
      cached.stage = "fuse, rig path (cached)";
      cached.engine_what = "the same through one module's cached maps (fuse --batch, regress, Python)";
      std::tie(cached.engine, cached.engine_stages) = engine_row(true, ro);
      rows.push_back(cached);
    }
    if (mono_row)
      rows.push_back(rig_row_at("fuse, rig path, mono view", "dualcam fuse --rig --reference mono (distorted, rotated)",
                                fusion::Reference::Mono, rs.clean_color_at_mono));
  }

  // The rig row's work as `dualcam fuse --mono M.png --color C.png --rig R.yaml -o F.png` does
  // it, from files to a file: the pair written as PNGs and its rig as YAML into a temporary
  // folder, then the rig read, both images read through the input rule, fused, encoded and
  // written (atomically, as the command writes); the peer reads the same files with OpenCV, runs
  // its rig path and writes its PNG with OpenCV.
  void fuse_command(const datasets::Simulation& rs, const fusion::FuseOptions& ro) {
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / ("dualcam-bench-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    struct Cleanup {
      fs::path dir;
      ~Cleanup() {
        std::error_code ec;
        fs::remove_all(dir, ec);
      }
    } cleanup{dir};
    const std::string m = (dir / "mono.png").string(), c = (dir / "color.png").string(), r = (dir / "rig.yaml").string();
    write_image(m, rs.mono);
    write_image(c, rs.color);
    write_rig(r, rs.rig);
    Row row{"fuse command, rig path", "read the PNGs and the rig, fuse --rig (reference colour), write the PNG",
            "cv::imread, the rig path's peer, cv::imwrite", {}, {}, threads.threads()};
    cv::Mat out, peer_out;
    row.engine = run([&] {
      const StereoRig rig = read_rig(r);
      const CameraPair pair = read_camera_pair(m, c);
      const fusion::FuseResult res = fusion::fuse(fusion::fuse_input(pair, &rig), ro);
      out = to_srgb(res.image, pair.color.depth());
      write_image((dir / "fused.png").string(), out);
    });
    row.peer = run([&] {
      const StereoRig rig = read_rig(r);
      const cv::Mat pm = cv::imread(m, cv::IMREAD_GRAYSCALE), pc = cv::imread(c, cv::IMREAD_COLOR);
      peer_out = eval::peer_colorize_rig(pm, pc, rig, peer);
      if (!cv::imwrite((dir / "peer.png").string(), peer_out)) throw_io("bench: cv::imwrite failed in " + dir.string());
    });
    row.engine_psnr = psnr_vs(out, rs.clean_color_at_color);
    row.peer_psnr = psnr_vs(peer_out, rs.clean_color_at_mono);
    row.input_psnr = psnr_vs(rs.color, rs.clean_color_at_color);
    rows.push_back(row);
  }

  // The raw path of `dualcam fuse` on a DNG pair, from the frames in memory: the realistic
  // sensor's frames (light 0.05, 10 bits) developed, their noise fitted, warped and merged on
  // their linear signal at the colour view; its "peer" is the same work on the cameras' finished
  // pictures of the same samples (the finished-image path), so the ratio is what raw input costs.
  void fuse_raw() {
    datasets::SimulateOptions so = bench_scene(size, o.max_disparity, false);
    so.sensor = datasets::SensorModel::Realistic;
    so.adc_bits = 10;
    so.color_sensor.light = 0.05;
    so.raw = true;
    const datasets::Simulation rs = threads.run([&] { return datasets::simulate(so); });
    fusion::FuseOptions ro = fo;
    ro.reference = fusion::Reference::Color;
    Row row{"fuse, raw frames", "dualcam fuse on raw frames (develop, noise fit, linear merge; reference colour)",
            "the same on the cameras' finished pictures of the same samples", {}, {}, threads.threads()};
    cv::Mat out, finished;
    std::vector<Json> stage_runs;
    // The work before the pipeline's stages is timed beside them: both frames' development
    // (camera_pair) and the noise fits on the frames (fuse_input), which the finished path has not.
    row.engine = run([&] {
      Stopwatch sw;
      const CameraPair pair = camera_pair(rs.mono_raw, rs.color_raw);
      const double develop_s = sw.seconds();
      sw.reset();
      const fusion::FuseInput in = fusion::fuse_input(pair, nullptr);
      const double fit_s = sw.seconds();
      const fusion::FuseResult res = fusion::fuse(in, ro);
      Json stages = res.stats.to_json()["stages_s"];
      stages["develop"] = develop_s;
      stages["raw_noise_fit"] = fit_s;
      stage_runs.push_back(stages);
      out = res.image;
    });
    row.engine_stages = median_stages(stage_runs, o.repeat);
    row.peer = run([&] { finished = fusion::fuse(fusion::fuse_input(camera_pair(rs.mono, rs.color), nullptr), ro).image; });
    row.engine_psnr = psnr_vs(out, rs.clean_color_at_color);
    row.peer_psnr = psnr_vs(finished, rs.clean_color_at_color);
    rows.push_back(row);
  }

  // A bokeh row: render_bokeh and the naive peer on the same image and disparity, the largest
  // blur radius 48 px (issue 7's setting), focus at `focus` (disparity).
  void bokeh_row(Progress& progress, const std::string& stage, const std::string& what, const cv::Mat& image,
                 const cv::Mat& disparity, double focus) {
    fusion::BokehOptions bo;
    bo.focus_disparity_px = focus;
    bo.blur_per_disparity = fusion::blur_per_disparity_for_max_blur(disparity, bo.focus_disparity_px, 48.0);
    bo.max_blur_px = 48.0;
    Row row{stage, what, "per-pixel Gaussian whose sigma follows the radius", {}, {}, threads.threads()};
    fusion::BokehStats st;
    row.engine = run([&] { fusion::render_bokeh(image, disparity, bo, &st); });
    row.engine_what += " (" + std::to_string(st.layers) + " layers)";
    progress.advance(0, "peer bokeh");
    row.peer = run([&] { eval::naive_gaussian_bokeh(image, disparity, bo); });
    rows.push_back(row);
  }

  // Bokeh of the colour view: the true disparity there, focus at the centre's disparity.
  void bokeh(Progress& progress) {
    cv::Mat bokeh_disparity = sim.disparity_color.clone();
    fusion::fill_holes_background(bokeh_disparity, 0.0f);
    bokeh_row(progress, "bokeh (max radius 48)", "dualcam bokeh (layered, aperture-shaped)", sim.clean_color_at_color,
              bokeh_disparity, fusion::focus_disparity_at(bokeh_disparity, {size.width / 2, size.height / 2}));
  }

  // Bokeh of a depth map a user has: a Middlebury ground truth upscaled to the bench size, focus
  // at the 80th percentile of its disparity. Skipped, with the reason, without the data.
  void bokeh_real(Progress& progress) {
    cv::Mat image, disparity;
    std::string why;
    if (!middlebury_bokeh_input(o.bokeh_data, o.bokeh_scene, size, image, disparity, why)) {
      std::fprintf(stderr, "dualcam bench: skipping the row bokeh-real (a Middlebury ground truth): %s; give "
                   "--bokeh-data DIR (e.g. ../shared/data/middlebury2005_2006_thirdsize)\n", why.c_str());
      return;
    }
    bokeh_row(progress, "bokeh, Middlebury " + o.bokeh_scene, "dualcam bokeh on the ground truth upscaled, focus p80",
              image, disparity, quantile_known(disparity, 0.8));
  }

  // The worst case: the largest blur almost everywhere and nearly every level in every tile.
  void bokeh_worst(Progress& progress) {
    bokeh_row(progress, "bokeh, worst case", "dualcam bokeh on 8x8 blocks of mostly 38-48 px radius, any level",
              sim.clean_color_at_color, worst_case_bokeh_disparity(size), 100.0);
  }
};

}  // namespace

Command register_bench(CLI::App& root) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* app = root.add_subcommand(
      "bench", "time depth and fuse on a simulated pair against the OpenCV peer pipeline, in one process");
  app->add_option("--size", o->size, "pair size WIDTHxHEIGHT (both cameras)");
  app->add_option("--max-disparity", o->max_disparity, "disparity range searched by both engine and peer, px")
      ->check(CLI::Range(16, 1024));
  app->add_option("--threads", o->threads, "worker threads (0 = all cores)")->check(CLI::Range(0, 1024));
  app->add_option("--stages", o->stages,
                  "comma-separated stages to time: depth, fuse-mono, fuse-color, fuse-rig (the colour-reference fuse "
                  "through a distorted, rotated rig: rectifier, drift check, warp), bokeh; also fuse-raw (not by default: "
                  "raw frames of the realistic sensor against its finished pictures, reference colour); fuse-command (not by "
                  "default: the rig row's pair from PNG files to a PNG file, as the command does it); fuse-scaling (not by "
                  "default: the colour-reference fuse at 1, 2, 4, ... threads and all cores); fuse-rig-mono (not by "
                  "default: the rig row at the mono view); bokeh-real (a "
                  "Middlebury ground truth upscaled, needs --bokeh-data) and bokeh-worst (the largest blur almost "
                  "everywhere, many levels)");
  app->add_option("--bokeh-data", o->bokeh_data,
                  "for the bokeh-real row: a Middlebury scene folder (view1.png, disp1.png = disparity x 3) or the "
                  "folder of scene folders (then --bokeh-scene); without it the row is skipped");
  app->add_option("--bokeh-scene", o->bokeh_scene, "the scene in --bokeh-data when that is the folder of scenes");
  app->add_flag("--no-single-thread", o->no_single_thread,
                "with --threads other than 1, skip timing the depth stage on 1 thread as well");
  app->add_option("--repeat", o->repeat, "timed runs per stage after one warm-up (median reported)")
      ->check(CLI::Range(1, 50));
  auto* json_opt = app->add_option("--json-out", o->json_path, "write the figures as JSON to this file");
  app->add_flag("--json", o->json_stdout, "print the figures as JSON on stdout instead of a table")
      ->excludes(json_opt);
  app->footer(example("dualcam bench --size 4000x3000 --max-disparity 256 --threads 2"));
  Action action = [o]() {
    const cv::Size size = parse_size("--size", o->size, 64, 20000);
    const std::vector<std::string> stages = parse_stages(o->stages);
    if (!o->json_path.empty()) check_output_path(o->json_path);
    ThreadScope threads(o->threads);
    Progress progress("bench", 9);
    progress.advance(0, "simulating the pair");
    BenchRun b(*o, threads, size);
    auto has = [&](const char* name) { return std::find(stages.begin(), stages.end(), name) != stages.end(); };
    progress.advance(1, "engine depth");
    if (has("depth")) b.depth(progress);
    progress.advance(1, "engine fuse");
    if (has("fuse-mono"))
      b.fuse(Row{"fuse, reference mono", "dualcam fuse --reference mono", kFusePeer, {}, {}, threads.threads()},
             fusion::Reference::Mono, b.sim.clean_color_at_mono);
    progress.advance(1, "peer fuse");
    progress.advance(1, "engine fuse (colour)");
    if (has("fuse-color"))
      b.fuse(Row{"fuse, reference colour", "dualcam fuse --reference color",
                 std::string(kFusePeer) + " (at the mono view)", {}, {}, threads.threads()},
             fusion::Reference::Color, b.sim.clean_color_at_color);
    progress.advance(1, "engine fuse (rig path)");
    if (has("fuse-rig") || has("fuse-command") || has("fuse-rig-mono"))
      b.fuse_rig(has("fuse-rig"), has("fuse-command"), has("fuse-rig-mono"));
    progress.advance(1, "engine bokeh");
    if (has("bokeh")) b.bokeh(progress);
    if (has("bokeh-real")) b.bokeh_real(progress);
    if (has("bokeh-worst")) b.bokeh_worst(progress);
    if (has("fuse-raw")) b.fuse_raw();
    if (has("fuse-scaling")) b.fuse_scaling();
    progress.advance(1, "done");
    progress.finish();
    // The colour camera's own image against the truth at its view: what fusion has to beat.
    const double input_psnr = psnr_vs(b.sim.color, b.sim.clean_color_at_color);
    const Json j = bench_json(b.rows, size, *o, threads.threads(), input_psnr);
    if (o->json_stdout)
      std::printf("%s\n", j.dump(2).c_str());
    else
      print_table(b.rows, size, *o, threads.threads(), input_psnr, kDepthPeer, kFusePeer);
    if (!o->json_path.empty()) write_file_atomic(o->json_path, j.dump(2) + "\n");
    return 0;
  };
  return {app, action};
}

}  // namespace dualcam::app
