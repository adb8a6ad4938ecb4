#pragma once
// Internal to dualcam::datasets: the pieces of the ray caster shared by the pinhole renderer
// (scene.cpp) and the thin-lens renderer (defocus.cpp). Not installed.
#include <cstdint>
#include <vector>

#include <opencv2/core.hpp>

#include "dualcam/datasets/lens.hpp"
#include "dualcam/datasets/scene.hpp"

namespace dualcam::datasets::detail {

// The lens model every ray is cast through (public: the board renderer uses it too).
using datasets::LensInverse;

// A scene with per-surface quantities precomputed for fast tracing.
class PreparedScene {
 public:
  explicit PreparedScene(const Scene& scene);
  struct Hit {
    double t = 0;  // distance along the ray (in units of |dir|)
    float u = 0, v = 0;
    float light = 1;  // view-independent shading (spheres), 1 on planes
    const Texture* texture = nullptr;
  };
  // Nearest surface along the ray o + t d, t > 0; false when the ray escapes.
  bool trace(const cv::Vec3d& o, const cv::Vec3d& d, Hit& hit) const;
  cv::Vec3f shade(const Hit& hit) const { return hit.texture->sample(hit.u, hit.v) * hit.light; }

 private:
  struct Plane {
    cv::Vec3d n, origin, axis_u, axis_v;
    double n_dot_origin;
    bool disc;
    double half_u, half_v;
    const Texture* texture;
  };
  struct Ball {
    cv::Vec3d centre;
    double radius;
    const Texture* texture;
  };
  // A bounding volume hierarchy over all surfaces (axis-aligned boxes, median split): a ray
  // visits the few boxes it crosses instead of every surface. Ties in distance go to the surface
  // listed first, as with a plain scan, so the image does not depend on the tree.
  struct Node {
    cv::Vec3d lo, hi;
    int left = -1, right = -1;  // children (inner node)
    int first = 0, count = 0;   // range in order_ (leaf when count > 0)
  };
  bool hit_primitive(int index, const cv::Vec3d& o, const cv::Vec3d& d, double& best, int& best_index,
                     Hit& hit) const;
  int build(int first, int count, const std::vector<cv::Vec3d>& lo, const std::vector<cv::Vec3d>& hi);
  std::vector<Plane> planes_;
  std::vector<Ball> balls_;
  std::vector<int> order_;  // primitive indices in the tree: planes 0..P-1, then balls P..
  std::vector<int> large_;  // walls and floors: tested directly, they would bloat every box
  std::vector<Node> nodes_;
};

// A deterministic hash of integers to [0, 1): per-pixel sample patterns that do not depend on
// the thread count or the order of evaluation.
inline std::uint32_t hash_u32(std::uint32_t a, std::uint32_t b, std::uint32_t c) {
  std::uint32_t h = a * 0x9E3779B1u ^ (b + 0x7F4A7C15u) * 0x85EBCA77u ^ (c + 0x165667B1u) * 0xC2B2AE3Du;
  h ^= h >> 16;
  h *= 0x7feb352du;
  h ^= h >> 15;
  h *= 0x846ca68bu;
  h ^= h >> 16;
  return h;
}
inline double hash01(std::uint32_t a, std::uint32_t b, std::uint32_t c) {
  return double(hash_u32(a, b, c) >> 8) * (1.0 / 16777216.0);
}

}  // namespace dualcam::datasets::detail
