#include "dualcam/datasets/recipe.hpp"

#include "dualcam/engine/error.hpp"

namespace dualcam::datasets {

using namespace strict_json;

const std::vector<std::string>& recipe_keys() {
  static const std::vector<std::string> keys = {
      "seed",          "scene",           "size",           "mono_size",       "color_size",       "focal_px",
      "mono_focal_px", "color_focal_px",  "mono_principal", "color_principal", "mono_distortion",  "color_distortion",
      "rotation_deg",  "color_position_mm", "light",        "mono_weights",    "mono_gain",        "bayer",
      "supersample",   "near_mm",         "far_mm",         "mono_exposure",   "color_exposure",   "mono_vignetting",
      "color_vignetting", "focus_depth_mm", "aperture_radius_mm", "bokeh_samples", "sensor",
      "adc_bits", "jpeg_quality", "raw"};
  return keys;
}

SimulateOptions simulate_options_from_recipe(const Json& r, const Where& w, SimulateOptions o) {
  check_keys(r, w, recipe_keys());
  auto size = [&](const char* k) {
    const auto s = get_size(r[k], w.at(k), 16, 8192);
    return cv::Size(s.first, s.second);
  };
  auto point = [&](const char* k) {
    const auto v = get_numbers(r[k], w.at(k), 2, 2, -1e5, 1e5);
    return cv::Point2d(v[0], v[1]);
  };
  auto vec3 = [&](const char* k, double lo, double hi) {
    const auto v = get_numbers(r[k], w.at(k), 3, 3, lo, hi);
    return cv::Vec3d(v[0], v[1], v[2]);
  };
  auto number = [&](const char* k, double lo, double hi) { return get_number(r[k], w.at(k), lo, hi); };
  if (r.contains("scene")) o.scene = parse_scene_kind(get_choice(r["scene"], w.at("scene"), {"objects", "layered"}));
  if (r.contains("seed")) o.seed = std::uint32_t(get_int(r["seed"], w.at("seed"), 0, 4294967295LL));
  if (r.contains("size")) o.mono.size = o.color.size = size("size");
  if (r.contains("mono_size")) o.mono.size = size("mono_size");
  if (r.contains("color_size")) o.color.size = size("color_size");
  if (r.contains("focal_px")) o.mono.focal_px = o.color.focal_px = number("focal_px", 1, 1e6);
  if (r.contains("mono_focal_px")) o.mono.focal_px = number("mono_focal_px", 1, 1e6);
  if (r.contains("color_focal_px")) o.color.focal_px = number("color_focal_px", 1, 1e6);
  if (r.contains("mono_principal")) o.mono.principal = point("mono_principal");
  if (r.contains("color_principal")) o.color.principal = point("color_principal");
  if (r.contains("mono_distortion")) o.mono.distortion = get_numbers(r["mono_distortion"], w.at("mono_distortion"), 1, 5, -10, 10);
  if (r.contains("color_distortion"))
    o.color.distortion = get_numbers(r["color_distortion"], w.at("color_distortion"), 1, 5, -10, 10);
  if (r.contains("rotation_deg")) o.rotation_deg = vec3("rotation_deg", -30, 30);
  if (r.contains("color_position_mm")) o.color_position_mm = vec3("color_position_mm", -1e4, 1e4);
  if (r.contains("light")) o.color_sensor.light = number("light", 1e-4, 100);
  if (r.contains("mono_weights")) {
    const cv::Vec3d v = vec3("mono_weights", 0, 10);
    o.mono_sensor.w_b = v[0], o.mono_sensor.w_g = v[1], o.mono_sensor.w_r = v[2];
  }
  if (r.contains("mono_gain")) o.mono_sensor.gain = number("mono_gain", 0.01, 100);
  if (r.contains("bayer")) o.color_sensor.bayer = get_bool(r["bayer"], w.at("bayer"));
  if (r.contains("sensor"))
    o.sensor = parse_sensor_model(get_choice(r["sensor"], w.at("sensor"), {"simple", "realistic"}));
  if (r.contains("adc_bits")) o.adc_bits = int(get_int(r["adc_bits"], w.at("adc_bits"), 8, 16));
  if (r.contains("jpeg_quality")) o.jpeg_quality = int(get_int(r["jpeg_quality"], w.at("jpeg_quality"), 0, 100));
  if (r.contains("raw")) o.raw = get_bool(r["raw"], w.at("raw"));
  if (r.contains("supersample")) o.supersample = int(get_int(r["supersample"], w.at("supersample"), 1, 8));
  if (r.contains("near_mm")) o.near_mm = number("near_mm", 0, 1e7);
  if (r.contains("far_mm")) o.far_mm = number("far_mm", 0, 1e7);
  if (r.contains("mono_exposure")) o.mono.exposure = number("mono_exposure", 1e-3, 1e3);
  if (r.contains("color_exposure")) o.color.exposure = number("color_exposure", 1e-3, 1e3);
  if (r.contains("mono_vignetting")) o.mono.vignetting = number("mono_vignetting", 0, 0.99);
  if (r.contains("color_vignetting")) o.color.vignetting = number("color_vignetting", 0, 0.99);
  if (r.contains("focus_depth_mm")) o.focus_depth_mm = number("focus_depth_mm", 0, 1e7);
  if (r.contains("aperture_radius_mm")) o.aperture_radius_mm = number("aperture_radius_mm", 0, 1e4);
  if (r.contains("bokeh_samples")) o.bokeh_samples = int(get_int(r["bokeh_samples"], w.at("bokeh_samples"), 1, 65536));
  try {
    o.validate();
  } catch (const Error& e) {
    w.fail(e.what());
  }
  return o;
}

}  // namespace dualcam::datasets
