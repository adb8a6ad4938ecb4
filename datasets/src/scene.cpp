#include "dualcam/datasets/scene.hpp"

#include <cmath>
#include <random>

#include <opencv2/calib3d.hpp>

#include "dualcam/engine/error.hpp"
#include "dualcam/engine/parallel.hpp"

namespace dualcam::datasets {
namespace {

constexpr float kTwoPi = 6.28318530718f;

float hash01(int x, int y, std::uint32_t seed) {
  std::uint32_t h = std::uint32_t(x) * 0x8da6b343u ^ std::uint32_t(y) * 0xd8163841u ^ seed * 0xcb1ab31fu;
  h ^= h >> 13;
  h *= 0x5bd1e995u;
  h ^= h >> 15;
  return float(h & 0xFFFFFF) / float(0x1000000);
}

float value_noise(float u, float v, std::uint32_t seed) {
  float fu = std::floor(u), fv = std::floor(v);
  int x = int(fu), y = int(fv);
  float a = u - fu, b = v - fv;
  a = a * a * (3 - 2 * a);
  b = b * b * (3 - 2 * b);
  float h00 = hash01(x, y, seed), h10 = hash01(x + 1, y, seed);
  float h01 = hash01(x, y + 1, seed), h11 = hash01(x + 1, y + 1, seed);
  return (h00 * (1 - a) + h10 * a) * (1 - b) + (h01 * (1 - a) + h11 * a) * b;
}

float fbm(float u, float v, std::uint32_t seed) {
  float sum = 0, amp = 0.5f, norm = 0;
  for (int o = 0; o < 5; ++o) {
    sum += amp * value_noise(u, v, seed + 101u * o);
    norm += amp;
    u *= 2.03f;
    v *= 2.03f;
    amp *= 0.5f;
  }
  return sum / norm;
}

cv::Vec3f mix(const cv::Vec3f& a, const cv::Vec3f& b, float t) { return a * (1 - t) + b * t; }

bool intersect(const Patch& p, const cv::Vec3d& o, const cv::Vec3d& d, double& t_hit, double& u, double& v) {
  cv::Vec3d n = p.axis_u.cross(p.axis_v);
  double den = n.dot(d);
  if (std::abs(den) < 1e-12) return false;
  double t = n.dot(p.origin - o) / den;
  if (!(t > 1e-6)) return false;
  cv::Vec3d q = o + t * d - p.origin;
  u = q.dot(p.axis_u);
  v = q.dot(p.axis_v);
  if (p.disc) {
    if (u * u + v * v > p.half_u * p.half_u) return false;
  } else if (std::abs(u) > p.half_u || std::abs(v) > p.half_v) {
    return false;
  }
  t_hit = t;
  return true;
}

// Nearest patch hit along the ray; returns its index or -1.
int trace(const Scene& s, const cv::Vec3d& o, const cv::Vec3d& d, double& t, double& u, double& v) {
  int best = -1;
  t = 1e300;
  for (std::size_t i = 0; i < s.patches.size(); ++i) {
    double ti, ui, vi;
    if (intersect(s.patches[i], o, d, ti, ui, vi) && ti < t) {
      t = ti;
      u = ui;
      v = vi;
      best = int(i);
    }
  }
  return best;
}

}  // namespace

cv::Vec3f Texture::sample(float u, float v) const {
  const float s = scale_mm;
  switch (kind) {
    case TextureKind::Flat:
      return color_a;
    case TextureKind::Stripes: {
      // Stripes whose phase wanders (not periodic: a matcher can tell one stripe from the next).
      float w = (u * 0.866f + v * 0.5f) / s + 2.5f * fbm(u / (5 * s), v / (5 * s), seed + 3u);
      float t = 0.5f + 0.5f * std::sin(kTwoPi * w);
      float mod = 0.6f + 0.8f * value_noise(u / (2 * s), v / (2 * s), seed);
      return mix(color_a, color_b, t) * mod;
    }
    case TextureKind::Checker: {
      int k = int(std::floor(u / s)) + int(std::floor(v / s));
      float grain = 0.9f + 0.1f * value_noise(u / (0.3f * s), v / (0.3f * s), seed);
      return ((k & 1) ? color_a : color_b) * grain;
    }
    case TextureKind::Noise: {
      float t = std::min(1.0f, std::max(0.0f, 0.5f + 2.5f * (fbm(u / s, v / s, seed) - 0.5f)));
      float hue = value_noise(u / (6 * s), v / (6 * s), seed + 7u);
      cv::Vec3f base = mix(color_a, color_b, hue);
      float fine = 0.75f + 0.5f * fbm(u / (0.25f * s), v / (0.25f * s), seed + 13u);
      return base * (0.15f + 1.2f * t) * fine;
    }
    case TextureKind::Rings: {
      float r = std::sqrt(u * u + v * v) / s;
      float t = 0.5f + 0.5f * std::sin(kTwoPi * r);
      return mix(color_a, color_b, t);
    }
  }
  return color_a;
}

void RenderOptions::validate() const { check_range("RenderOptions::supersample", supersample, 1, 16); }

PlacedCamera mono_camera(const StereoRig& rig) {
  PlacedCamera c;
  c.model = rig.mono;
  return c;
}

PlacedCamera color_camera(const StereoRig& rig) {
  PlacedCamera c;
  c.model = rig.color;
  c.R_cam_from_world = rig.R;
  c.t_cam_from_world = rig.T;
  return c;
}

RenderedView render(const Scene& scene, const PlacedCamera& camera, const RenderOptions& options) {
  options.validate();
  const cv::Size size = camera.model.size;
  const int n = options.supersample;
  RenderedView out;
  out.linear_bgr.create(size, CV_32FC3);
  out.depth.create(size, CV_32F);
  out.points.create(size, CV_32FC3);
  const cv::Matx33d Rt = camera.R_cam_from_world.t();
  const cv::Vec3d origin = -(Rt * camera.t_cam_from_world);
  const cv::Matx33d K = camera.model.K;
  const cv::Mat dist = camera.model.dist;

  parallel_rows(size.height, 8, [&](int r0, int r1) {
    std::vector<cv::Point2f> pix, norm;
    for (int r = r0; r < r1; ++r) {
      // Sample positions of this row: n*n per pixel, then the pixel centre (for depth).
      pix.clear();
      for (int c = 0; c < size.width; ++c) {
        for (int sy = 0; sy < n; ++sy)
          for (int sx = 0; sx < n; ++sx)
            pix.emplace_back(float(c + (sx + 0.5) / n - 0.5), float(r + (sy + 0.5) / n - 0.5));
        pix.emplace_back(float(c), float(r));
      }
      cv::undistortPoints(pix, norm, cv::Mat(K), dist);
      cv::Vec3f* rgb = out.linear_bgr.ptr<cv::Vec3f>(r);
      float* depth = out.depth.ptr<float>(r);
      cv::Vec3f* pts = out.points.ptr<cv::Vec3f>(r);
      std::size_t k = 0;
      for (int c = 0; c < size.width; ++c) {
        cv::Vec3f acc(0, 0, 0);
        for (int s = 0; s < n * n; ++s, ++k) {
          cv::Vec3d d = Rt * cv::Vec3d(norm[k].x, norm[k].y, 1.0);
          double t, u, v;
          int hit = trace(scene, origin, d, t, u, v);
          if (hit >= 0) acc += scene.patches[hit].texture.sample(float(u), float(v));
        }
        rgb[c] = acc * (1.0f / float(n * n));
        cv::Vec3d d = Rt * cv::Vec3d(norm[k].x, norm[k].y, 1.0);
        ++k;
        double t, u, v;
        if (trace(scene, origin, d, t, u, v) >= 0) {
          cv::Vec3d X = origin + t * d;
          cv::Vec3d Xc = camera.R_cam_from_world * X + camera.t_cam_from_world;
          depth[c] = float(Xc[2]);
          pts[c] = cv::Vec3f(X);
        } else {
          depth[c] = std::numeric_limits<float>::quiet_NaN();
          pts[c] = cv::Vec3f::all(std::numeric_limits<float>::quiet_NaN());
        }
      }
    }
  });
  return out;
}

Scene make_layered_scene(std::uint32_t seed, double near_mm, double far_mm) {
  if (!(near_mm > 0 && far_mm > near_mm)) throw_invalid("make_layered_scene: need 0 < near_mm < far_mm");
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> jitter(-0.04, 0.04);
  std::uniform_real_distribution<float> col(0.05f, 0.85f);
  auto colour = [&] { return cv::Vec3f(col(rng), col(rng), col(rng)); };
  const cv::Vec3d ex(1, 0, 0), ey(0, 1, 0);
  auto fronto = [&](double ax, double ay, double z, double hu, double hv, Texture tex) {
    Patch p;
    p.origin = cv::Vec3d((ax + jitter(rng)) * z, (ay + jitter(rng)) * z, z);
    p.axis_u = ex;
    p.axis_v = ey;
    p.half_u = hu * z;
    p.half_v = hv * z;
    p.texture = tex;
    return p;
  };
  auto tex = [&](TextureKind kind, float scale_frac, double z) {
    Texture t;
    t.kind = kind;
    t.color_a = colour();
    t.color_b = colour();
    t.scale_mm = float(scale_frac * z);
    t.seed = std::uint32_t(rng());
    return t;
  };
  const double mid = std::sqrt(near_mm * far_mm);
  Scene s;
  // Background wall, everywhere.
  s.patches.push_back(fronto(0, 0, far_mm, 1e3, 1e3, tex(TextureKind::Noise, 0.03f, far_mm)));
  // A slanted plane (depth changes along x): disparity gradients.
  {
    const double z = 0.5 * (mid + far_mm);
    const double th = 0.6;  // about 34 degrees
    Patch p;
    p.origin = cv::Vec3d((0.22 + jitter(rng)) * z, (0.12 + jitter(rng)) * z, z);
    p.axis_u = cv::Vec3d(std::cos(th), 0, std::sin(th));
    p.axis_v = ey;
    p.half_u = 0.2 * z;
    p.half_v = 0.2 * z;
    p.texture = tex(TextureKind::Stripes, 0.012f, z);
    s.patches.push_back(p);
  }
  // Fronto-parallel planes at several depths, with sharp colour edges and fine detail.
  s.patches.push_back(fronto(-0.24, -0.08, mid, 0.17, 0.15, tex(TextureKind::Checker, 0.02f, mid)));
  s.patches.push_back(fronto(-0.3, 0.28, 0.75 * far_mm, 0.12, 0.07, tex(TextureKind::Flat, 0.1f, far_mm)));
  s.patches.push_back(fronto(0.3, -0.24, 1.3 * near_mm, 0.1, 0.08, tex(TextureKind::Noise, 0.01f, near_mm)));
  // A disc in front of everything.
  {
    Patch p = fronto(0.04, 0.06, near_mm, 0.1, 0.1, tex(TextureKind::Rings, 0.012f, near_mm));
    p.disc = true;
    s.patches.push_back(p);
  }
  return s;
}

}  // namespace dualcam::datasets
