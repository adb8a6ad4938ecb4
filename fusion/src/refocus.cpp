#include "dualcam/fusion/refocus.hpp"

#include <opencv2/imgproc.hpp>

#include "dualcam/engine/error.hpp"
#include "dualcam/fusion/refine.hpp"

namespace dualcam::fusion {

void RefocusOptions::validate() const {
  if (focus_point.has_value() == focus_disparity_px.has_value())
    throw_invalid("RefocusOptions: give exactly one of focus_point and focus_disparity_px");
  if (f_number.has_value() == max_blur_px.has_value())
    throw_invalid("RefocusOptions: give exactly one of f_number and max_blur_px");
  check_range("RefocusOptions::focus_window", focus_window, 0, 100);
  if (f_number) check_range("RefocusOptions::f_number", *f_number, 0.5, 64.0);
  if (max_blur_px) check_range("RefocusOptions::max_blur_px", *max_blur_px, 0.0, 512.0);
  check_range("RefocusOptions::pixel_pitch_um", pixel_pitch_um, 0.1, 100.0);
  check_range("RefocusOptions::highlight_gain", highlight_gain, 1.0, 1000.0);
}

BokehOptions resolve_refocus(const RefocusOptions& o, const cv::Mat& disparity, const StereoRig* rig, Reference view) {
  o.validate();
  if (o.f_number && !rig) throw_invalid("RefocusOptions::f_number needs the rig (focal length and baseline)");
  BokehOptions bo;
  bo.aperture = o.aperture;
  bo.highlight_gain = o.highlight_gain;
  bo.focus_disparity_px =
      o.focus_point ? focus_disparity_at(disparity, *o.focus_point, o.focus_window) : *o.focus_disparity_px;
  if (o.f_number) {
    // The focal length of the camera whose view the image is: the disparity is in its pixels.
    const CameraModel& cam = view == Reference::Mono ? rig->mono : rig->color;
    bo.blur_per_disparity = blur_per_disparity_from_f_number(*o.f_number, cam.K(0, 0), o.pixel_pitch_um, rig->baseline());
  } else {
    bo.max_blur_px = *o.max_blur_px;
    bo.blur_per_disparity = blur_per_disparity_for_max_blur(disparity, bo.focus_disparity_px, *o.max_blur_px);
  }
  bo.validate();
  return bo;
}

namespace {

BokehResult render(cv::Mat image, cv::Mat disparity, const StereoRig* rig, Reference view, const RefocusOptions& r) {
  BokehResult res;
  res.bokeh = resolve_refocus(r, disparity, rig, view);
  res.image = render_bokeh(image, disparity, res.bokeh, &res.stats);
  res.sharp = std::move(image);
  res.disparity = std::move(disparity);
  return res;
}

}  // namespace

BokehResult bokeh_from_pair(const FuseInput& input, FuseOptions fuse_options, const RefocusOptions& refocus,
                            int edge_snap_radius, Progress* progress) {
  refocus.validate();
  fuse_options.refine.edge_snap_radius = edge_snap_radius;
  FuseResult f = fuse(input, fuse_options, progress);
  BokehResult res = render(std::move(f.image), std::move(f.disparity), input.rig, fuse_options.reference, refocus);
  res.fuse_stats = std::move(f.stats);
  return res;
}

BokehResult bokeh_from_image(const cv::Mat& image_linear, const cv::Mat& disparity, const StereoRig* rig,
                             Reference view, const RefocusOptions& refocus, int refine_radius) {
  refocus.validate();
  if (image_linear.empty() || image_linear.depth() != CV_32F ||
      (image_linear.channels() != 1 && image_linear.channels() != 3))
    throw_invalid("bokeh_from_image: the image must be CV_32FC3 (or CV_32FC1) linear light");
  if (disparity.empty() || disparity.type() != CV_32FC1)
    throw_invalid("bokeh_from_image: the disparity must be a 1-channel float map");
  if (disparity.size() != image_linear.size())
    throw_invalid("bokeh_from_image: the disparity is " + std::to_string(disparity.cols) + "x" +
                  std::to_string(disparity.rows) + " but the image is " + std::to_string(image_linear.cols) + "x" +
                  std::to_string(image_linear.rows));
  cv::Mat image = image_linear;
  if (image.channels() == 1) cv::cvtColor(image, image, cv::COLOR_GRAY2BGR);
  cv::Mat d = refine_radius > 0 ? refine_view_disparity(disparity, image, refine_radius) : disparity;
  return render(image, d, rig, view, refocus);
}

}  // namespace dualcam::fusion
