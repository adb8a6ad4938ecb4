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

Rectifier::Maps Rectifier::homography_maps(const cv::Matx33d& H, const cv::Size& out_size) {
  // For every pixel of the output: where H sends it.
  Maps m;
  m.x.create(out_size, CV_32F);
  m.y.create(out_size, CV_32F);
  parallel_rows(out_size.height, 16, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      float* mx = m.x.ptr<float>(r);
      float* my = m.y.ptr<float>(r);
      for (int c = 0; c < out_size.width; ++c) {
        const cv::Vec3d v = H * cv::Vec3d(c, r, 1.0);
        mx[c] = float(v[0] / v[2]);
        my[c] = float(v[1] / v[2]);
      }
    }
  });
  return m;
}

void Rectifier::correct_color(const cv::Matx33d& correction) {
  // The colour view is moved (and scaled) inside the canonical frame: so is its disparity.
  color_disparity_scale_ /= homography_scale(correction, centre_of(geometry_.canonical_size()));
  // Forward: canonical p -> correction^-1 p in the old canonical frame -> old forward maps.
  const Maps where = homography_maps(correction.inv(), geometry_.canonical_size());
  Maps fwd;
  cv::remap(color_fwd_.x, fwd.x, where.x, where.y, cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(-1));
  cv::remap(color_fwd_.y, fwd.y, where.x, where.y, cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(-1));
  color_fwd_ = fwd;
  // Inverse: original pixel -> old canonical -> correction, into new maps (the old ones may be
  // shared with cached_rectifier's copy).
  Maps inv{cv::Mat(color_inv_.x.size(), CV_32FC1), cv::Mat(color_inv_.y.size(), CV_32FC1)};
  parallel_rows(inv.x.rows, 16, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      const float* ox = color_inv_.x.ptr<float>(r);
      const float* oy = color_inv_.y.ptr<float>(r);
      float* mx = inv.x.ptr<float>(r);
      float* my = inv.y.ptr<float>(r);
      for (int c = 0; c < inv.x.cols; ++c) {
        const cv::Vec3d v = correction * cv::Vec3d(ox[c], oy[c], 1.0);
        mx[c] = float(v[0] / v[2]);
        my[c] = float(v[1] / v[2]);
      }
    }
  });
  color_inv_ = inv;
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

Rectifier::Maps Rectifier::forward_maps(const CameraModel& cam, const cv::Matx33d& R, const cv::Matx34d& P) const {
  Maps m;
  cv::Mat newK = cv::Mat(P).colRange(0, 3);
  cv::initUndistortRectifyMap(cv::Mat(cam.K), cam.dist, cv::Mat(R), newK, geometry_.size, CV_32FC1, m.x, m.y);
  // Bring stereoRectify's frame into the canonical one: transpose for a vertical baseline, then
  // mirror when the colour camera is on the left. Moving the maps moves the images they produce.
  if (geometry_.vertical) {
    cv::transpose(m.x, m.x);
    cv::transpose(m.y, m.y);
  }
  if (geometry_.flip) {
    cv::flip(m.x, m.x, 1);
    cv::flip(m.y, m.y, 1);
  }
  return m;
}

Rectifier::Maps Rectifier::inverse_maps(const CameraModel& cam, const cv::Matx33d& R, const cv::Matx34d& P) const {
  // For every pixel of the original camera: where it lands in the canonical rectified image.
  // cv::undistortPoints (an iterative inverse of the distortion) on a grid of every step-th
  // pixel, both last ones included, and bilinear between: the map is smooth, and per pixel it
  // was 0.9 s of a 4 s fuse at 12 MP (2 cores). Bilinear's error is h^2 / 8 times the map's
  // second derivative, which falls with the focal length: h = focal / 100 px, at most 8, keeps
  // it below 0.01 px for strong distortion (k1 = -0.28; tests/fusion/test_rectify.cpp measures
  // it against the per-pixel inverse).
  const double focal = std::min(cam.K(0, 0), cam.K(1, 1));
  const int step = std::max(1, std::min(8, int(focal / 100.0)));
  const int W = cam.size.width, H = cam.size.height;
  const auto axis = [step](int n) {
    std::vector<int> g;
    for (int i = 0; i < n - 1; i += step) g.push_back(i);
    g.push_back(n - 1);
    return g;
  };
  const std::vector<int> gx = axis(W), gy = axis(H);
  const int GW = int(gx.size()), GH = int(gy.size());
  cv::Mat grid(GH, GW, CV_32FC2);
  parallel_rows(GH, 4, [&](int j0, int j1) {
    std::vector<cv::Point2f> src(static_cast<std::size_t>(GW)), dst;
    for (int j = j0; j < j1; ++j) {
      for (int i = 0; i < GW; ++i) src[i] = cv::Point2f(float(gx[i]), float(gy[j]));
      cv::undistortPoints(src, dst, cv::Mat(cam.K), cam.dist, cv::Mat(R), cv::Mat(P));
      std::copy(dst.begin(), dst.end(), grid.ptr<cv::Point2f>(j));
    }
  });
  // A pixel's grid cell along one axis (the last cell may be short) and its position inside it.
  const auto cell = [step](const std::vector<int>& g, int p, int& i, float& t) {
    i = std::min(p / step, std::max(0, int(g.size()) - 2));
    t = g.size() > 1 ? float(p - g[i]) / float(g[i + 1] - g[i]) : 0.0f;
  };
  std::vector<int> cx(static_cast<std::size_t>(W));
  std::vector<float> tx(static_cast<std::size_t>(W));
  for (int c = 0; c < W; ++c) cell(gx, c, cx[c], tx[c]);
  Maps m;
  m.x.create(cam.size, CV_32F);
  m.y.create(cam.size, CV_32F);
  const cv::Size canon = geometry_.canonical_size();
  parallel_rows(H, 16, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      int j;
      float ty;
      cell(gy, r, j, ty);
      const cv::Point2f* a = grid.ptr<cv::Point2f>(j);
      const cv::Point2f* b = grid.ptr<cv::Point2f>(std::min(j + 1, GH - 1));
      float* mx = m.x.ptr<float>(r);
      float* my = m.y.ptr<float>(r);
      for (int c = 0; c < W; ++c) {
        const int i = cx[c], k = std::min(i + 1, GW - 1);
        const float t = tx[c];
        const cv::Point2f top = a[i] + t * (a[k] - a[i]), bottom = b[i] + t * (b[k] - b[i]);
        float x = top.x + ty * (bottom.x - top.x), y = top.y + ty * (bottom.y - top.y);
        if (geometry_.vertical) std::swap(x, y);
        if (geometry_.flip) x = float(canon.width - 1) - x;
        mx[c] = x;
        my[c] = y;
      }
    }
  });
  return m;
}

cv::Mat Rectifier::rectify_mono(const cv::Mat& image, int interpolation) const {
  if (image.size() != rig_.mono.size) throw_invalid("rectify: mono image size does not match the rig");
  cv::Mat out;
  cv::remap(image, out, mono_fwd_.x, mono_fwd_.y, interpolation, cv::BORDER_CONSTANT);
  return out;
}

cv::Mat Rectifier::rectify_color(const cv::Mat& image, int interpolation) const {
  if (image.size() != rig_.color.size) throw_invalid("rectify: colour image size does not match the rig");
  cv::Mat out;
  cv::remap(image, out, color_fwd_.x, color_fwd_.y, interpolation, cv::BORDER_CONSTANT);
  return out;
}

cv::Mat Rectifier::unrectify(const cv::Mat& canonical, const Maps& maps, int interpolation, cv::Mat* valid) const {
  cv::Mat out;
  cv::remap(canonical, out, maps.x, maps.y, interpolation, cv::BORDER_CONSTANT,
            cv::Scalar::all(std::numeric_limits<double>::quiet_NaN()));
  if (valid) {
    const cv::Size s = canonical.size();
    valid->create(maps.x.size(), CV_8U);
    for (int r = 0; r < maps.x.rows; ++r) {
      const float* mx = maps.x.ptr<float>(r);
      const float* my = maps.y.ptr<float>(r);
      std::uint8_t* v = valid->ptr<std::uint8_t>(r);
      for (int c = 0; c < maps.x.cols; ++c)
        v[c] = (mx[c] >= 0 && my[c] >= 0 && mx[c] <= s.width - 1 && my[c] <= s.height - 1) ? 255 : 0;
    }
  }
  return out;
}

cv::Mat Rectifier::unrectify_to_mono(const cv::Mat& canonical, int interpolation, cv::Mat* valid) const {
  return unrectify(canonical, mono_inv_, interpolation, valid);
}

cv::Mat Rectifier::unrectify_to_color(const cv::Mat& canonical, int interpolation, cv::Mat* valid) const {
  return unrectify(canonical, color_inv_, interpolation, valid);
}

}  // namespace dualcam::fusion
