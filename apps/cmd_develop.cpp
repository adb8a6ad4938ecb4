// dualcam develop: one raw frame through the finishing stage (engine/finish.hpp) into a picture,
// so that the finishing can be judged on its own (against LibRaw's dcraw_emu, docs/fusion.md).
#include <cmath>
#include <cstdio>
#include <memory>

#include "common.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/file_util.hpp"
#include "dualcam/engine/image_io.hpp"
#include "dualcam/engine/parallel.hpp"
#include "dualcam/engine/raw.hpp"
#include "dualcam/engine/report.hpp"
#include "dualcam/engine/finish.hpp"

namespace dualcam::app {

namespace {

struct DevelopCli {
  std::string input, output;
  RawOptions raw;
  std::string demosaic = to_string(FinishOptions{}.demosaic);
  std::string tone = to_string(FinishOptions{}.tone);
  std::string exposure = "auto";
  bool no_white_balance = false, no_color_matrix = false;
  int bits = 8;
  CommonOptions common;
};

}  // namespace

Command register_develop(CLI::App& root) {
  auto c = std::make_shared<DevelopCli>();
  CLI::App* app = root.add_subcommand("develop", "finish one raw frame (DNG, camera raw, headerless .raw, mosaic PNG) into an image");
  app->add_option("raw", c->input, "the raw frame")->required();
  app->add_option("-o,--output", c->output, "output image (.png, .tif; 8 or 16 bit by --bits)")->required();
  add_raw_options(app, c->raw);
  app->add_option("--demosaic", c->demosaic,
                  "ri (residual interpolation on rcd's green, default), rcd (ratio-corrected directional), ea (OpenCV "
                  "edge-aware), mhc (Malvar-He-Cutler) or bilinear");
  app->add_option("--exposure", c->exposure,
                  "linear gain before the tone curve, or 'auto' (default): the frame's baseline exposure (DNG BaselineExposure)");
  app->add_option("--tone", c->tone, "tone curve before the sRGB encoding: none (default) or filmic");
  app->add_flag("--no-white-balance", c->no_white_balance, "leave out the frame's as-shot white balance");
  app->add_flag("--no-color-matrix,--no-colour-matrix", c->no_color_matrix, "leave out the frame's colour matrix");
  app->add_option("--bits", c->bits, "output bits per channel: 8 (default) or 16");
  app->add_option("--threads", c->common.threads, "worker threads (0 = all cores)")->check(CLI::Range(0, 1024));
  app->add_option("--json", c->common.json_path, "write a JSON run report (the frame's levels, timings)");
  app->footer(example("dualcam develop out/sim/color.dng -o out/developed.png"));
  Action action = [c]() {
    // Every option is checked, and the outputs' folders, before anything is read or written.
    const RawLayout layout = c->raw.layout();
    FinishOptions fo;
    fo.demosaic = parse_demosaic(c->demosaic);
    fo.tone = parse_tone_curve(c->tone);
    fo.white_balance = !c->no_white_balance;
    fo.color_matrix = !c->no_color_matrix;
    fo.bits = c->bits;
    const bool auto_exposure = c->exposure == "auto";
    if (!auto_exposure) {
      char* end = nullptr;
      fo.exposure = std::strtod(c->exposure.c_str(), &end);
      if (end == c->exposure.c_str() || *end != '\0')
        throw_invalid("--exposure must be a number or 'auto', got '" + c->exposure + "'");
    }
    fo.validate();
    check_outputs({c->output});
    if (!c->common.json_path.empty()) check_output_path(c->common.json_path);
    ThreadScope threads(c->common.threads);
    Stopwatch total, sw;
    const RawFrame frame = read_raw(c->input, layout);
    const double read_s = sw.seconds();
    if (auto_exposure) fo.exposure = std::exp2(frame.baseline_exposure_ev);
    sw.reset();
    cv::Mat image = threads.run([&] { return finish_image(develop_linear(frame, fo), fo); });
    const double develop_s = sw.seconds();
    sw.reset();
    write_image(c->output, image);
    const double write_s = sw.seconds();
    std::fprintf(stderr, "dualcam develop: %s (%dx%d, %d bits, %s, black %g, white %g) -> %s in %.2f s\n",
                 c->input.c_str(), frame.samples.cols, frame.samples.rows, frame.bits, to_string(frame.cfa),
                 frame.black_level, frame.white_level, c->output.c_str(), total.seconds());
    if (!c->common.json_path.empty()) {
      RunReport report("develop");
      report.add_stage_seconds("read", read_s);
      report.add_stage_seconds("develop", develop_s);
      report.add_stage_seconds("write", write_s);
      report.json()["frame"] = frame.to_json();
      report.json()["demosaic"] = to_string(fo.demosaic);
      report.json()["tone"] = to_string(fo.tone);
      report.json()["exposure"] = fo.exposure;
      report.json()["output"] = c->output;
      report.json()["threads"] = threads.threads();
      report.json()["total_s"] = total.seconds();
      report.write(c->common.json_path);
    }
    return 0;
  };
  return {app, action};
}

}  // namespace dualcam::app
