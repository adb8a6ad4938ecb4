// dualcam simulate: render a colour + mono pair of a procedural 3-D scene through a configurable
// rig and the sensor models of docs/evaluation.md#sensors, with its ground truth (and optionally
// bokeh truth).
#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>

#include "common.hpp"
#include "dualcam/datasets/recipe.hpp"
#include "dualcam/datasets/simulate.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/file_util.hpp"
#include "dualcam/engine/parallel.hpp"
#include "dualcam/engine/progress.hpp"
#include "dualcam/engine/report.hpp"

namespace dualcam::app {
namespace {

struct SimulateCli {
  std::string dir, rig, scene = "objects";
  std::string size, mono_size, color_size;
  double focal = 0, mono_focal = 0, color_focal = 0;
  std::string mono_principal, color_principal, mono_dist, color_dist;
  std::string rotation, color_position;
  std::string mono_weights;
  double mono_gain = datasets::MonoSensor{}.gain;
  double light = 1.0;
  double f_number = 0, focal_mm = 0;
  bool no_bayer = false;
  bool raw = false;
  std::string sensor = "simple";
  int adc_bits = datasets::SimulateOptions{}.adc_bits;
  int jpeg_quality = datasets::SimulateOptions{}.jpeg_quality;
  // Options that are plain numbers of the recipe, with SimulateOptions' defaults.
  double mono_exposure = datasets::SimCamera{}.exposure, color_exposure = datasets::SimCamera{}.exposure;
  double mono_vignetting = datasets::SimCamera{}.vignetting, color_vignetting = datasets::SimCamera{}.vignetting;
  double focus_depth = datasets::SimulateOptions{}.focus_depth_mm;
  double aperture_radius = datasets::SimulateOptions{}.aperture_radius_mm;
  int bokeh_samples = datasets::SimulateOptions{}.bokeh_samples;
  datasets::SimulateOptions opt;  // the result; seed, supersample and depth range parsed into it
};

std::vector<double> parse_list(const std::string& option, const std::string& text, std::size_t lo, std::size_t hi) {
  std::vector<double> v;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    std::size_t used = 0;
    double x = 0;
    try {
      x = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || item.find_first_not_of(" \t", used) != std::string::npos || !std::isfinite(x))
      throw_invalid(option + ": '" + item + "' is not a number (expected a comma-separated list, e.g. 1,2,3)");
    v.push_back(x);
  }
  if (v.size() < lo || v.size() > hi)
    throw_invalid(option + ": expected " + (lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi)) +
                  " comma-separated numbers, got '" + text + "'");
  return v;
}

// The options as a simulator recipe (datasets/recipe.hpp), so `dualcam simulate` and regress
// manifests are read by the same parser.
Json recipe_of(const SimulateCli& c) {
  Json r;
  auto size = [](const std::string& option, const std::string& text) {
    const cv::Size s = parse_size(option, text);
    return Json::array({s.width, s.height});
  };
  r["scene"] = c.scene;
  r["seed"] = c.opt.seed;
  r["supersample"] = c.opt.supersample;
  r["near_mm"] = c.opt.near_mm;
  r["far_mm"] = c.opt.far_mm;
  if (!c.size.empty()) r["size"] = size("--size", c.size);
  if (!c.mono_size.empty()) r["mono_size"] = size("--mono-size", c.mono_size);
  if (!c.color_size.empty()) r["color_size"] = size("--color-size", c.color_size);
  if (c.focal > 0) r["focal_px"] = c.focal;
  if (c.mono_focal > 0) r["mono_focal_px"] = c.mono_focal;
  if (c.color_focal > 0) r["color_focal_px"] = c.color_focal;
  if (!c.mono_principal.empty()) r["mono_principal"] = parse_list("--mono-principal", c.mono_principal, 2, 2);
  if (!c.color_principal.empty()) r["color_principal"] = parse_list("--color-principal", c.color_principal, 2, 2);
  if (!c.mono_dist.empty()) r["mono_distortion"] = parse_list("--mono-distortion", c.mono_dist, 1, 5);
  if (!c.color_dist.empty()) r["color_distortion"] = parse_list("--color-distortion", c.color_dist, 1, 5);
  if (!c.rotation.empty()) r["rotation_deg"] = parse_list("--rotation", c.rotation, 3, 3);
  if (!c.color_position.empty()) r["color_position_mm"] = parse_list("--color-position", c.color_position, 3, 3);
  if (!c.mono_weights.empty()) r["mono_weights"] = parse_list("--mono-weights", c.mono_weights, 3, 3);
  r["mono_gain"] = c.mono_gain;
  r["light"] = c.light;
  r["bayer"] = !c.no_bayer;
  r["sensor"] = c.sensor;
  r["adc_bits"] = c.adc_bits;
  r["jpeg_quality"] = c.jpeg_quality;
  r["mono_exposure"] = c.mono_exposure;
  r["color_exposure"] = c.color_exposure;
  r["mono_vignetting"] = c.mono_vignetting;
  r["color_vignetting"] = c.color_vignetting;
  r["focus_depth_mm"] = c.focus_depth;
  r["aperture_radius_mm"] = c.aperture_radius;
  r["bokeh_samples"] = c.bokeh_samples;
  if (c.f_number > 0 || c.focal_mm > 0) {
    if (!(c.f_number > 0 && c.focal_mm > 0)) throw_invalid("--f-number needs --focal-mm (the lens's focal length) and vice versa");
    r["aperture_radius_mm"] = datasets::aperture_radius_from_f_number(c.focal_mm, c.f_number);
  }
  return r;
}

void apply(SimulateCli& c) {
  const Json recipe = recipe_of(c);
  if (recipe["aperture_radius_mm"].get<double>() > 0 && !(c.focus_depth > 0))
    throw_invalid("--aperture-radius / --f-number need --focus-depth MM (the depth in focus)");
  c.opt = datasets::simulate_options_from_recipe(recipe, {"dualcam simulate", ""});
  datasets::SimulateOptions& o = c.opt;
  if (!c.rig.empty()) {
    o.rig = read_rig(c.rig);
    o.validate();
  }
  if (o.rig) {
    // A rig from a file fixes the geometry; the per-camera geometry options cannot apply.
    if (!c.size.empty() || !c.mono_size.empty() || !c.color_size.empty() || c.focal > 0 || c.mono_focal > 0 ||
        c.color_focal > 0 || !c.mono_principal.empty() || !c.color_principal.empty() || !c.mono_dist.empty() ||
        !c.color_dist.empty() || !c.rotation.empty() || !c.color_position.empty())
      throw_invalid("--rig gives the whole geometry: do not combine it with the size, focal, principal, distortion, "
                    "rotation or position options");
  }
}

}  // namespace

Command register_simulate(CLI::App& root) {
  auto c = std::make_shared<SimulateCli>();
  auto common = std::make_shared<CommonOptions>();
  CLI::App* app = root.add_subcommand(
      "simulate", "render a colour + mono pair of a 3-D scene through a rig, with ground truth (and bokeh truth)");
  app->add_option("-o,--output", c->dir, "directory to write into (created if missing)")->required();
  app->add_option("--scene", c->scene, "scene recipe: objects (default) or layered")
      ->check(CLI::IsMember({"objects", "layered"}));
  app->add_option("--seed", c->opt.seed, "scene layout and noise seed (same seed, same files)");
  app->add_option("--near-mm,--near", c->opt.near_mm, "nearest scene depth, mm (default: 6 % of the width in disparity)");
  app->add_option("--far-mm,--far", c->opt.far_mm, "farthest scene depth (the back wall), mm (default: 1.5 % of the width)");
  app->add_option("--supersample", c->opt.supersample, "n x n rays per pixel (1..8)")->check(CLI::Range(1, 8));
  // Geometry.
  app->add_option("--rig", c->rig, "take the whole geometry from this rig file instead of the options below");
  app->add_option("--size", c->size, "both cameras' size WIDTHxHEIGHT (default 1280x960)");
  app->add_option("--mono-size", c->mono_size, "mono camera size WIDTHxHEIGHT");
  app->add_option("--color-size,--colour-size", c->color_size, "colour camera size WIDTHxHEIGHT");
  app->add_option("--focal", c->focal, "both cameras' focal length, px (default 0.875 * width: 60 degrees)");
  app->add_option("--mono-focal", c->mono_focal, "mono focal length, px");
  app->add_option("--color-focal,--colour-focal", c->color_focal, "colour focal length, px");
  app->add_option("--mono-principal", c->mono_principal, "mono principal point X,Y px (default: centre)");
  app->add_option("--color-principal,--colour-principal", c->color_principal, "colour principal point X,Y px");
  app->add_option("--mono-distortion", c->mono_dist, "mono lens distortion k1,k2,p1,p2,k3 (OpenCV model)");
  app->add_option("--color-distortion,--colour-distortion", c->color_dist, "colour lens distortion k1,k2,p1,p2,k3");
  app->add_option("--rotation", c->rotation, "colour-from-mono rotation vector RX,RY,RZ, degrees (default 0,0,0)");
  app->add_option("--color-position,--colour-position", c->color_position,
                  "colour camera centre X,Y,Z in the mono frame, mm (x right, y down; default 12,0,0; "
                  "0,-10,0 = 10 mm above)");
  // Sensors.
  app->add_option("--light", c->light, "colour camera light level (1 = good light, 0.05 = dim)")->check(CLI::Range(1e-4, 100.0));
  app->add_option("--mono-weights", c->mono_weights, "mono spectral weights wB,wG,wR (default 0.25,0.45,0.30)");
  app->add_option("--mono-gain", c->mono_gain, "mono gain over the colour camera (default 1.15)")->check(CLI::Range(0.01, 100.0));
  app->add_flag("--no-bayer", c->no_bayer, "colour camera without the RGGB mosaic and demosaic");
  app->add_option("--sensor", c->sensor,
                  "simple (the protocols' sensor models) or realistic (photon and read noise per Bayer site, "
                  "quantisation at the sensor, gain, demosaic, white balance, tone curve, JPEG: docs/evaluation.md)");
  app->add_option("--adc-bits", c->adc_bits, "realistic sensor: bits at the ADC (default 8)")->check(CLI::Range(8, 16));
  app->add_option("--jpeg-quality", c->jpeg_quality, "realistic sensor: JPEG quality of the pictures, 0 = none (default 90)")
      ->check(CLI::Range(0, 100));
  app->add_flag("--raw", c->raw,
                "realistic sensor: also write both sensors' raw frames (mono.raw, color.raw: headerless, "
                "16-bit little endian; mono.dng, color.dng; raw.json: their layout)");
  app->add_option("--mono-exposure", c->mono_exposure, "mono exposure multiplier (default 1)");
  app->add_option("--color-exposure,--colour-exposure", c->color_exposure, "colour exposure multiplier (default 1)");
  app->add_option("--mono-vignetting", c->mono_vignetting, "light lost at the mono image's corner, 0..0.99");
  app->add_option("--color-vignetting,--colour-vignetting", c->color_vignetting,
                  "light lost at the colour image's corner, 0..0.99");
  // Bokeh truth.
  app->add_option("--focus-depth", c->focus_depth, "render bokeh_truth.png focused at this depth, mm");
  app->add_option("--aperture-radius", c->aperture_radius, "thin-lens aperture radius A, mm");
  app->add_option("--f-number", c->f_number, "aperture as an f-number (needs --focal-mm): A = focal_mm / (2 N)");
  app->add_option("--focal-mm", c->focal_mm, "the lens's focal length in mm, for --f-number");
  app->add_option("--bokeh-samples", c->bokeh_samples, "aperture samples per pixel (default 256)");
  app->add_option("--threads", common->threads, "worker threads (0 = all cores)")->check(CLI::Range(0, 1024));
  app->add_option("--json", common->json_path, "write a JSON run report (timings, depth range, files)");
  app->footer(example(
      "dualcam simulate -o out/sim --size 1280x960 --color-size 1024x768 --color-position 0,-10,0 "
      "--rotation 0.3,-0.2,0.5 --mono-distortion -0.08,0.02 --light 0.1 --focus-depth 600 --aperture-radius 2"));
  Action action = [c, common]() {
    apply(*c);  // every option is checked before anything is created or written
    c->opt.raw = c->raw;
    c->opt.validate();
    if (!common->json_path.empty()) check_output_path(common->json_path);
    ThreadScope threads(common->threads);
    Stopwatch total;
    Progress progress("simulate", datasets::simulation_stages(c->opt));
    datasets::Simulation sim = threads.run([&] { return datasets::simulate(c->opt, &progress); });
    progress.finish();
    std::error_code ec;
    std::filesystem::create_directories(c->dir, ec);
    if (ec) throw_io("cannot create directory '" + c->dir + "': " + ec.message());
    Stopwatch write_sw;
    threads.run([&] { datasets::write_simulation(sim, c->dir); });
    const double write_s = write_sw.seconds();
    const auto names = datasets::simulation_file_names(sim);
    if (!common->json_path.empty()) {
      RunReport report("simulate");
      report.add_stage_seconds("render", sim.timings.render_s);
      report.add_stage_seconds("sensor", sim.timings.sensor_s);
      report.add_stage_seconds("truth", sim.timings.truth_s);
      report.add_stage_seconds("bokeh", sim.timings.bokeh_s);
      report.add_stage_seconds("write", write_s);
      report.json()["scene"] = datasets::to_string(c->opt.scene);
      report.json()["seed"] = c->opt.seed;
      report.json()["near_mm"] = sim.near_mm;
      report.json()["far_mm"] = sim.far_mm;
      report.json()["mono_size"] = {sim.rig.mono.size.width, sim.rig.mono.size.height};
      report.json()["color_size"] = {sim.rig.color.size.width, sim.rig.color.size.height};
      report.json()["baseline_mm"] = sim.rig.baseline();
      report.json()["ideal_rectified"] = sim.ideal_rectified;
      report.json()["files"] = names;
      report.json()["threads"] = threads.threads();
      report.json()["total_s"] = total.seconds();
      report.json()["peak_rss_bytes"] = peak_rss_bytes();
      report.write(common->json_path);
    }
    std::fprintf(stderr,
                 "dualcam simulate: wrote %zu files into %s in %.2f s (render %.2f s, sensors %.2f s, truth %.2f s, "
                 "bokeh %.2f s, write %.2f s)\n",
                 names.size(), c->dir.c_str(), total.seconds(), sim.timings.render_s, sim.timings.sensor_s,
                 sim.timings.truth_s, sim.timings.bokeh_s, write_s);
    return 0;
  };
  return {app, action};
}

}  // namespace dualcam::app
