#pragma once
// Shared pieces of the subcommands: option groups, loading and writing with clear errors.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <opencv2/core.hpp>

#include "dualcam/engine/image_io.hpp"
#include "dualcam/engine/raw.hpp"
#include "dualcam/engine/report.hpp"
#include "dualcam/engine/rig.hpp"
#include "dualcam/fusion/bokeh.hpp"

namespace dualcam::app {

// A subcommand: registers its options on `app` and returns the action to run after parsing.
using Action = std::function<int()>;

struct Command {
  CLI::App* app = nullptr;
  Action action;
};

// Options every computing subcommand takes.
struct CommonOptions {
  int threads = 0;          // --threads (0 = all cores)
  std::string json_path;    // --json
  std::int64_t max_pixels = ImageReadOptions{}.max_pixels;  // --max-pixels
};
void add_common_options(CLI::App* app, CommonOptions& o);

// "WIDTHxHEIGHT" with both sides in [min_side, max_side]; else Error(InvalidInput) naming `option`.
cv::Size parse_size(const std::string& option, const std::string& text, int min_side = 1, int max_side = 1 << 16);

// How a raw frame is stored (engine/raw.hpp): --raw-size, --raw-bits, --raw-stride, --raw-endian,
// --bayer, --black-level, --white-level. A headerless ".raw" file needs the size and bits.
struct RawOptions {
  std::string size, endian = "little", bayer = "none", white_balance;
  int bits = 0;
  std::int64_t stride = 0;
  double black_level = -1, white_level = -1;
  RawLayout layout() const;  // validated; Error(InvalidInput) naming the option
};
void add_raw_options(CLI::App* app, RawOptions& o);
// --raw-layout FILE (both cameras' layouts, raw.hpp's read_raw_layouts) for the pair commands;
// raw_layouts() reads it, or gives the empty layouts when no file was named.
void add_raw_layout_option(CLI::App* app, std::string& path);
RawLayouts raw_layouts(const std::string& path);

// Each subcommand's registration (one file each).
Command register_fuse(CLI::App& root);
Command register_depth(CLI::App& root);
Command register_sample(CLI::App& root);
Command register_simulate(CLI::App& root);
Command register_compare(CLI::App& root);
Command register_eval(CLI::App& root);
Command register_bench(CLI::App& root);
Command register_bokeh(CLI::App& root);
Command register_regress(CLI::App& root);
Command register_develop(CLI::App& root);
Command register_depth_info(CLI::App& root);

// ---- depth photos: --embed-depth of fuse and bokeh (cmd_depth_info.cpp) ----
// Refuses an output that is not .jpg/.jpeg, before any work.
void check_embed_depth_output(const std::string& path);
// K = f_view * B of the view's camera (the metric scale of the depth), 0 without a rig.
double rig_disparity_scale(const StereoRig* rig, bool mono_view);
struct DepthJpeg {
  cv::Mat primary_linear;       // CV_32FC3 linear, the image shown (fused, or the bokeh render)
  cv::Mat disparity;            // CV_32FC1 at the primary's grid (engine/disparity.hpp)
  cv::Mat confidence;           // CV_32FC1 in [0,1], or empty
  double disparity_scale = 0;   // rig_disparity_scale
  cv::Mat all_in_focus_linear;  // GImage: the all-in-focus image, when the primary is a bokeh render
  std::optional<fusion::BokehOptions> bokeh;  // GFocus: the render's focus
  std::optional<cv::Point> focus_point;
};
// Writes the depth photo (engine/depth_photo.hpp) atomically.
void write_depth_jpeg(const std::string& path, const DepthJpeg& in);

// ---- the refocus viewer page: bokeh --viewer (viewer.cpp) ----
struct ViewerOptions {
  int preview_long_side = 1024;  // px
  int focus_planes = 12;
  int apertures = 3;             // largest blur radius scaled by 1/M .. M/M
  int jpeg_quality = 80;
  void validate() const;
};
struct ViewerStats {
  cv::Size preview;
  int planes = 0, apertures = 0;
  std::size_t bytes = 0;
  double seconds = 0;
};
// Renders the focal stack at preview size with the engine's render_bokeh and writes one
// self-contained HTML page (inline script, images as data: URLs) atomically.
ViewerStats write_viewer_page(const std::string& path, const cv::Mat& sharp_linear, const cv::Mat& disparity,
                              const fusion::BokehOptions& bokeh, const ViewerOptions& options = {});

// The footer every subcommand's --help ends with: an example.
std::string example(const std::string& text);

// "out.pfm" -> "out.png": the preview written next to a PFM when none is named.
std::string replace_extension(const std::string& path, const std::string& ext);

// A JSON file (a merge's results files): I/O error when unreadable, InvalidInput naming the file
// when it is not JSON.
nlohmann::json read_json_file(const std::string& path);

// Fails early, before any work, when an output cannot be written.
void check_outputs(const std::vector<std::string>& paths);

// What a failed run tells its user: the exit code and the one line printed on stderr (without the
// "dualcam: " prefix). Call only inside a catch block; it inspects the exception being handled.
struct Failure {
  int exit_code = 1;
  std::string message;
};
Failure describe_current_exception();

}  // namespace dualcam::app

// ---- calibration (cmd_calibrate.cpp) ----
namespace dualcam::app {

Command register_calibrate(CLI::App& root);


}  // namespace dualcam::app
