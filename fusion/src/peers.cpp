#include "dualcam/fusion/peers.hpp"

#include <cmath>

#include <opencv2/imgproc.hpp>
#include <opencv2/photo.hpp>

#include "dualcam/engine/error.hpp"
#include "dualcam/fusion/refine.hpp"
#include "dualcam/fusion/warp.hpp"

namespace dualcam::fusion {

MatchOptions PeerDepthOptions::default_match() {
  MatchOptions m;
  m.kind = MatcherKind::Sgbm;
  m.block_size = 5;
  m.uniqueness = 10;
  return m;
}

void PeerDepthOptions::validate() const {
  match.validate();
  if (match.kind != MatcherKind::Sgbm) throw_invalid("PeerDepthOptions::match.kind must be the OpenCV SGBM backend");
}

void PeerDenoiseOptions::validate() const {
  check_range("PeerDenoiseOptions::h", h, 0, 1000);
  check_range("PeerDenoiseOptions::h_color", h_color, 0, 1000);
  check_range("PeerDenoiseOptions::template_window", template_window, 1, 99);
  check_range("PeerDenoiseOptions::search_window", search_window, 1, 199);
  if (template_window % 2 == 0 || search_window % 2 == 0)
    throw_invalid("PeerDenoiseOptions: template_window and search_window must be odd");
}

namespace {
cv::Mat grey8(const cv::Mat& img) {
  if (img.type() == CV_8UC1) return img;
  if (img.type() != CV_8UC3) throw_invalid("peer: expected an 8-bit grey or colour image");
  cv::Mat g;
  cv::cvtColor(img, g, cv::COLOR_BGR2GRAY);
  return g;
}
}  // namespace

cv::Mat peer_depth(const cv::Mat& left, const cv::Mat& right, const PeerDepthOptions& o, int scene_ndisp) {
  o.validate();
  if (left.size() != right.size()) throw_invalid("peer_depth: the two images differ in size");
  MatchOptions m = o.match;
  if (o.use_scene_ndisp && scene_ndisp > 0) m.max_disparity = scene_ndisp;
  auto matcher = StereoMatcher::create(m);
  cv::Mat d = matcher->match_left(grey8(left), grey8(right));
  if (o.fill_holes) {
    fill_holes_background(d);
    median_5x5(d);
  }
  return d;
}

cv::Mat peer_colorize(const cv::Mat& mono8, const cv::Mat& color8, const PeerColorizeOptions& o, int scene_ndisp,
                      Json* stats) {
  o.validate();
  if (mono8.type() != CV_8UC1 || color8.type() != CV_8UC3 || mono8.size() != color8.size())
    throw_invalid("peer_colorize: expects a CV_8UC1 mono and a CV_8UC3 colour image of the same size");
  const cv::Mat d = peer_depth(mono8, color8, o.depth, scene_ndisp);
  cv::Mat valid;
  const cv::Mat warped = warp_by_disparity(color8, d, -1, &valid);
  cv::Mat ycc;
  cv::cvtColor(warped, ycc, cv::COLOR_BGR2YCrCb);
  std::vector<cv::Mat> ch;
  cv::split(ycc, ch);
  // Least squares Y = a * mono + b over the pixels the warp covers.
  double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (int r = 0; r < mono8.rows; ++r) {
    const std::uint8_t* pm = mono8.ptr<std::uint8_t>(r);
    const std::uint8_t* py = ch[0].ptr<std::uint8_t>(r);
    const std::uint8_t* pv = valid.ptr<std::uint8_t>(r);
    for (int c = 0; c < mono8.cols; ++c) {
      if (!pv[c]) continue;
      const double x = pm[c], y = py[c];
      n += 1, sx += x, sy += y, sxx += x * x, sxy += x * y;
    }
  }
  double a = 1, b = 0;
  const double den = n * sxx - sx * sx;
  if (n > 1 && den > 0) {
    a = (n * sxy - sx * sy) / den;
    b = (sy - a * sx) / n;
  }
  mono8.convertTo(ch[0], CV_8U, a, b);
  cv::merge(ch, ycc);
  cv::Mat out;
  cv::cvtColor(ycc, out, cv::COLOR_YCrCb2BGR);
  if (stats) {
    (*stats)["fit_gain"] = a;
    (*stats)["fit_offset"] = b;
    (*stats)["coverage"] = double(cv::countNonZero(valid)) / double(valid.total());
  }
  return out;
}

cv::Mat peer_denoise(const cv::Mat& color8, const PeerDenoiseOptions& o) {
  o.validate();
  if (color8.type() != CV_8UC3) throw_invalid("peer_denoise: expects a CV_8UC3 colour image");
  cv::Mat out;
  cv::fastNlMeansDenoisingColored(color8, out, o.h, o.h_color, o.template_window, o.search_window);
  return out;
}

}  // namespace dualcam::fusion
