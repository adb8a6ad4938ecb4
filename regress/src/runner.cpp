#include "dualcam/regress/runner.hpp"
#include "dualcam/regress/shard.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>


#include "dualcam/calibration/board.hpp"
#include "dualcam/calibration/stereo_calibrate.hpp"
#include "dualcam/calibration/stereo_views.hpp"
#include "dualcam/datasets/board_sim.hpp"
#include "dualcam/datasets/recipe.hpp"
#include "dualcam/datasets/simulate.hpp"
#include "dualcam/engine/color.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/file_util.hpp"
#include "dualcam/engine/image_io.hpp"
#include "dualcam/engine/inputs.hpp"
#include "dualcam/engine/parallel.hpp"
#include "dualcam/engine/raw.hpp"
#include "dualcam/fusion/pipeline.hpp"
#include "dualcam/fusion/refocus.hpp"

#include "runner_internal.hpp"

namespace fs = std::filesystem;

namespace dualcam::regress {

const char* to_string(Status status) {
  switch (status) {
    case Status::Pass: return "pass";
    case Status::Fail: return "fail";
    case Status::Error: return "error";
  }
  return "?";
}

void RunOptions::validate() const {
  if (shard_count < 1 || shard_count > 100000) throw_invalid("RunOptions::shard_count (the N of a shard I/N) must be in [1, 100000]");
  if (shard_index < 1 || shard_index > shard_count)
    throw_invalid("RunOptions::shard_index: the I of a shard I/N must be in [1, N], got " + std::to_string(shard_index) + "/" + std::to_string(shard_count));
  effective_threads(threads);
}

std::vector<std::size_t> select_cases(const Manifest& manifest, const RunOptions& options) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < manifest.cases.size(); ++i) {
    if (!Shard{options.shard_index, options.shard_count, ""}.takes(i)) continue;
    if (!options.filter.empty() && ::fnmatch(options.filter.c_str(), manifest.cases[i].name.c_str(), 0) != 0) continue;
    out.push_back(i);
  }
  return out;
}

namespace {

// ---- inputs ------------------------------------------------------------------------------------

// Simulations shared by the cases of one run that use the same recipe.
using SimCache = std::map<std::string, std::shared_ptr<const datasets::Simulation>>;

struct Pair {
  CameraPair images;  // engine/inputs.hpp's rules applied, as the subcommands apply them
  std::optional<StereoRig> rig;
  bool rectified = false;
  // fusion::fuse_input(images): a raw frame's linear signal and its noise model, made once.
  fusion::FuseInput prepared;
  fusion::FuseInput input() const {
    fusion::FuseInput in = prepared;
    in.rig = rig ? &*rig : nullptr;
    return in;
  }
};

Pair load_pair(const Case& c, SimCache& cache) {
  Pair p;
  if (c.inputs.simulate) {
    const std::string key = c.inputs.simulate->json.dump();
    auto it = cache.find(key);
    if (it == cache.end())
      it = cache.emplace(key, std::make_shared<const datasets::Simulation>(datasets::simulate(
                                  datasets::simulate_options_from_recipe(c.inputs.simulate->json,
                                                                         {"case '" + c.name + "'", "inputs.simulate"}))))
               .first;
    // A recipe with "raw": the sensors' frames are the case's inputs, as a DNG pair is to `dualcam fuse`.
    const datasets::Simulation& sim = *it->second;
    p.images = sim.color_raw.samples.empty() ? camera_pair(sim.mono, sim.color) : camera_pair(sim.mono_raw, sim.color_raw);
    p.prepared = fusion::fuse_input(p.images, nullptr);
    p.rig = it->second->rig;
    return p;
  }
  InputOptions io;
  if (!c.inputs.raw_layout.empty()) io.raw = read_raw_layouts(c.inputs.raw_layout);
  p.images = read_camera_pair(c.inputs.mono, c.inputs.color, io);
  p.prepared = fusion::fuse_input(p.images, nullptr, io);
  p.rectified = c.inputs.rectified;
  if (!c.inputs.rig.empty()) p.rig = read_rig(c.inputs.rig);
  return p;
}

fusion::FuseOptions fuse_options(const Case& c, const Pair& p) {
  fusion::FuseOptions fo;
  fo.reference = fusion::parse_reference(c.options.reference);
  fo.rectified = p.rectified;
  fo.match.max_disparity = c.options.max_disparity;
  fo.match.kind = fusion::parse_matcher(c.options.matcher);
  return fo;
}

// ---- the commands (each through the library calls its subcommand in apps/ makes) ---------------

void run_pair_command(const Case& c, SimCache& cache, ProducedOutputs& out) {
  const Pair p = load_pair(c, cache);
  const fusion::FuseOptions fo = fuse_options(c, p);
  const fusion::FuseInput in = p.input();
  fusion::validate_input(in, fo);
  if (c.command == Command::Depth) {
    Produced d;
    d.kind = OutputKind::Disparity;
    d.disparity = fusion::compute_depth(in, fo).disparity;
    out["disparity"] = d;
    return;
  }
  fusion::FuseResult res = fusion::fuse(in, fo);
  Produced img;
  img.kind = OutputKind::Image;
  img.image = to_srgb(res.image, p.images.color.depth());
  out["image"] = img;
  Produced d;
  d.kind = OutputKind::Disparity;
  d.disparity = res.disparity;
  out["disparity"] = d;
}

void run_bokeh(const Case& c, SimCache& cache, ProducedOutputs& out) {
  const CaseOptions& o = c.options;
  fusion::RefocusOptions ro;
  ro.aperture = fusion::parse_aperture(o.aperture);
  ro.highlight_gain = o.highlights;
  ro.focus_window = o.focus_window;
  if (o.focus) ro.focus_point = cv::Point(o.focus->first, o.focus->second);
  else ro.focus_disparity_px = *o.focus_disparity;
  if (o.f_number) ro.f_number = *o.f_number;
  else ro.max_blur_px = *o.max_blur;
  ro.pixel_pitch_um = o.pixel_pitch_um;
  const fusion::Reference reference = fusion::parse_reference(o.reference);
  fusion::BokehResult res;
  int out_depth = CV_8U;
  if (c.inputs.image.empty()) {
    const Pair p = load_pair(c, cache);
    if (!p.rig) throw_invalid("bokeh from a pair needs a rig");
    fusion::FuseOptions fo;
    fo.reference = reference;
    const fusion::FuseInput in = p.input();
    fusion::validate_input(in, fo);
    out_depth = p.images.color.depth();
    res = fusion::bokeh_from_pair(in, fo, ro, o.refine_disparity >= 0 ? o.refine_disparity : fusion::kBokehEdgeSnapRadius);
  } else {
    const cv::Mat encoded = read_image(c.inputs.image);
    out_depth = encoded.depth();
    const cv::Mat disparity = read_pfm(c.inputs.disparity);
    if (disparity.channels() != 1 || disparity.size() != encoded.size())
      throw_invalid("the disparity '" + c.inputs.disparity + "' must have 1 channel and the image's size");
    res = fusion::bokeh_from_image(to_linear_bgr(encoded), disparity, nullptr, reference, ro,
                                   std::max(0, o.refine_disparity));
  }
  Produced img;
  img.kind = OutputKind::Image;
  img.image = to_srgb(res.image, out_depth);
  out["image"] = img;
}

// apps/cmd_calibrate.cpp's computation: the views as calibration's stereo_views builds them, then one calibration.
void run_calibrate(const Case& c, ProducedOutputs& out) {
  const calibration::BoardSpec board = calibration::parse_board_spec(c.options.board);
  calibration::StereoCalibrationOptions co;
  co.fixed = c.options.fix;
  co.min_views = c.options.min_views;
  co.halves = c.options.halves;
  if (c.options.keep_all_views) co.view_outlier_sigmas = 1000;
  co.validate();
  calibration::StereoViewSet set;
  if (c.inputs.board_sim) {
    const BoardSimRecipe& r = *c.inputs.board_sim;
    datasets::BoardSetOptions bo;
    bo.views = r.views;
    bo.mono_size = {r.mono_width, r.mono_height};
    bo.color_size = {r.color_width, r.color_height};
    bo.noise = r.noise;
    bo.validate();
    const StereoRig truth = datasets::random_rig(r.seed, bo);
    std::vector<calibration::ImagePair> pairs;
    for (auto& v : datasets::render_board_set(truth, board, r.seed, bo))
      pairs.push_back({"view" + std::to_string(pairs.size() + 1), v.mono, v.color});
    set = calibration::detect_stereo_views(pairs, board);
  } else {
    calibration::StereoViewOptions so;
    if (!c.inputs.raw_layout.empty()) so.raw = read_raw_layouts(c.inputs.raw_layout);
    set = calibration::load_stereo_views(c.inputs.mono_files, c.inputs.color_files, board, so);
  }
  const auto res = calibration::calibrate_stereo(set.views, board, set.mono_size, set.color_size, co);
  Produced rig;
  rig.kind = OutputKind::Rig;
  rig.rig = res.rig;
  rig.matrices = res.rectification_matrices();
  out["rig"] = rig;
}

ProducedOutputs compute(const Case& c, SimCache& cache) {
  ProducedOutputs all;
  switch (c.command) {
    case Command::Fuse:
    case Command::Depth: run_pair_command(c, cache, all); break;
    case Command::Bokeh: run_bokeh(c, cache, all); break;
    case Command::Calibrate: run_calibrate(c, all); break;
  }
  ProducedOutputs wanted;  // only the outputs the case names
  for (const auto& spec : c.outputs) wanted[spec.name] = all.at(spec.name);
  return wanted;
}

// ---- comparison -----------------------------------------------------------------------------------



}  // namespace

ProducedOutputs compute_case(const Case& c, int threads) {
  ThreadScope scope(threads);
  SimCache cache;
  return scope.run([&] { return compute(c, cache); });
}

std::vector<CaseResult> run_manifest(const Manifest& manifest, const RunOptions& options) {
  options.validate();
  ThreadScope scope(options.threads);
  SimCache cache;
  std::vector<CaseResult> results;
  for (std::size_t index : select_cases(manifest, options)) {
    const Case& c = manifest.cases[index];
    CaseResult r;
    r.name = c.name;
    r.command = to_string(c.command);
    r.description = c.description;
    Stopwatch sw;
    try {
      ProducedOutputs produced = scope.run([&] { return compute(c, cache); });
      for (const auto& spec : c.outputs) {
        Produced& p = produced.at(spec.name);
        if (options.post_process) options.post_process(c.name, spec.name, p);
        OutputResult o = options.update ? detail::update_output(spec, p, options.pictures) : compare_output(spec, p, options.pictures);
        o.name = spec.name;
        o.kind = spec.kind;
        o.golden = spec.golden_text;
        o.passed = o.failures.empty();
        if (!o.passed) r.status = Status::Fail;
        r.outputs.push_back(std::move(o));
      }
    } catch (const Error& e) {
      r.status = Status::Error;
      r.error = std::string(to_string(e.category())) + ": " + e.what();
      r.outputs.clear();
    } catch (const cv::Exception& e) {
      r.status = Status::Error;
      r.error = "internal error (OpenCV): " + e.err;
      r.outputs.clear();
    }
    r.seconds = sw.seconds();
    if (options.on_case) options.on_case(r);
    results.push_back(std::move(r));
  }
  return results;
}


}  // namespace dualcam::regress
