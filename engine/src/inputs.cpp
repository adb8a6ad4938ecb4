#include "dualcam/engine/inputs.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>

#include <opencv2/imgproc.hpp>
#include <tbb/parallel_invoke.h>

#include "dualcam/engine/error.hpp"
#include "dualcam/engine/file_util.hpp"

namespace dualcam {

void InputOptions::validate() const {
  check_range("InputOptions::max_pixels", double(max_pixels), 0.0, 1e13);
  check_range("InputOptions::mono_max_mean_difference", mono_max_mean_difference, 0.0, 255.0);
  check_range("InputOptions::mono_outlier_difference", mono_outlier_difference, 0.0, 255.0);
  check_range("InputOptions::mono_max_outlier_share", mono_max_outlier_share, 0.0, 1.0);
  raw.mono.validate();
  raw.color.validate();
  raw_finish.validate();
}

Json MonoConversion::to_json() const {
  return Json{{"from_rgb", from_rgb},
              {"mean_channel_difference", mean_difference},
              {"max_channel_difference", max_difference},
              {"outlier_share", outlier_share}};
}

namespace {

std::string fmt(double v, const char* f = "%.2f") {
  char buf[32];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

template <typename T>
MonoConversion channel_differences(const cv::Mat& bgr, double outlier_level, double to_8bit) {
  MonoConversion c;
  c.from_rgb = true;
  const int outlier = int(outlier_level / to_8bit);
  double sum = 0;
  int worst = 0;
  long long outliers = 0;
  for (int y = 0; y < bgr.rows; ++y) {
    const T* p = bgr.ptr<T>(y);
    for (int x = 0; x < bgr.cols; ++x, p += 3) {
      const int hi = std::max({int(p[0]), int(p[1]), int(p[2])});
      const int lo = std::min({int(p[0]), int(p[1]), int(p[2])});
      const int d = hi - lo;
      sum += d;
      worst = std::max(worst, d);
      outliers += d > outlier;
    }
  }
  const double n = double(bgr.total());
  c.mean_difference = sum / n * to_8bit;
  c.max_difference = worst * to_8bit;
  c.outlier_share = double(outliers) / n;
  return c;
}

}  // namespace

cv::Mat mono_from_image(const cv::Mat& decoded, const std::string& what, const InputOptions& o,
                        MonoConversion* conversion) {
  o.validate();
  if (decoded.empty()) throw_invalid("the mono image " + what + " is empty");
  if (decoded.depth() != CV_8U && decoded.depth() != CV_16U)
    throw_invalid("the mono image " + what + " must be 8- or 16-bit");
  if (conversion) *conversion = MonoConversion{};
  if (decoded.channels() == 1) return decoded;
  if (decoded.channels() != 3)
    throw_invalid("the mono image " + what + " has " + std::to_string(decoded.channels()) + " channels; expected 1 or 3");
  const MonoConversion c = decoded.depth() == CV_8U
                               ? channel_differences<std::uint8_t>(decoded, o.mono_outlier_difference, 1.0)
                               : channel_differences<std::uint16_t>(decoded, o.mono_outlier_difference, 1.0 / 257.0);
  if (c.mean_difference > o.mono_max_mean_difference || c.outlier_share > o.mono_max_outlier_share)
    throw_invalid("the mono image " + what + " has colour in it (its channels differ by " + fmt(c.mean_difference) +
                  " levels on average, " + fmt(100 * c.outlier_share, "%.3f") + " % of pixels by more than " +
                  fmt(o.mono_outlier_difference, "%.0f") + "; a grey image stored as RGB is accepted up to " +
                  fmt(o.mono_max_mean_difference) + " and " + fmt(100 * o.mono_max_outlier_share, "%.3f") +
                  " %); expected a grey image");
  if (conversion) *conversion = c;
  cv::Mat grey;
  cv::cvtColor(decoded, grey, cv::COLOR_BGR2GRAY);
  return grey;
}

cv::Mat color_from_image(const cv::Mat& decoded, const std::string& what) {
  if (decoded.empty()) throw_invalid("the colour image " + what + " is empty");
  if (decoded.depth() != CV_8U && decoded.depth() != CV_16U)
    throw_invalid("the colour image " + what + " must be 8- or 16-bit");
  if (decoded.channels() != 3)
    throw_invalid("the colour image " + what + " has " + std::to_string(decoded.channels()) +
                  " channel(s); expected 3 (colour)");
  return decoded;
}

namespace {

// Runs both cameras' work at once (reading and developing a frame is serial in parts: LibRaw,
// PNG decoding) and rethrows the mono's error first, as a sequential run would report it.
template <typename Mono, typename Color>
void both_cameras(Mono&& mono, Color&& color) {
  std::exception_ptr mono_error, color_error;
  tbb::parallel_invoke(
      [&] {
        try {
          mono();
        } catch (...) {
          mono_error = std::current_exception();
        }
      },
      [&] {
        try {
          color();
        } catch (...) {
          color_error = std::current_exception();
        }
      });
  if (mono_error) std::rethrow_exception(mono_error);
  if (color_error) std::rethrow_exception(color_error);
}

bool is_raw_input(const std::string& path, const RawLayout& layout) {
  const std::string ext = lower_extension(path);
  return is_raw_file(path) || (layout.cfa != CfaPattern::None && (ext == "png" || ext == "tif" || ext == "tiff"));
}

// One camera's raw frame from a file, developed into 16-bit sRGB.
cv::Mat developed_raw(const std::string& path, const RawLayout& layout, const InputOptions& o, bool mono, Json* info,
                      cv::Mat* linear, RawFrame* frame) {
  if (lower_extension(path) == "raw" && (layout.width <= 0 || layout.bits <= 0))
    throw_invalid("'" + path + "' is a headerless raw frame: give its size and bits with --raw-layout FILE " +
                  "(docs: README, raw frames)");
  const RawFrame f = read_raw(path, layout);
  if (o.max_pixels > 0 && std::int64_t(f.samples.total()) > o.max_pixels)
    throw_invalid("refusing raw frame '" + path + "': " + std::to_string(f.samples.cols) + "x" +
                  std::to_string(f.samples.rows) + " pixels, more than the max_pixels limit of " + std::to_string(o.max_pixels));
  if (info) *info = f.to_json();
  cv::Mat developed = develop_camera_frame(f, mono, "'" + path + "'", o, linear);
  if (frame) *frame = f;
  return developed;
}

}  // namespace

cv::Mat develop_camera_frame(const RawFrame& f, bool mono, const std::string& what, const InputOptions& o,
                             cv::Mat* linear) {
  if (f.samples.empty() || f.samples.type() != CV_16UC1)
    throw_invalid("the raw frame " + what + " has no samples (expected CV_16UC1)");
  if (mono && !f.mono())
    throw_invalid(what + ": the mono camera's raw frame has a Bayer pattern (" + std::string(to_string(f.cfa)) +
                  "): it is a colour sensor's frame");
  if (!mono && f.mono())
    throw_invalid(what + ": the colour camera's raw frame has no Bayer pattern (a mono sensor's frame, or its "
                  "layout lacks the bayer key)");
  FinishOptions fo = o.raw_finish;
  fo.bits = 16;
  fo.exposure = o.raw_finish.exposure * std::exp2(f.baseline_exposure_ev);
  // The linear signal is the exposed one the encoding starts from, made in the same pass.
  return finish_image(develop_linear(f, fo), fo, linear);
}

cv::Mat read_camera_file(const std::string& path, bool mono, const InputOptions& o, Json* raw_info, cv::Mat* linear,
                         RawFrame* frame) {
  const RawLayout& layout = mono ? o.raw.mono : o.raw.color;
  if (linear) *linear = cv::Mat();
  if (frame) *frame = RawFrame{};
  if (is_raw_input(path, layout)) return developed_raw(path, layout, o, mono, raw_info, linear, frame);
  ImageReadOptions ro;
  ro.max_pixels = o.max_pixels;
  return read_image(path, ro);
}

CameraPair read_camera_pair(const std::string& mono_path, const std::string& color_path, const InputOptions& o) {
  o.validate();
  CameraPair p;
  Json mono_raw, color_raw;
  both_cameras(
      [&] {
        p.mono = mono_from_image(read_camera_file(mono_path, true, o, &mono_raw, &p.mono_linear, &p.mono_frame),
                                 "'" + mono_path + "'", o, &p.mono_conversion);
      },
      [&] {
        p.color = color_from_image(read_camera_file(color_path, false, o, &color_raw, &p.color_linear, &p.color_frame),
                                   "'" + color_path + "'");
      });
  if (!mono_raw.is_null()) p.raw_frames["mono"] = mono_raw;
  if (!color_raw.is_null()) p.raw_frames["color"] = color_raw;
  return p;
}

CameraPair camera_pair(const cv::Mat& mono, const cv::Mat& color, const InputOptions& o) {
  CameraPair p;
  p.mono = mono_from_image(mono, "(mono)", o, &p.mono_conversion);
  p.color = color_from_image(color, "(colour)");
  return p;
}

CameraPair camera_pair(const RawFrame& mono, const RawFrame& color, const InputOptions& o) {
  o.validate();
  CameraPair p;
  both_cameras(
      [&] {
        p.mono = mono_from_image(develop_camera_frame(mono, true, "(mono)", o, &p.mono_linear), "(mono)", o,
                                 &p.mono_conversion);
      },
      [&] { p.color = color_from_image(develop_camera_frame(color, false, "(colour)", o, &p.color_linear), "(colour)"); });
  p.raw_frames["mono"] = mono.to_json();
  p.raw_frames["color"] = color.to_json();
  p.mono_frame = mono;
  p.color_frame = color;
  return p;
}

}  // namespace dualcam
