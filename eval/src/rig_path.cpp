#include "dualcam/eval/rig_path.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>

#include <opencv2/calib3d.hpp>
#include <opencv2/imgproc.hpp>

#include "dualcam/datasets/lens.hpp"
#include "dualcam/engine/color.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/parallel.hpp"
#include "dualcam/engine/rectify_geometry.hpp"

namespace dualcam::eval {

namespace {

void check_distortion(const std::vector<double>& d, const char* name) {
  if (d.size() != 4 && d.size() != 5 && d.size() != 8)
    throw_invalid(std::string("RigPathOptions::") + name + " must have 4, 5 or 8 coefficients, got " +
                  std::to_string(d.size()));
  for (double v : d)
    if (!std::isfinite(v) || std::abs(v) > 10)
      throw_invalid(std::string("RigPathOptions::") + name + ": each coefficient must be finite and within +-10");
}

void check_rotation(const cv::Vec3d& r, const char* name) {
  for (int i = 0; i < 3; ++i) check_range((std::string("RigPathOptions::") + name).c_str(), r[i], -10.0, 10.0);
}

cv::Matx33d rotation(const cv::Vec3d& deg) {
  cv::Matx33d R;
  cv::Rodrigues(deg * (CV_PI / 180.0), R);
  return R;
}

// The rectified pixel that pixel (u, v) of a camera (lens `lens`, rectified-from-camera rotation
// R) sees; false where the lens cannot be inverted or the ray points away from the frame.
bool rectified_pixel(const datasets::LensInverse& lens, const cv::Matx33d& R, double f, cv::Point2d c, double u,
                     double v, cv::Point2d& q) {
  double x, y;
  if (!lens(u, v, x, y)) return false;
  const cv::Vec3d r = R * cv::Vec3d(x, y, 1.0);
  if (!(r[2] > 1e-9)) return false;
  q = {c.x + f * r[0] / r[2], c.y + f * r[1] / r[2]};
  return true;
}

// A camera of `size` looking along R_rect_from_camera, whose focal length is zoom * f: the
// smallest zoom at which every border pixel sees the rectified image 1 px inside its edges (the
// image of the border encloses the image of the interior: the lens is one-to-one there).
CameraModel fitted_camera(cv::Size size, const std::vector<double>& distortion, const cv::Matx33d& R, double f,
                          double* zoom_out) {
  const cv::Point2d c(0.5 * (size.width - 1), 0.5 * (size.height - 1));
  CameraModel cam;
  cam.size = size;
  cam.dist = cv::Mat(distortion, true).reshape(1, 1);
  std::vector<cv::Point2d> border;
  for (int x = 0; x < size.width; ++x) border.emplace_back(x, 0), border.emplace_back(x, size.height - 1);
  for (int y = 1; y + 1 < size.height; ++y) border.emplace_back(0, y), border.emplace_back(size.width - 1, y);
  auto inside = [&](double zoom) {
    cam.K = cv::Matx33d(zoom * f, 0, c.x, 0, zoom * f, c.y, 0, 0, 1);
    const datasets::LensInverse lens(cam);
    for (const cv::Point2d& p : border) {
      cv::Point2d q;
      if (!rectified_pixel(lens, R, f, c, p.x, p.y, q)) return false;
      if (!(q.x >= 1 && q.y >= 1 && q.x <= size.width - 2 && q.y <= size.height - 2)) return false;
    }
    return true;
  };
  double lo = 0.25, hi = 4.0;
  if (!inside(hi)) throw_invalid("make_rig_path: the rig's cameras do not fit inside the rectified images");
  for (int it = 0; it < 40; ++it) {
    const double mid = 0.5 * (lo + hi);
    (inside(mid) ? hi : lo) = mid;
  }
  inside(hi);
  if (zoom_out) *zoom_out = hi;
  return cam;
}

RigView make_view(cv::Size size, const std::vector<double>& distortion, const cv::Vec3d& rotation_deg, double f) {
  RigView v;
  v.rect_from_camera = rotation(rotation_deg);
  v.camera = fitted_camera(size, distortion, v.rect_from_camera, f, nullptr);
  const datasets::LensInverse lens(v.camera);
  const cv::Point2d c(0.5 * (size.width - 1), 0.5 * (size.height - 1));
  v.map_x.create(size, CV_32F);
  v.map_y.create(size, CV_32F);
  std::atomic<bool> ok{true};
  parallel_rows(size.height, 16, [&](int r0, int r1) {
    for (int y = r0; y < r1; ++y) {
      float* mx = v.map_x.ptr<float>(y);
      float* my = v.map_y.ptr<float>(y);
      for (int x = 0; x < size.width; ++x) {
        cv::Point2d q;
        if (!rectified_pixel(lens, v.rect_from_camera, f, c, x, y, q)) ok = false;
        mx[x] = float(q.x);
        my[x] = float(q.y);
      }
    }
  });
  if (!ok) throw_invalid("make_rig_path: a camera's lens cannot be inverted over its image");
  return v;
}

}  // namespace

void RigPathOptions::validate() const {
  check_distortion(mono_distortion, "mono_distortion");
  check_distortion(color_distortion, "color_distortion");
  check_rotation(mono_rotation_deg, "mono_rotation_deg");
  check_rotation(color_rotation_deg, "color_rotation_deg");
  if (!(focal_share > 0.3 && focal_share <= 3)) throw_invalid("RigPathOptions::focal_share must be in (0.3, 3]");
  if (!(baseline_mm > 0 && baseline_mm <= 1000)) throw_invalid("RigPathOptions::baseline_mm must be in (0, 1000]");
}

Json RigPathOptions::to_json() const {
  auto vec = [](const cv::Vec3d& v) { return Json{v[0], v[1], v[2]}; };
  return {{"mono_distortion", mono_distortion}, {"color_distortion", color_distortion},
          {"mono_rotation_deg", vec(mono_rotation_deg)}, {"color_rotation_deg", vec(color_rotation_deg)},
          {"focal_share", focal_share}, {"baseline_mm", baseline_mm}};
}

RigPath make_rig_path(cv::Size size, const RigPathOptions& o) {
  o.validate();
  if (size.width < 16 || size.height < 16) throw_invalid("make_rig_path: the pair must be at least 16x16 px");
  RigPath p;
  p.rectified_focal_px = o.focal_share * size.width;
  p.mono = make_view(size, o.mono_distortion, o.mono_rotation_deg, p.rectified_focal_px);
  p.color = make_view(size, o.color_distortion, o.color_rotation_deg, p.rectified_focal_px);
  p.rig.mono = p.mono.camera;
  p.rig.color = p.color.camera;
  // X_rect_mono = R_m X_mono; the colour camera sits at (B, 0, 0) in the rectified mono frame, and
  // X_rect_color = X_rect_mono - (B, 0, 0) = R_c X_color.
  const cv::Matx33d Rct = p.color.rect_from_camera.t();
  p.rig.R = Rct * p.mono.rect_from_camera;
  p.rig.T = -(Rct * cv::Vec3d(o.baseline_mm, 0, 0));
  return p;
}

cv::Mat view_through_rig(const cv::Mat& rectified, const RigView& view, bool mask) {
  if (rectified.empty()) throw_invalid("view_through_rig: empty image");
  cv::Mat out;
  if (mask) {
    if (rectified.type() != CV_8UC1) throw_invalid("view_through_rig: a mask must be CV_8UC1");
    cv::remap(rectified, out, view.map_x, view.map_y, cv::INTER_NEAREST, cv::BORDER_CONSTANT, cv::Scalar(0));
    return out;
  }
  if (rectified.depth() != CV_8U || (rectified.channels() != 1 && rectified.channels() != 3))
    throw_invalid("view_through_rig: expects an 8-bit sRGB grey or BGR image");
  cv::remap(to_linear(rectified), out, view.map_x, view.map_y, cv::INTER_CUBIC, cv::BORDER_REPLICATE);
  cv::max(out, 0.0, out);  // bicubic overshoot
  cv::min(out, 1.0, out);
  return to_srgb8(out);
}

datasets::MiddleburyScene scene_through_rig(const datasets::MiddleburyScene& scene, const RigPath& rig,
                                            const cv::Mat& evaluated_at_rectified, cv::Mat* evaluated) {
  if (scene.left.size() != rig.rig.mono.size || scene.right.size() != rig.rig.color.size)
    throw_invalid("scene_through_rig: the rig was made for another image size than scene '" + scene.name + "'");
  datasets::MiddleburyScene s;
  s.name = scene.name;
  s.left = view_through_rig(scene.left, rig.mono);
  s.right = view_through_rig(scene.right, rig.color);
  if (scene.ndisp > 0) {
    const RectifyGeometry g = rectify_geometry(rig.rig);
    s.ndisp = int(std::ceil(1.05 * scene.ndisp * g.focal_px / rig.rectified_focal_px));
  }
  if (evaluated) *evaluated = view_through_rig(evaluated_at_rectified, rig.mono, true);
  return s;
}

}  // namespace dualcam::eval
