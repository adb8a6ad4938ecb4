#pragma once
// A procedural 3-D scene and a ray-casting renderer with exact ground truth.
//
// World frame = the mono camera's frame (x right, y down, z forward, millimetres). A scene is a
// list of flat textured patches (rectangles or discs on planes, fronto-parallel or slanted) and
// spheres; the nearest surface along a ray is seen. Textures are functions of the surface's own
// (u, v) coordinates in mm, so both cameras see exactly the same surface. Surfaces are
// Lambertian-like (no view-dependent shading), so the same point has the same colour in both
// views: the basis of the self-consistency of the truth.
//
// Rays are cast through the camera's full OpenCV lens model (k1 k2 p1 p2 k3 [k4 k5 k6 ...]):
// the ray of a pixel is the exact inverse of cv::projectPoints (lens.hpp), so a rendered surface
// point projects back to its pixel.
#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "dualcam/engine/rig.hpp"

namespace dualcam::datasets {

enum class TextureKind {
  Flat,        // one colour (low-texture area)
  Stripes,     // fine colour stripes at `scale_mm` period
  Checker,     // colour checkerboard, squares of `scale_mm`
  Noise,       // smooth value noise with fine grain (natural-looking detail)
  Rings,       // concentric rings (all orientations of detail)
  Bars,        // line pairs whose period shrinks along u from `scale_mm` to a fifth of it
               // (a resolution chart: the finest detail a sensor can resolve)
};

struct Texture {
  TextureKind kind = TextureKind::Noise;
  cv::Vec3f color_a{0.6f, 0.4f, 0.2f};  // linear BGR
  cv::Vec3f color_b{0.1f, 0.2f, 0.5f};  // linear BGR
  float scale_mm = 4.0f;
  std::uint32_t seed = 1;
  cv::Vec3f sample(float u, float v) const;
};

struct Patch {
  cv::Vec3d origin;   // a point on the plane (mm, world frame)
  cv::Vec3d axis_u;   // unit vector along the patch's u axis
  cv::Vec3d axis_v;   // unit vector along v (orthogonal to axis_u)
  bool disc = false;  // disc of radius `half_u` around origin, else rectangle
  double half_u = 1e9, half_v = 1e9;  // half extents (mm)
  Texture texture;
};

// A sphere; texture (u, v) = (radius * longitude, radius * latitude) in mm.
struct Sphere {
  cv::Vec3d centre;
  double radius = 1;
  Texture texture;
};

struct Scene {
  std::vector<Patch> patches;
  std::vector<Sphere> spheres;
};

// Adds the six faces of a box (centre, half extents along its own axes, rotated by the rotation
// vector `rotation` (radians) about its centre), each face with its own texture (taken in turn
// from `faces`, which must not be empty).
void add_box(Scene& scene, const cv::Vec3d& centre, const cv::Vec3d& half_extents, const cv::Vec3d& rotation,
             const std::vector<Texture>& faces);

// A camera placed in the world: intrinsics + pose (camera_from_world).
struct PlacedCamera {
  CameraModel model;
  cv::Matx33d R_cam_from_world = cv::Matx33d::eye();
  cv::Vec3d t_cam_from_world{0, 0, 0};
};

struct RenderOptions {
  int supersample = 3;  // n x n samples per pixel (anti-aliasing)
  void validate() const;
};

struct RenderedView {
  cv::Mat linear_bgr;  // CV_32FC3, linear light (clean, no sensor noise)
  cv::Mat depth;       // CV_32F, z of the surface point in the camera frame (mm); NaN where nothing
  cv::Mat points;      // CV_32FC3, world coordinates of the surface point at the pixel centre
};

RenderedView render(const Scene& scene, const PlacedCamera& camera, const RenderOptions& options = {});

// The mono and colour cameras of a rig placed in the world (world = mono frame).
PlacedCamera mono_camera(const StereoRig& rig);
PlacedCamera color_camera(const StereoRig& rig);

// A deterministic scene of textured planes at several depths, a slanted plane, a disc and
// low-texture areas, framed for a camera looking down +z with depths in [near_mm, far_mm].
// (The embedded sample's scene: kept as it is so the sample keeps its layout.)
Scene make_layered_scene(std::uint32_t seed, double near_mm, double far_mm);

// A richer deterministic scene for the simulator, framed for a camera looking down +z with a
// horizontal field of view up to about 70 degrees, a 4:3 or wider image (in taller ones the
// bottom rows look under the floor's near edge onto the wall) and depths in [near_mm, far_mm]: a textured back wall, a
// tiled floor receding from near to far (a slanted surface with a depth gradient), a plane
// slanted about a vertical axis and one about a horizontal axis, boxes and spheres at several
// depths (occlusion edges at every depth step), thin poles, a resolution chart (fine detail), a
// colour chart (sharp colour edges) and flat, untextured panels (low-texture areas). Every
// placement, colour and texture comes from `seed`.
Scene make_objects_scene(std::uint32_t seed, double near_mm, double far_mm);

enum class SceneKind { Layered, Objects };
// "layered" / "objects"; throws Error(InvalidInput) naming the choices otherwise.
SceneKind parse_scene_kind(const std::string& name);
const char* to_string(SceneKind kind);
Scene make_scene(SceneKind kind, std::uint32_t seed, double near_mm, double far_mm);

}  // namespace dualcam::datasets
