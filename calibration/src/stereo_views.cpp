#include "dualcam/calibration/stereo_views.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <filesystem>

#include <tbb/parallel_for.h>

#include "dualcam/engine/inputs.hpp"
#include "dualcam/engine/error.hpp"

namespace fs = std::filesystem;

namespace dualcam::calibration {
namespace {

std::string size_text(cv::Size s) { return std::to_string(s.width) + "x" + std::to_string(s.height); }

void check_image(const cv::Mat& image, const std::string& what) {
  if (image.empty()) throw_invalid(what + " is empty");
  if (image.depth() != CV_8U && image.depth() != CV_16U)
    throw_invalid(what + " must be 8- or 16-bit, got " + cv::typeToString(image.type()));
  if (image.channels() != 1 && image.channels() != 3)
    throw_invalid(what + " must have 1 or 3 channels, got " + std::to_string(image.channels()));
}

// f(i) for every pair in parallel; then the error of the first pair that failed, if any, so the
// error does not depend on the thread count or timing.
template <typename F>
void for_each_pair(std::size_t n, F&& f) {
  std::vector<std::exception_ptr> errors(n);
  tbb::parallel_for(std::size_t(0), n, [&](std::size_t i) {
    try {
      f(i);
    } catch (...) {
      errors[i] = std::current_exception();
    }
  });
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
}

// Every image of one camera must have the first one's size; what[i] names image i.
void check_sizes(const std::vector<cv::Size>& sizes, const std::vector<std::string>& what, const std::string& first) {
  for (std::size_t i = 1; i < sizes.size(); ++i)
    if (sizes[i] != sizes[0])
      throw_invalid(what[i] + " is " + size_text(sizes[i]) + " but " + first + " is " + size_text(sizes[0]));
}

// The checks after the detection, common to both entry points: image sizes (names[i] and
// first_name say where image i and the first pair came from), the board found somewhere, the
// unusable views.
void finish(StereoViewSet& set, const BoardSpec& board, const std::vector<cv::Size>& mono_sizes,
            const std::vector<cv::Size>& color_sizes, const std::vector<std::string>& mono_names,
            const std::vector<std::string>& color_names, const std::string& first_name) {
  check_sizes(mono_sizes, mono_names, first_name);
  check_sizes(color_sizes, color_names, first_name);
  bool found = false;
  for (const auto& v : set.views) found = found || v.mono.found || v.color.found;
  if (!found) {
    // The spec is probably wrong.
    const Detection& first = set.views[0].mono;
    throw Error(ErrorCategory::Calibration,
                (first.reason.empty() ? "board not found" : first.reason) + " in any of the " +
                    std::to_string(set.views.size()) + " image pairs (board " + board.to_string() + "; COLSxROWS counts " +
                    (board.kind == BoardKind::Chessboard ? "inner corners" : "squares") + ")");
  }
  for (std::size_t i = 0; i < set.views.size(); ++i) {
    std::string reason = unusable_reason(set.views[i]);
    if (!reason.empty()) set.unusable.push_back({i, set.views[i].name, std::move(reason)});
  }
  set.mono_size = mono_sizes[0];
  set.color_size = color_sizes[0];
}

void check_detection(const Detection& d, const std::string& where, const BoardSpec* board) {
  if (!d.found) return;
  if (d.ids.size() != d.corners.size())
    throw_invalid(where + ": " + std::to_string(d.ids.size()) + " ids for " + std::to_string(d.corners.size()) +
                  " corners (one id per corner)");
  const int n = board ? board->corner_count() : 0;
  for (std::size_t i = 0; i < d.ids.size(); ++i) {
    if (board && (d.ids[i] < 0 || d.ids[i] >= n))
      throw_invalid(where + ": id " + std::to_string(d.ids[i]) + " is not a corner of the board " + board->to_string() +
                    " (ids 0.." + std::to_string(n - 1) + ")");
    if (!std::isfinite(d.corners[i].x) || !std::isfinite(d.corners[i].y))
      throw_invalid(where + ": corner " + std::to_string(i) + " (id " + std::to_string(d.ids[i]) + ") is non-finite");
  }
  std::vector<int> sorted = d.ids;
  std::sort(sorted.begin(), sorted.end());
  const auto twice = std::adjacent_find(sorted.begin(), sorted.end());
  if (twice != sorted.end()) throw_invalid(where + ": id " + std::to_string(*twice) + " appears twice");
}

}  // namespace

std::string unusable_reason(const StereoView& v) {
  if (!v.mono.found) return "mono: " + (v.mono.reason.empty() ? std::string("board not found") : v.mono.reason);
  if (!v.color.found) return "colour: " + (v.color.reason.empty() ? std::string("board not found") : v.color.reason);
  return "";
}

void check_stereo_views(const std::vector<StereoView>& views, const std::string& function, const BoardSpec* board) {
  for (const StereoView& v : views) {
    check_detection(v.mono, function + ": view '" + v.name + "', mono", board);
    check_detection(v.color, function + ": view '" + v.name + "', colour", board);
  }
}

void StereoViewOptions::validate() const {
  check_range("StereoViewOptions::max_pixels", double(max_pixels), 0.0, 9e18);
}

StereoView detect_stereo_view(const cv::Mat& mono, const cv::Mat& color, const BoardSpec& board,
                              const std::string& name, const StereoViewOptions& options) {
  board.validate();
  check_image(mono, "the mono image of pair '" + name + "'");
  check_image(color, "the colour image of pair '" + name + "'");
  const BoardDetector& detect = options.detector;
  StereoView v;
  v.name = name;
  v.mono = detect ? detect(mono, board) : detect_board(mono, board);
  v.color = detect ? detect(color, board) : detect_board(color, board);
  if (options.match_corner_order) match_corner_order(v.mono, v.color);
  return v;
}

StereoViewSet detect_stereo_views(const std::vector<ImagePair>& pairs, const BoardSpec& board,
                                  const StereoViewOptions& options) {
  options.validate();
  board.validate();
  if (pairs.empty()) throw_invalid("detect_stereo_views: no image pairs");
  const std::size_t n = pairs.size();
  StereoViewSet set;
  set.views.resize(n);
  for_each_pair(n, [&](std::size_t i) {
    set.views[i] = detect_stereo_view(pairs[i].mono, pairs[i].color, board, pairs[i].name, options);
  });
  std::vector<cv::Size> ms(n), cs(n);
  std::vector<std::string> what_m(n), what_c(n);
  for (std::size_t i = 0; i < n; ++i) {
    ms[i] = pairs[i].mono.size(), cs[i] = pairs[i].color.size();
    what_m[i] = "the mono image of pair '" + pairs[i].name + "'";
    what_c[i] = "the colour image of pair '" + pairs[i].name + "'";
  }
  finish(set, board, ms, cs, what_m, what_c, "that of pair '" + pairs[0].name + "'");
  return set;
}

StereoViewSet load_stereo_views(const std::vector<std::string>& mono_files, const std::vector<std::string>& color_files,
                                const BoardSpec& board, const StereoViewOptions& options) {
  options.validate();
  board.validate();
  if (mono_files.size() != color_files.size())
    throw_invalid("load_stereo_views: " + std::to_string(mono_files.size()) + " mono files but " +
                  std::to_string(color_files.size()) +
                  " colour files; pairs are matched by order, so the counts must agree");
  if (mono_files.empty()) throw_invalid("load_stereo_views: no image pairs");
  const std::size_t n = mono_files.size();
  StereoViewSet set;
  set.views.resize(n);
  if (options.keep_images) {
    set.mono_images.resize(n);
    set.color_images.resize(n);
  }
  InputOptions io;
  io.max_pixels = options.max_pixels;
  io.raw = options.raw;
  io.validate();
  std::vector<cv::Size> ms(n), cs(n);
  for_each_pair(n, [&](std::size_t i) {
    const cv::Mat a = read_camera_file(mono_files[i], true, io), b = read_camera_file(color_files[i], false, io);
    ms[i] = a.size();
    cs[i] = b.size();
    const std::string name = fs::path(mono_files[i]).filename().string() + "+" + fs::path(color_files[i]).filename().string();
    set.views[i] = detect_stereo_view(a, b, board, name, options);
    if (options.keep_images) set.mono_images[i] = a, set.color_images[i] = b;
  });
  std::vector<std::string> what_m(n), what_c(n);
  for (std::size_t i = 0; i < n; ++i) {
    what_m[i] = "mono image '" + mono_files[i] + "'";
    what_c[i] = "colour image '" + color_files[i] + "'";
  }
  finish(set, board, ms, cs, what_m, what_c, "'" + mono_files[0] + "'");
  return set;
}

}  // namespace dualcam::calibration
