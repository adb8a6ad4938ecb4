// dualcam sample: write the embedded synthetic sample (pair, rig, ground truth).
#include <cstdio>
#include <filesystem>
#include <memory>

#include "common.hpp"
#include "dualcam/datasets/sample.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/parallel.hpp"

namespace dualcam::app {

Command register_sample(CLI::App& root) {
  auto dir = std::make_shared<std::string>();
  auto opts = std::make_shared<datasets::SampleOptions>();
  auto threads = std::make_shared<int>(0);
  CLI::App* app = root.add_subcommand("sample", "write the embedded synthetic sample pair with its rig and truth");
  app->add_option("-o,--output", *dir, "directory to write into (created if missing)")->required();
  app->add_option("--seed", opts->seed, "scene seed");
  app->add_option("--light", opts->light, "colour camera light level (1 = good light, 0.05 = dim)")
      ->check(CLI::Range(0.001, 10.0));
  app->add_option("--threads", *threads, "worker threads (0 = all cores)")->check(CLI::Range(0, 1024));
  app->footer(example("dualcam sample -o out/sample"));
  Action action = [dir, opts, threads]() {
    ThreadScope scope(*threads);
    std::error_code ec;
    std::filesystem::create_directories(*dir, ec);
    if (ec) throw_io("cannot create directory '" + *dir + "': " + ec.message());
    datasets::Sample s = scope.run([&] { return datasets::make_sample(*opts); });
    datasets::write_sample(s, *dir);
    std::fprintf(stderr, "dualcam sample: wrote mono.png, color.png, rig.yaml and ground truth into %s\n", dir->c_str());
    return 0;
  };
  return {app, action};
}

}  // namespace dualcam::app
