#include "common.hpp"

#include <cstdio>
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

cv::Size parse_size(const std::string& option, const std::string& text, int min_side, int max_side) {
  int w = 0, h = 0;
  char x = 0, rest = 0;
  if (std::sscanf(text.c_str(), "%d%c%d%c", &w, &x, &h, &rest) != 3 || (x != 'x' && x != 'X') || w < min_side ||
      h < min_side || w > max_side || h > max_side)
    throw_invalid(option + ": expected WIDTHxHEIGHT with sides from " + std::to_string(min_side) + " to " +
                  std::to_string(max_side) + " (e.g. 4000x3000), got '" + text + "'");
  return {w, h};
}

void add_raw_options(CLI::App* app, RawOptions& o) {
  app->add_option("--raw-size", o.size, "a headerless .raw frame's size WIDTHxHEIGHT");
  app->add_option("--raw-bits", o.bits, "significant bits per raw sample, 8..16 (9..16 are stored in 2 bytes)");
  app->add_option("--raw-stride", o.stride, "bytes per row of a headerless frame (default: width x bytes per sample)");
  app->add_option("--raw-endian", o.endian, "byte order of 2-byte samples: little (default) or big");
  app->add_option("--bayer", o.bayer, "the sensor's Bayer pattern: rggb, bggr, grbg, gbrg, or none (a mono sensor)");
  app->add_option("--black-level", o.black_level, "raw sample value of no light (default: the file's, else 0)");
  app->add_option("--white-balance", o.white_balance, "as-shot white balance gains B,G,R (default: the file's, else none)");
  app->add_option("--white-level", o.white_level, "raw sample value at which the sensor clips (default: the file's, else 2^bits - 1)");
}

void add_raw_layout_option(CLI::App* app, std::string& path) {
  app->add_option("--raw-layout", path,
                  "JSON file with the cameras' raw layouts, for headerless .raw frames (e.g. the raw.json of "
                  "dualcam simulate --raw); DNG and camera raw files need none");
}

RawLayouts raw_layouts(const std::string& path) { return path.empty() ? RawLayouts{} : read_raw_layouts(path); }

RawLayout RawOptions::layout() const {
  RawLayout l;
  if (!size.empty()) {
    const cv::Size s = parse_size("--raw-size", size);
    l.width = s.width;
    l.height = s.height;
  }
  l.bits = bits;
  l.stride = stride;
  l.byte_order = parse_byte_order(endian);
  l.cfa = parse_cfa_pattern(bayer);
  l.black_level = black_level;
  l.white_level = white_level;
  if (!white_balance.empty()) {
    double b = 0, g = 0, r = 0;
    char tail = 0;
    if (std::sscanf(white_balance.c_str(), "%lf,%lf,%lf%c", &b, &g, &r, &tail) != 3 || !(b > 0) || !(g > 0) || !(r > 0))
      throw_invalid("--white-balance must be three positive gains B,G,R (e.g. 1.6,1,2), got '" + white_balance + "'");
    l.white_balance = cv::Vec3d(b, g, r);
  }
  l.validate();
  return l;
}

std::string example(const std::string& text) { return "\nExample:\n  " + text + "\n"; }

nlohmann::json read_json_file(const std::string& path) {
  const auto bytes = read_file_bytes(path);
  try {
    return nlohmann::json::parse(bytes.begin(), bytes.end());
  } catch (const nlohmann::json::exception& e) {
    throw_invalid(path + ": not valid JSON: " + e.what());
  }
}

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
