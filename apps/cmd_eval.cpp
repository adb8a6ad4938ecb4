// dualcam eval: the protocols of docs/evaluation.md on Middlebury-format data, for the engine or
// the peer a user would assemble from OpenCV. Thin: parse, take the method from eval/methods.hpp,
// call eval::evaluate, print.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>

#include <filesystem>

#include "common.hpp"
#include "dualcam/datasets/middlebury.hpp"
#include "dualcam/engine/color.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/file_util.hpp"
#include "dualcam/engine/image_io.hpp"
#include "dualcam/engine/parallel.hpp"
#include "dualcam/engine/progress.hpp"
#include "dualcam/engine/rig.hpp"
#include "dualcam/eval/bokeh_eval.hpp"
#include "dualcam/eval/calib_eval.hpp"
#include "dualcam/eval/methods.hpp"
#include "dualcam/eval/real_eval.hpp"

namespace dualcam::app {
namespace {

struct EvalCliOptions {
  std::string protocol, data, method = "engine", left_sensor = "mono", mono_weights, scenes;
  double light = 0, mono_gain = 0;
  std::string sensor;                     // depth/p1/p2/raw: simple or realistic; empty = the protocol's default
  int adc_bits = 0, jpeg_quality = -1;    // realistic only; 0 / -1 = not given (EvalOptions defaults)
  double perturb_shift = 0, perturb_rotate = 0;  // depth: misaligned right view (EvalOptions)
  std::string rig = "rectified";                // engine: rectified (the data's own) or auto
  bool rig_path = false;                        // p1, p2: the pair through a distorted, rotated rig
  std::uint64_t seed = 0;
  int threads = 0;
  std::string json_path;
  int rigs = 20, views = 20;  // calib-synthetic
  std::string board;          // calib-*
  // The peer's SGBM settings that the design leaves open (defaults: PeerDepthOptions;
  // docs/evaluation.md#peer-settings).
  std::string peer_border = "reflect101";
  int peer_ndisp = -1, peer_disp12 = -2, peer_prefilter = -1, peer_speckle_window = -1, peer_speckle_range = -1;
  int bokeh_scenes = 4;
  std::string bokeh_cache;
  std::string save_dir;  // depth/p1/p2: write each scene's inputs and the method's output here
};

// --protocol bokeh: simulator scenes, not Middlebury data (eval/bokeh_eval.hpp, docs/bokeh.md).
int run_bokeh_protocol(const EvalCliOptions& o) {
  check_outputs({o.json_path});
  eval::BokehEvalOptions eo;
  eo.scenes = o.bokeh_scenes;
  eo.cache_dir = o.bokeh_cache;
  if (!eo.cache_dir.empty() && !std::filesystem::is_directory(eo.cache_dir))
    throw_io("--bokeh-cache: directory '" + eo.cache_dir + "' does not exist");
  ThreadScope threads(o.threads);
  Stopwatch total;
  const Json j = threads.run([&] { return eval::run_bokeh_eval(eo, stdout); });
  for (const char* which : {"ground_truth_disparity", "engine_disparity"}) {
    const Json& m = j["mean"][which];
    std::printf("mean, %s: dualcam %.2f dB, peer %.2f dB (gain %+.2f); within 8 px of depth edges %.2f / %.2f dB "
                "(gain %+.2f); in focus vs input %.2f dB\n",
                which, m["psnr_db"].get<double>(), m["peer_psnr_db"].get<double>(), m["gain_db"].get<double>(),
                m["edges_psnr_db"].get<double>(), m["peer_edges_psnr_db"].get<double>(), m["edges_gain_db"].get<double>(),
                m["in_focus_psnr_db"].get<double>());
  }
  std::fflush(stdout);
  if (!o.json_path.empty()) {
    RunReport report("eval");
    report.json()["eval"] = j;
    report.json()["threads"] = threads.threads();
    report.json()["total_s"] = total.seconds();
    report.write(o.json_path);
  }
  return 0;
}

// --protocol calib-synthetic | calib-real (eval/calib_eval.hpp).
int run_calib_protocol(const EvalCliOptions& o) {
  eval::CalibEvalOptions c;
  c.protocol = o.protocol;
  c.data = o.data;
  c.method = o.method;
  c.rigs = o.rigs;
  c.views = o.views;
  c.seed = unsigned(1 + o.seed);  // first rig's seed
  c.board = o.board;
  c.validate();
  if (!o.json_path.empty()) check_output_path(o.json_path);
  ThreadScope threads(o.threads);
  RunReport report("eval " + c.protocol);
  Stopwatch total;
  report.json()["results"] = threads.run([&] { return eval::run_calib_eval(c, stdout); });
  report.json()["total_s"] = total.seconds();
  if (!o.json_path.empty()) report.write(o.json_path);
  std::fprintf(stderr, "dualcam eval %s: %.1f s\n", c.protocol.c_str(), total.seconds());
  return 0;
}

// --protocol real: real colour + mono pairs, no reference (eval/real_eval.hpp).
int run_real_protocol(const EvalCliOptions& o) {
  if (o.method != "engine") throw_invalid("--method: protocol real runs every method (input, nlm, engine) itself");
  if (o.data.empty()) throw_invalid("--data is required for protocol real (a folder of pair folders with color.* and mono.*)");
  eval::RealEvalOptions r;
  r.data = o.data;
  r.validate();
  check_outputs({o.json_path});
  ThreadScope threads(o.threads);
  RunReport report("eval real");
  Stopwatch total;
  report.json()["eval"] = threads.run([&] { return eval::run_real_eval(r, stdout); });
  report.json()["threads"] = threads.threads();
  report.json()["total_s"] = total.seconds();
  if (!o.json_path.empty()) report.write(o.json_path);
  std::fprintf(stderr, "dualcam eval real: %.1f s\n", total.seconds());
  return 0;
}

std::vector<double> parse_numbers(const std::string& text, const char* option, std::size_t count) {
  std::vector<double> v;
  bool ok = !text.empty() && text.back() != ',';
  std::stringstream ss(text);
  std::string tok;
  while (ok && std::getline(ss, tok, ',')) {
    char* end = nullptr;
    const double x = std::strtod(tok.c_str(), &end);
    ok = !tok.empty() && *end == '\0' && std::isfinite(x);
    v.push_back(x);
  }
  if (!ok || v.size() != count)
    throw_invalid(std::string(option) + " must be " + std::to_string(count) + " comma-separated numbers, got '" + text + "'");
  return v;
}

eval::PeerDepthOptions peer_depth_options(const EvalCliOptions& o) {
  eval::PeerDepthOptions p;
  if (o.peer_ndisp >= 0) p.match.max_disparity = o.peer_ndisp;
  if (o.peer_disp12 >= -1) p.match.sgbm_disp12_max_diff = o.peer_disp12;
  if (o.peer_prefilter >= 0) p.match.sgbm_pre_filter_cap = o.peer_prefilter;
  if (o.peer_speckle_window >= 0) p.match.sgbm_speckle_window = o.peer_speckle_window;
  if (o.peer_speckle_range >= 0) p.match.sgbm_speckle_range = o.peer_speckle_range;
  p.validate();
  return p;
}

std::string protocol_list() {
  std::string s;
  for (const auto& p : eval::protocols()) s += std::string(s.empty() ? "" : ", ") + p.name;
  return s;
}

CLI::App* add_eval_options(CLI::App& root, EvalCliOptions* o) {
  CLI::App* app = root.add_subcommand("eval", "measure the engine or its OpenCV peer on Middlebury-format data (docs/evaluation.md)");
  std::string protocols_help = "protocol: " + protocol_list() + ", bokeh";
  for (const auto& p : eval::protocols()) protocols_help += std::string("\n  ") + p.name + ": " + p.summary;
  protocols_help +=
      "\n  bokeh: synthetic depth of field on simulator scenes against the thin-lens truth, with the true and the "
      "engine's disparity (docs/bokeh.md; needs no --data)";
  protocols_help += "\n  calib-synthetic: 20 random rigs x 20 board views rendered through them; errors against the truth"
                    " (needs no --data)"
                    "\n  calib-real: stereo_calib_sourishg sessions; RMS, rectified row error, odd/even halves"
                    "\n  real: real colour + mono pairs (folders with color.* and mono.*), no reference: flat-area noise and"
                    " detail correlation with the mono for the input, NLM and the engine (--rig auto) at both views";
  app->add_option("--protocol", o->protocol, protocols_help)->required();
  app->add_option("--data", o->data,
                  "a folder of scene folders, one scene folder, or an index CSV (not for bokeh, calib-synthetic; "
                  "calib-real: the folder of session*/)");
  app->add_option("--bokeh-scenes", o->bokeh_scenes, "bokeh: number of simulator scenes (seeds 1..N, default 4)")
      ->check(CLI::Range(1, 100));
  app->add_option("--bokeh-cache", o->bokeh_cache, "bokeh: keep the truth images (and inputs) in this folder, reuse them");
  app->add_option("--save-dir", o->save_dir,
                  "depth, p1, p2: write each scene's simulated inputs and the method's output into this existing "
                  "folder (SCENE_mono.png, SCENE_color.png, SCENE_output.png or .pfm, and SCENE_rig.yaml with --rig-path)");
  app->add_option("--method", o->method,
                  "engine (default) or peer (what a user would assemble from OpenCV); calib-*: also both")
      ->check(CLI::IsMember({"engine", "peer", "both"}));
  app->add_option("--rigs", o->rigs, "calib-synthetic: random rigs (default 20)")->check(CLI::Range(1, 10000));
  app->add_option("--views", o->views, "calib-synthetic: board views per rig (default 20)")->check(CLI::Range(4, 10000));
  app->add_option("--board", o->board,
                  "calib-*: board spec (default chessboard:9x6:25mm synthetic, chessboard:9x6:24.23mm real)");
  app->add_option("--light", o->light, "colour camera light level (1 = good, 0.05 = dim; default depth/p1 1, p2/raw 0.05)")
      ->check(CLI::Range(1e-4, 100.0));
  app->add_option("--sensor", o->sensor,
                  "depth, p1, p2, raw: sensor model of both cameras: simple (default; raw: realistic only, its default), "
                  "datasets/sensor.hpp) or realistic "
                  "(photon and read noise per Bayer site, ADC, ISP, JPEG: datasets/camera_isp.hpp, as dualcam "
                  "simulate --sensor realistic; --light at most 1)");
  app->add_option("--adc-bits", o->adc_bits, "realistic sensor: bits at the ADC, 8..16 (default 8; raw: 10)");
  app->add_option("--jpeg-quality", o->jpeg_quality, "realistic sensor: JPEG quality of both pictures, 0 = none (default 90)");
  app->add_option("--mono-weights", o->mono_weights, "mono response wB,wG,wR in linear light (default 0.25,0.45,0.30)");
  app->add_option("--mono-gain", o->mono_gain, "mono gain over the colour camera (default 1.15)")->check(CLI::Range(0.01, 100.0));
  app->add_option("--left-sensor", o->left_sensor,
                  "sensor of the left view: mono (the protocol) or color (both views through the colour sensor; depth only)")
      ->check(CLI::IsMember({"mono", "color", "colour"}));
  app->add_option("--rig", o->rig,
                  "engine: 'rectified' (default: the pair is rectified, as the data is) or 'auto' (the engine "
                  "estimates the rectification from the pair, as dualcam fuse --rig auto)")
      ->check(CLI::IsMember({"rectified", "auto"}));
  app->add_flag("--rig-path", o->rig_path,
                "p1, p2: see each scene's pair through a distorted, rotated rig (eval/rig_path.hpp) before the "
                "sensors; the method gets each camera's own image and the rig, as dualcam fuse --rig, and is scored "
                "at the cameras' own views");
  app->add_option("--perturb-right-shift", o->perturb_shift,
                  "depth: move the right (colour) view this many px down before the sensor sees it (default 0); "
                  "with --perturb-right-rotate, a module out of alignment")
      ->check(CLI::Range(-50.0, 50.0));
  app->add_option("--perturb-right-rotate", o->perturb_rotate,
                  "depth: rotate the right view by this many degrees counter-clockwise about its centre (default 0)")
      ->check(CLI::Range(-10.0, 10.0));
  app->add_option("--scenes", o->scenes, "only these scenes (comma-separated names)");
  app->add_option("--seed", o->seed, "mixed into every scene's noise seed (default 0)");
  app->add_option("--threads", o->threads, "worker threads (0 = all cores)")->check(CLI::Range(0, 1024));
  app->add_option("--json", o->json_path, "write per-scene and mean figures and the options as JSON");
  app->add_option("--peer-ndisp", o->peer_ndisp, "peer SGBM numDisparities (default 0 = OpenCV sample rule ((width/8)+15)&-16)")
      ->check(CLI::Range(0, 4096));
  app->add_option("--peer-disp12", o->peer_disp12, "peer SGBM disp12MaxDiff (default 1)")
      ->check(CLI::Range(-1, 4096));
  app->add_option("--peer-prefilter-cap", o->peer_prefilter, "peer SGBM preFilterCap (default 63; 0 = OpenCV's 15)")
      ->check(CLI::Range(0, 63));
  app->add_option("--peer-speckle-window", o->peer_speckle_window, "peer SGBM speckleWindowSize (default 100; 0 = off)")
      ->check(CLI::Range(0, 100000));
  app->add_option("--peer-speckle-range", o->peer_speckle_range, "peer SGBM speckleRange (default 8)")->check(CLI::Range(0, 4096));
  app->add_option("--peer-border", o->peer_border,
                  "p1 peer: colour for matches outside the colour image: reflect101 (default), replicate, constant (black)");
  app->footer(example("dualcam eval --protocol depth --data ../shared/data/middlebury2005_2006_thirdsize --method peer "
                      "--json depth.json\n  dualcam eval --protocol depth --data ../shared/data/middlebury2005_2006_thirdsize "
                      "--perturb-right-shift 3 --perturb-right-rotate 0.3 --rig auto\n  dualcam eval --protocol calib-real --data ../shared/data/stereo_calib_sourishg "
                      "--method both\n  dualcam eval --protocol real --data ../shared/data/real_color_mono --json real.json"));
  return app;
}

// depth, p1, p2: Middlebury-format scenes through the simulated sensors (eval/eval.hpp).
int run_middlebury_protocol(const EvalCliOptions& o) {
  eval::Protocol protocol;
  try {
    protocol = eval::parse_protocol(o.protocol);
  } catch (const Error& e) {
    throw_invalid(std::string(e.what()) + ", bokeh, calib-synthetic, calib-real, real");
  }
  if (o.data.empty()) throw_invalid("--data is required for protocol " + o.protocol);
  eval::EvalOptions eo;
  eo.light = o.light;
  eo.seed = o.seed;
  eo.left_sensor = eval::parse_left_sensor(o.left_sensor);
  try {
    // The raw protocol exists for the realistic sensor only; the others default to the simple one.
    eo.sensor = datasets::parse_sensor_model(!o.sensor.empty() ? o.sensor
                                             : protocol == eval::Protocol::Raw ? "realistic"
                                                                               : "simple");
  } catch (const Error& e) {
    throw_invalid(std::string("--sensor: ") + e.what());
  }
  if (eo.sensor != datasets::SensorModel::Realistic && (o.adc_bits != 0 || o.jpeg_quality != -1))
    throw_invalid("--adc-bits and --jpeg-quality apply to --sensor realistic only");
  if (o.adc_bits != 0) eo.adc_bits = o.adc_bits;
  else if (protocol == eval::Protocol::Raw) eo.adc_bits = 10;  // the protocol's sensor (docs/evaluation.md#raw-protocol)
  if (o.jpeg_quality != -1) eo.jpeg_quality = o.jpeg_quality;
  if (!o.mono_weights.empty()) {
    const auto w = parse_numbers(o.mono_weights, "--mono-weights", 3);
    eo.mono.w_b = w[0], eo.mono.w_g = w[1], eo.mono.w_r = w[2];
  }
  if (o.mono_gain > 0) eo.mono.gain = o.mono_gain;
  eo.perturb_right_shift_px = o.perturb_shift;
  eo.perturb_right_rotate_deg = o.perturb_rotate;
  if (o.rig_path) eo.rig_path.emplace();
  eo.validate(protocol);
  const bool auto_rig = o.rig == "auto";
  if (auto_rig && o.method != "engine") throw_invalid("--rig auto is for --method engine (the peer matches the pair as given)");
  if (auto_rig && o.rig_path) throw_invalid("--rig-path gives the method the rig: it excludes --rig auto");
  eval::PeerMethodOptions peer;
  peer.depth = peer_depth_options(o);
  peer.border = eval::parse_peer_border(o.peer_border);
  const eval::PeerDepthOptions& peer_depth = peer.depth;
  check_outputs({o.json_path});
  std::vector<datasets::SceneSource> scenes = datasets::find_scenes(o.data);
  if (!o.scenes.empty()) {
    std::vector<datasets::SceneSource> picked;
    std::stringstream ss(o.scenes);
    std::string name;
    while (std::getline(ss, name, ',')) {
      bool found = false;
      for (const auto& s : scenes)
        if (s.name == name) picked.push_back(s), found = true;
      if (!found) throw_invalid("--scenes: no scene '" + name + "' in '" + o.data + "'");
    }
    std::sort(picked.begin(), picked.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    scenes = picked;
  }
  eval::Method method = o.method == "peer" ? eval::peer_method(protocol, peer)
                                            : eval::engine_method(protocol, auto_rig ? eval::EngineRig::Auto
                                                                                     : eval::EngineRig::Rectified);
  if (!o.save_dir.empty()) {
    if (!std::filesystem::is_directory(o.save_dir)) throw_io("--save-dir: directory '" + o.save_dir + "' does not exist");
    const std::filesystem::path dir = o.save_dir;
    const bool depth = protocol == eval::Protocol::Depth;
    method.run = [run = method.run, dir, depth](const eval::MethodInput& in) {
      cv::Mat out = run(in);
      write_image((dir / (in.scene + "_mono.png")).string(), in.mono);
      write_image((dir / (in.scene + "_color.png")).string(), in.color);
      if (in.rig) write_rig((dir / (in.scene + "_rig.yaml")).string(), *in.rig);
      if (depth)
        write_pfm((dir / (in.scene + "_output.pfm")).string(), out);
      else
        write_image((dir / (in.scene + "_output.png")).string(), out);
      return out;
    };
  }
  ThreadScope threads(o.threads);
  Stopwatch total;
  Progress progress("eval " + std::string(eval::protocol_info(protocol).name), int(scenes.size()));
  eval::EvalResult res =
      threads.run([&] { return eval::evaluate(protocol, scenes, method, eo, &progress); });
  progress.finish();
  std::printf("dualcam eval: protocol %s, method %s, light %g, left sensor %s, mono weights %g,%g,%g gain %g, %zu scenes\n",
              eval::protocol_info(protocol).name, method.name.c_str(), res.light,
              eval::to_string(eo.left_sensor), eo.mono.w_b, eo.mono.w_g, eo.mono.w_r, eo.mono.gain,
              res.rows.size());
  if (eo.sensor == datasets::SensorModel::Realistic)
    std::printf("sensor realistic (datasets/camera_isp.hpp): ADC %d bits, JPEG quality %d\n", eo.adc_bits,
                eo.jpeg_quality);
  if (eo.perturbed() || auto_rig)
    std::printf("right view shifted %g px down, rotated %g deg; rig %s\n", eo.perturb_right_shift_px,
                eo.perturb_right_rotate_deg, o.rig.c_str());
  if (eo.rig_path) std::printf("rig path: each pair seen through a distorted, rotated rig (eval/rig_path.hpp)\n");
  std::printf("%s", res.table().c_str());
  std::fflush(stdout);
  if (!o.json_path.empty()) {
    RunReport report("eval");
    report.json()["eval"] = res.to_json();
    report.json()["data"] = o.data;
    report.json()["method_kind"] = o.method;
    report.json()["rig"] = o.rig;
    if (eo.rig_path) report.json()["rig_path"] = true;
    if (o.method == "peer" && protocol != eval::Protocol::P2)
      report.json()["peer_sgbm"] = {{"num_disparities", peer_depth.match.max_disparity},
                                    {"use_scene_ndisp", peer_depth.use_scene_ndisp},
                                    {"disp12_max_diff", peer_depth.match.sgbm_disp12_max_diff},
                                    {"pre_filter_cap", peer_depth.match.sgbm_pre_filter_cap},
                                    {"speckle_window", peer_depth.match.sgbm_speckle_window},
                                    {"speckle_range", peer_depth.match.sgbm_speckle_range}};
    if (o.method == "peer" && protocol == eval::Protocol::P1)
      report.json()["peer_border"] = eval::to_string(peer.border);
    report.json()["threads"] = threads.threads();
    report.json()["total_s"] = total.seconds();
    report.write(o.json_path);
  }
  return 0;
}

}  // namespace

Command register_eval(CLI::App& root) {
  auto o = std::make_shared<EvalCliOptions>();
  CLI::App* app = add_eval_options(root, o.get());
  Action action = [o]() {
    const bool middlebury = o->protocol != "calib-synthetic" && o->protocol != "calib-real" && o->protocol != "bokeh" &&
                            o->protocol != "real";
    if (!middlebury && (!o->sensor.empty() || o->adc_bits != 0 || o->jpeg_quality != -1))
      throw_invalid("--sensor, --adc-bits and --jpeg-quality apply to the depth, p1, p2 and raw protocols only");
    if (o->protocol == "calib-synthetic" || o->protocol == "calib-real") return run_calib_protocol(*o);
    if (o->method == "both") throw_invalid("--method both is only for the calib-* protocols");
    if (o->protocol == "bokeh") return run_bokeh_protocol(*o);
    if (o->protocol == "real") return run_real_protocol(*o);
    return run_middlebury_protocol(*o);
  };
  return {app, action};
}

}  // namespace dualcam::app
