#include "dualcam/regress/runner.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include <opencv2/calib3d.hpp>
#include <opencv2/imgproc.hpp>

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
#include "dualcam/engine/metrics.hpp"
#include "dualcam/engine/parallel.hpp"
#include "dualcam/engine/rectify_geometry.hpp"
#include "dualcam/engine/visualize.hpp"
#include "dualcam/fusion/pipeline.hpp"
#include "dualcam/fusion/refocus.hpp"

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
    if (int(i % std::size_t(options.shard_count)) != options.shard_index - 1) continue;
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
  fusion::FuseInput input() const { return {images.mono, images.color, rig ? &*rig : nullptr}; }
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
    p.images = camera_pair(it->second->mono, it->second->color);
    p.rig = it->second->rig;
    return p;
  }
  p.images = read_camera_pair(c.inputs.mono, c.inputs.color);
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
    set = calibration::load_stereo_views(c.inputs.mono_files, c.inputs.color_files, board);
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

Json number_or_inf(double v) { return std::isfinite(v) ? Json(v) : Json(v > 0 ? "inf" : "-inf"); }

std::string fmt(const char* f, double a, double b) {
  char buf[160];
  std::snprintf(buf, sizeof buf, f, a, b);
  return buf;
}

cv::Mat to_bgr8(const cv::Mat& img) {
  cv::Mat out = img;
  if (out.depth() == CV_16U) out.convertTo(out, CV_8U, 1.0 / 257.0);
  if (out.channels() == 1) cv::cvtColor(out, out, cv::COLOR_GRAY2BGR);
  return out.clone();
}

// |a - b| (largest over channels) times `gain`, through a heat map: black = equal.
cv::Mat amplified_difference(const cv::Mat& a8, const cv::Mat& b8, double gain) {
  cv::Mat d;
  cv::absdiff(a8, b8, d);
  if (d.channels() == 3) {
    std::vector<cv::Mat> ch;
    cv::split(d, ch);
    d = cv::max(cv::max(ch[0], ch[1]), ch[2]);
  }
  d.convertTo(d, CV_8U, gain);
  cv::Mat heat;
  cv::applyColorMap(d, heat, cv::COLORMAP_INFERNO);
  return heat;
}

OutputResult compare_image(const OutputSpec& spec, const cv::Mat& produced, bool pictures) {
  OutputResult r;
  const cv::Mat golden = read_image(spec.golden);
  const ImageTolerance& t = spec.image;
  if (t.min_psnr_db) r.tolerance["min_psnr_db"] = *t.min_psnr_db;
  if (t.min_ssim) r.tolerance["min_ssim"] = *t.min_ssim;
  if (t.max_abs_diff) r.tolerance["max_abs_diff"] = *t.max_abs_diff;
  if (t.max_differing_share) r.tolerance["max_differing_share"] = *t.max_differing_share;
  if (golden.size() != produced.size() || golden.channels() != produced.channels()) {
    r.failures.push_back("the new image is " + std::to_string(produced.cols) + "x" + std::to_string(produced.rows) + "x" +
                         std::to_string(produced.channels()) + ", the golden " + std::to_string(golden.cols) + "x" +
                         std::to_string(golden.rows) + "x" + std::to_string(golden.channels()));
    return r;
  }
  const ImageComparison c = compare_images(produced, golden);
  r.figures = {{"psnr_db", number_or_inf(c.psnr_db)},
               {"ssim", c.ssim},
               {"max_abs_diff", c.max_abs_diff},
               {"differing_share", c.differing_share}};
  if (t.min_psnr_db && !(c.psnr_db >= *t.min_psnr_db)) r.failures.push_back(fmt("PSNR %.2f dB < %.2f dB", c.psnr_db, *t.min_psnr_db));
  if (t.min_ssim && !(c.ssim >= *t.min_ssim)) r.failures.push_back(fmt("SSIM %.4f < %.4f", c.ssim, *t.min_ssim));
  if (t.max_abs_diff && c.max_abs_diff > *t.max_abs_diff)
    r.failures.push_back(fmt("max |diff| %.0f > %.0f", c.max_abs_diff, *t.max_abs_diff));
  if (t.max_differing_share && c.differing_share > *t.max_differing_share)
    r.failures.push_back(fmt("differing pixels %.3f %% > %.3f %%", 100 * c.differing_share, 100 * *t.max_differing_share));
  if (pictures) {
    const cv::Mat g8 = to_bgr8(golden), n8 = to_bgr8(produced);
    r.pictures = {{"golden", g8, ""}, {"new", n8, ""}, {"difference x16", amplified_difference(g8, n8, 16.0), ""}};
  }
  return r;
}

OutputResult compare_disparity(const OutputSpec& spec, const cv::Mat& produced, bool pictures) {
  OutputResult r;
  const cv::Mat golden = read_pfm(spec.golden);
  const DisparityTolerance& t = spec.disparity;
  if (t.max_bad1) r.tolerance["max_bad1"] = *t.max_bad1;
  if (t.max_bad2) r.tolerance["max_bad2"] = *t.max_bad2;
  if (t.max_mae_px) r.tolerance["max_mae_px"] = *t.max_mae_px;
  if (golden.size() != produced.size() || golden.type() != CV_32FC1) {
    r.failures.push_back("the new disparity is " + std::to_string(produced.cols) + "x" + std::to_string(produced.rows) +
                         ", the golden " + std::to_string(golden.cols) + "x" + std::to_string(golden.rows) + "x" +
                         std::to_string(golden.channels()));
    return r;
  }
  const DisparityErrors e = disparity_errors(produced, golden);
  r.figures = {{"bad1", e.bad1}, {"bad2", e.bad2}, {"mae_px", e.mae_px}, {"evaluated", e.evaluated}};
  if (t.max_bad1 && e.bad1 > *t.max_bad1) r.failures.push_back(fmt("bad-1.0 %.3f %% > %.3f %%", 100 * e.bad1, 100 * *t.max_bad1));
  if (t.max_bad2 && e.bad2 > *t.max_bad2) r.failures.push_back(fmt("bad-2.0 %.3f %% > %.3f %%", 100 * e.bad2, 100 * *t.max_bad2));
  if (t.max_mae_px && !(e.mae_px <= *t.max_mae_px)) r.failures.push_back(fmt("MAE %.3f px > %.3f px", e.mae_px, *t.max_mae_px));
  if (pictures) {
    const auto [lo, hi] = disparity_display_range(golden);  // one colour scale for golden and new
    // |new - golden| x 64 (4 px and more = white); known in the golden but unknown now = white.
    cv::Mat diff(golden.size(), CV_8U, cv::Scalar(0));
    for (int y = 0; y < golden.rows; ++y)
      for (int x = 0; x < golden.cols; ++x) {
        const float g = golden.at<float>(y, x), n = produced.at<float>(y, x);
        if (!std::isfinite(g)) continue;
        diff.at<std::uint8_t>(y, x) = cv::saturate_cast<std::uint8_t>(std::isfinite(n) ? 64.0 * std::abs(n - g) : 255.0);
      }
    cv::Mat heat;
    cv::applyColorMap(diff, heat, cv::COLORMAP_INFERNO);
    r.pictures = {{"golden", colorize_disparity(golden, lo, hi), ""},
                  {"new", colorize_disparity(produced, lo, hi), ""},
                  {"|difference| x64 px", heat, ""}};
  }
  return r;
}

OutputResult compare_rig(const OutputSpec& spec, const StereoRig& n) {
  OutputResult r;
  const StereoRig g = read_rig(spec.golden);
  const RigTolerance& t = spec.rig;
  double focal = 0, principal = 0, dist = 0;
  Json params = Json::array();
  auto param = [&](const std::string& name, double gv, double nv) {
    params.push_back({{"name", name}, {"golden", gv}, {"new", nv}, {"diff", nv - gv}});
  };
  for (int cam = 0; cam < 2; ++cam) {
    const CameraModel& a = cam == 0 ? g.mono : g.color;
    const CameraModel& b = cam == 0 ? n.mono : n.color;
    const std::string p = cam == 0 ? "mono." : "color.";
    if (a.size != b.size)
      r.failures.push_back(p + "size " + std::to_string(b.size.width) + "x" + std::to_string(b.size.height) +
                           " differs from the golden's " + std::to_string(a.size.width) + "x" + std::to_string(a.size.height));
    for (int i = 0; i < 2; ++i) {
      focal = std::max(focal, 100.0 * std::abs(b.K(i, i) - a.K(i, i)) / std::abs(a.K(i, i)));
      principal = std::max(principal, std::abs(b.K(i, 2) - a.K(i, 2)));
      param(p + (i == 0 ? "fx" : "fy"), a.K(i, i), b.K(i, i));
      param(p + (i == 0 ? "cx" : "cy"), a.K(i, 2), b.K(i, 2));
    }
    const int na = int(a.dist.total()), nb = int(b.dist.total());
    static const char* kNames[] = {"k1", "k2", "p1", "p2", "k3"};
    for (int i = 0; i < std::max(na, nb); ++i) {
      const double av = i < na ? a.dist.at<double>(i) : 0.0, bv = i < nb ? b.dist.at<double>(i) : 0.0;
      dist = std::max(dist, std::abs(bv - av));
      param(p + (i < 5 ? kNames[i] : "d" + std::to_string(i)), av, bv);
    }
  }
  cv::Vec3d rv;
  cv::Rodrigues(cv::Mat(g.R.t() * n.R), rv);
  const double rotation = cv::norm(rv) * 180.0 / CV_PI;
  const double baseline = 100.0 * std::abs(n.baseline() - g.baseline()) / g.baseline();
  param("baseline_mm", g.baseline(), n.baseline());
  r.figures = {{"focal_pct", focal},       {"principal_px", principal}, {"distortion_abs", dist},
               {"rotation_deg", rotation}, {"baseline_pct", baseline},  {"parameters", params}};
  if (t.focal_pct) r.tolerance["focal_pct"] = *t.focal_pct;
  if (t.principal_px) r.tolerance["principal_px"] = *t.principal_px;
  if (t.distortion_abs) r.tolerance["distortion_abs"] = *t.distortion_abs;
  if (t.rotation_deg) r.tolerance["rotation_deg"] = *t.rotation_deg;
  if (t.baseline_pct) r.tolerance["baseline_pct"] = *t.baseline_pct;
  if (t.focal_pct && !(focal <= *t.focal_pct)) r.failures.push_back(fmt("focal %.4f %% > %.4f %%", focal, *t.focal_pct));
  if (t.principal_px && !(principal <= *t.principal_px))
    r.failures.push_back(fmt("principal point %.4f px > %.4f px", principal, *t.principal_px));
  if (t.distortion_abs && !(dist <= *t.distortion_abs))
    r.failures.push_back(fmt("distortion %.5f > %.5f", dist, *t.distortion_abs));
  if (t.rotation_deg && !(rotation <= *t.rotation_deg))
    r.failures.push_back(fmt("rotation %.5f deg > %.5f deg", rotation, *t.rotation_deg));
  if (t.baseline_pct && !(baseline <= *t.baseline_pct))
    r.failures.push_back(fmt("baseline %.4f %% > %.4f %%", baseline, *t.baseline_pct));
  return r;
}

// ---- update ---------------------------------------------------------------------------------------

bool same_bytes(const cv::Mat& a, const cv::Mat& b) {
  if (a.size() != b.size() || a.type() != b.type()) return false;
  const cv::Mat ac = a.isContinuous() ? a : a.clone(), bc = b.isContinuous() ? b : b.clone();
  return std::memcmp(ac.data, bc.data, ac.total() * ac.elemSize()) == 0;
}

OutputResult update_output(const OutputSpec& spec, const Produced& p, bool pictures) {
  std::error_code ec;
  const bool exists = fs::is_regular_file(spec.golden, ec);
  OutputResult r;
  if (exists) {
    r = compare_output(spec, p, pictures);
    r.failures.clear();  // an update judges nothing; the figures say how far the old golden was
    bool same = false;
    switch (p.kind) {
      case OutputKind::Image: same = same_bytes(read_image(spec.golden), p.image); break;
      case OutputKind::Disparity: same = same_bytes(read_pfm(spec.golden), p.disparity); break;
      case OutputKind::Rig: {
        const auto bytes = read_file_bytes(spec.golden);
        same = std::string(bytes.begin(), bytes.end()) == format_rig(p.rig, p.matrices);
        break;
      }
    }
    r.update = same ? "unchanged" : "changed";
    if (same) return r;
  } else {
    r.update = "new";
  }
  const fs::path parent = fs::path(spec.golden).parent_path();
  if (!parent.empty()) {
    fs::create_directories(parent, ec);
    if (ec) throw_io("cannot create '" + parent.string() + "': " + ec.message());
  }
  switch (p.kind) {
    case OutputKind::Image: write_image(spec.golden, p.image); break;
    case OutputKind::Disparity: write_pfm(spec.golden, p.disparity); break;
    case OutputKind::Rig: write_rig(spec.golden, p.rig, p.matrices); break;
  }
  return r;
}

std::string figures_text(const OutputResult& o) {
  const Json& f = o.figures;
  char buf[256] = "";
  auto num = [&](const char* k) { return f.contains(k) && f[k].is_number() ? f[k].get<double>() : 0.0; };
  if (f.is_null()) return "";
  switch (o.kind) {
    case OutputKind::Image: {
      const std::string psnr = f["psnr_db"].is_string() ? std::string("inf") : fmt("%.2f", num("psnr_db"), 0);
      std::snprintf(buf, sizeof buf, "PSNR %s dB, SSIM %.4f, max |diff| %d, differing %.2f %%", psnr.c_str(), num("ssim"),
                    int(num("max_abs_diff")), 100 * num("differing_share"));
      break;
    }
    case OutputKind::Disparity:
      std::snprintf(buf, sizeof buf, "bad-1.0 %.2f %%, bad-2.0 %.2f %%, MAE %.3f px", 100 * num("bad1"), 100 * num("bad2"),
                    num("mae_px"));
      break;
    case OutputKind::Rig:
      std::snprintf(buf, sizeof buf, "focal %.4f %%, principal %.3f px, distortion %.5f, rotation %.4f deg, baseline %.4f %%",
                    num("focal_pct"), num("principal_px"), num("distortion_abs"), num("rotation_deg"), num("baseline_pct"));
      break;
  }
  return buf;
}

}  // namespace

OutputResult compare_output(const OutputSpec& spec, const Produced& produced, bool pictures) {
  if (produced.kind != spec.kind) throw_invalid("output '" + spec.name + "' has the wrong kind");
  OutputResult r;
  switch (spec.kind) {
    case OutputKind::Image: r = compare_image(spec, produced.image, pictures); break;
    case OutputKind::Disparity: r = compare_disparity(spec, produced.disparity, pictures); break;
    case OutputKind::Rig: r = compare_rig(spec, produced.rig); break;
  }
  r.name = spec.name;
  r.kind = spec.kind;
  r.golden = spec.golden_text;
  r.passed = r.failures.empty();
  return r;
}

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
        OutputResult o = options.update ? update_output(spec, p, options.pictures) : compare_output(spec, p, options.pictures);
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

std::string case_line(const CaseResult& r) {
  char head[64];
  const bool updated = !r.outputs.empty() && !r.outputs[0].update.empty();
  std::snprintf(head, sizeof head, "%-6s",
                r.status == Status::Error ? "ERROR" : updated ? "UPDATE" : r.status == Status::Pass ? "PASS" : "FAIL");
  std::string s = std::string(head) + " " + r.name + " (" + r.command + ", " + fmt("%.2f s", r.seconds, 0) + ")";
  if (r.status == Status::Error) return s + ": " + r.error;
  for (const auto& o : r.outputs) {
    s += "  " + o.name + ": ";
    if (!o.update.empty()) s += o.update + (o.update == "new" ? "" : " (against the old golden: " + figures_text(o) + ")");
    else s += figures_text(o);
    for (const auto& f : o.failures) s += " [" + f + "]";
  }
  return s;
}

Summary summarize(const std::vector<CaseResult>& results) {
  Summary s;
  for (const auto& r : results) {
    ++s.cases;
    s.passed += r.status == Status::Pass;
    s.failed += r.status == Status::Fail;
    s.errors += r.status == Status::Error;
    s.seconds += r.seconds;
    for (const auto& o : r.outputs) s.updated += o.update == "changed" || o.update == "new";
  }
  return s;
}

std::string summary_line(const Summary& s, bool update) {
  char buf[256];
  if (update)
    std::snprintf(buf, sizeof buf, "regress: %d cases run, %d goldens written (changed or new), %d errors in %.2f s", s.cases,
                  s.updated, s.errors, s.seconds);
  else
    std::snprintf(buf, sizeof buf, "regress: %d cases, %d passed, %d failed, %d errors in %.2f s: %s", s.cases, s.passed,
                  s.failed, s.errors, s.seconds, s.ok() ? "PASS" : "FAIL");
  return buf;
}

Json results_to_json(const std::vector<CaseResult>& results, const std::string& picture_base) {
  Json cases = Json::array();
  for (const auto& r : results) {
    Json c = {{"name", r.name}, {"command", r.command}, {"status", to_string(r.status)}, {"seconds", r.seconds}};
    if (!r.description.empty()) c["description"] = r.description;
    if (!r.error.empty()) c["error"] = r.error;
    Json outs = Json::array();
    for (const auto& o : r.outputs) {
      Json jo = {{"name", o.name},           {"kind", to_string(o.kind)}, {"golden", o.golden}, {"passed", o.passed},
                 {"figures", o.figures},     {"tolerance", o.tolerance},  {"failures", o.failures}};
      if (!o.update.empty()) jo["update"] = o.update;
      Json pics = Json::array();
      for (const auto& p : o.pictures)
        if (!p.file.empty()) {
          std::error_code ec;
          fs::path rel = fs::relative(fs::absolute(p.file, ec), fs::absolute(picture_base.empty() ? "." : picture_base, ec), ec);
          pics.push_back({{"label", p.label}, {"file", (ec || rel.empty() ? fs::absolute(p.file) : rel).string()}});
        }
      if (!pics.empty()) jo["pictures"] = pics;
      outs.push_back(jo);
    }
    c["outputs"] = outs;
    cases.push_back(c);
  }
  const Summary s = summarize(results);
  return {{"dualcam_regress_results", 1},
          {"cases", cases},
          {"summary",
           {{"cases", s.cases}, {"passed", s.passed}, {"failed", s.failed}, {"errors", s.errors}, {"seconds", s.seconds}, {"ok", s.ok()}}}};
}

std::vector<CaseResult> results_from_json(const Json& j, const std::string& name, const std::string& picture_base) {
  auto bad = [&](const std::string& what) -> void { throw_invalid(name + ": not a dualcam regress --json file (" + what + ")"); };
  if (!j.is_object() || !j.contains("dualcam_regress_results") || !j.contains("cases") || !j["cases"].is_array())
    bad("no dualcam_regress_results / cases");
  std::vector<CaseResult> out;
  try {
    for (const auto& c : j["cases"]) {
      CaseResult r;
      r.name = c.at("name").get<std::string>();
      r.command = c.at("command").get<std::string>();
      r.description = c.value("description", "");
      const std::string st = c.at("status").get<std::string>();
      r.status = st == "pass" ? Status::Pass : st == "fail" ? Status::Fail : Status::Error;
      if (st != "pass" && st != "fail" && st != "error") bad("status '" + st + "'");
      r.error = c.value("error", "");
      r.seconds = c.at("seconds").get<double>();
      for (const auto& o : c.at("outputs")) {
        OutputResult x;
        x.name = o.at("name").get<std::string>();
        const std::string kind = o.at("kind").get<std::string>();
        x.kind = kind == "image" ? OutputKind::Image : kind == "disparity" ? OutputKind::Disparity : OutputKind::Rig;
        x.golden = o.at("golden").get<std::string>();
        x.passed = o.at("passed").get<bool>();
        x.figures = o.at("figures");
        x.tolerance = o.at("tolerance");
        x.failures = o.at("failures").get<std::vector<std::string>>();
        x.update = o.value("update", "");
        if (o.contains("pictures"))
          for (const auto& p : o["pictures"]) {
            fs::path f = p.at("file").get<std::string>();
            if (f.is_relative()) f = fs::path(picture_base) / f;
            x.pictures.push_back({p.at("label").get<std::string>(), cv::Mat(), f.lexically_normal().string()});
          }
        r.outputs.push_back(std::move(x));
      }
      out.push_back(std::move(r));
    }
  } catch (const Json::exception& e) {
    bad(e.what());
  }
  return out;
}

}  // namespace dualcam::regress
