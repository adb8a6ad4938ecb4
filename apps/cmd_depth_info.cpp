// dualcam depth-info: what a depth photo carries; and the depth-photo output of fuse and bokeh
// (--embed-depth), which both write through write_depth_jpeg below.
#include <cmath>
#include <cstdio>
#include <memory>

#include "common.hpp"
#include "dualcam/engine/color.hpp"
#include "dualcam/engine/depth_photo.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/file_util.hpp"
#include "dualcam/engine/image_io.hpp"

namespace dualcam::app {

void check_embed_depth_output(const std::string& path) {
  const std::string ext = lower_extension(path);
  if (ext != "jpg" && ext != "jpeg")
    throw_invalid("--embed-depth writes a JPEG depth photo: name the output OUT.jpg (got '" + path + "')");
}

double rig_disparity_scale(const StereoRig* rig, bool mono_view) {
  if (!rig) return 0.0;
  const CameraModel& cam = mono_view ? rig->mono : rig->color;
  return cam.K(0, 0) * rig->baseline();
}

void write_depth_jpeg(const std::string& path, const DepthJpeg& in) {
  DepthPhoto photo;
  photo.primary = encode_jpeg(to_srgb(in.primary_linear, CV_8U));
  DepthEncodeOptions eo;
  eo.disparity_scale = in.disparity_scale;
  eo.confidence = in.confidence;
  photo.depth = encode_disparity(in.disparity, eo);
  if (!in.all_in_focus_linear.empty()) {
    photo.image = encode_jpeg(to_srgb(in.all_in_focus_linear, CV_8U));
    photo.image_mime = "image/jpeg";
  }
  if (in.bokeh) {
    const fusion::BokehOptions& b = *in.bokeh;
    const DepthMapData& m = *photo.depth;
    DepthPhotoFocus f;
    f.focal_distance = depth_of_disparity(m, b.focus_disparity_px);
    // the blur radius at infinite depth (disparity = the offset), as the renderer gives it
    const double inf_d = m.disparity_offset.value_or(0.0);
    const double r = std::min(b.max_blur_px,
                              std::max(0.0, b.blur_per_disparity * std::abs(inf_d - b.focus_disparity_px) -
                                                b.focus_tolerance_px));
    f.blur_at_infinity = r / in.primary_linear.cols;
    if (in.focus_point) {
      f.focal_point_x = (in.focus_point->x + 0.5) / in.primary_linear.cols;
      f.focal_point_y = (in.focus_point->y + 0.5) / in.primary_linear.rows;
    }
    if (!std::isfinite(f.focal_distance) || f.focal_distance <= 0) f.focal_distance = m.far;  // focus beyond the range
    photo.focus = f;
  }
  write_depth_photo(path, photo);
}

namespace {

void print_human(const std::string& path, const DepthPhoto& p) {
  const cv::Size ps = peek_image_size(p.primary.data(), p.primary.size());
  std::printf("%s: primary JPEG %dx%d\n", path.c_str(), ps.width, ps.height);
  if (!p.depth) {
    std::printf("depth: none (no GDepth or Dynamic Depth metadata)\n");
    return;
  }
  const DepthMapData& m = *p.depth;
  const cv::Size ds = peek_image_size(m.data.data(), m.data.size());
  std::printf("container: %s\n", p.container.c_str());
  std::printf("depth: %s, near %.6g, far %.6g%s, %s %dx%d (%zu bytes)\n", to_string(m.format), m.near, m.far,
              m.units.empty() ? (m.metric ? " (the rig's units)" : " (relative)") : (" " + m.units).c_str(),
              m.mime.c_str(), ds.width, ds.height, m.data.size());
  if (m.disparity_scale)
    std::printf("disparity: d = %.9g / Z + %.9g px (dualcam)\n", *m.disparity_scale, m.disparity_offset.value_or(0.0));
  if (!m.confidence.empty()) std::printf("confidence: %s (%zu bytes)\n", m.confidence_mime.c_str(), m.confidence.size());
  if (!p.image.empty()) {
    const cv::Size is = peek_image_size(p.image.data(), p.image.size());
    std::printf("all-in-focus image (GImage): %s %dx%d (%zu bytes)\n", p.image_mime.c_str(), is.width, is.height,
                p.image.size());
  }
  if (p.focus) {
    std::printf("focus (GFocus): focal distance %.6g, blur at infinity %.6g of the width", p.focus->focal_distance,
                p.focus->blur_at_infinity);
    if (p.focus->focal_point_x && p.focus->focal_point_y)
      std::printf(", focal point %.4f, %.4f", *p.focus->focal_point_x, *p.focus->focal_point_y);
    std::printf("\n");
  }
}

}  // namespace

Command register_depth_info(CLI::App& root) {
  auto path = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  CLI::App* app = root.add_subcommand("depth-info", "what a depth photo (GDepth or Dynamic Depth JPEG) carries");
  app->add_option("photo", *path, "the JPEG")->required();
  app->add_flag("--json", *json, "print JSON instead of lines");
  app->footer(example("dualcam depth-info portrait.jpg --json"));
  Action action = [path, json]() -> int {
    const DepthPhoto p = read_depth_photo(*path);
    if (*json) {
      Json j = depth_photo_json(p);
      j["file"] = *path;
      std::printf("%s\n", j.dump(2).c_str());
    } else {
      print_human(*path, p);
    }
    return 0;
  };
  return {app, action};
}

}  // namespace dualcam::app
