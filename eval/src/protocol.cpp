#include "dualcam/eval/protocol.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>

#include <opencv2/imgproc.hpp>

#include "dualcam/engine/color.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/file_util.hpp"
#include "protocol_internal.hpp"

namespace dualcam::eval {

using namespace dualcam::datasets;

const std::vector<ProtocolInfo>& protocols() {
  static const std::vector<ProtocolInfo> list{
      {Protocol::Depth, "depth", "disparity of the mono (left) view: bad-2.0, bad-1.0, MAE", 1.0},
      {Protocol::P1, "p1", "colourise, reference mono: colour at the mono view vs the clean left image", 1.0},
      {Protocol::P2, "p2", "low light, reference colour: colour at the colour view vs the clean right image", 0.05},
      {Protocol::Raw, "raw",
       "raw frames vs the finished pictures of the same samples (realistic sensor): both views fused from each", 0.05},
  };
  return list;
}

const ProtocolInfo& protocol_info(Protocol p) {
  for (const auto& i : protocols())
    if (i.protocol == p) return i;
  throw_invalid("unknown protocol");
}

Protocol parse_protocol(const std::string& name) {
  const std::string lower = to_lower(name);
  std::string names;
  for (const auto& i : protocols()) {
    if (lower == i.name) return i.protocol;
    names += (names.empty() ? "" : ", ") + std::string(i.name);
  }
  throw_invalid("unknown protocol '" + name + "'; the protocols that exist are: " + names);
}

const char* to_string(LeftSensor s) { return s == LeftSensor::Mono ? "mono" : "color"; }

LeftSensor parse_left_sensor(const std::string& text) {
  if (text == "mono") return LeftSensor::Mono;
  if (text == "color" || text == "colour") return LeftSensor::Color;
  throw_invalid("--left-sensor must be 'mono' or 'color', got '" + text + "'");
}

double EvalOptions::effective_light(Protocol p) const { return light > 0 ? light : protocol_info(p).default_light; }

RealisticCamera realistic_color_of(const EvalOptions& o, Protocol p) {
  RealisticCamera c = realistic_color_camera(o.effective_light(p), o.adc_bits);
  c.jpeg_quality = o.jpeg_quality;
  return c;
}

RealisticCamera realistic_mono_of(const EvalOptions& o, Protocol p) {
  RealisticCamera c = realistic_mono_camera(o.effective_light(p), o.adc_bits, o.mono);
  c.jpeg_quality = o.jpeg_quality;
  return c;
}

void EvalOptions::validate(Protocol p) const {
  if (light != 0) check_range("EvalOptions::light (--light)", light, 1e-4, 100);
  if (sensor != SensorModel::Simple && sensor != SensorModel::Realistic)
    throw_invalid("EvalOptions::sensor (--sensor) must be simple or realistic");
  check_range("EvalOptions::adc_bits (--adc-bits)", adc_bits, 8, 16);
  check_range("EvalOptions::jpeg_quality (--jpeg-quality)", jpeg_quality, 0, 100);
  mono.validate();
  ColorSensor c = color;
  c.light = effective_light(p);
  c.validate();
  if (sensor == SensorModel::Realistic) {
    // The realistic camera's light is a fraction of a good-light exposure: it cannot exceed it.
    check_range("EvalOptions::light (--light, realistic sensor)", effective_light(p), 1e-4, 1.0);
    realistic_color_of(*this, p).validate();
    realistic_mono_of(*this, p).validate();
  }
  if (p == Protocol::Raw && sensor != SensorModel::Realistic)
    throw_invalid("the raw protocol needs the realistic sensor (--sensor realistic): the simple model has no raw frames");
  if (p == Protocol::Raw && rig_path) throw_invalid("the raw protocol runs on the data's rectified pair (no --rig-path)");
  if (left_sensor == LeftSensor::Color && p != Protocol::Depth)
    throw_invalid("the left view through the colour sensor (--left-sensor color) only applies to the depth protocol");
  check_range("EvalOptions::perturb_right_shift_px (--perturb-right-shift)", perturb_right_shift_px, -50.0, 50.0);
  check_range("EvalOptions::perturb_right_rotate_deg (--perturb-right-rotate)", perturb_right_rotate_deg, -10.0, 10.0);
  if (perturbed() && p != Protocol::Depth)
    throw_invalid("a perturbed right view (--perturb-right-shift/--perturb-right-rotate) only applies to the depth protocol");
  if (rig_path) {
    rig_path->validate();
    if (p == Protocol::Depth)
      throw_invalid("EvalOptions::rig_path (--rig-path) applies to p1 and p2 only: the depth truth is in the data's "
                    "rectified frame");
  }
}

cv::Mat perturb_right_view(const cv::Mat& image, double shift_px, double rotate_deg) {
  if (image.empty()) throw_invalid("perturb_right_view: empty image");
  if (shift_px == 0 && rotate_deg == 0) return image.clone();
  const cv::Point2f centre(0.5f * float(image.cols - 1), 0.5f * float(image.rows - 1));
  cv::Mat a = cv::getRotationMatrix2D(centre, rotate_deg, 1.0);  // counter-clockwise for positive angles
  a.at<double>(1, 2) += shift_px;
  cv::Mat out;
  cv::warpAffine(image, out, a, image.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  return out;
}

namespace {

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

std::uint64_t scene_seed(const std::string& scene, Protocol protocol, std::uint64_t base) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a of the name
  for (unsigned char c : scene) h = (h ^ c) * 1099511628211ull;
  return splitmix64(h ^ splitmix64(std::uint64_t(protocol) + 1) ^ splitmix64(base + 0x51ED));
}

MethodInput simulate_pair(const MiddleburyScene& scene, Protocol protocol, const EvalOptions& o) {
  const std::uint64_t seed = scene_seed(scene.name, protocol, o.seed);
  ColorSensor cs = o.color;
  cs.light = o.effective_light(protocol);
  MethodInput in;
  in.scene = scene.name;
  in.ndisp = scene.ndisp;
  const cv::Mat right = o.perturbed() ? perturb_right_view(scene.right, o.perturb_right_shift_px,
                                                                  o.perturb_right_rotate_deg)
                                      : scene.right;
  // The same three streams for both models: a scene's noise depends on its name, the protocol
  // and --seed only.
  const bool realistic = o.sensor == SensorModel::Realistic;
  const RealisticCamera color_camera = realistic ? realistic_color_of(o, protocol) : RealisticCamera{};
  auto color_image = [&](const cv::Mat& srgb8, std::uint64_t s) {
    return realistic ? realistic_camera_image(to_linear(srgb8), color_camera, s) : simulate_color(to_linear(srgb8), cs, s);
  };
  if (protocol == Protocol::Raw) {
    // The frames, and the cameras' pictures of the same samples.
    const RealisticCamera mono_camera = realistic_mono_of(o, protocol);
    in.color_raw = realistic_camera_raw(to_linear(right), color_camera, splitmix64(seed + 2));
    in.mono_raw = realistic_camera_raw(to_linear(scene.left), mono_camera, splitmix64(seed + 1));
    in.color = realistic_camera_picture(in.color_raw, color_camera);
    in.mono = realistic_camera_picture(in.mono_raw, mono_camera);
    return in;
  }
  in.color = color_image(right, splitmix64(seed + 2));
  if (o.left_sensor == LeftSensor::Color) {
    in.left_color = color_image(scene.left, splitmix64(seed + 3));
    cv::cvtColor(in.left_color, in.mono, cv::COLOR_BGR2GRAY);
  } else if (realistic) {
    in.mono = realistic_camera_image(to_linear(scene.left), realistic_mono_of(o, protocol), splitmix64(seed + 1));
  } else {
    in.mono = simulate_mono(to_linear(scene.left), o.mono, splitmix64(seed + 1));
  }
  return in;
}

cv::Mat evaluated_mask(const MiddleburyScene& scene) {
  const cv::Mat& d = scene.disparity_left;
  cv::Mat m(d.size(), CV_8U, cv::Scalar(0));
  for (int r = 0; r < d.rows; ++r) {
    const float* p = d.ptr<float>(r);
    const std::uint8_t* nm = scene.nonocc_mask.empty() ? nullptr : scene.nonocc_mask.ptr<std::uint8_t>(r);
    std::uint8_t* o = m.ptr<std::uint8_t>(r);
    for (int c = 0; c < d.cols; ++c) {
      const bool known = std::isfinite(p[c]) && p[c] > 0;
      const bool inside = known && double(c) - double(p[c]) >= 0.0;
      o[c] = (inside && (!nm || nm[c])) ? 255 : 0;
    }
  }
  return m;
}

cv::Mat unseen_mask(const MiddleburyScene& scene) {
  const cv::Mat& d = scene.disparity_left;
  cv::Mat m(d.size(), CV_8U, cv::Scalar(0));
  for (int r = 0; r < d.rows; ++r) {
    const float* p = d.ptr<float>(r);
    std::uint8_t* o = m.ptr<std::uint8_t>(r);
    // nearest: the leftmost landing x' - d' in the right view of the known pixels right of x.
    // x is hidden there when it lands at or behind it (half a pixel of slack for slanted surfaces).
    double nearest = std::numeric_limits<double>::infinity();
    for (int c = d.cols - 1; c >= 0; --c) {
      const bool known = std::isfinite(p[c]) && p[c] > 0;
      if (!known) {
        o[c] = 255;
        continue;
      }
      const double land = double(c) - double(p[c]);
      o[c] = (land < 0.0 || land >= nearest - 0.5) ? 255 : 0;
      nearest = std::min(nearest, land);
    }
  }
  return m;
}

// ---- results -------------------------------------------------------------------------------

std::vector<double> EvalResult::mean() const {
  std::vector<double> m(columns.size(), std::numeric_limits<double>::quiet_NaN());
  for (std::size_t k = 0; k < columns.size(); ++k) {
    double sum = 0;
    int n = 0;
    for (const auto& r : rows)
      if (!std::isnan(r.values[k])) sum += r.values[k], ++n;
    if (n > 0) m[k] = sum / n;
  }
  return m;
}

double EvalResult::mean_of(const std::string& key) const {
  const auto m = mean();
  for (std::size_t k = 0; k < columns.size(); ++k)
    if (columns[k].key == key) return m[k];
  throw_invalid("no column '" + key + "' in the " + std::string(protocol_info(protocol).name) + " results");
}

std::string EvalResult::table() const {
  std::size_t name_w = 5;
  for (const auto& r : rows) name_w = std::max(name_w, r.scene.size());
  auto fmt_row = [&](const std::string& name, const std::vector<double>& v, double secs) {
    char buf[64];
    std::string line = name + std::string(name_w - name.size() + 2, ' ');
    for (std::size_t k = 0; k < columns.size(); ++k) {
      const int w = int(std::max<std::size_t>(columns[k].header.size(), 8));
      std::snprintf(buf, sizeof buf, "%*.*f  ", w, columns[k].precision, v[k]);
      line += buf;
    }
    std::snprintf(buf, sizeof buf, "%8.2f", secs);
    return line + buf + "\n";
  };
  std::string out = "scene" + std::string(name_w - 5 + 2, ' ');
  for (const auto& c : columns) {
    const std::size_t w = std::max<std::size_t>(c.header.size(), 8);
    out += std::string(w - c.header.size(), ' ') + c.header + "  ";
  }
  out += "method s\n";
  double total_s = 0;
  for (const auto& r : rows) {
    out += fmt_row(r.scene, r.values, r.method_s);
    total_s += r.method_s;
  }
  out += fmt_row("mean", mean(), rows.empty() ? 0.0 : total_s / double(rows.size()));
  return out;
}

namespace {
Json number(double v) {
  if (std::isfinite(v)) return v;
  return v > 0 ? Json("inf") : (v < 0 ? Json("-inf") : Json(nullptr));
}
}  // namespace

Json EvalResult::to_json() const {
  Json j;
  j["protocol"] = protocol_info(protocol).name;
  j["method"] = method;
  j["options"] = {{"light", light},
                  {"sensor", datasets::to_string(options.sensor)},
                  {"left_sensor", to_string(options.left_sensor)},
                  {"mono_weights_bgr", {options.mono.w_b, options.mono.w_g, options.mono.w_r}},
                  {"mono_gain", options.mono.gain},
                  {"mono_noise", options.mono.noise},
                  {"color_photons_at_white", options.color.photons_at_white},
                  {"color_read_noise", options.color.read_noise},
                  {"color_bayer", options.color.bayer},
                  {"seed", options.seed},
                  {"perturb_right_shift_px", options.perturb_right_shift_px},
                  {"perturb_right_rotate_deg", options.perturb_right_rotate_deg}};
  if (options.sensor == SensorModel::Realistic) {
    // The simple model's noise settings above do not apply; the cameras that made the pair do.
    auto camera = [](const RealisticCamera& c) {
      return Json{{"light", c.light},
                  {"electrons_at_white", c.electrons_at_white},
                  {"read_noise_e", c.read_noise_e},
                  {"max_analog_gain", c.max_analog_gain},
                  {"adc_bits", c.adc_bits},
                  {"black_level_dn", c.black_level_dn},
                  {"adc_noise_dn", c.adc_noise_dn},
                  {"output_gain", c.output_gain},
                  {"chroma_blur_px", c.chroma_blur_px},
                  {"jpeg_quality", c.jpeg_quality}};
    };
    j["options"]["adc_bits"] = options.adc_bits;
    j["options"]["jpeg_quality"] = options.jpeg_quality;
    j["options"]["realistic_color_camera"] = camera(realistic_color_of(options, protocol));
    j["options"]["realistic_mono_camera"] = camera(realistic_mono_of(options, protocol));
  }
  if (options.rig_path) j["options"]["rig_path"] = options.rig_path->to_json();
  Json cols = Json::array();
  for (const auto& c : columns) cols.push_back(c.key);
  j["columns"] = cols;
  Json scenes = Json::array();
  for (const auto& r : rows) {
    Json s{{"scene", r.scene}, {"method_s", r.method_s}};
    for (std::size_t k = 0; k < columns.size(); ++k) s[columns[k].key] = number(r.values[k]);
    scenes.push_back(s);
  }
  j["scenes"] = scenes;
  const auto m = mean();
  Json mj;
  for (std::size_t k = 0; k < columns.size(); ++k) mj[columns[k].key] = number(m[k]);
  j["mean"] = mj;
  j["scene_count"] = rows.size();
  return j;
}

EvalResult evaluate(Protocol protocol, const std::vector<SceneSource>& scenes, const Method& method,
                    const EvalOptions& options, Progress* progress) {
  switch (protocol) {
    case Protocol::Depth: return evaluate_depth(scenes, method, options, progress);
    case Protocol::P1: return evaluate_p1(scenes, method, options, progress);
    case Protocol::P2: return evaluate_p2(scenes, method, options, progress);
    case Protocol::Raw: return evaluate_raw(scenes, method, options, progress);
  }
  throw_invalid("unknown protocol");
}

// ---- the per-scene loop ------------------------------------------------------------------------

namespace detail {

void check_output(const Method& method, const MethodInput& in, const cv::Mat& output, int type, const char* what) {
  if (output.empty() || output.type() != type || output.size() != in.mono.size())
    throw_invalid("method '" + method.name + "' returned no valid " + what + " for scene '" + in.scene + "' (expected " +
                  std::to_string(in.mono.cols) + "x" + std::to_string(in.mono.rows) + ")");
}

EvalResult run_protocol(Protocol protocol, const std::vector<SceneSource>& scenes, const Method& method,
                        const EvalOptions& options, Progress* progress, std::vector<MetricColumn> columns,
                        const Scorer& score) {
  options.validate(protocol);
  if (!method.run) throw_invalid("evaluate: the method '" + method.name + "' has nothing to run");
  if (scenes.empty()) throw_invalid("evaluate: no scenes");
  EvalResult res;
  res.protocol = protocol;
  res.method = method.name;
  res.light = options.effective_light(protocol);
  res.options = options;
  res.options.color.light = res.light;
  res.columns = std::move(columns);
  if (progress) progress->set_total(int(scenes.size()));
  for (const auto& source : scenes) {
    MiddleburyScene scene = load_scene(source);
    ScoreMasks masks{evaluated_mask(scene), unseen_mask(scene)};
    std::optional<RigPath> rig;
    if (options.rig_path) {
      rig = make_rig_path(scene.left.size(), *options.rig_path);
      masks.unseen = view_through_rig(masks.unseen, rig->mono, true);
      const cv::Mat at_rectified = masks.evaluated;
      scene = scene_through_rig(scene, *rig, at_rectified, &masks.evaluated);
    }
    MethodInput in = simulate_pair(scene, protocol, options);
    if (rig) in.rig = rig->rig;
    Stopwatch sw;
    const cv::Mat out = method.run(in);
    SceneRow row;
    row.method_s = sw.seconds();
    row.scene = scene.name;
    row.values = score(scene, masks, in, out);
    res.rows.push_back(std::move(row));
    if (progress) progress->advance(1, scene.name);
  }
  return res;
}

}  // namespace detail
}  // namespace dualcam::eval
