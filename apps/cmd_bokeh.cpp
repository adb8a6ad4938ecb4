// dualcam bokeh: post-capture refocus (synthetic depth of field) from a pair or an image + disparity.
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <optional>

#include <opencv2/imgproc.hpp>

#include "common.hpp"
#include "dualcam/engine/color.hpp"
#include "dualcam/engine/depth_photo.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/file_util.hpp"
#include "dualcam/engine/image_io.hpp"
#include "dualcam/engine/inputs.hpp"
#include "dualcam/engine/parallel.hpp"
#include "dualcam/engine/progress.hpp"
#include "dualcam/engine/rig.hpp"
#include "dualcam/eval/bokeh_eval.hpp"
#include "dualcam/fusion/bokeh.hpp"
#include "dualcam/fusion/refocus.hpp"

namespace dualcam::app {
namespace {

struct BokehCliOptions {
  std::string mono, color, rig, image, disparity, reference = "color", raw_layout;
  std::string focus, aperture = "circle", output, blur_map, viewer;
  bool embed_depth = false;
  double focus_disparity = std::numeric_limits<double>::quiet_NaN();
  double f_number = 0, max_blur = 0, pixel_pitch_um = 1.0, highlights = 1.0;
  int focus_window = 7;
  int refine = -1;
  bool bench = false;
  std::string bench_size = "4000x3000";
  CommonOptions common;
};

cv::Point parse_point(const std::string& text) {
  int x = 0, y = 0;
  char tail = 0;
  if (std::sscanf(text.c_str(), "%d,%d%c", &x, &y, &tail) != 2)
    throw_invalid("--focus must be X,Y in pixels (e.g. 320,240), got '" + text + "'");
  return {x, y};
}

int run_bench(const BokehCliOptions& o) {
  eval::BokehBenchOptions bo;
  bo.size = parse_size("--bench-size", o.bench_size, 64, 20000);
  bo.max_blur_px = o.max_blur > 0 ? o.max_blur : 48;
  bo.threads = o.common.threads;
  Json j = eval::run_bokeh_bench(bo, stderr);
  if (!o.common.json_path.empty()) {
    RunReport report("bokeh-bench");
    report.json()["bench"] = j;
    report.write(o.common.json_path);
  }
  return 0;
}

}  // namespace

Command register_bokeh(CLI::App& root) {
  auto o = std::make_shared<BokehCliOptions>();
  CLI::App* app = root.add_subcommand("bokeh", "synthetic depth of field: refocus a fused image by its disparity");
  add_raw_layout_option(app, o->raw_layout);
  auto* mono = app->add_option("--mono", o->mono, "mono camera image (with --color and --rig: fuse first)");
  auto* color = app->add_option("--color,--colour", o->color, "colour camera image");
  app->add_option("--rig", o->rig, "rig file (needed for the pair, and for --f-number)");
  app->add_option("--reference", o->reference, "view of the output for a pair, and the camera whose focal length --f-number uses: color (default) or mono")
      ->check(CLI::IsMember({"color", "colour", "mono"}));
  auto* image = app->add_option("--image", o->image, "image to refocus (PNG/JPEG/TIFF)");
  auto* disp = app->add_option("--disparity", o->disparity,
                               "its disparity (PFM, px, same size, NaN = unknown); without it, --image must be a depth "
                               "photo (GDepth or Dynamic Depth JPEG) whose depth is used");
  image->excludes(mono)->excludes(color);
  auto* focus = app->add_option("--focus", o->focus, "focus on the point X,Y (px): the median disparity around it");
  auto* focus_d = app->add_option("--focus-disparity", o->focus_disparity, "focus on this disparity (px)");
  focus->excludes(focus_d);
  app->add_option("--focus-window", o->focus_window, "half-size of the --focus window, px")->check(CLI::Range(0, 100));
  auto* fnum = app->add_option("--f-number", o->f_number,
                               "lens f-number: aperture radius = focal length / (2 F), focal length in mm = rig focal "
                               "(px) x --pixel-pitch")
                   ->check(CLI::Range(0.5, 64.0));
  auto* maxb = app->add_option("--max-blur", o->max_blur, "largest blur radius in the image, px")->check(CLI::Range(0.0, 512.0));
  fnum->excludes(maxb);
  app->add_option("--pixel-pitch", o->pixel_pitch_um, "sensor pixel pitch, micrometres (for --f-number; default 1.0)")
      ->check(CLI::Range(0.1, 100.0));
  app->add_option("--refine-disparity", o->refine,
                  "edge-aware refinement of the disparity (weighted median guided by the image), window radius px; "
                  "0 = off; default 7 for a pair, 0 for a given --disparity")
      ->check(CLI::Range(0, 100));
  app->add_option("--aperture", o->aperture, "aperture shape: circle, hexagon or blades:N (3..32)");
  app->add_option("--highlights", o->highlights, "gain for near-clipped highlights before blurring (1 = off)")
      ->check(CLI::Range(1.0, 1000.0));
  app->add_option("-o,--output", o->output, "refocused image (PNG/JPEG/TIFF)");
  app->add_option("--blur-map", o->blur_map, "also write the blur radius map (grey PNG, 255 = largest radius)");
  app->add_flag("--embed-depth", o->embed_depth,
                "write -o as a depth photo (JPEG with Google's GDepth/GImage/GFocus XMP: the depth, the all-in-focus "
                "image and the focus), which galleries can refocus; docs/bokeh.md");
  app->add_option("--viewer", o->viewer,
                  "also write a self-contained HTML page that refocuses where you click (a focal stack at preview "
                  "size, a slider for the aperture)");
  app->add_flag("--bench", o->bench, "time dualcam's bokeh and the naive Gaussian peer on a synthetic scene and exit");
  app->add_option("--bench-size", o->bench_size, "image size of --bench, WxH (default 4000x3000)");
  add_common_options(app, o->common);
  app->footer(example("dualcam bokeh --image fused.png --disparity d.pfm --focus 320,240 --max-blur 24 -o bokeh.png") +
              example("dualcam bokeh --image portrait.jpg --focus 320,240 --max-blur 24 -o refocused.jpg --embed-depth "
                      "--viewer page.html") +
              example("dualcam bokeh --mono mono.png --color color.png --rig rig.yaml --focus 200,150 --f-number 1.8 "
                      "--aperture hexagon -o bokeh.png --blur-map blur.png"));
  (void)disp;
  Action action = [o]() -> int {
    if (o->bench) return run_bench(*o);
    // Validate the options before any work.
    if (o->output.empty()) throw_invalid("give the output image with -o OUT.png");
    const bool pair = !o->mono.empty() || !o->color.empty();
    if (pair && (o->mono.empty() || o->color.empty() || o->rig.empty()))
      throw_invalid("a pair needs --mono, --color and --rig (or give --image and --disparity)");
    if (!pair && o->image.empty()) throw_invalid("give --image (and --disparity), or --mono, --color and --rig");
    const bool from_photo = !pair && o->disparity.empty();
    if (from_photo && lower_extension(o->image) != "jpg" && lower_extension(o->image) != "jpeg")
      throw_invalid("give --disparity D.pfm for '" + o->image + "' (only a JPEG depth photo carries its own depth)");
    if (o->embed_depth) check_embed_depth_output(o->output);
    if (o->focus.empty() && std::isnan(o->focus_disparity))
      throw_invalid("give the focus: --focus X,Y or --focus-disparity D");
    if (o->f_number <= 0 && o->max_blur <= 0) throw_invalid("give the blur: --f-number F or --max-blur R");
    if (o->f_number > 0 && o->rig.empty())
      throw_invalid("--f-number needs the rig (--rig) for the focal length and baseline; or give --max-blur");
    fusion::RefocusOptions ro;
    try {
      ro.aperture = fusion::parse_aperture(o->aperture);
    } catch (const Error& e) {
      throw_invalid(std::string("--aperture: ") + e.what());
    }
    ro.highlight_gain = o->highlights;
    ro.focus_window = o->focus_window;
    if (!o->focus.empty()) ro.focus_point = parse_point(o->focus);
    else ro.focus_disparity_px = o->focus_disparity;
    if (o->f_number > 0) ro.f_number = o->f_number;
    else ro.max_blur_px = o->max_blur;
    ro.pixel_pitch_um = o->pixel_pitch_um;
    check_outputs({o->output, o->blur_map, o->viewer, o->common.json_path});

    ThreadScope threads(o->common.threads);
    Stopwatch total;
    InputOptions io;
    io.max_pixels = o->common.max_pixels;
    io.raw = raw_layouts(o->raw_layout);
    int out_depth = CV_8U;
    std::optional<StereoRig> rig;
    if (!o->rig.empty()) rig = read_rig(o->rig);
    const fusion::Reference reference = fusion::parse_reference(o->reference);
    fusion::BokehResult res;
    double disparity_scale = rig_disparity_scale(rig ? &*rig : nullptr, reference == fusion::Reference::Mono);
    if (pair) {
      const CameraPair cams = read_camera_pair(o->mono, o->color, io);
      const fusion::FuseInput in = fusion::fuse_input(cams, &*rig, io);
      fusion::FuseOptions fo;
      fo.reference = reference;
      fusion::validate_input(in, fo);
      out_depth = cams.color.depth();
      Progress progress("bokeh", 4);
      const int snap = o->refine >= 0 ? o->refine : fusion::kBokehEdgeSnapRadius;
      res = threads.run([&] { return fusion::bokeh_from_pair(in, fo, ro, snap, &progress); });
      progress.finish();
    } else {
      ImageReadOptions iro;
      iro.max_pixels = io.max_pixels;
      cv::Mat encoded, disparity;
      if (from_photo) {
        // The depth photo's own depth; its all-in-focus image (GImage) when it has one, else the photo.
        RefocusPhoto rp = read_refocus_photo(o->image, io.max_pixels);
        encoded = rp.image;
        disparity = rp.disparity;
        if (o->f_number > 0 && !rp.metric_disparity_scale)
          throw_invalid("--f-number needs a metric depth in pixels; the depth of '" + o->image +
                        "' is relative: give --max-blur");
        const DepthMapData& dm = *rp.photo.depth;
        std::fprintf(stderr, "dualcam bokeh: depth from %s's %s metadata (%s, near %.4g, far %.4g)%s\n",
                     o->image.c_str(), rp.photo.container.c_str(), to_string(dm.format), dm.near, dm.far,
                     rp.all_in_focus ? ", refocusing its all-in-focus image (GImage)" : "");
        if (rp.metric_disparity_scale) disparity_scale = *rp.metric_disparity_scale;
      } else {
        encoded = read_image(o->image, iro);
        disparity = read_pfm(o->disparity);
      }
      out_depth = encoded.depth();
      if (disparity.channels() != 1)
        throw_invalid("the disparity '" + o->disparity + "' has " + std::to_string(disparity.channels()) +
                      " channels; expected 1");
      if (disparity.size() != encoded.size())
        throw_invalid("the disparity '" + o->disparity + "' is " + std::to_string(disparity.cols) + "x" +
                      std::to_string(disparity.rows) + " but the image is " + std::to_string(encoded.cols) + "x" +
                      std::to_string(encoded.rows));
      res = threads.run([&] {
        return fusion::bokeh_from_image(to_linear_bgr(encoded), disparity, rig ? &*rig : nullptr, reference, ro,
                                        std::max(0, o->refine));
      });
    }
    const fusion::BokehOptions& bo = res.bokeh;
    const fusion::BokehStats& st = res.stats;
    const cv::Mat& out = res.image;
    Stopwatch write_clock;
    if (o->embed_depth) {
      DepthJpeg dj;
      dj.primary_linear = out;
      dj.disparity = res.disparity;
      dj.disparity_scale = disparity_scale;
      dj.all_in_focus_linear = res.sharp;
      dj.bokeh = bo;
      dj.focus_point = ro.focus_point;
      write_depth_jpeg(o->output, dj);
    } else {
      write_image(o->output, to_srgb(out, out_depth));
    }
    const double write_s = write_clock.seconds();
    std::optional<ViewerStats> viewer;
    if (!o->viewer.empty()) viewer = write_viewer_page(o->viewer, res.sharp, res.disparity, bo);
    if (!o->blur_map.empty()) {
      cv::Mat r = cv::abs(fusion::signed_blur_radius(res.disparity, bo));
      cv::Mat r8;
      r.convertTo(r8, CV_8U, st.max_radius_px > 0 ? 255.0 / st.max_radius_px : 0.0);
      write_image(o->blur_map, r8);
    }
    if (!o->common.json_path.empty()) {
      RunReport report("bokeh");
      report.json()["focus_disparity_px"] = bo.focus_disparity_px;
      report.json()["blur_per_disparity"] = bo.blur_per_disparity;
      report.json()["max_radius_px"] = st.max_radius_px;
      report.json()["aperture"] = fusion::to_string(bo.aperture);
      report.json()["layers"] = st.layers;
      report.json()["reduced_layers"] = st.reduced_layers;
      report.json()["bokeh_s"] = st.seconds;
      report.json()["write_s"] = write_s;
      report.json()["embed_depth"] = o->embed_depth;
      if (viewer)
        report.json()["viewer"] = {{"path", o->viewer}, {"bytes", viewer->bytes}, {"seconds", viewer->seconds},
                                   {"preview", {viewer->preview.width, viewer->preview.height}},
                                   {"planes", viewer->planes}, {"apertures", viewer->apertures}};
      report.json()["threads"] = threads.threads();
      report.json()["total_s"] = total.seconds();
      report.json()["peak_rss_bytes"] = peak_rss_bytes();
      report.write(o->common.json_path);
    }
    std::fprintf(stderr,
                 "dualcam bokeh: wrote %s (%dx%d, focus disparity %.2f px, largest blur radius %.1f px, %s) in %.2f s\n",
                 o->output.c_str(), out.cols, out.rows, bo.focus_disparity_px, st.max_radius_px,
                 fusion::to_string(bo.aperture).c_str(), total.seconds());
    if (viewer)
      std::fprintf(stderr, "dualcam bokeh: wrote the viewer %s (%zu bytes: %d focus planes x %d apertures at %dx%d) in %.2f s\n",
                   o->viewer.c_str(), viewer->bytes, viewer->planes, viewer->apertures, viewer->preview.width,
                   viewer->preview.height, viewer->seconds);
    return 0;
  };
  return {app, action};
}

}  // namespace dualcam::app
