#include "dualcam/datasets/sample.hpp"

#include <cmath>
#include <filesystem>
#include <limits>

#include <opencv2/calib3d.hpp>

#include "dualcam/datasets/scene.hpp"
#include "dualcam/datasets/simulate.hpp"
#include "dualcam/engine/color.hpp"
#include "dualcam/engine/disparity.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/image_io.hpp"
#include "dualcam/engine/rectify_geometry.hpp"

namespace dualcam::datasets {
namespace {

cv::Matx33d rotation_from_euler_deg(double rx, double ry, double rz) {
  cv::Mat R;
  const double k = CV_PI / 180.0;
  cv::Vec3d rv(rx * k, ry * k, rz * k);
  cv::Rodrigues(rv, R);
  return cv::Matx33d(R);
}


}  // namespace

void SampleOptions::validate() const {
  check_range("SampleOptions::size.width", size.width, 64, 8000);
  check_range("SampleOptions::size.height", size.height, 64, 8000);
  check_range("SampleOptions::light", light, 1e-3, 10);
  check_range("SampleOptions::supersample", supersample, 1, 8);
  mono.validate();
}

Sample make_sample(const SampleOptions& options) {
  options.validate();
  const cv::Size size = options.size;
  const double f = 0.875 * size.width;  // about 60 degrees horizontal field of view
  Sample s;
  s.rig.mono.K = cv::Matx33d(f, 0, size.width / 2.0 - 0.5, 0, f, size.height / 2.0 + 1.0, 0, 0, 1);
  s.rig.mono.dist = (cv::Mat_<double>(1, 5) << -0.06, 0.02, 0.0005, -0.0003, 0.0);
  s.rig.mono.size = size;
  s.rig.color.K = cv::Matx33d(f * 1.01, 0, size.width / 2.0 + 2.0, 0, f * 1.01, size.height / 2.0 - 1.5, 0, 0, 1);
  s.rig.color.dist = (cv::Mat_<double>(1, 5) << -0.05, 0.015, -0.0004, 0.0002, 0.0);
  s.rig.color.size = size;
  // Colour camera 12 mm to the right of the mono camera, slightly rotated: a phone module.
  s.rig.R = rotation_from_euler_deg(0.25, -0.4, 0.3);
  s.rig.T = cv::Vec3d(-12.0, 0.15, 0.1);

  // Depths chosen so disparities span roughly 8..45 px at 480 px width (they scale with width).
  const double f480 = 0.875 * 480;
  const double near_mm = f480 * 12.0 / 45.0, far_mm = f480 * 12.0 / 8.0;
  Scene scene = make_layered_scene(options.seed, near_mm, far_mm);
  RenderOptions ro;
  ro.supersample = options.supersample;
  RenderedView vm = render(scene, mono_camera(s.rig), ro);
  RenderedView vc = render(scene, color_camera(s.rig), ro);

  s.mono = simulate_mono(vm.linear_bgr, options.mono, options.seed * 2654435761ull + 1);
  ColorSensor cs;
  cs.light = options.light;
  s.color = simulate_color(vc.linear_bgr, cs, options.seed * 2654435761ull + 2);
  s.truth_color_at_color = to_srgb8(vc.linear_bgr);
  s.truth_color_at_mono = to_srgb8(vm.linear_bgr);

  const RectifyGeometry g = rectify_geometry(s.rig);
  s.disparity_mono = canonical_disparity(vm.points, g.R1, cv::Vec3d(0, 0, 0), g) * disparity_view_scale(g, s.rig.mono);
  s.disparity_color =
      canonical_disparity(vc.points, g.R2 * s.rig.R, g.R2 * s.rig.T, g) * disparity_view_scale(g, s.rig.color);
  return s;
}

void write_sample(const Sample& s, const std::string& dir) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(dir)) throw_io("cannot write the sample: directory '" + dir + "' does not exist");
  const fs::path d(dir);
  write_image((d / "mono.png").string(), s.mono);
  write_image((d / "color.png").string(), s.color);
  write_rig((d / "rig.yaml").string(), s.rig);
  write_image((d / "truth_color.png").string(), s.truth_color_at_color);
  write_image((d / "truth_mono_view.png").string(), s.truth_color_at_mono);
  write_pfm((d / "disparity_mono.pfm").string(), s.disparity_mono);
  write_pfm((d / "disparity_color.pfm").string(), s.disparity_color);
}

}  // namespace dualcam::datasets
