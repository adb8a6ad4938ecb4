#pragma once
// The evaluation protocols of docs/evaluation.md on Middlebury-format scenes: each scene's clean
// left colour L, right colour R and left truth become a simulated dual-camera pair (mono = LEFT
// view from L, colour = RIGHT view from R, through sensor.hpp's simple models or camera_isp.hpp's
// realistic cameras), a method runs on the pair, and its output is scored against the truth (the
// clean images, whichever sensor model made the pair).
//
// A method is any callable (MethodFn): the engine pipeline or a peer built from OpenCV
// (methods.hpp binds both), the exact truth or a deliberately broken one in tests. Each protocol
// is one function (evaluate_depth, evaluate_p1, evaluate_p2) in its own file; the protocols on
// other data (bokeh_eval.hpp, calib_eval.hpp) have their own entry points.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "dualcam/datasets/camera_isp.hpp"
#include "dualcam/datasets/middlebury.hpp"
#include "dualcam/datasets/sensor.hpp"
#include "dualcam/engine/progress.hpp"
#include "dualcam/engine/raw.hpp"
#include "dualcam/engine/report.hpp"
#include "dualcam/engine/rig.hpp"
#include "dualcam/eval/rig_path.hpp"

namespace dualcam::eval {

enum class Protocol {
  Depth,  // disparity of the mono (left) view; bad-2.0, bad-1.0, MAE
  P1,     // colourise, reference = mono: colour at the mono view vs L; PSNR, SSIM
  P2,     // low light, reference = colour: colour at the colour view vs clean R; PSNR, SSIM
  // Raw frames against the finished pictures of the same samples (realistic sensor): both views
  // fused from each; PSNR against the clean images, and the raw path's gain.
  Raw,
};

struct ProtocolInfo {
  Protocol protocol;
  const char* name;      // CLI name: "depth", "p1", "p2"
  const char* summary;   // one line for --help
  double default_light;  // colour camera light level when none is given
};
// The protocols that exist, in CLI order.
const std::vector<ProtocolInfo>& protocols();
const ProtocolInfo& protocol_info(Protocol protocol);
// Case-insensitive; throws Error(InvalidInput) listing the protocols that exist.
Protocol parse_protocol(const std::string& name);

// Which sensor takes the LEFT view. Mono is the protocol; Color passes both views through the
// colour sensor (the design's "no cross-spectral gap" DEPTH row, docs/evaluation.md#design-figures;
// the method then gets the grey of the left colour image, cv::COLOR_BGR2GRAY, as its mono input).
enum class LeftSensor { Mono, Color };
const char* to_string(LeftSensor sensor);
LeftSensor parse_left_sensor(const std::string& text);  // "mono" | "color" | "colour"

struct EvalOptions {
  double light = 0;         // colour camera light level (1 = good, 0.05 = dim); 0 = protocol default
  // Simple: `mono` and `color` below (sensor.hpp). Realistic: camera_isp.hpp's
  // realistic_color_camera and realistic_mono_camera, both at effective_light() (at most 1), the
  // mono with `mono`'s weights and gain (its `noise` and all of `color` unused), quantised to
  // adc_bits and stored as JPEG at jpeg_quality; docs/evaluation.md#realistic-protocol.
  datasets::SensorModel sensor = datasets::SensorModel::Simple;
  int adc_bits = 8;         // realistic: bits at the ADC, 8..16
  int jpeg_quality = 90;    // realistic: JPEG quality of both pictures, 1..100; 0 = none
  datasets::MonoSensor mono;   // panchromatic weights, gain and noise of the mono camera
  datasets::ColorSensor color; // colour camera model; its `light` is replaced by effective_light()
  LeftSensor left_sensor = LeftSensor::Mono;  // Color only for Protocol::Depth
  std::uint64_t seed = 0;   // mixed into every (scene, protocol) seed
  // A misaligned module (depth protocol only): the right camera's view is moved by
  // perturb_right_shift_px rows (positive = content moves down) and rotated by
  // perturb_right_rotate_deg (positive = counter-clockwise) about the image centre, before the
  // colour sensor sees it. The pair is then no longer rectified; the truth stays the left view's.
  double perturb_right_shift_px = 0;    // px, vertical, |.| <= 50
  double perturb_right_rotate_deg = 0;  // degrees, |.| <= 10
  bool perturbed() const { return perturb_right_shift_px != 0 || perturb_right_rotate_deg != 0; }
  // The rig path (P1, P2 only): each scene's pair seen through a distorted, rotated rig
  // (rig_path.hpp) before the sensors; the method gets the rig with the pair, and the outputs are
  // scored against the clean images at the rig's views. None: the data's rectified pair.
  std::optional<RigPathOptions> rig_path;
  void validate(Protocol protocol) const;
  double effective_light(Protocol protocol) const;
};

// What a method gets: the simulated pair, both 8-bit sRGB-encoded as the cameras write them,
// rectified, mono on the left (left x matches right x - d); on the rig path, each camera's own
// image and the rig.
struct MethodInput {
  std::string scene;
  cv::Mat mono;        // CV_8UC1 left view
  cv::Mat color;       // CV_8UC3 right view (colour camera)
  cv::Mat left_color;  // CV_8UC3 left view through the colour sensor (LeftSensor::Color only)
  int ndisp = 0;       // disparity range the scene declares (0 = not given)
  std::optional<StereoRig> rig;  // the rig path: the pair's rig; none = a rectified pair
  // RAW: both sensors' frames, of which `mono` and `color` are the cameras' finished pictures
  // (the same samples through camera_isp.hpp's ISP). evaluate_raw hands the method the pair with
  // the frames (the raw path) and without them (the finished path), and asks for one view.
  RawFrame mono_raw, color_raw;  // empty samples: the finished path
  bool mono_view = false;        // RAW: the colour image at the mono view; else at the colour view
};
// DEPTH: returns the left view's disparity (CV_32F px, NaN = unknown, size of the input).
// P1: returns the colour image at the mono (left) view, CV_8UC3 sRGB BGR (on the rig path: on the
// mono camera's own pixel grid).
// P2: returns the colour image at the colour (right) view, CV_8UC3 sRGB BGR (likewise).
// RAW: returns the colour image at the view `mono_view` names, CV_8UC3 sRGB BGR, made from the raw
// frames when they are given and from the pictures otherwise.
using MethodFn = std::function<cv::Mat(const MethodInput&)>;
struct Method {
  std::string name;
  MethodFn run;
};

// Deterministic seed per (scene, protocol, options.seed): independent of scene order and threads.
std::uint64_t scene_seed(const std::string& scene, Protocol protocol, std::uint64_t base);

// The right view moved as EvalOptions::perturb_right_* say (linear interpolation, border
// replicated): x' = R (x - c) + c + (0, shift_px), c the image centre. Any type OpenCV warps.
cv::Mat perturb_right_view(const cv::Mat& image, double shift_px, double rotate_deg);

// The realistic cameras of the options at the protocol's light (EvalOptions::sensor Realistic).
datasets::RealisticCamera realistic_color_of(const EvalOptions& options, Protocol protocol);
datasets::RealisticCamera realistic_mono_of(const EvalOptions& options, Protocol protocol);

// The simulated pair of a scene for a protocol (what MethodInput holds, without ndisp).
MethodInput simulate_pair(const datasets::MiddleburyScene& scene, Protocol protocol, const EvalOptions& options);

// Evaluated pixels of the left view (CV_8U 255/0): truth known, its match x - d inside the right
// image, and the scene's non-occlusion mask where it has one.
cv::Mat evaluated_mask(const datasets::MiddleburyScene& scene);

// Pixels of the left view the right camera does not see (CV_8U 255/0): truth unknown (in
// Middlebury's data, where its authors' left-right check failed: mostly occlusions), the match
// x - d outside the right image, or hidden there by a nearer surface (a known pixel to its right
// lands at or left of where it lands, half a pixel of slack). P1 scores colourisation there.
cv::Mat unseen_mask(const datasets::MiddleburyScene& scene);

struct MetricColumn {
  std::string key;     // JSON key, with its unit: "bad2_pct", "psnr_db"
  std::string header;  // table header
  int precision = 2;   // decimals in the table
};

struct SceneRow {
  std::string scene;
  std::vector<double> values;  // one per column
  double method_s = 0;         // wall time of the method on this scene
};

struct EvalResult {
  Protocol protocol = Protocol::Depth;
  std::string method;
  double light = 1;
  EvalOptions options;
  std::vector<MetricColumn> columns;
  std::vector<SceneRow> rows;  // sorted by scene name (the order of the sources)

  // Mean of each column over the scenes (NaN values are skipped; +inf PSNR stays +inf).
  std::vector<double> mean() const;
  double mean_of(const std::string& key) const;  // throws when there is no such column
  // One line per scene and a final "mean" line, fixed-width, ready to print.
  std::string table() const;
  // {"protocol", "method", "options", "columns", "scenes": [{scene, key: value...}], "mean": {...}}
  Json to_json() const;
};

// The protocols. `progress` (may be null) advances once per scene.
EvalResult evaluate_depth(const std::vector<datasets::SceneSource>& scenes, const Method& method, const EvalOptions& options,
                          Progress* progress = nullptr);
EvalResult evaluate_p1(const std::vector<datasets::SceneSource>& scenes, const Method& method, const EvalOptions& options,
                       Progress* progress = nullptr);
EvalResult evaluate_p2(const std::vector<datasets::SceneSource>& scenes, const Method& method, const EvalOptions& options,
                       Progress* progress = nullptr);
// RAW (docs/evaluation.md#raw-protocol): realistic sensor only; the method runs four times a
// scene (two views, raw and finished).
EvalResult evaluate_raw(const std::vector<datasets::SceneSource>& scenes, const Method& method, const EvalOptions& options,
                        Progress* progress = nullptr);
// Dispatches to the function of `protocol`.
EvalResult evaluate(Protocol protocol, const std::vector<datasets::SceneSource>& scenes, const Method& method,
                    const EvalOptions& options, Progress* progress = nullptr);

}  // namespace dualcam::eval
