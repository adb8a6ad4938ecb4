#include "common.hpp"

#include <filesystem>

#include "dualcam/engine/file_util.hpp"

namespace dualcam::app {

void add_common_options(CLI::App* app, CommonOptions& o) {
  app->add_option("--threads", o.threads, "worker threads (0 = all cores)")->check(CLI::Range(0, 1024));
  app->add_option("--json", o.json_path, "write a JSON run report (timings, statistics, versions)");
  app->add_option("--max-pixels", o.max_pixels, "refuse input images larger than this many pixels")
      ->check(CLI::Range(std::int64_t(1), std::int64_t(1) << 40));
}

std::string example(const std::string& text) { return "\nExample:\n  " + text + "\n"; }

std::string replace_extension(const std::string& path, const std::string& ext) {
  return std::filesystem::path(path).replace_extension(ext).string();
}

void check_outputs(const std::vector<std::string>& paths) {
  for (const auto& p : paths)
    if (!p.empty()) check_output_path(p);
}

}  // namespace dualcam::app
