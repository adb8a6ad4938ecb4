#include "dualcam/datasets/defocus.hpp"

#include <cmath>
#include <limits>

#include "dualcam/engine/error.hpp"
#include "dualcam/engine/parallel.hpp"
#include "raycast.hpp"

namespace dualcam::datasets {
namespace {

double radical_inverse(std::uint32_t i, std::uint32_t base) {
  double inv = 1.0 / base, f = inv, r = 0;
  while (i > 0) {
    r += f * double(i % base);
    i /= base;
    f *= inv;
  }
  return r;
}

double wrap01(double x) { return x - std::floor(x); }

// Shirley & Chiu's concentric map of the unit square onto the unit disc: keeps strata compact.
void concentric_disc(double a, double b, double& x, double& y) {
  const double u = 2 * a - 1, v = 2 * b - 1;
  if (u == 0 && v == 0) {
    x = y = 0;
    return;
  }
  double r, phi;
  if (std::abs(u) > std::abs(v)) {
    r = u;
    phi = (CV_PI / 4) * (v / u);
  } else {
    r = v;
    phi = CV_PI / 2 - (CV_PI / 4) * (u / v);
  }
  x = r * std::cos(phi);
  y = r * std::sin(phi);
}

}  // namespace

void ThinLens::validate() const {
  check_range("ThinLens::focus_depth_mm", focus_depth_mm, 1e-3, 1e9);
  check_range("ThinLens::aperture_radius_mm", aperture_radius_mm, 0, 1e6);
  check_range("ThinLens::samples", samples, 1, 65536);
}

double aperture_radius_from_f_number(double focal_mm, double f_number) {
  check_range("focal length (mm)", focal_mm, 1e-3, 1e5);
  check_range("f-number", f_number, 0.1, 1000);
  return focal_mm / (2 * f_number);
}

double coc_radius_px(double focal_px, double aperture_radius_mm, double z_mm, double focus_depth_mm) {
  return focal_px * aperture_radius_mm * std::abs(1.0 / z_mm - 1.0 / focus_depth_mm);
}

cv::Mat render_defocus(const Scene& scene, const PlacedCamera& camera, const ThinLens& lens) {
  lens.validate();
  const cv::Size size = camera.model.size;
  if (size.width <= 0 || size.height <= 0) throw_invalid("render_defocus: the camera's image size must be positive");
  const detail::LensInverse inverse(camera.model);
  const detail::PreparedScene prepared(scene);
  const int N = lens.samples;
  // The sample set shared by every pixel (each pixel shifts it by its own hash).
  std::vector<cv::Vec2d> aperture(N), subpixel(N);
  for (int k = 0; k < N; ++k) {
    aperture[k] = cv::Vec2d((k + 0.5) / N, radical_inverse(std::uint32_t(k), 2));
    subpixel[k] = cv::Vec2d(radical_inverse(std::uint32_t(k), 3), radical_inverse(std::uint32_t(k), 5));
  }
  const cv::Matx33d Rt = camera.R_cam_from_world.t();
  const cv::Vec3d t = camera.t_cam_from_world;
  const double A = lens.aperture_radius_mm, zf = lens.focus_depth_mm;
  cv::Mat out(size, CV_32FC3);
  bool folded = false;
  parallel_rows(size.height, 2, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      cv::Vec3f* o = out.ptr<cv::Vec3f>(r);
      for (int c = 0; c < size.width; ++c) {
        const std::uint32_t pix = std::uint32_t(r) * 65521u + std::uint32_t(c);
        const double s0 = detail::hash01(pix, lens.seed, 1), s1 = detail::hash01(pix, lens.seed, 2);
        const double s2 = detail::hash01(pix, lens.seed, 3), s3 = detail::hash01(pix, lens.seed, 4);
        double acc[3] = {0, 0, 0};
        for (int k = 0; k < N; ++k) {
          double x, y;
          if (!inverse(c - 0.5 + wrap01(subpixel[k][0] + s0), r - 0.5 + wrap01(subpixel[k][1] + s1), x, y)) {
            folded = true;
            continue;
          }
          double lx, ly;
          concentric_disc(wrap01(aperture[k][0] + s2), wrap01(aperture[k][1] + s3), lx, ly);
          // Camera frame: lens point L = (A lx, A ly, 0), focus point P = zf (x, y, 1).
          const cv::Vec3d L(A * lx, A * ly, 0), P(zf * x, zf * y, zf);
          const cv::Vec3d origin = Rt * (L - t), dir = Rt * (P - L);
          detail::PreparedScene::Hit hit;
          if (prepared.trace(origin, dir, hit)) {
            const cv::Vec3f v = prepared.shade(hit);
            acc[0] += v[0];
            acc[1] += v[1];
            acc[2] += v[2];
          }
        }
        o[c] = cv::Vec3f(float(acc[0] / N), float(acc[1] / N), float(acc[2] / N));
      }
    }
  });
  if (folded) throw_invalid("render_defocus: the lens distortion cannot be inverted over the whole image");
  return out;
}

}  // namespace dualcam::datasets
