#include "dualcam/eval/peers.hpp"

#include <algorithm>
#include <cmath>

#include <opencv2/calib3d.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/photo.hpp>

#include "dualcam/engine/error.hpp"
#include "dualcam/fusion/refine.hpp"

namespace dualcam::eval {

using namespace dualcam::fusion;

MatchOptions PeerDepthOptions::default_match() {
  MatchOptions m;
  m.kind = MatcherKind::Sgbm;
  m.block_size = 5;
  m.uniqueness = 10;
  // Not stated by the evaluation design; OpenCV's stereo_match sample values, with a tighter
  // speckle range, reproduce the team's DEPTH table (measured sweep:
  // docs/evaluation.md#peer-settings).
  m.max_disparity = 0;  // 0 = OpenCV sample's rule, see sample_num_disparities()
  m.sgbm_disp12_max_diff = 1;
  m.sgbm_pre_filter_cap = 63;
  m.sgbm_speckle_window = 100;
  m.sgbm_speckle_range = 8;
  return m;
}

void PeerDepthOptions::validate() const {
  match.validate();
  if (match.kind != MatcherKind::Sgbm) throw_invalid("PeerDepthOptions::match.kind must be the OpenCV SGBM backend");
}

void PeerColorizeOptions::validate() const {
  depth.validate();
  if (border != PeerBorder::Constant && border != PeerBorder::Replicate && border != PeerBorder::Reflect101)
    throw_invalid("PeerColorizeOptions::border must be constant, replicate or reflect101");
}

PeerBorder parse_peer_border(const std::string& text) {
  if (text == "constant") return PeerBorder::Constant;
  if (text == "replicate") return PeerBorder::Replicate;
  if (text == "reflect101") return PeerBorder::Reflect101;
  throw_invalid("--peer-border must be constant, replicate or reflect101, got '" + text + "'");
}

const char* to_string(PeerBorder b) {
  switch (b) {
    case PeerBorder::Constant: return "constant";
    case PeerBorder::Replicate: return "replicate";
    case PeerBorder::Reflect101: return "reflect101";
  }
  return "?";
}

void PeerDenoiseOptions::validate() const {
  check_range("PeerDenoiseOptions::h", h, 0, 1000);
  check_range("PeerDenoiseOptions::h_color", h_color, 0, 1000);
  check_range("PeerDenoiseOptions::template_window", template_window, 1, 99);
  check_range("PeerDenoiseOptions::search_window", search_window, 1, 199);
  if (template_window % 2 == 0 || search_window % 2 == 0)
    throw_invalid("PeerDenoiseOptions: template_window and search_window must be odd");
}

int sample_num_disparities(int width) { return std::max(16, ((width / 8) + 15) & -16); }

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
  else if (m.max_disparity == 0) m.max_disparity = sample_num_disparities(left.cols);
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
  // out(x) = colour(x - d) by cv::remap; `valid` = the match falls inside the colour image.
  cv::Mat mx(d.size(), CV_32F), my(d.size(), CV_32F), valid(d.size(), CV_8U);
  for (int r = 0; r < d.rows; ++r) {
    const float* pd = d.ptr<float>(r);
    for (int c = 0; c < d.cols; ++c) {
      const bool known = std::isfinite(pd[c]);
      const float x = known ? float(c) - pd[c] : float(c);
      mx.at<float>(r, c) = x;
      my.at<float>(r, c) = float(r);
      valid.at<std::uint8_t>(r, c) = known && x >= 0 && x <= float(d.cols - 1) ? 255 : 0;
    }
  }
  cv::Mat warped;
  cv::remap(color8, warped, mx, my, cv::INTER_LINEAR, int(o.border), cv::Scalar::all(0));
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

cv::Mat peer_colorize_rig(const cv::Mat& mono8, const cv::Mat& color8, const StereoRig& rig,
                          const PeerColorizeOptions& o, int scene_ndisp, Json* stats) {
  o.validate();
  if (mono8.type() != CV_8UC1 || color8.type() != CV_8UC3)
    throw_invalid("peer_colorize_rig: expects a CV_8UC1 mono and a CV_8UC3 colour image");
  if (mono8.size() != rig.mono.size || color8.size() != rig.color.size)
    throw_invalid("peer_colorize_rig: the images' sizes differ from the rig's");
  if (!(std::abs(rig.T[0]) > std::abs(rig.T[1]) && rig.T[0] < 0))
    throw_invalid("peer_colorize_rig: the colour camera must sit to the right of the mono (T_x < 0, |T_x| > |T_y|)");
  // stereoRectify takes one image size: the mono's, as the sample's.
  const cv::Size size = mono8.size();
  cv::Mat R1, R2, P1, P2, Q;
  cv::stereoRectify(cv::Mat(rig.mono.K), rig.mono.dist, cv::Mat(rig.color.K), rig.color.dist, size, cv::Mat(rig.R),
                    cv::Mat(rig.T), R1, R2, P1, P2, Q, cv::CALIB_ZERO_DISPARITY, 0.0, size);
  cv::Mat m1, m2, c1, c2, mono_r, color_r;
  cv::initUndistortRectifyMap(cv::Mat(rig.mono.K), rig.mono.dist, R1, P1, size, CV_16SC2, m1, m2);
  cv::initUndistortRectifyMap(cv::Mat(rig.color.K), rig.color.dist, R2, P2, size, CV_16SC2, c1, c2);
  cv::remap(mono8, mono_r, m1, m2, cv::INTER_LINEAR);
  cv::remap(color8, color_r, c1, c2, cv::INTER_LINEAR);
  const cv::Mat fused_r = peer_colorize(mono_r, color_r, o, scene_ndisp, stats);
  cv::Mat i1, i2, out;
  cv::initInverseRectificationMap(cv::Mat(rig.mono.K), rig.mono.dist, R1, P1, size, CV_32FC1, i1, i2);
  cv::remap(fused_r, out, i1, i2, cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  return out;
}

cv::Mat peer_denoise(const cv::Mat& color8, const PeerDenoiseOptions& o) {
  o.validate();
  if (color8.type() != CV_8UC3) throw_invalid("peer_denoise: expects a CV_8UC3 colour image");
  cv::Mat out;
  cv::fastNlMeansDenoisingColored(color8, out, o.h, o.h_color, o.template_window, o.search_window);
  return out;
}

}  // namespace dualcam::eval
