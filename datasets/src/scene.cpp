#include "dualcam/datasets/scene.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include <opencv2/calib3d.hpp>

#include "dualcam/engine/error.hpp"
#include "dualcam/engine/parallel.hpp"
#include "raycast.hpp"

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
    case TextureKind::Bars: {
      // Local frequency rises linearly from 1/s at u <= 0 to 5/s at u >= L = 20 s; the phase is
      // its integral, so the bars stay continuous.
      const float L = 20 * s;
      const float uc = std::min(std::max(u, 0.0f), L);
      float phase = uc / s + 2 * uc * uc / (s * L);
      if (u < 0) phase += u / s;
      if (u > L) phase += 5 * (u - L) / s;
      float t = std::min(1.0f, std::max(0.0f, 0.5f + 3.0f * std::sin(kTwoPi * phase)));
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

namespace detail {

PreparedScene::PreparedScene(const Scene& scene) {
  std::vector<cv::Vec3d> lo, hi;
  for (const Patch& p : scene.patches) {
    Plane q;
    q.n = p.axis_u.cross(p.axis_v);
    q.origin = p.origin;
    q.axis_u = p.axis_u;
    q.axis_v = p.axis_v;
    q.n_dot_origin = q.n.dot(p.origin);
    q.disc = p.disc;
    q.half_u = p.half_u;
    q.half_v = p.half_v;
    q.texture = &p.texture;
    planes_.push_back(q);
    const double hv = p.disc ? p.half_u : p.half_v;
    cv::Vec3d l, h;
    for (int k = 0; k < 3; ++k) {
      const double e = std::abs(p.axis_u[k]) * p.half_u + std::abs(p.axis_v[k]) * hv;
      l[k] = p.origin[k] - e - 1e-9 * (1 + std::abs(p.origin[k]));
      h[k] = p.origin[k] + e + 1e-9 * (1 + std::abs(p.origin[k]));
    }
    lo.push_back(l);
    hi.push_back(h);
  }
  for (const Sphere& s : scene.spheres) {
    if (!(s.radius > 0)) throw_invalid("scene: a sphere's radius must be positive");
    balls_.push_back({s.centre, s.radius, &s.texture});
    lo.push_back(s.centre - cv::Vec3d::all(s.radius * (1 + 1e-9)));
    hi.push_back(s.centre + cv::Vec3d::all(s.radius * (1 + 1e-9)));
  }
  // Surfaces far larger than the typical one (a back wall, a floor) would make every box on
  // their path through the tree as large as the scene; they are tested before the traversal.
  std::vector<double> diag(lo.size());
  for (std::size_t i = 0; i < lo.size(); ++i) diag[i] = cv::norm(hi[i] - lo[i]);
  std::vector<double> sorted = diag;
  std::sort(sorted.begin(), sorted.end());
  const double typical = sorted.empty() ? 0 : sorted[sorted.size() / 2];
  for (std::size_t i = 0; i < lo.size(); ++i) {
    if (lo.size() > 4 && diag[i] > 8 * typical)
      large_.push_back(int(i));
    else
      order_.push_back(int(i));
  }
  if (!order_.empty()) build(0, int(order_.size()), lo, hi);
}

int PreparedScene::build(int first, int count, const std::vector<cv::Vec3d>& lo, const std::vector<cv::Vec3d>& hi) {
  const int index = int(nodes_.size());
  nodes_.emplace_back();
  Node node;
  node.lo = cv::Vec3d::all(std::numeric_limits<double>::infinity());
  node.hi = -node.lo;
  for (int i = first; i < first + count; ++i)
    for (int k = 0; k < 3; ++k) {
      node.lo[k] = std::min(node.lo[k], lo[order_[i]][k]);
      node.hi[k] = std::max(node.hi[k], hi[order_[i]][k]);
    }
  if (count <= 4) {
    node.first = first;
    node.count = count;
  } else {
    // Split at the median centre along the axis where the centres spread most.
    cv::Vec3d clo = cv::Vec3d::all(std::numeric_limits<double>::infinity()), chi = -clo;
    for (int i = first; i < first + count; ++i)
      for (int k = 0; k < 3; ++k) {
        const double c = 0.5 * (lo[order_[i]][k] + hi[order_[i]][k]);
        clo[k] = std::min(clo[k], c);
        chi[k] = std::max(chi[k], c);
      }
    int axis = 0;
    for (int k = 1; k < 3; ++k)
      if (chi[k] - clo[k] > chi[axis] - clo[axis]) axis = k;
    const int half = count / 2;
    std::nth_element(order_.begin() + first, order_.begin() + first + half, order_.begin() + first + count,
                     [&](int a, int b) {
                       const double ca = lo[a][axis] + hi[a][axis], cb = lo[b][axis] + hi[b][axis];
                       return ca < cb || (ca == cb && a < b);
                     });
    node.left = build(first, half, lo, hi);
    node.right = build(first + half, count - half, lo, hi);
  }
  nodes_[index] = node;
  return index;
}

bool PreparedScene::hit_primitive(int i, const cv::Vec3d& o, const cv::Vec3d& d, double& best, int& best_index,
                                  Hit& hit) const {
  const int np = int(planes_.size());
  double t;
  float u = 0, v = 0;
  if (i < np) {
    const Plane& p = planes_[i];
    const double den = p.n.dot(d);
    if (std::abs(den) < 1e-12) return false;
    t = (p.n_dot_origin - p.n.dot(o)) / den;
    if (!(t > 1e-6) || t > best || (t == best && i > best_index)) return false;
    const cv::Vec3d q = o + t * d - p.origin;
    const double qu = q.dot(p.axis_u), qv = q.dot(p.axis_v);
    if (p.disc) {
      if (qu * qu + qv * qv > p.half_u * p.half_u) return false;
    } else if (std::abs(qu) > p.half_u || std::abs(qv) > p.half_v) {
      return false;
    }
    u = float(qu);
    v = float(qv);
    hit.texture = p.texture;
    hit.light = 1.0f;
  } else {
    // |o + t d - c|^2 = R^2, the nearer root in front of the origin.
    const Ball& b = balls_[i - np];
    const cv::Vec3d oc = o - b.centre;
    const double A = d.dot(d), B = oc.dot(d), C = oc.dot(oc) - b.radius * b.radius;
    const double disc = B * B - A * C;
    if (disc < 0) return false;
    const double sq = std::sqrt(disc);
    t = (-B - sq) / A;
    if (!(t > 1e-6)) t = (-B + sq) / A;
    if (!(t > 1e-6) || t > best || (t == best && i > best_index)) return false;
    const cv::Vec3d n = (o + t * d - b.centre) * (1.0 / b.radius);
    u = float(b.radius * std::atan2(n[0], -n[2]));
    v = float(b.radius * std::asin(std::min(1.0, std::max(-1.0, n[1]))));
    hit.texture = b.texture;
    // Fixed light from above and behind the cameras: shading by the normal only, so both views
    // see the same colour at the same point.
    const cv::Vec3d light_dir(-0.35, -0.75, -0.56);
    hit.light = float(0.45 + 0.55 * std::max(0.0, n.dot(light_dir)));
  }
  best = t;
  best_index = i;
  hit.t = t;
  hit.u = u;
  hit.v = v;
  return true;
}

bool PreparedScene::trace(const cv::Vec3d& o, const cv::Vec3d& d, Hit& hit) const {
  double best = std::numeric_limits<double>::infinity();
  int best_index = -1;
  for (int i : large_) hit_primitive(i, o, d, best, best_index, hit);
  if (nodes_.empty()) return best_index >= 0;
  const cv::Vec3d inv(1.0 / d[0], 1.0 / d[1], 1.0 / d[2]);
  // Entry distance of the ray into a node's box, or +inf when it misses or enters beyond `best`.
  auto enter = [&](const Node& n) {
    double t0 = 0, t1 = best;
    for (int k = 0; k < 3; ++k) {
      // A ray parallel to a slab gives +-inf here, or NaN when it starts on the slab's face; a
      // NaN fails both comparisons and so constrains nothing (conservative: never misses a hit).
      const double a = (n.lo[k] - o[k]) * inv[k], b = (n.hi[k] - o[k]) * inv[k];
      const double near_t = a < b ? a : b, far_t = a < b ? b : a;
      if (near_t > t0) t0 = near_t;
      if (far_t < t1) t1 = far_t;
    }
    return t0 <= t1 ? t0 : std::numeric_limits<double>::infinity();
  };
  // Depth-first, nearer child first; a node whose box starts beyond the nearest hit so far is
  // skipped when it is popped. The tree's depth is log2 of the surface count, far below 64.
  struct Entry {
    int node;
    double t;
  };
  Entry stack[64];
  int top = 0;
  const double t_root = enter(nodes_[0]);
  if (t_root < std::numeric_limits<double>::infinity()) stack[top++] = {0, t_root};
  while (top > 0) {
    const Entry e = stack[--top];
    if (e.t > best) continue;
    const Node& n = nodes_[e.node];
    if (n.count > 0) {
      for (int i = n.first; i < n.first + n.count; ++i) hit_primitive(order_[i], o, d, best, best_index, hit);
      continue;
    }
    const double tl = enter(nodes_[n.left]), tr = enter(nodes_[n.right]);
    // Push the farther child first so the nearer one is searched first (and prunes more).
    const bool left_first = tl <= tr;
    const int near_child = left_first ? n.left : n.right, far_child = left_first ? n.right : n.left;
    const double t_near = std::min(tl, tr), t_far = std::max(tl, tr);
    if (t_far < std::numeric_limits<double>::infinity()) stack[top++] = {far_child, t_far};
    if (t_near < std::numeric_limits<double>::infinity()) stack[top++] = {near_child, t_near};
  }
  return best_index >= 0;
}

}  // namespace detail

RenderedView render(const Scene& scene, const PlacedCamera& camera, const RenderOptions& options) {
  options.validate();
  const cv::Size size = camera.model.size;
  if (size.width <= 0 || size.height <= 0) throw_invalid("render: the camera's image size must be positive");
  const int n = options.supersample;
  const detail::LensInverse lens(camera.model);
  const detail::PreparedScene prepared(scene);
  RenderedView out;
  out.linear_bgr.create(size, CV_32FC3);
  out.depth.create(size, CV_32F);
  out.points.create(size, CV_32FC3);
  const cv::Matx33d Rt = camera.R_cam_from_world.t();
  const cv::Vec3d origin = -(Rt * camera.t_cam_from_world);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // With an odd n the middle sample is the pixel centre: its hit gives the depth too.
  const int centre_sample = (n % 2 == 1) ? (n / 2) * n + n / 2 : -1;
  bool folded = false;

  parallel_rows(size.height, 4, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      cv::Vec3f* rgb = out.linear_bgr.ptr<cv::Vec3f>(r);
      float* depth = out.depth.ptr<float>(r);
      cv::Vec3f* pts = out.points.ptr<cv::Vec3f>(r);
      for (int c = 0; c < size.width; ++c) {
        cv::Vec3f acc(0, 0, 0);
        bool centre_hit = false;
        double centre_t = 0;
        cv::Vec3d centre_dir;
        for (int sy = 0, s = 0; sy < n; ++sy) {
          for (int sx = 0; sx < n; ++sx, ++s) {
            double x, y;
            if (!lens(c + (sx + 0.5) / n - 0.5, r + (sy + 0.5) / n - 0.5, x, y)) {
              folded = true;
              continue;
            }
            const cv::Vec3d d = Rt * cv::Vec3d(x, y, 1.0);
            detail::PreparedScene::Hit hit;
            if (prepared.trace(origin, d, hit)) {
              acc += prepared.shade(hit);
              if (s == centre_sample) {
                centre_hit = true;
                centre_t = hit.t;
                centre_dir = d;
              }
            }
          }
        }
        rgb[c] = acc * (1.0f / float(n * n));
        if (centre_sample < 0) {
          double x, y;
          if (lens(c, r, x, y)) {
            centre_dir = Rt * cv::Vec3d(x, y, 1.0);
            detail::PreparedScene::Hit hit;
            centre_hit = prepared.trace(origin, centre_dir, hit);
            centre_t = hit.t;
          } else {
            folded = true;
          }
        }
        if (centre_hit) {
          const cv::Vec3d X = origin + centre_t * centre_dir;
          const cv::Vec3d Xc = camera.R_cam_from_world * X + camera.t_cam_from_world;
          depth[c] = float(Xc[2]);
          pts[c] = cv::Vec3f(X);
        } else {
          depth[c] = nan;
          pts[c] = cv::Vec3f::all(nan);
        }
      }
    }
  });
  if (folded)
    throw_invalid("render: the lens distortion cannot be inverted over the whole image (it folds back); "
                  "use smaller distortion coefficients");
  return out;
}

void add_box(Scene& scene, const cv::Vec3d& centre, const cv::Vec3d& half, const cv::Vec3d& rotation,
             const std::vector<Texture>& faces) {
  if (faces.empty()) throw_invalid("add_box: give at least one face texture");
  if (!(half[0] > 0 && half[1] > 0 && half[2] > 0)) throw_invalid("add_box: half extents must be positive");
  cv::Mat Rm;
  cv::Rodrigues(rotation, Rm);
  const cv::Matx33d R(Rm);
  const cv::Vec3d ax[3] = {R * cv::Vec3d(1, 0, 0), R * cv::Vec3d(0, 1, 0), R * cv::Vec3d(0, 0, 1)};
  int k = 0;
  for (int i = 0; i < 3; ++i) {
    const int a = (i + 1) % 3, b = (i + 2) % 3;
    for (int sign = -1; sign <= 1; sign += 2) {
      Patch p;
      p.origin = centre + double(sign) * half[i] * ax[i];
      p.axis_u = ax[a];
      p.axis_v = ax[b];
      p.half_u = half[a];
      p.half_v = half[b];
      p.texture = faces[std::size_t(k++) % faces.size()];
      scene.patches.push_back(p);
    }
  }
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

Scene make_objects_scene(std::uint32_t seed, double near_mm, double far_mm) {
  if (!(near_mm > 0 && far_mm > 1.5 * near_mm))
    throw_invalid("make_objects_scene: need 0 < near_mm and far_mm > 1.5 * near_mm");
  std::mt19937 rng(seed * 2654435761u + 12345u);
  auto uni = [&](double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); };
  auto colour = [&] { return cv::Vec3f(float(uni(0.04, 0.9)), float(uni(0.04, 0.9)), float(uni(0.04, 0.9))); };
  auto tex = [&](TextureKind kind, double scale_mm) {
    Texture t;
    t.kind = kind;
    t.color_a = colour();
    t.color_b = colour();
    t.scale_mm = float(scale_mm);
    t.seed = std::uint32_t(rng());
    return t;
  };
  auto log_depth = [&](double lo, double hi) { return std::exp(uni(std::log(lo), std::log(hi))); };
  const cv::Vec3d ex(1, 0, 0), ey(0, 1, 0), ez(0, 0, 1);
  auto fronto = [&](double x, double y, double z, double hu, double hv, const Texture& t) {
    Patch p;
    p.origin = cv::Vec3d(x, y, z);
    p.axis_u = ex;
    p.axis_v = ey;
    p.half_u = hu;
    p.half_v = hv;
    p.texture = t;
    return p;
  };
  const double mid = std::sqrt(near_mm * far_mm);
  // The floor lies below the cameras from the near depth on; at 60 degrees of horizontal field
  // of view and 4:3 (or wider) the bottom image row meets it beyond the near depth.
  const double floor_y = 0.45 * near_mm;
  Scene s;

  // Back wall: fine natural texture everywhere behind.
  s.patches.push_back(fronto(0, 0, far_mm, 2 * far_mm, 2 * far_mm, tex(TextureKind::Noise, 0.025 * far_mm)));
  // Floor from the near depth to the wall: tiles whose disparity falls off with the row.
  {
    Patch p;
    p.origin = cv::Vec3d(0, floor_y, 0.5 * (near_mm + far_mm));
    p.axis_u = ex;
    p.axis_v = ez;
    p.half_u = 2 * far_mm;
    p.half_v = 0.5 * (far_mm - near_mm);
    p.texture = tex(TextureKind::Checker, 0.06 * mid);
    s.patches.push_back(p);
  }
  // A plane slanted about a vertical axis (left) and one leaning back about a horizontal axis.
  {
    const double z = log_depth(mid, 0.8 * far_mm), th = uni(0.5, 0.8);
    Patch p;
    p.origin = cv::Vec3d(uni(-0.42, -0.3) * z, uni(-0.25, -0.1) * z, z);
    p.axis_u = cv::Vec3d(std::cos(th), 0, -std::sin(th));
    p.axis_v = ey;
    p.half_u = 0.16 * z;
    p.half_v = 0.14 * z;
    p.texture = tex(TextureKind::Stripes, 0.01 * z);
    s.patches.push_back(p);
  }
  {
    const double z = log_depth(mid, 0.8 * far_mm), th = uni(0.6, 0.9);
    Patch p;
    p.origin = cv::Vec3d(uni(0.28, 0.4) * z, uni(-0.28, -0.16) * z, z);
    p.axis_u = ex;
    p.axis_v = cv::Vec3d(0, std::cos(th), std::sin(th));
    p.half_u = 0.12 * z;
    p.half_v = 0.12 * z;
    p.texture = tex(TextureKind::Noise, 0.012 * z);
    s.patches.push_back(p);
  }
  // A flat, untextured panel (low texture) and a resolution chart (fine detail).
  {
    const double z = log_depth(mid, 0.85 * far_mm);
    Texture t = tex(TextureKind::Flat, 1.0);
    s.patches.push_back(fronto(uni(-0.1, 0.1) * z, uni(-0.3, -0.22) * z, z, 0.2 * z, 0.08 * z, t));
  }
  {
    const double z = log_depth(1.4 * near_mm, mid);
    Texture t = tex(TextureKind::Bars, 0.006 * z);
    t.color_a = cv::Vec3f(0.85f, 0.85f, 0.85f) * float(uni(0.7, 1.0));
    t.color_b = cv::Vec3f(0.03f, 0.03f, 0.03f);
    // u runs from -0.12 z to 0.12 z: bars of period 0.006 z on the left half, then ever finer
    // to 0.0012 z at the right edge.
    s.patches.push_back(fronto(uni(-0.2, -0.1) * z, uni(-0.1, 0.0) * z, z, 0.12 * z, 0.05 * z, t));
  }
  // A colour chart: 4 x 6 flat squares with sharp colour edges, on a dark board just behind.
  {
    const double z = log_depth(mid, 0.75 * far_mm);
    const double cx = uni(0.05, 0.2) * z, cy = uni(0.0, 0.1) * z, sq = 0.022 * z, gap = 0.005 * z;
    Texture board = tex(TextureKind::Flat, 1.0);
    board.color_a = cv::Vec3f(0.02f, 0.02f, 0.025f);
    s.patches.push_back(fronto(cx, cy, z * 1.002, 3 * (sq + gap) + gap, 2 * (sq + gap) + gap, board));
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 6; ++j) {
        Texture t = tex(TextureKind::Flat, 1.0);
        s.patches.push_back(fronto(cx + (j - 2.5) * (2 * sq + gap), cy + (i - 1.5) * (2 * sq + gap), z, sq, sq, t));
      }
  }
  // Boxes standing on the floor at several depths.
  const TextureKind box_kinds[3] = {TextureKind::Checker, TextureKind::Noise, TextureKind::Flat};
  for (int b = 0; b < 3; ++b) {
    const double z = log_depth(1.3 * near_mm, 0.6 * far_mm);
    const double h = uni(0.05, 0.1) * z, w = uni(0.05, 0.09) * z;
    std::vector<Texture> faces;
    for (int f = 0; f < 3; ++f) faces.push_back(tex(box_kinds[(b + f) % 3], 0.01 * z));
    add_box(s, cv::Vec3d(uni(-0.45, 0.45) * z, floor_y - h, z), cv::Vec3d(w, h, w), cv::Vec3d(0, uni(-0.7, 0.7), 0),
            faces);
  }
  // Spheres resting on the floor: curved surfaces, smooth disparity, shading.
  for (int b = 0; b < 2; ++b) {
    const double z = log_depth(1.2 * near_mm, 0.5 * far_mm);
    const double R = uni(0.05, 0.09) * z;
    s.spheres.push_back({cv::Vec3d(uni(-0.4, 0.4) * z, floor_y - R, z), R,
                         tex(b == 0 ? TextureKind::Noise : TextureKind::Rings, 0.015 * z)});
  }
  // Thin poles from the floor up: occlusion edges a few pixels wide.
  for (int b = 0; b < 2; ++b) {
    const double z = log_depth(1.5 * near_mm, 0.7 * far_mm);
    const double top = -uni(0.1, 0.4) * z;
    s.patches.push_back(fronto(uni(-0.5, 0.5) * z, 0.5 * (floor_y + top), z, 0.006 * z, 0.5 * (floor_y - top),
                               tex(TextureKind::Flat, 1.0)));
  }
  // A ringed disc at the near depth (the largest disparity), part in front of everything.
  {
    Patch p = fronto(uni(0.15, 0.3) * near_mm, uni(-0.2, 0.0) * near_mm, near_mm, 0.09 * near_mm, 0.09 * near_mm,
                     tex(TextureKind::Rings, 0.01 * near_mm));
    p.disc = true;
    s.patches.push_back(p);
  }
  return s;
}

SceneKind parse_scene_kind(const std::string& name) {
  if (name == "layered") return SceneKind::Layered;
  if (name == "objects") return SceneKind::Objects;
  throw_invalid("unknown scene '" + name + "' (choose layered or objects)");
}

const char* to_string(SceneKind kind) { return kind == SceneKind::Layered ? "layered" : "objects"; }

Scene make_scene(SceneKind kind, std::uint32_t seed, double near_mm, double far_mm) {
  return kind == SceneKind::Layered ? make_layered_scene(seed, near_mm, far_mm)
                                    : make_objects_scene(seed, near_mm, far_mm);
}

}  // namespace dualcam::datasets
