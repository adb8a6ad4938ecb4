#pragma once
// The regression manifest (docs/regress.md, docs/regress.schema.json): a JSON file listing cases,
// each a dualcam computation (fuse, depth, bokeh, calibrate) on given or simulated inputs, with
// a golden file and tolerances per output. Parsing is strict: an unknown key, a wrong type, a
// value out of range or a missing file is an Error(InvalidInput) whose one line names the
// manifest, the case and the key. Paths in the manifest are relative to the manifest's folder;
// the parsed Manifest holds them resolved.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace dualcam::regress {

enum class Command { Fuse, Depth, Bokeh, Calibrate };
const char* to_string(Command command);

// What an output is, which decides how it is compared.
enum class OutputKind { Image, Disparity, Rig };
const char* to_string(OutputKind kind);

// Tolerances: a bound that is absent (nullopt) is not checked; each output needs at least one.
struct ImageTolerance {
  std::optional<double> min_psnr_db;          // 8-bit PSNR against the golden, dB
  std::optional<double> min_ssim;             // mean SSIM, [0, 1]
  std::optional<int> max_abs_diff;            // largest per-channel difference, 8-bit levels
  std::optional<double> max_differing_share;  // share of pixels with any channel differing, [0, 1]
};
struct DisparityTolerance {
  std::optional<double> max_bad1;    // share of the golden's known pixels unknown or off by > 1 px, [0, 1]
  std::optional<double> max_bad2;    // ... by > 2 px, [0, 1]
  std::optional<double> max_mae_px;  // mean absolute difference where both are known, px
};
struct RigTolerance {
  std::optional<double> focal_pct;       // fx and fy of both cameras, % of the golden's
  std::optional<double> principal_px;    // cx and cy of both cameras, px
  std::optional<double> distortion_abs;  // every distortion coefficient, absolute
  std::optional<double> rotation_deg;    // angle of R_golden^T R_new, degrees
  std::optional<double> baseline_pct;    // |T|, % of the golden's
};

struct OutputSpec {
  std::string name;         // "image", "disparity" or "rig"
  OutputKind kind = OutputKind::Image;
  std::string golden;       // resolved path
  std::string golden_text;  // as written in the manifest (for messages and reports)
  ImageTolerance image;
  DisparityTolerance disparity;
  RigTolerance rig;
};

// A simulator recipe: the fields of datasets::SimulateOptions that `dualcam simulate` exposes,
// kept as the manifest's JSON object (validated) so a run can cache one simulation per recipe.
struct SimulateRecipe {
  nlohmann::json json;  // validated keys only
};

// A simulated calibration set: datasets::random_rig(seed) and render_board_set(seed).
struct BoardSimRecipe {
  std::uint32_t seed = 1;
  int views = 8;
  int mono_width = 640, mono_height = 480;
  int color_width = 480, color_height = 360;
  bool noise = true;
};

struct CaseInputs {
  // Pair inputs (fuse, depth, bokeh): files, or a simulator recipe.
  std::string mono, color, rig;  // resolved paths; rig may be empty when rectified
  // The layout file of headerless .raw frames among the inputs (what `--raw-layout FILE` reads:
  // engine/raw.hpp's read_raw_layouts), resolved; empty = none. Pair and calibration files.
  std::string raw_layout;
  bool rectified = false;
  std::optional<SimulateRecipe> simulate;
  // Bokeh from an image and its disparity instead of a pair.
  std::string image, disparity;
  // Calibration: explicit lists of files (paired by order), or a simulated board set.
  std::vector<std::string> mono_files, color_files;
  std::optional<BoardSimRecipe> board_sim;
};

// Options of the subcommand, as `dualcam fuse/depth/bokeh/calibrate` takes them.
struct CaseOptions {
  std::string reference = "color";  // fuse, depth, bokeh: color or mono
  std::string matcher = "census";   // fuse, depth: census or sgbm
  int max_disparity = 0;            // fuse, depth: px, 0 = a quarter of the width
  // bokeh
  std::optional<std::pair<int, int>> focus;  // focus point x, y (px)
  std::optional<double> focus_disparity;     // or a focus disparity (px)
  int focus_window = 7;                      // px
  std::optional<double> max_blur;            // px
  std::optional<double> f_number;            // or an f-number (needs a rig)
  double pixel_pitch_um = 1.0;               // micrometres
  std::string aperture = "circle";
  double highlights = 1.0;
  int refine_disparity = -1;                 // px radius, -1 = the CLI's default
  // calibrate
  std::string board;                         // board spec string (required for calibrate)
  std::vector<std::string> fix;
  int min_views = 4;
  bool halves = true;
  bool keep_all_views = false;
};

struct Case {
  std::string name;
  std::string description;
  Command command = Command::Fuse;
  CaseInputs inputs;
  CaseOptions options;
  std::vector<OutputSpec> outputs;  // in a fixed order: image, disparity, rig
  nlohmann::json source;            // the case as written (for reports)
};

struct Manifest {
  std::string path;  // the manifest file
  std::string dir;   // its folder: relative paths are resolved against it
  std::vector<Case> cases;
};

struct ManifestReadOptions {
  // Check that every input file and every golden exists. Goldens may be missing when they are
  // about to be written (--update); inputs must always exist.
  bool check_inputs = true;
  bool check_goldens = true;
};

// Parses manifest text; `path` names the manifest (messages, and its folder resolves relative
// paths). Throws Error(InvalidInput) "PATH: case 'NAME': KEY: PROBLEM", or Error(IO) for a
// missing file the manifest names.
Manifest parse_manifest(const std::string& text, const std::string& path, const ManifestReadOptions& options = {});
// Reads and parses a manifest file; Error(IO) when it cannot be read.
Manifest read_manifest(const std::string& path, const ManifestReadOptions& options = {});

}  // namespace dualcam::regress
