// dualcam: the command-line tool. Thin: each subcommand parses, calls the library, reports.
#include <cstdio>

#include <CLI/CLI.hpp>
#include "common.hpp"
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
  } catch (...) {
    const app::Failure f = app::describe_current_exception();
    std::fprintf(stderr, "dualcam: %s\n", f.message.c_str());
    return f.exit_code;
  }
  return 1;
}
