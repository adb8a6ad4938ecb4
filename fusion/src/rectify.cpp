#include "dualcam/fusion/rectify.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <mutex>
#include <string>
#include <vector>

#include <opencv2/calib3d.hpp>
#include <opencv2/imgproc.hpp>

#include "dualcam/engine/error.hpp"
#include "dualcam/engine/parallel.hpp"

namespace dualcam::fusion {

Rectifier::Rectifier(const StereoRig& rig, const RectifyOptions& options)
    : rig_(rig), geometry_(rectify_geometry(rig, options)) {
  mono_fwd_ = forward_maps(rig_.mono, geometry_.R1, geometry_.P1);
  color_fwd_ = forward_maps(rig_.color, geometry_.R2, geometry_.P2);
  mono_inv_ = inverse_maps(rig_.mono, geometry_.R1, geometry_.P1);
  color_inv_ = inverse_maps(rig_.color, geometry_.R2, geometry_.P2);
  mono_disparity_scale_ = disparity_view_scale(geometry_, rig_.mono);
  color_disparity_scale_ = disparity_view_scale(geometry_, rig_.color);
}

namespace {

// Local scale (square root of the Jacobian's determinant) of the homography H at `p`.
double homography_scale(const cv::Matx33d& H, const cv::Point2d& p) {
  const cv::Vec3d v = H * cv::Vec3d(p.x, p.y, 1.0);
  const double w = v[2];
  const double u = v[0] / w, t = v[1] / w;
  // d(u, t) / d(x, y) of (H p)_xy / (H p)_z.
  const double a = (H(0, 0) - u * H(2, 0)) / w, b = (H(0, 1) - u * H(2, 1)) / w;
  const double c = (H(1, 0) - t * H(2, 0)) / w, d = (H(1, 1) - t * H(2, 1)) / w;
  return std::sqrt(std::abs(a * d - b * c));
}

cv::Point2d centre_of(const cv::Size& s) { return {0.5 * (s.width - 1), 0.5 * (s.height - 1)}; }

}  // namespace

Rectifier::Rectifier(const cv::Matx33d& mono_to_canonical, const cv::Matx33d& color_to_canonical,
                     const cv::Size& mono_size, const cv::Size& color_size, const cv::Size& canonical_size) {
  if (mono_size.empty() || color_size.empty() || canonical_size.empty())
    throw_invalid("Rectifier: empty image size for an uncalibrated rectification");
  rig_.mono.size = mono_size;
  rig_.color.size = color_size;
  geometry_.size = canonical_size;
  geometry_.R1 = geometry_.R2 = cv::Matx33d::eye();
  mono_fwd_ = homography_maps(mono_to_canonical.inv(), canonical_size);
  color_fwd_ = homography_maps(color_to_canonical.inv(), canonical_size);
  mono_inv_ = homography_maps(mono_to_canonical, mono_size);
  color_inv_ = homography_maps(color_to_canonical, color_size);
  // No metric focal length: a canonical disparity is taken to each view by its homography's
  // local scale at the view's centre (engine/disparity.hpp).
  mono_disparity_scale_ = 1.0 / homography_scale(mono_to_canonical, centre_of(mono_size));
  color_disparity_scale_ = 1.0 / homography_scale(color_to_canonical, centre_of(color_size));
}

namespace {

cv::Point2f apply_homography(const cv::Matx33d& H, const cv::Point2f& p) {
  const cv::Vec3d v = H * cv::Vec3d(p.x, p.y, 1.0);
  return {float(v[0] / v[2]), float(v[1] / v[2])};
}

// The grid's positions along an axis of n pixels: every step-th, the last pixel included.
std::vector<int> grid_axis(int n, int step) {
  std::vector<int> g;
  for (int i = 0; i < n - 1; i += step) g.push_back(i);
  g.push_back(n - 1);
  return g;
}

// A position's grid cell along one axis (the last cell may be short; beyond the ends, the outer
// cells) and its place in it.
void grid_cell(const std::vector<int>& g, int step, float p, int& i, float& t) {
  i = std::clamp(int(std::floor(p / float(step))), 0, std::max(0, int(g.size()) - 2));
  t = g.size() > 1 ? (p - float(g[std::size_t(i)])) / float(g[std::size_t(i) + 1] - g[std::size_t(i)]) : 0.0f;
}

}  // namespace

Rectifier::Maps Rectifier::Maps::sampled(const cv::Size& size, int step,
                                         const std::function<void(std::vector<cv::Point2f>&)>& at) {
  if (size.empty() || step < 1) throw_invalid("Rectifier::Maps: an empty size or a step below 1");
  Maps m;
  m.size_ = size;
  m.step_ = step;
  const std::vector<int> gx = grid_axis(size.width, step), gy = grid_axis(size.height, step);
  const int GW = int(gx.size()), GH = int(gy.size());
  m.grid_.create(GH, GW, CV_32FC2);
  parallel_rows(GH, 4, [&](int j0, int j1) {
    std::vector<cv::Point2f> row(static_cast<std::size_t>(GW));
    for (int j = j0; j < j1; ++j) {
      for (int i = 0; i < GW; ++i) row[std::size_t(i)] = cv::Point2f(float(gx[std::size_t(i)]), float(gy[std::size_t(j)]));
      at(row);
      std::copy(row.begin(), row.end(), m.grid_.ptr<cv::Point2f>(j));
    }
  });
  m.inv_step_ = 1.0f / float(step);
  const auto inverse_widths = [](const std::vector<int>& g) {
    std::vector<float> w;
    for (std::size_t i = 0; i + 1 < g.size(); ++i) w.push_back(1.0f / float(g[i + 1] - g[i]));
    if (w.empty()) w.push_back(0.0f);  // one pixel: one cell of no width
    return w;
  };
  m.inv_cell_x_ = inverse_widths(gx);
  m.inv_cell_y_ = inverse_widths(gy);
  m.frac_x_.resize(std::size_t(size.width));
  for (int c = 0, i = 0; c < size.width; ++c) grid_cell(gx, step, float(c), i, m.frac_x_[std::size_t(c)]);
  return m;
}

Rectifier::Maps Rectifier::Maps::moved(const std::function<void(std::vector<cv::Point2f>&)>& f) const {
  Maps m = *this;
  m.grid_ = grid_.clone();  // never the shared grid (cached_rectifier's copy)
  std::vector<cv::Point2f> row(static_cast<std::size_t>(grid_.cols));
  for (int j = 0; j < grid_.rows; ++j) {
    cv::Point2f* g = m.grid_.ptr<cv::Point2f>(j);
    std::copy(g, g + grid_.cols, row.begin());
    f(row);
    std::copy(row.begin(), row.end(), g);
  }
  return m;
}

void Rectifier::Maps::rows(int r0, int r1, cv::Mat& x, cv::Mat& y) const {
  const int W = size_.width, GW = grid_.cols, GH = grid_.rows;
  x.create(r1 - r0, W, CV_32F);
  y.create(r1 - r0, W, CV_32F);
  const std::vector<int> gy = grid_axis(size_.height, step_);
  std::vector<cv::Point2f> column(static_cast<std::size_t>(GW));
  for (int r = r0; r < r1; ++r) {
    // The row's values at the grid's columns (between the two grid rows around it), then each
    // cell's pixels along the line between its two ends.
    int j;
    float ty;
    grid_cell(gy, step_, float(r), j, ty);
    const cv::Point2f* a = grid_.ptr<cv::Point2f>(j);
    const cv::Point2f* b = grid_.ptr<cv::Point2f>(std::min(j + 1, GH - 1));
    for (int i = 0; i < GW; ++i) column[std::size_t(i)] = a[i] + ty * (b[i] - a[i]);
    float* mx = x.ptr<float>(r - r0);
    float* my = y.ptr<float>(r - r0);
    int c = 0;
    for (int i = 0; i + 1 < GW; ++i) {
      const cv::Point2f p = column[std::size_t(i)], q = column[std::size_t(i) + 1] - p;
      const int end = i + 2 < GW ? (i + 1) * step_ : W;  // the last cell holds the last pixel too
      for (; c < end; ++c) {
        const float t = frac_x_[std::size_t(c)];
        mx[c] = p.x + t * q.x;
        my[c] = p.y + t * q.y;
      }
    }
    for (; c < W; ++c) mx[c] = column[0].x, my[c] = column[0].y;  // a grid one column wide
  }
}

cv::Point2f Rectifier::Maps::at(float x, float y) const {
  // The axes' grids are every step-th pixel up to the last one: a position's cell from the
  // position alone, its place in the cell by the cell's inverse width (the last may be short).
  const float inv = inv_step_;
  const int i = std::clamp(int(std::floor(x * inv)), 0, int(inv_cell_x_.size()) - 1);
  const int j = std::clamp(int(std::floor(y * inv)), 0, int(inv_cell_y_.size()) - 1);
  const float tx = (x - float(i * step_)) * inv_cell_x_[std::size_t(i)];
  const float ty = (y - float(j * step_)) * inv_cell_y_[std::size_t(j)];
  const cv::Point2f* a = grid_.ptr<cv::Point2f>(j) + i;
  const cv::Point2f* b = grid_.ptr<cv::Point2f>(std::min(j + 1, grid_.rows - 1)) + i;
  const int k = i + 1 < grid_.cols ? 1 : 0;
  const cv::Point2f top = a[0] + tx * (a[k] - a[0]), bottom = b[0] + tx * (b[k] - b[0]);
  return top + ty * (bottom - top);
}

Rectifier::Maps::Dense Rectifier::Maps::dense() const {
  Dense d;
  rows(0, size_.height, d.x, d.y);
  return d;
}

Rectifier::Maps Rectifier::homography_maps(const cv::Matx33d& H, const cv::Size& out_size) {
  // For every pixel of the output: where H sends it (a homography near the identity is far
  // smoother than an 8 px grid needs).
  return Maps::sampled(out_size, 8, [&](std::vector<cv::Point2f>& row) {
    for (cv::Point2f& p : row) p = apply_homography(H, p);
  });
}

void Rectifier::correct_color(const cv::Matx33d& correction) {
  // The colour view is moved (and scaled) inside the canonical frame: so is its disparity.
  color_disparity_scale_ /= homography_scale(correction, centre_of(geometry_.canonical_size()));
  // Forward: canonical p -> correction^-1 p in the old canonical frame -> the old forward map.
  const cv::Matx33d back = correction.inv();
  const Maps old_fwd = color_fwd_;
  color_fwd_ = Maps::sampled(old_fwd.size(), old_fwd.step(), [&](std::vector<cv::Point2f>& row) {
    for (cv::Point2f& p : row) {
      const cv::Point2f q = apply_homography(back, p);
      p = old_fwd.at(q.x, q.y);
    }
  });
  // Inverse: original pixel -> old canonical -> correction (new grids: the old ones may be
  // shared with cached_rectifier's copy).
  color_inv_ = color_inv_.moved([&](std::vector<cv::Point2f>& row) {
    for (cv::Point2f& p : row) p = apply_homography(correction, p);
  });
}

namespace {
std::mutex rectifier_cache_mutex;
std::string rectifier_cache_key;
std::shared_ptr<const Rectifier> rectifier_cache_entry;
}  // namespace

std::shared_ptr<const Rectifier> cached_rectifier(const StereoRig& rig, const RectifyOptions& options) {
  StereoRig geometry_only = rig;
  geometry_only.extras.clear();
  char opts[96];
  std::snprintf(opts, sizeof opts, "\nalpha %.17g size %dx%d", options.alpha, options.size.width, options.size.height);
  const std::string key = format_rig(geometry_only) + opts;
  {
    std::lock_guard<std::mutex> lock(rectifier_cache_mutex);
    if (rectifier_cache_entry && rectifier_cache_key == key) return rectifier_cache_entry;
  }
  auto built = std::make_shared<const Rectifier>(rig, options);  // outside the lock: other rigs go on
  std::lock_guard<std::mutex> lock(rectifier_cache_mutex);
  rectifier_cache_key = key;
  rectifier_cache_entry = built;
  return built;
}

void clear_rectifier_cache() {
  std::lock_guard<std::mutex> lock(rectifier_cache_mutex);
  rectifier_cache_key.clear();
  rectifier_cache_entry.reset();
}

int Rectifier::grid_step(const CameraModel& cam) {
  // Bilinear's error is h^2 / 8 times the map's second derivative, which falls with the focal
  // length: h = focal / 100 px, at most 8, keeps it below 0.01 px for strong distortion
  // (k1 = -0.28; tests/fusion/test_rectify.cpp measures both directions against the per-pixel
  // maps).
  const double focal = std::min(cam.K(0, 0), cam.K(1, 1));
  return std::max(1, std::min(8, int(focal / 100.0)));
}

Rectifier::Maps Rectifier::forward_maps(const CameraModel& cam, const cv::Matx33d& R, const cv::Matx34d& P) const {
  // For every canonical pixel: the camera pixel it shows, as cv::initUndistortRectifyMap finds
  // it (the rectified ray rotated back into the camera, then the lens's distortion), on the grid.
  // stereoRectify's frame is brought into the canonical one: transposed for a vertical baseline,
  // then mirrored when the colour camera is on the left.
  const cv::Matx33d to_camera = (cv::Matx33d(P(0, 0), P(0, 1), P(0, 2), P(1, 0), P(1, 1), P(1, 2), P(2, 0), P(2, 1),
                                             P(2, 2)) * R).inv();
  const cv::Size canon = geometry_.canonical_size();
  const bool vertical = geometry_.vertical, flip = geometry_.flip;
  return Maps::sampled(canon, grid_step(cam), [&](std::vector<cv::Point2f>& row) {
    std::vector<cv::Point3d> rays;
    rays.reserve(row.size());
    for (const cv::Point2f& p : row) {
      double x = p.x, y = p.y;
      if (flip) x = canon.width - 1 - x;
      if (vertical) std::swap(x, y);
      const cv::Vec3d v = to_camera * cv::Vec3d(x, y, 1.0);
      rays.emplace_back(v[0] / v[2], v[1] / v[2], 1.0);
    }
    std::vector<cv::Point2d> px;
    cv::projectPoints(rays, cv::Vec3d(0, 0, 0), cv::Vec3d(0, 0, 0), cv::Mat(cam.K), cam.dist, px);
    for (std::size_t i = 0; i < row.size(); ++i) row[i] = cv::Point2f(float(px[i].x), float(px[i].y));
  });
}

Rectifier::Maps Rectifier::inverse_maps(const CameraModel& cam, const cv::Matx33d& R, const cv::Matx34d& P) const {
  // For every pixel of the original camera: where it lands in the canonical rectified image,
  // cv::undistortPoints (an iterative inverse of the distortion) at the grid's points.
  const cv::Size canon = geometry_.canonical_size();
  const bool vertical = geometry_.vertical, flip = geometry_.flip;
  return Maps::sampled(cam.size, grid_step(cam), [&](std::vector<cv::Point2f>& row) {
    std::vector<cv::Point2f> dst;
    cv::undistortPoints(row, dst, cv::Mat(cam.K), cam.dist, cv::Mat(R), cv::Mat(P));
    for (std::size_t i = 0; i < row.size(); ++i) {
      float x = dst[i].x, y = dst[i].y;
      if (vertical) std::swap(x, y);
      if (flip) x = float(canon.width - 1) - x;
      row[i] = cv::Point2f(x, y);
    }
  });
}

cv::Mat Rectifier::remap_through(const cv::Mat& image, const Maps& maps, int interpolation, double border,
                                 cv::Mat* valid) {
  // Bands of rows, each band's map made at every pixel and cv::remap'ed: no full-size maps.
  const cv::Size out_size = maps.size();
  cv::Mat out(out_size, image.type());
  if (valid) valid->create(out_size, CV_8U);
  const cv::Size s = image.size();
  parallel_rows(out_size.height, 32, [&](int r0, int r1) {
    cv::Mat x, y;
    maps.rows(r0, r1, x, y);
    cv::Mat band = out.rowRange(r0, r1);
    cv::remap(image, band, x, y, interpolation, cv::BORDER_CONSTANT, cv::Scalar::all(border));
    if (!valid) return;
    for (int r = 0; r < r1 - r0; ++r) {
      const float* mx = x.ptr<float>(r);
      const float* my = y.ptr<float>(r);
      std::uint8_t* v = valid->ptr<std::uint8_t>(r0 + r);
      for (int c = 0; c < out_size.width; ++c)
        v[c] = (mx[c] >= 0 && my[c] >= 0 && mx[c] <= s.width - 1 && my[c] <= s.height - 1) ? 255 : 0;
    }
  });
  return out;
}

cv::Mat Rectifier::rectify_mono(const cv::Mat& image, int interpolation) const {
  if (image.size() != rig_.mono.size) throw_invalid("rectify: mono image size does not match the rig");
  return remap_through(image, mono_fwd_, interpolation, 0.0, nullptr);
}

cv::Mat Rectifier::rectify_color(const cv::Mat& image, int interpolation) const {
  if (image.size() != rig_.color.size) throw_invalid("rectify: colour image size does not match the rig");
  return remap_through(image, color_fwd_, interpolation, 0.0, nullptr);
}

cv::Mat Rectifier::unrectify_to_mono(const cv::Mat& canonical, int interpolation, cv::Mat* valid) const {
  return remap_through(canonical, mono_inv_, interpolation, std::numeric_limits<double>::quiet_NaN(), valid);
}

cv::Mat Rectifier::unrectify_to_color(const cv::Mat& canonical, int interpolation, cv::Mat* valid) const {
  return remap_through(canonical, color_inv_, interpolation, std::numeric_limits<double>::quiet_NaN(), valid);
}

}  // namespace dualcam::fusion
