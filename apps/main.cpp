// dualcam: the command-line tool. Thin: each subcommand parses, calls the library, reports.
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>
#include <opencv2/core.hpp>

#include "common.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/version.hpp"

int main(int argc, char** argv) {
  using namespace dualcam;
  CLI::App root{"dualcam: colour + monochrome dual-camera engine (calibrate, align, fuse, bokeh)", "dualcam"};
  root.set_version_flag("--version", DUALCAM_VERSION_STRING);
  root.require_subcommand(1);
  root.footer(
      "\nRun 'dualcam SUBCOMMAND --help' for the options and an example of each.\n"
      "Quick start: dualcam sample -o out/sample && dualcam fuse --mono out/sample/mono.png "
      "--color out/sample/color.png --rig out/sample/rig.yaml -o out/fused.png");
  std::vector<app::Command> commands{app::register_fuse(root), app::register_depth(root), app::register_sample(root),
                                     app::register_simulate(root), app::register_compare(root), app::register_eval(root),
                                     app::register_bench(root), app::register_bokeh(root), app::register_calibrate(root),
                                     app::register_regress(root)};
  try {
    root.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return root.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return root.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return root.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "dualcam: error: %s (see --help)\n", e.what());
    return 2;
  }
  try {
    for (auto& c : commands)
      if (c.app->parsed()) return c.action();
  } catch (const Error& e) {
    std::fprintf(stderr, "dualcam: %s: %s\n", to_string(e.category()), e.what());
    return exit_code(e.category());
  } catch (const cv::Exception& e) {
    std::fprintf(stderr, "dualcam: internal error (OpenCV): %s\n", e.err.c_str());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "dualcam: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dualcam: internal error: %s\n", e.what());
    return 1;
  }
  return 1;
}
