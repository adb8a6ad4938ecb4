#include "dualcam/datasets/board_sim.hpp"

#include <cmath>
#include <random>

#include <opencv2/calib3d.hpp>
#include <opencv2/imgproc.hpp>
#include <tbb/parallel_for.h>

#include "dualcam/datasets/board_render.hpp"
#include "dualcam/datasets/sensor.hpp"
#include "dualcam/engine/color.hpp"
#include "dualcam/engine/error.hpp"

namespace dualcam::datasets {
namespace {

constexpr double kDegToRad = M_PI / 180.0;

cv::Matx33d rotation(const cv::Vec3d& axis_angle) {
  cv::Matx33d R;
  cv::Rodrigues(axis_angle, R);
  return R;
}

CameraModel random_camera(std::mt19937& rng, cv::Size size, const BoardSetOptions& o) {
  std::uniform_real_distribution<double> U(0, 1);
  CameraModel c;
  c.size = size;
  const double fov = (o.fov_min_deg + (o.fov_max_deg - o.fov_min_deg) * U(rng)) * kDegToRad;
  const double f = size.width / 2.0 / std::tan(fov / 2);
  const double aspect = 1.0 + 0.004 * (2 * U(rng) - 1);
  c.K = cv::Matx33d(f, 0, size.width / 2.0 + 0.02 * size.width * (2 * U(rng) - 1), 0, f * aspect,
                    size.height / 2.0 + 0.02 * size.height * (2 * U(rng) - 1), 0, 0, 1);
  const double k1 = o.max_k1 * (2 * U(rng) - 1);
  const double k2 = -0.5 * k1 * U(rng);
  c.dist = (cv::Mat_<double>(1, 5) << k1, k2, 0.001 * (2 * U(rng) - 1), 0.001 * (2 * U(rng) - 1), 0.0);
  return c;
}

// A smooth grey background with some structure (not a flat wall).
cv::Mat background(std::mt19937& rng, cv::Size size) {
  cv::Mat small(6, 8, CV_32F);
  std::uniform_real_distribution<float> U(0.15f, 0.55f);
  for (int r = 0; r < small.rows; ++r)
    for (int c = 0; c < small.cols; ++c) small.at<float>(r, c) = U(rng);
  cv::Mat big;
  cv::resize(small, big, size, 0, 0, cv::INTER_CUBIC);
  return big;
}

// Lighting: a smooth gradient across the image (0.7 .. 1.05).
cv::Mat lighting(std::mt19937& rng, cv::Size size) {
  std::uniform_real_distribution<double> U(-1, 1);
  const double gx = 0.15 * U(rng), gy = 0.15 * U(rng), base = 0.88 + 0.05 * U(rng);
  cv::Mat l(size, CV_32F);
  for (int r = 0; r < size.height; ++r)
    for (int c = 0; c < size.width; ++c)
      l.at<float>(r, c) = float(base + gx * (2.0 * c / size.width - 1) + gy * (2.0 * r / size.height - 1));
  return l;
}

}  // namespace

void BoardSetOptions::validate() const {
  check_range("BoardSetOptions::views", views, 1, 10000);
  if (mono_size.width < 64 || mono_size.height < 64 || color_size.width < 64 || color_size.height < 64)
    throw_invalid("BoardSetOptions: image sizes must be at least 64x64");
  check_range("BoardSetOptions::baseline_min_mm", baseline_min_mm, 0.1, 1e4);
  check_range("BoardSetOptions::baseline_max_mm", baseline_max_mm, baseline_min_mm, 1e4);
  check_range("BoardSetOptions::max_rig_rotation_deg", max_rig_rotation_deg, 0.0, 30.0);
  check_range("BoardSetOptions::fov_min_deg", fov_min_deg, 10.0, 120.0);
  check_range("BoardSetOptions::fov_max_deg", fov_max_deg, fov_min_deg, 120.0);
  check_range("BoardSetOptions::max_k1", max_k1, 0.0, 0.5);
  check_range("BoardSetOptions::fill_min", fill_min, 0.05, 2.0);
  check_range("BoardSetOptions::fill_max", fill_max, fill_min, 2.0);
  check_range("BoardSetOptions::max_tilt_deg", max_tilt_deg, 0.0, 70.0);
  check_range("BoardSetOptions::max_roll_deg", max_roll_deg, 0.0, 80.0);
  check_range("BoardSetOptions::outside_share", outside_share, 0.0, 1.0);
  check_range("BoardSetOptions::blur_min_px", blur_min_px, 0.0, 10.0);
  check_range("BoardSetOptions::blur_max_px", blur_max_px, blur_min_px, 10.0);
  check_range("BoardSetOptions::supersample", supersample, 1, 16);
}

StereoRig random_rig(std::uint32_t seed, const BoardSetOptions& o) {
  o.validate();
  std::mt19937 rng(seed * 2654435761u + 17u);
  std::uniform_real_distribution<double> U(0, 1);
  StereoRig rig;
  rig.mono = random_camera(rng, o.mono_size, o);
  rig.color = random_camera(rng, o.color_size, o);
  cv::Vec3d axis(2 * U(rng) - 1, 2 * U(rng) - 1, 2 * U(rng) - 1);
  axis /= std::max(1e-9, cv::norm(axis));
  rig.R = rotation(axis * (o.max_rig_rotation_deg * U(rng) * kDegToRad));
  // Colour camera centre at +x of the mono camera, with a little y/z offset (assembly tolerance).
  const double b = o.baseline_min_mm + (o.baseline_max_mm - o.baseline_min_mm) * U(rng);
  cv::Vec3d C(b, 0.08 * b * (2 * U(rng) - 1), 0.05 * b * (2 * U(rng) - 1));
  C *= b / cv::norm(C);
  rig.T = -(rig.R * C);  // X_color = R (X_mono - C)
  rig.validate();
  return rig;
}

std::vector<BoardSetView> render_board_set(const StereoRig& rig, const calibration::BoardSpec& board,
                                           std::uint32_t seed, const BoardSetOptions& o) {
  o.validate();
  rig.validate();
  const BoardPattern pattern(board);
  // Board extent (squares area) in mm, and its centre in board coordinates.
  const auto pts = board.object_points();
  double xmin = 1e9, xmax = -1e9, ymin = 1e9, ymax = -1e9;
  for (const auto& p : pts) xmin = std::min(xmin, double(p.x)), xmax = std::max(xmax, double(p.x)),
                            ymin = std::min(ymin, double(p.y)), ymax = std::max(ymax, double(p.y));
  const double width_mm = xmax - xmin + 2 * board.square_mm;
  const cv::Vec3d centre((xmin + xmax) / 2, (ymin + ymax) / 2, 0);
  const double f = rig.mono.K(0, 0);
  const cv::Size ms = rig.mono.size;

  // Poses first (serially, from one generator), then rendering in parallel.
  std::mt19937 rng(seed * 2246822519u + 5u);
  std::uniform_real_distribution<double> U(0, 1);
  std::vector<BoardSetView> views(std::size_t(o.views));
  std::vector<std::uint32_t> seeds(std::size_t(o.views));
  for (int k = 0; k < o.views; ++k) {
    const double fill = o.fill_min + (o.fill_max - o.fill_min) * U(rng);
    const double z = f * width_mm / (fill * ms.width);
    // Where the board centre lands in the mono image (normalised to [-1, 1]); views pushed
    // outside put it near an edge so part of the board leaves the frame.
    const bool outside = U(rng) < o.outside_share;
    const double reach = outside ? 1.0 + 0.3 * fill : std::max(0.0, 1.0 - fill * 1.05);
    double ax = 2 * U(rng) - 1, ay = 2 * U(rng) - 1;
    if (outside) (U(rng) < 0.5 ? ax : ay) = U(rng) < 0.5 ? -1 : 1;
    const double cxn = (ax * reach * ms.width / 2) / f, cyn = (ay * reach * ms.height / 2) / rig.mono.K(1, 1);
    const double tilt = o.max_tilt_deg * std::sqrt(U(rng)) * kDegToRad, dir = 2 * M_PI * U(rng);
    const double roll = o.max_roll_deg * (2 * U(rng) - 1) * kDegToRad;
    cv::Matx33d R = rotation(cv::Vec3d(std::cos(dir), std::sin(dir), 0) * tilt) * rotation(cv::Vec3d(0, 0, roll));
    const cv::Vec3d target(cxn * z, cyn * z, z);
    views[std::size_t(k)].R_mono_from_board = R;
    views[std::size_t(k)].t_mono_from_board = target - R * centre;
    seeds[std::size_t(k)] = std::uint32_t(rng());
  }
  tbb::parallel_for(0, o.views, [&](int k) {
    BoardSetView& v = views[std::size_t(k)];
    std::mt19937 vr(seeds[std::size_t(k)]);
    std::uniform_real_distribution<double> U2(0, 1);
    BoardRenderOptions ro;
    ro.supersample = o.supersample;
    for (int cam = 0; cam < 2; ++cam) {
      const CameraModel& model = cam == 0 ? rig.mono : rig.color;
      const cv::Matx33d R = cam == 0 ? v.R_mono_from_board : rig.R * v.R_mono_from_board;
      const cv::Vec3d t = cam == 0 ? v.t_mono_from_board : rig.R * v.t_mono_from_board + rig.T;
      cv::Mat img = render_board(pattern, model, R, t, background(vr, model.size), ro);
      img = img.mul(lighting(vr, model.size));
      const double sigma = o.blur_min_px + (o.blur_max_px - o.blur_min_px) * U2(vr);
      if (sigma > 0) cv::GaussianBlur(img, img, cv::Size(0, 0), sigma, sigma, cv::BORDER_REPLICATE);
      cv::Mat bgr;
      cv::merge(std::vector<cv::Mat>{img, img, img}, bgr);
      const std::uint64_t noise_seed = vr();
      if (!o.noise) {
        if (cam == 0) v.mono = to_srgb8(img);
        else v.color = to_srgb8(bgr);
      } else if (cam == 0) {
        v.mono = simulate_mono(bgr, MonoSensor{}, noise_seed);
      } else {
        v.color = simulate_color(bgr, ColorSensor{}, noise_seed);
      }
    }
  });
  return views;
}

}  // namespace dualcam::datasets
