#include "dualcam/datasets/simulate.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>

#include <opencv2/calib3d.hpp>
#include <tbb/task_group.h>

#include "dualcam/engine/color.hpp"
#include "dualcam/engine/disparity.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/file_util.hpp"
#include "dualcam/engine/image_io.hpp"
#include "dualcam/engine/parallel.hpp"
#include "dualcam/engine/raw.hpp"
#include "dualcam/engine/rectify_geometry.hpp"
#include "dualcam/engine/report.hpp"
#include "noise_bands.hpp"

namespace dualcam::datasets {
namespace {

bool finite3(const cv::Vec3d& v) { return std::isfinite(v[0]) && std::isfinite(v[1]) && std::isfinite(v[2]); }


// Light falling on the sensor: scene light * exposure * vignetting (before the sensor's noise).
cv::Mat sensor_light(const cv::Mat& linear, const CameraModel& cam, double exposure, double vignetting) {
  cv::Mat out(linear.size(), CV_32FC3);
  const double cx = cam.K(0, 2), cy = cam.K(1, 2);
  double rho2_max = 0;
  for (double x : {0.0, double(linear.cols - 1)})
    for (double y : {0.0, double(linear.rows - 1)}) rho2_max = std::max(rho2_max, (x - cx) * (x - cx) + (y - cy) * (y - cy));
  parallel_rows(linear.rows, 16, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      const cv::Vec3f* s = linear.ptr<cv::Vec3f>(r);
      cv::Vec3f* o = out.ptr<cv::Vec3f>(r);
      for (int c = 0; c < linear.cols; ++c) {
        const double rho2 = ((c - cx) * (c - cx) + (r - cy) * (r - cy)) / std::max(rho2_max, 1e-12);
        o[c] = s[c] * float(exposure * (1.0 - vignetting * rho2));
      }
    }
  });
  return out;
}

// sensor.hpp's noise generators draw from one serial random stream per image (the models of
// docs/evaluation.md#sensors; the embedded sample depends on their exact bytes). At 12 MP the
// colour camera's 36 million Poisson draws take seconds on one core, so the simulator runs the same
// models on fixed bands of rows, each with its own stream seeded from (seed, band): the same
// statistics, and the same bytes for any thread count because the bands do not depend on it. The
// colour camera's mosaic and demosaic then run on the whole image, so no band edge shows.
using detail::band_seed;
using detail::by_bands;

cv::Mat mono_camera_image(const cv::Mat& light, const MonoSensor& sensor, std::uint64_t seed) {
  return by_bands(light, CV_8UC1, [&](const cv::Mat& band, int b) { return simulate_mono(band, sensor, band_seed(seed, b)); });
}

cv::Mat color_camera_image(const cv::Mat& light, const ColorSensor& sensor, std::uint64_t seed) {
  ColorSensor noise_only = sensor;
  noise_only.bayer = false;
  cv::Mat encoded = by_bands(light, CV_8UC3, [&](const cv::Mat& band, int b) {
    return simulate_color(band, noise_only, band_seed(seed, b));
  });
  return sensor.bayer ? demosaic_rggb(mosaic_rggb(encoded)) : encoded;
}

// The realistic cameras of a simulation (camera_isp.hpp): the protocol's defaults at the colour
// camera's light, with the mono's weights and brightness from mono_sensor.
RealisticCamera realistic_color(const SimulateOptions& o) {
  RealisticCamera c = realistic_color_camera(o.color_sensor.light, o.adc_bits);
  c.jpeg_quality = o.jpeg_quality;
  return c;
}

RealisticCamera realistic_mono(const SimulateOptions& o) {
  RealisticCamera c = realistic_mono_camera(o.color_sensor.light, o.adc_bits, o.mono_sensor);
  c.jpeg_quality = o.jpeg_quality;
  return c;
}

}  // namespace

// Disparity in canonical rectified pixels of each pixel's surface point: f_rect * B / z_rect,
// z_rect the depth in the rectified frame of the view (world = mono frame).
cv::Mat canonical_disparity(const cv::Mat& world_points, const cv::Matx33d& rect_from_world, const cv::Vec3d& t_rect,
                            const RectifyGeometry& g) {
  cv::Mat d(world_points.size(), CV_32F);
  parallel_rows(d.rows, 16, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      const cv::Vec3f* p = world_points.ptr<cv::Vec3f>(r);
      float* o = d.ptr<float>(r);
      for (int c = 0; c < d.cols; ++c) {
        if (!std::isfinite(p[c][0])) {
          o[c] = std::numeric_limits<float>::quiet_NaN();
          continue;
        }
        const cv::Vec3d X = rect_from_world * cv::Vec3d(p[c]) + t_rect;
        o[c] = float(g.disparity_at_depth(X[2]));
      }
    }
  });
  return d;
}

void SimCamera::validate(const std::string& name) const {
  check_range((name + ".size.width").c_str(), size.width, 16, 20000);
  check_range((name + ".size.height").c_str(), size.height, 16, 20000);
  if (double(size.width) * size.height > 100e6)
    throw_invalid(name + ".size: " + std::to_string(size.width) + "x" + std::to_string(size.height) +
                  " has more than 100 million pixels");
  if (focal_px != 0) check_range((name + ".focal_px").c_str(), focal_px, 1, 1e6);
  if (principal.x >= 0 || principal.y >= 0) {
    check_range((name + ".principal.x").c_str(), principal.x, 0, size.width - 1);
    check_range((name + ".principal.y").c_str(), principal.y, 0, size.height - 1);
  }
  if (distortion.size() > 5)
    throw_invalid(name + ".distortion: give at most 5 coefficients (k1 k2 p1 p2 k3), got " +
                  std::to_string(distortion.size()));
  for (std::size_t i = 0; i < distortion.size(); ++i)
    check_range((name + ".distortion[" + std::to_string(i) + "]").c_str(), distortion[i], -10, 10);
  check_range((name + ".exposure").c_str(), exposure, 1e-3, 100);
  check_range((name + ".vignetting").c_str(), vignetting, 0, 0.99);
}

CameraModel SimCamera::model() const {
  CameraModel m;
  m.size = size;
  const double f = focal_px > 0 ? focal_px : 0.875 * size.width;
  const double cx = principal.x >= 0 ? principal.x : (size.width - 1) / 2.0;
  const double cy = principal.y >= 0 ? principal.y : (size.height - 1) / 2.0;
  m.K = cv::Matx33d(f, 0, cx, 0, f, cy, 0, 0, 1);
  m.dist = cv::Mat::zeros(1, 5, CV_64F);
  for (std::size_t i = 0; i < distortion.size(); ++i) m.dist.at<double>(0, int(i)) = distortion[i];
  return m;
}

void SimulateOptions::validate() const {
  if (raw && sensor != SensorModel::Realistic)
    throw_invalid("SimulateOptions::raw (--raw) needs the realistic sensor (--sensor realistic): the simple sensor has no raw frame");
  if (!rig) {
    mono.validate("mono");
    color.validate("color");
    for (int i = 0; i < 3; ++i) check_range("SimulateOptions::rotation_deg", rotation_deg[i], -90, 90);
    if (!finite3(color_position_mm) || cv::norm(color_position_mm) < 1e-6 || cv::norm(color_position_mm) > 1e6)
      throw_invalid("SimulateOptions::color_position_mm must be finite, non-zero and at most 1e6 mm from the mono camera");
  } else {
    rig->validate();
    for (const auto& [name, cam] : {std::pair<const char*, const CameraModel*>{"mono", &rig->mono}, {"color", &rig->color}}) {
      SimCamera sizes;
      sizes.size = cam->size;
      sizes.validate(std::string("rig ") + name);
    }
    // Only exposure and vignetting of the cameras apply on top of a given rig.
    check_range("mono.exposure", mono.exposure, 1e-3, 100);
    check_range("color.exposure", color.exposure, 1e-3, 100);
    check_range("mono.vignetting", mono.vignetting, 0, 0.99);
    check_range("color.vignetting", color.vignetting, 0, 0.99);
  }
  if ((near_mm == 0) != (far_mm == 0)) throw_invalid("SimulateOptions: give both near_mm and far_mm, or neither");
  if (near_mm != 0) {
    check_range("SimulateOptions::near_mm", near_mm, 1e-3, 1e9);
    check_range("SimulateOptions::far_mm", far_mm, 1.5 * near_mm, 1e9);
  }
  check_range("SimulateOptions::supersample", supersample, 1, 8);
  mono_sensor.validate();
  color_sensor.validate();
  if (sensor == SensorModel::Realistic) {
    check_range("SimulateOptions::color_sensor.light (realistic sensor)", color_sensor.light, 1e-4, 1);
    realistic_color(*this).validate();
    realistic_mono(*this).validate();
  }
  if (focus_depth_mm != 0 || aperture_radius_mm != 0) {
    if (!(focus_depth_mm > 0)) throw_invalid("SimulateOptions: the bokeh truth needs focus_depth_mm > 0");
    ThinLens lens;
    lens.focus_depth_mm = focus_depth_mm;
    lens.aperture_radius_mm = aperture_radius_mm;
    lens.samples = bokeh_samples;
    lens.validate();
  }
}

StereoRig simulation_rig(const SimulateOptions& o) {
  o.validate();
  if (o.rig) return *o.rig;
  StereoRig rig;
  rig.mono = o.mono.model();
  rig.color = o.color.model();
  cv::Mat R;
  const double k = CV_PI / 180.0;
  cv::Rodrigues(cv::Vec3d(o.rotation_deg * k), R);
  rig.R = cv::Matx33d(R);
  // Colour centre C in the mono frame: X_color = R (X_mono - C), so T = -R C.
  rig.T = -(rig.R * o.color_position_mm);
  rig.validate();
  return rig;
}

bool is_ideal_rectified(const StereoRig& rig) {
  auto zero = [](const cv::Mat& d) { return d.empty() || cv::countNonZero(d != 0) == 0; };
  return cv::norm(rig.R - cv::Matx33d::eye(), cv::NORM_INF) < 1e-12 && zero(rig.mono.dist) && zero(rig.color.dist) &&
         cv::norm(rig.mono.K - rig.color.K, cv::NORM_INF) == 0 && rig.mono.K(0, 1) == 0 &&
         rig.mono.K(0, 0) == rig.mono.K(1, 1) && rig.mono.size == rig.color.size && rig.T[1] == 0 && rig.T[2] == 0 &&
         rig.T[0] != 0;
}

Scene simulation_scene(const SimulateOptions& o, double* near_out, double* far_out) {
  const StereoRig rig = simulation_rig(o);
  double near_mm = o.near_mm, far_mm = o.far_mm;
  if (near_mm == 0) {
    const double fB = rig.mono.K(0, 0) * rig.baseline();
    near_mm = fB / (0.06 * rig.mono.size.width);
    far_mm = fB / (0.015 * rig.mono.size.width);
  }
  if (near_out) *near_out = near_mm;
  if (far_out) *far_out = far_mm;
  return make_scene(o.scene, o.seed, near_mm, far_mm);
}

cv::Mat simulation_bokeh_truth(const SimulateOptions& o, const ThinLens& lens) {
  const StereoRig rig = simulation_rig(o);
  return render_defocus(simulation_scene(o), color_camera(rig), lens) * o.color.exposure;
}

int simulation_stages(const SimulateOptions& o) { return o.focus_depth_mm > 0 ? 5 : 4; }

Simulation simulate(const SimulateOptions& o, Progress* progress) {
  auto advance = [&](const char* next) {
    if (progress) progress->advance(1, next);
  };
  Simulation sim;
  sim.rig = simulation_rig(o);
  const StereoRig& rig = sim.rig;
  const RectifyGeometry g = rectify_geometry(rig);
  const Scene scene = simulation_scene(o, &sim.near_mm, &sim.far_mm);

  Stopwatch sw;
  RenderOptions ro;
  ro.supersample = o.supersample;
  auto render_named = [&](const PlacedCamera& cam, const char* name) {
    try {
      return render(scene, cam, ro);
    } catch (const Error& e) {
      throw Error(e.category(), std::string(name) + " camera: " + e.what());
    }
  };
  const RenderedView vm = render_named(mono_camera(rig), "mono");
  advance("render colour view");
  const RenderedView vc = render_named(color_camera(rig), "colour");
  advance("sensors");
  sim.timings.render_s = sw.seconds();

  sw.reset();
  const std::uint64_t seed = std::uint64_t(o.seed) * 2654435761ull;
  const cv::Mat mono_light = sensor_light(vm.linear_bgr, rig.mono, o.mono.exposure, o.mono.vignetting);
  const cv::Mat color_light = sensor_light(vc.linear_bgr, rig.color, o.color.exposure, o.color.vignetting);
  if (o.sensor == SensorModel::Realistic) {
    if (o.raw) {
      sim.mono_raw = realistic_camera_raw(mono_light, realistic_mono(o), seed + 11);
      sim.color_raw = realistic_camera_raw(color_light, realistic_color(o), seed + 12);
      sim.mono = realistic_camera_picture(sim.mono_raw, realistic_mono(o));
      sim.color = realistic_camera_picture(sim.color_raw, realistic_color(o));
    } else {
      sim.mono = realistic_camera_image(mono_light, realistic_mono(o), seed + 11);
      sim.color = realistic_camera_image(color_light, realistic_color(o), seed + 12);
    }
  } else {
    sim.mono = mono_camera_image(mono_light, o.mono_sensor, seed + 11);
    sim.color = color_camera_image(color_light, o.color_sensor, seed + 12);
  }
  sim.timings.sensor_s = sw.seconds();
  advance("truth");

  sw.reset();
  sim.clean_color_at_color = vc.linear_bgr * o.color.exposure;
  sim.clean_color_at_mono = vm.linear_bgr * o.color.exposure;
  sim.depth_mono = vm.depth;
  sim.depth_color = vc.depth;
  sim.canonical_disparity_mono = canonical_disparity(vm.points, g.R1, cv::Vec3d(0, 0, 0), g);
  sim.canonical_disparity_color = canonical_disparity(vc.points, g.R2 * rig.R, g.R2 * rig.T, g);
  sim.disparity_mono = sim.canonical_disparity_mono * disparity_view_scale(g, rig.mono);
  sim.disparity_color = sim.canonical_disparity_color * disparity_view_scale(g, rig.color);
  sim.ideal_rectified = is_ideal_rectified(rig);
  sim.timings.truth_s = sw.seconds();
  advance(o.focus_depth_mm > 0 ? "bokeh truth" : "");

  if (o.focus_depth_mm > 0) {
    sw.reset();
    ThinLens lens;
    lens.focus_depth_mm = o.focus_depth_mm;
    lens.aperture_radius_mm = o.aperture_radius_mm;
    lens.samples = o.bokeh_samples;
    lens.seed = o.seed;
    sim.bokeh = simulation_bokeh_truth(o, lens);
    sim.timings.bokeh_s = sw.seconds();
    advance("");
  }
  return sim;
}

std::vector<std::string> simulation_file_names(const Simulation& sim) {
  std::vector<std::string> names{"mono.png",          "color.png",          "rig.yaml",
                                 "truth_color.png",   "truth_mono_view.png", "depth_mono.pfm",
                                 "depth_color.pfm",   "disparity_mono.pfm", "disparity_color.pfm"};
  if (!sim.bokeh.empty()) names.push_back("bokeh_truth.png");
  if (!sim.mono_raw.samples.empty())
    for (const char* n : {"mono.raw", "color.raw", "mono.dng", "color.dng", "raw.json"}) names.push_back(n);
  return names;
}

void write_simulation(const Simulation& s, const std::string& dir) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(dir)) throw_io("cannot write the simulation: directory '" + dir + "' does not exist");
  const fs::path d(dir);
  auto path = [&](const char* name) { return (d / name).string(); };
  // PNG encoding of 12 MP images takes seconds each: the files are written side by side (each
  // one atomically; an exception in any is rethrown by wait()).
  tbb::task_group tasks;
  tasks.run([&] { write_image(path("mono.png"), s.mono); });
  tasks.run([&] { write_image(path("color.png"), s.color); });
  tasks.run([&] { write_image(path("truth_color.png"), to_srgb8(s.clean_color_at_color)); });
  tasks.run([&] { write_image(path("truth_mono_view.png"), to_srgb8(s.clean_color_at_mono)); });
  if (!s.bokeh.empty()) tasks.run([&] { write_image(path("bokeh_truth.png"), to_srgb8(s.bokeh)); });
  tasks.run([&] {
    write_rig(path("rig.yaml"), s.rig);
    write_pfm(path("depth_mono.pfm"), s.depth_mono);
    write_pfm(path("depth_color.pfm"), s.depth_color);
    write_pfm(path("disparity_mono.pfm"), s.disparity_mono);
    write_pfm(path("disparity_color.pfm"), s.disparity_color);
  });
  if (!s.mono_raw.samples.empty()) tasks.run([&] {
    // Headerless frames in 16-bit little-endian containers (8-bit sensors: one byte a sample),
    // the same frames as DNG, and what a reader of the headerless files must be told.
    Json layout;
    for (const auto& [name, f] : {std::pair<const char*, const RawFrame*>{"mono", &s.mono_raw}, {"color", &s.color_raw}}) {
      const std::vector<std::uint8_t> bytes = encode_headerless(*f);
      write_file_atomic(path((std::string(name) + ".raw").c_str()), bytes.data(), bytes.size());
      write_dng(path((std::string(name) + ".dng").c_str()), *f, std::string("dualcam simulator ") + name);
      Json j = f->to_json();
      j["file"] = std::string(name) + ".raw";
      j["byte_order"] = "little";
      layout[name] = j;
    }
    write_file_atomic(path("raw.json"), layout.dump(2) + "\n");
  });
  tasks.wait();
}

}  // namespace dualcam::datasets
