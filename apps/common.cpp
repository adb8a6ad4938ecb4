#include "common.hpp"

#include <exception>
#include <filesystem>
#include <new>

#include "dualcam/engine/error.hpp"
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

Failure describe_current_exception() {
  try {
    throw;
  } catch (const Error& e) {
    return {exit_code(e.category()), std::string(to_string(e.category())) + ": " + e.what()};
  } catch (const cv::Exception& e) {
    return {1, "internal error (OpenCV): " + e.err};
  } catch (const std::bad_alloc&) {
    return {1, "out of memory"};
  } catch (const std::exception& e) {
    return {1, std::string("internal error: ") + e.what()};
  } catch (...) {
    return {1, "internal error: unknown exception"};
  }
}

}  // namespace dualcam::app
