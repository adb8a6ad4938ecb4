// dualcam fuse / dualcam depth: align a colour + mono pair and merge it, or write its disparity.
#include <cstdio>
#include <memory>
#include <optional>

#include "common.hpp"
#include "dualcam/engine/color.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/file_util.hpp"
#include "dualcam/engine/image_io.hpp"
#include "dualcam/engine/parallel.hpp"
#include "dualcam/engine/progress.hpp"
#include "dualcam/engine/rig.hpp"
#include "dualcam/engine/visualize.hpp"
#include "dualcam/fusion/pipeline.hpp"

namespace dualcam::app {
namespace {

struct PairOptions {
  std::string mono, color, rig, reference = "color", matcher = "census";
  bool rectified = false;
  int max_disparity = 0;
  CommonOptions common;
};

void add_pair_options(CLI::App* app, PairOptions& o) {
  app->add_option("--mono", o.mono, "mono camera image (PNG/JPEG/TIFF, 8 or 16 bit)")->required();
  app->add_option("--color,--colour", o.color, "colour camera image (PNG/JPEG/TIFF, 8 or 16 bit)")->required();
  auto* rig = app->add_option("--rig", o.rig,
                              "rig file (OpenCV YAML: M1 D1 M2 D2 R T size1 size2), or 'auto' to estimate the "
                              "alignment from the pair itself");
  auto* rect = app->add_flag("--rectified", o.rectified, "the pair is already rectified, mono on the left");
  rig->excludes(rect);
  app->add_option("--reference", o.reference, "view of the output: color (default) or mono")
      ->check(CLI::IsMember({"color", "colour", "mono"}));
  app->add_option("--matcher", o.matcher, "stereo matcher: census (default, census + SGM) or sgbm (OpenCV's, for comparison)")
      ->check(CLI::IsMember({"census", "sgbm"}));
  app->add_option("--max-disparity", o.max_disparity, "largest disparity searched, px (0 = a quarter of the width)")
      ->check(CLI::Range(0, 4096));
  add_common_options(app, o.common);
}

struct LoadedPair {
  cv::Mat mono, color;
  std::optional<StereoRig> rig;
  fusion::FuseOptions options;
  fusion::FuseInput input() const { return {mono, color, rig ? &*rig : nullptr}; }
};

LoadedPair load_pair(const PairOptions& o) {
  if (o.rig.empty() && !o.rectified)
    throw_invalid("give the rig with --rig RIG.yaml (or --rig auto), or --rectified for a rectified pair");
  LoadedPair p;
  p.options.reference = fusion::parse_reference(o.reference);
  p.options.rectified = o.rectified;
  p.options.match.max_disparity = o.max_disparity;
  p.options.match.kind = fusion::parse_matcher(o.matcher);
  p.options.auto_rig = o.rig == "auto";
  ImageReadOptions ro;
  ro.max_pixels = o.common.max_pixels;
  p.mono = read_image(o.mono, ro);
  p.color = read_image(o.color, ro);
  if (p.mono.channels() == 3) {
    // A grey image saved as RGB is common; anything with real colour in it is a mistake.
    std::vector<cv::Mat> ch;
    cv::split(p.mono, ch);
    if (cv::norm(ch[0], ch[1], cv::NORM_INF) > 1 || cv::norm(ch[1], ch[2], cv::NORM_INF) > 1)
      throw_invalid("the mono image '" + o.mono + "' has colour in it; expected a grey image");
    p.mono = ch[1];
  }
  if (p.color.channels() != 3) throw_invalid("the colour image '" + o.color + "' has 1 channel; expected 3 (colour)");
  if (!o.rig.empty() && !p.options.auto_rig) p.rig = read_rig(o.rig);
  fusion::validate_input(p.input(), p.options);
  return p;
}

void write_depth_outputs(const cv::Mat& disparity, const std::string& pfm, const std::string& preview) {
  if (!pfm.empty()) write_pfm(pfm, disparity);
  if (!preview.empty()) write_image(preview, colorize_disparity(disparity));
}

}  // namespace

Command register_fuse(CLI::App& root) {
  auto o = std::make_shared<PairOptions>();
  auto out = std::make_shared<std::string>();
  auto disp_out = std::make_shared<std::string>();
  auto weight_out = std::make_shared<std::string>();
  auto confidence_out = std::make_shared<std::string>();
  CLI::App* app = root.add_subcommand("fuse", "merge a colour + mono pair into one colour image");
  add_pair_options(app, *o);
  app->add_option("-o,--output", *out, "fused image (PNG/JPEG/TIFF; same bit depth as the colour input)")->required();
  app->add_option("--disparity-out", *disp_out, "also write the reference view's disparity (PFM)");
  app->add_option("--weights-out", *weight_out,
                  "also write the blend-weight map (grey PNG: white = the other view's image used, black = not)");
  app->add_option("--confidence-out", *confidence_out,
                  "also write the matcher's confidence at the output's view (colour PNG, Viridis on [0,1]: yellow = "
                  "confident, green = fair, dark blue = doubtful, black = unknown: occluded or rejected)");
  app->footer(example("dualcam fuse --mono mono.png --color color.png --rig rig.yaml -o fused.png --disparity-out d.pfm\n"
                      "  dualcam fuse --mono mono.png --color color.png --rig rig.yaml -o fused.png --weights-out w.png "
                      "--confidence-out c.png"));
  Action action = [o, out, disp_out, weight_out, confidence_out]() {
    check_outputs({*out, *disp_out, *weight_out, *confidence_out, o->common.json_path});
    ThreadScope threads(o->common.threads);
    Stopwatch total;
    LoadedPair pair = load_pair(*o);
    Progress progress("fuse", 4);
    RunReport report("fuse");
    fusion::FuseResult res = threads.run([&] { return fusion::fuse(pair.input(), pair.options, &progress); });
    progress.finish();
    cv::Mat encoded = pair.color.depth() == CV_16U ? to_srgb16(res.image) : to_srgb8(res.image);
    write_image(*out, encoded);
    if (!disp_out->empty()) write_pfm(*disp_out, res.disparity);
    if (!weight_out->empty()) write_image(*weight_out, weight_to_u8(res.weight));
    if (!confidence_out->empty()) write_image(*confidence_out, colorize_confidence(res.confidence));
    if (!o->common.json_path.empty()) {
      report.json()["inputs"] = {{"mono", o->mono}, {"color", o->color}, {"rig", o->rig}};
      report.json()["reference"] = fusion::to_string(pair.options.reference);
      report.json()["matcher"] = fusion::to_string(pair.options.match.kind);
      report.json()["threads"] = threads.threads();
      report.json()["stats"] = res.stats;
      report.json()["total_s"] = total.seconds();
      report.json()["peak_rss_bytes"] = peak_rss_bytes();
      report.write(o->common.json_path);
    }
    std::fprintf(stderr, "dualcam fuse: wrote %s (%dx%d, reference %s) in %.2f s\n", out->c_str(), res.image.cols,
                 res.image.rows, fusion::to_string(pair.options.reference), total.seconds());
    return 0;
  };
  return {app, action};
}

Command register_depth(CLI::App& root) {
  auto o = std::make_shared<PairOptions>();
  auto out = std::make_shared<std::string>();
  auto preview = std::make_shared<std::string>();
  CLI::App* app = root.add_subcommand("depth", "disparity of the reference view of a colour + mono pair");
  add_pair_options(app, *o);
  app->add_option("-o,--output", *out, "disparity (PFM, pixels, NaN = unknown)")->required();
  app->add_option("--preview", *preview, "colour-mapped preview PNG (default: next to the PFM, .png)");
  app->footer(example("dualcam depth --mono mono.png --color color.png --rig rig.yaml -o disparity.pfm\n"
                      "  dualcam depth --mono mono.png --color color.png --rig auto -o disparity.pfm --json report.json"));
  Action action = [o, out, preview]() {
    if (lower_extension(*out) != "pfm") throw_invalid("dualcam depth writes PFM: the output '" + *out + "' must end in .pfm");
    const std::string preview_path = preview->empty() ? replace_extension(*out, ".png") : *preview;
    check_outputs({*out, preview_path, o->common.json_path});
    ThreadScope threads(o->common.threads);
    Stopwatch total;
    LoadedPair pair = load_pair(*o);
    Progress progress("depth", 2);
    fusion::DepthResult res = threads.run([&] { return fusion::compute_depth(pair.input(), pair.options, &progress); });
    progress.finish();
    write_depth_outputs(res.disparity, *out, preview_path);
    if (!o->common.json_path.empty()) {
      RunReport report("depth");
      report.json()["inputs"] = {{"mono", o->mono}, {"color", o->color}, {"rig", o->rig}};
      report.json()["matcher"] = fusion::to_string(pair.options.match.kind);
      report.json()["stats"] = res.stats;
      report.json()["threads"] = threads.threads();
      report.json()["total_s"] = total.seconds();
      report.json()["peak_rss_bytes"] = peak_rss_bytes();
      report.write(o->common.json_path);
    }
    std::fprintf(stderr, "dualcam depth: wrote %s and %s in %.2f s\n", out->c_str(), preview_path.c_str(),
                 total.seconds());
    return 0;
  };
  return {app, action};
}

}  // namespace dualcam::app
